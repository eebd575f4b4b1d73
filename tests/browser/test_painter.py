"""MaskPainter in JupyterLab: real pointer, wheel and keys change the kernel's full-res mask."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ._painter_page import PainterPage as Painter
from .conftest import KERNEL_TIMEOUT, JupyterServer, KernelLog, drag, open_notebook, run_all

pytestmark = pytest.mark.browser

# 1600x1200 shown at 800x600: at fit, every canvas coordinate is scaled by 2 into the mask.
SETUP = """
import numpy as np
from venice_nb.widgets import MaskPainter
img = np.zeros((1200, 1600, 3), np.uint8)
img[:, :800] = (30, 30, 30)            # dark half: the overlay must stay visible here
img[:, 800:] = (220, 220, 220)
img[300:900, 1000:1400] = (0, 0, 255)  # a blue block for the paint bucket
painter = MaskPainter(img, brush_size=BRUSH)

def report(change=None):
    m = painter.mask
    ys, xs = np.nonzero(m)
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if len(xs) else None
    extra = {}
    if len(xs) and len(xs) < 400:  # small changes: exactly which pixels
        extra["pixels"] = sorted([int(x), int(y)] for x, y in zip(xs, ys))
    values = np.unique(m)
    log("mask", version=painter.mask_version, area=int(np.count_nonzero(m)), bbox=box,
        shape=list(m.shape), full=int(np.count_nonzero(m == 255)), levels=len(values),
        row=m[600, 580:700].tolist(), **extra)

painter.observe(report, names="mask_version")
painter.observe(lambda ch: log("setting", brush_size=painter.brush_size, tool=painter.tool,
                               hardness=painter.hardness), names=["brush_size", "tool", "hardness"])
painter.observe(lambda ch: log("view", zoom=painter.zoom, origin=list(painter.origin)),
                names=["zoom", "origin"])
log("display", size=list(painter.display_size))
painter
"""


def setup(brush: int) -> str:
    return SETUP.replace("BRUSH", str(brush))


def _near(actual: list[int], expected: list[int], tol: int) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


def test_paint_undo_redo_invert_bucket_rect(lab: tuple[Any, JupyterServer]) -> None:
    page, server = lab
    nb = open_notebook(page, server, "painter", [setup(40)])
    assert nb.log.events("display")[0]["size"] == [800, 600]
    p = Painter(page)

    # A brush stroke from (100, 100) to (300, 100) on screen, radius 20 -> 40 in the mask.
    drag(page, [p.at(100, 100), p.at(200, 100), p.at(300, 100)])
    first = nb.log.wait_for(lambda e: e["version"] == 1, kind="mask", what="the stroke")
    assert first["shape"] == [1200, 1600]
    assert _near(first["bbox"], [160, 160, 640, 240], tol=6), first
    capsule = 400 * 80 + 3.1416 * 40**2  # a 400 px long, 80 px wide stroke with round ends
    assert abs(first["area"] - capsule) < 0.05 * capsule, first
    # The kernel's overlay shows on the dark half (alpha-blended pink over rgb 30).
    p.wait_pixel(200, 100, "d[0] > 100 && d[0] > d[1] + 50")
    nb.shot("stroke")

    # Ctrl+Z takes the whole stroke back, Ctrl+Shift+Z restores it (focus: the surface).
    page.keyboard.press("Control+z")
    nb.log.wait_for(lambda e: e["version"] == 2 and e["area"] == 0, kind="mask", what="undo")
    page.keyboard.press("Control+Shift+Z")
    redone = nb.log.wait_for(lambda e: e["version"] == 3, kind="mask", what="redo")
    assert redone["area"] == first["area"]
    page.keyboard.press("]")
    nb.log.wait_for(lambda e: e["brush_size"] == 50, kind="setting", what="] grows the brush")

    p.button("Invert")
    inverted = nb.log.wait_for(lambda e: e["version"] == 4, kind="mask", what="invert")
    assert inverted["area"] == 1600 * 1200 - first["area"]
    nb.shot("inverted")

    # Clear, then the bucket selects exactly the blue block.
    p.button("Clear")
    nb.log.wait_for(lambda e: e["version"] == 5 and e["area"] == 0, kind="mask", what="clear")
    p.button("Bucket")
    nb.log.wait_for(lambda e: e["tool"] == "bucket", kind="setting", what="bucket tool")
    p.wait_tool("bucket")
    page.mouse.click(*p.at(600, 300))
    bucket = nb.log.wait_for(lambda e: e["version"] == 6, kind="mask", what="bucket fill")
    assert bucket["bbox"] == [1000, 300, 1400, 900] and bucket["area"] == 400 * 600, bucket

    # A rectangle drag adds a 200x200 block in mask pixels.
    p.button("Rect")
    nb.log.wait_for(lambda e: e["tool"] == "rect", kind="setting", what="rect tool")
    p.wait_tool("rect")
    drag(page, [p.at(50, 350), p.at(150, 450)])
    rect = nb.log.wait_for(lambda e: e["version"] == 7, kind="mask", what="rectangle")
    assert abs(rect["area"] - (400 * 600 + 200 * 200)) <= 4 * 200, rect
    assert _near(rect["bbox"], [100, 300, 1400, 900], tol=2), rect

    # The Undo button takes back the rectangle only.
    p.button("Undo")
    undone = nb.log.wait_for(lambda e: e["version"] == 8, kind="mask", what="undo button")
    assert undone["area"] == bucket["area"]
    nb.assert_widgets_healthy()
    nb.shot("bucket-and-undo")


def _dab_pixels(cx: float, cy: float, r: float) -> tuple[set[tuple[int, int]], float]:
    """Pixels whose centre is closer than ``r`` to (cx, cy), and the closest call (margin)."""
    inside, margin = set(), math.inf
    for y in range(math.floor(cy - r) - 1, math.ceil(cy + r) + 2):
        for x in range(math.floor(cx - r) - 1, math.ceil(cx + r) + 2):
            d = math.hypot(x + 0.5 - cx, y + 0.5 - cy)
            margin = min(margin, abs(d - r))
            if d < r:
                inside.add((x, y))
    return inside, margin


def test_wheel_zoom_then_a_dab_changes_exactly_the_full_res_pixels_under_it(
    lab: tuple[Any, JupyterServer],
) -> None:
    page, server = lab
    nb = open_notebook(page, server, "painter_zoom", [setup(6)])
    p = Painter(page)
    # Zoom with the wheel around a page point near canvas point (200, 150).
    wx, wy = (round(v) for v in p.at(200, 150))
    ax, ay = p.canvas_point(wx, wy)
    page.mouse.move(wx, wy)
    page.mouse.wheel(0, -1000)  # one notch of a fast wheel: x e^2
    # The kernel sets zoom, then origin: each change logs, so wait for the second.
    view = nb.log.wait_for(lambda e: e["zoom"] > 3 and e["origin"] != [0, 0], kind="view",
                           what="wheel zoom")
    zoom, (ox, oy) = view["zoom"], view["origin"]
    # Zooming keeps the image point under the pointer (ax / 0.5 at fit) where it was.
    assert abs(ox + ax / zoom - ax / 0.5) < 1e-6 and abs(oy + ay / zoom - ay / 0.5) < 1e-6, view
    nb.shot("zoomed")
    p = Painter(page)  # where the canvas is now

    # One click with a 6 px brush: at this zoom a dab of radius 3 / zoom < 1 image pixel.
    r = 3 / zoom
    for dx in (0, 1, 2, 3):  # a page point whose dab has no pixel centre on its rim
        px, py = round(p.at(210, 160)[0]) + dx, round(p.at(210, 160)[1])
        cx, cy = p.canvas_point(px, py)
        expected, margin = _dab_pixels(ox + cx / zoom, oy + cy / zoom, r)
        if margin > 0.02 and expected:
            break
    page.mouse.click(px, py)
    dab = nb.log.wait_for(lambda e: e["version"] == 1, kind="mask", what="the dab")
    assert {tuple(q) for q in dab["pixels"]} == expected, (dab, sorted(expected))

    # Pan with the hand tool (H): a drag of 100 canvas px moves the view 100 / zoom pixels.
    page.keyboard.press("h")
    nb.log.wait_for(lambda e: e["tool"] == "hand", kind="setting", what="hand tool")
    p.wait_tool("hand")
    sx0, sy0 = p.at(400, 300)
    start = (float(round(sx0)), float(round(sy0)))
    end = (start[0] - 100, start[1] - 50)
    drag(page, [start, end])
    sx, sy = 100 / p.scale / zoom, 50 / p.scale / zoom  # the image moved by this much
    panned = nb.log.wait_for(
        lambda e: abs(e["origin"][0] - (ox + sx)) < 1e-3 and abs(e["origin"][1] - (oy + sy)) < 1e-3,
        kind="view", what="the pan")
    assert panned["zoom"] == zoom
    # Space+drag pans too, back where it was.
    page.keyboard.press("b")
    page.keyboard.down("Space")
    drag(page, [end, start])
    page.keyboard.up("Space")
    nb.log.wait_for(lambda e: abs(e["origin"][0] - ox) < 1e-3 and abs(e["origin"][1] - oy) < 1e-3,
                    kind="view", what="space+drag pan back")
    # A middle-button drag pans too, whatever the tool.
    page.mouse.move(*start)
    page.mouse.down(button="middle")
    page.mouse.move(*end, steps=8)
    page.mouse.up(button="middle")
    nb.log.wait_for(
        lambda e: abs(e["origin"][0] - (ox + sx)) < 1e-3 and abs(e["origin"][1] - (oy + sy)) < 1e-3
        and e == nb.log.events("view")[-1], kind="view", what="middle-drag pan")
    assert len(nb.log.events("mask")) == 1  # panning painted nothing
    page.keyboard.press("0")
    nb.log.wait_for(lambda e: e["zoom"] == 0.5, kind="view", what="0 fits")
    nb.assert_widgets_healthy()


def test_lasso_polygon_and_a_soft_brush_ramp(lab: tuple[Any, JupyterServer]) -> None:
    page, server = lab
    nb = open_notebook(page, server, "painter_tools", [setup(60)])
    p = Painter(page)
    page.mouse.click(*p.at(790, 590))  # focus (a tiny dab in the corner)
    nb.log.wait_for(lambda e: e["version"] == 1, kind="mask", what="focus dab")
    page.keyboard.press("Delete")
    nb.log.wait_for(lambda e: e["version"] == 2 and e["area"] == 0, kind="mask", what="clear")

    # Lasso: a freehand square from (100, 100) to (200, 200) canvas px = 200x200 mask px.
    page.keyboard.press("l")
    nb.log.wait_for(lambda e: e["tool"] == "lasso", kind="setting", what="lasso")
    p.wait_tool("lasso")
    drag(page, [p.at(100, 100), p.at(200, 100), p.at(200, 200), p.at(100, 200)], steps=10)
    lasso = nb.log.wait_for(lambda e: e["version"] == 3, kind="mask", what="lasso")
    assert _near(lasso["bbox"], [200, 200, 400, 400], tol=2), lasso
    assert abs(lasso["area"] - 200 * 200) < 0.03 * 200 * 200, lasso

    # Polygon: three clicks and Enter close a triangle; X then subtracts one from the lasso.
    page.keyboard.press("p")
    nb.log.wait_for(lambda e: e["tool"] == "polygon", kind="setting", what="polygon")
    p.wait_tool("polygon")
    for x, y in ((300, 100), (500, 100), (300, 300)):
        page.mouse.click(*p.at(x, y))
    nb.shot("polygon-open")
    page.keyboard.press("Enter")
    tri = nb.log.wait_for(lambda e: e["version"] == 4, kind="mask", what="polygon")
    assert abs((tri["area"] - lasso["area"]) - 400 * 400 / 2) < 0.01 * 400 * 400 / 2, tri
    page.keyboard.press("x")
    for x, y in ((100, 100), (200, 100), (150, 150)):
        page.mouse.click(*p.at(x, y))
    page.mouse.dblclick(*p.at(150, 150))  # a double-click closes it too
    sub = nb.log.wait_for(lambda e: e["version"] == 5, kind="mask", what="subtract polygon")
    assert abs((tri["area"] - sub["area"]) - 200 * 100 / 2) < 0.03 * 200 * 100 / 2, sub

    # Soft brush: hardness 0 (Shift+[ ten times), a vertical stroke through x = 320 canvas px
    # (640 mask px). Along row 600 the mask ramps from 255 at the centre to 0 at the radius.
    page.keyboard.press("b")
    for _ in range(10):
        page.keyboard.press("Shift+BracketLeft")
    nb.log.wait_for(lambda e: e["hardness"] == 0, kind="setting", what="hardness 0")
    drag(page, [p.at(320, 250), p.at(320, 350)])
    soft = nb.log.wait_for(lambda e: e["version"] == 6, kind="mask", what="soft stroke")
    row = soft["row"]  # mask[600, 580:700]; radius 60 mask px around x = 640
    centre = row[60]
    assert centre >= 250, row
    left = row[:61]
    assert all(a <= b for a, b in itertools.pairwise(left)), row  # rises to the centre
    assert len({v for v in left if 0 < v < 255}) > 20, row  # a ramp, not a hard edge
    assert soft["levels"] > 50 and soft["full"] < soft["area"], soft
    nb.assert_widgets_healthy()
    nb.shot("tools")


def _touch(cdp: Any, kind: str, points: list[tuple[float, float]]) -> None:
    """One CDP touch event; touchEnd lifts every finger (an empty touchPoints list)."""
    cdp.send("Input.dispatchTouchEvent", {
        "type": kind,
        "touchPoints": [{"x": x, "y": y, "id": i, "radiusX": 1, "radiusY": 1, "force": 1}
                        for i, (x, y) in enumerate(points)],
    })


def test_pinch_zooms_around_the_fingers_midpoint(lab: tuple[Any, JupyterServer]) -> None:
    page, server = lab
    nb = open_notebook(page, server, "painter_pinch", [setup(20)])
    p = Painter(page)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    # One finger paints: a touch stroke from canvas (100, 450) to (300, 450), radius 20 mask px.
    y = p.at(0, 450)[1]
    _touch(cdp, "touchStart", [(p.at(100, 0)[0], y)])
    for i in range(1, 11):
        _touch(cdp, "touchMove", [(p.at(100 + 20 * i, 0)[0], y)])
    _touch(cdp, "touchEnd", [])
    drawn = nb.log.wait_for(lambda e: e["version"] == 1, kind="mask", what="a finger's stroke")
    assert _near(drawn["bbox"], [180, 880, 620, 920], tol=4), drawn

    # Two fingers either side of a page point near canvas (300, 200) move apart symmetrically:
    # the midpoint stays put while the fingers' distance grows 40 -> 160 CSS px (x 4).
    mx, my = (float(round(v)) for v in p.at(300, 200))
    cx, cy = p.canvas_point(mx, my)
    before = (cx / 0.5, cy / 0.5)  # the image point under the midpoint at fit (origin 0, 0)
    _touch(cdp, "touchStart", [(mx - 20, my), (mx + 20, my)])
    for half in range(25, 81, 5):
        _touch(cdp, "touchMove", [(mx - half, my), (mx + half, my)])
    _touch(cdp, "touchEnd", [])
    # The kernel handles the surface's messages in order: once a key sent after the pinch has
    # landed, so has every zoom and pan of the pinch.
    page.keyboard.press("]")
    nb.log.wait_for(lambda e: e["brush_size"] > 20, kind="setting", what="a key after the pinch")
    view = nb.log.events("view")[-1]
    zoom, (ox, oy) = view["zoom"], view["origin"]
    assert zoom == pytest.approx(0.5 * 4), view  # the fingers' distance grew x 4
    after = (ox + cx / zoom, oy + cy / zoom)  # the image point under the midpoint now
    assert _near([round(a) for a in after], [round(b) for b in before], tol=2), (before, view)
    nb.shot("pinched")
    assert [e["version"] for e in nb.log.events("mask")] == [1]  # the pinch painted nothing
    nb.assert_widgets_healthy()


BANDS = """
def bands(change=None):
    m = painter.mask
    log("bands", version=painter.mask_version,
        low=int(np.count_nonzero(m[:, 400])), high=int(np.count_nonzero(m[:, 1200])))
painter.observe(bands, names="mask_version")
"""


def _pen(cdp: Any, kind: str, x: float, y: float, force: float) -> None:
    cdp.send("Input.dispatchMouseEvent", {
        "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1,
        "buttons": 0 if kind == "mouseReleased" else 1,
        "pointerType": "pen", "force": force,
    })


def test_pen_pressure_scales_the_brush_in_the_full_res_mask(
    lab: tuple[Any, JupyterServer],
) -> None:
    page, server = lab
    nb = open_notebook(page, server, "painter_pen", [setup(40), BANDS])
    p = Painter(page)
    cdp = page.context.new_cdp_session(page)

    def stroke(y: float, x0: float, x1: float, force: float) -> None:
        _pen(cdp, "mouseMoved", *p.at(x0, y), force=0)
        _pen(cdp, "mousePressed", *p.at(x0, y), force=force)
        for i in range(1, 11):
            _pen(cdp, "mouseMoved", *p.at(x0 + (x1 - x0) * i / 10, y), force=force)
        _pen(cdp, "mouseReleased", *p.at(x1, y), force=0)

    # Brush 40 canvas px at fit (x 2 into the mask): a full-pressure band is 80 mask px wide.
    # Low pressure through mask column 400, high pressure through column 1200.
    stroke(150, 100, 300, force=0.2)
    low = nb.log.wait_for(lambda e: e["version"] == 1, kind="bands", what="the light stroke")
    stroke(400, 500, 700, force=0.9)
    high = nb.log.wait_for(lambda e: e["version"] == 2, kind="bands", what="the firm stroke")
    assert low["high"] == 0 and high["low"] == low["low"], (low, high)  # separate bands
    assert abs(low["low"] - 80 * 0.2) <= 2, low
    assert abs(high["high"] - 80 * 0.9) <= 2, high
    nb.shot("pen-bands")
    nb.assert_widgets_healthy()


# ------------------------------------------------------------------ issue 21, both apps


NEW_BASE = """
import numpy as np
import ipywidgets as W
from venice_nb.widgets import MaskPainter
small = np.full((300, 451, 3), 90, np.uint8)
big = np.full((681, 1024, 3), 160, np.uint8)   # an edit result of another size
painter = MaskPainter(small, brush_size=4)

def report(change=None):
    ys, xs = np.nonzero(painter.mask)
    log("mask", version=painter.mask_version, shape=list(painter.mask.shape),
        centre=[float(xs.mean()) + 0.5, float(ys.mean()) + 0.5] if len(xs) else None)

def new_base(_button):
    painter.set_image(big)  # what the studio's "Use as base" calls
    log("base", size=list(painter.display_size), zoom=painter.zoom, origin=list(painter.origin))

painter.observe(report, names="mask_version")
swap = W.Button(description="New base")
swap.on_click(new_base)
W.VBox([swap, painter])
"""


def _version(version: int, *, painted: bool = False) -> Callable[[dict[str, Any]], bool]:
    """A mask event of ``version`` (and, with ``painted``, a non-empty mask)."""
    return lambda e: e["version"] == version and (not painted or e["centre"] is not None)


def test_after_a_new_base_of_another_size_a_dab_lands_at_the_pointer(
    server: JupyterServer, page: Any,
) -> None:
    nb = open_notebook(page, server, f"painter_base_{server.app}", [NEW_BASE])
    p = Painter(page)
    assert p.view_width == 451
    page.get_by_role("button", name="New base").click()
    base = nb.log.wait_for(lambda e: True, kind="base", what="the new base")
    p.wait_view_width(base["size"][0])
    zoom, (ox, oy) = base["zoom"], base["origin"]
    for n, (x, y) in enumerate(((0.5, 0.5), (0.2, 0.8)), start=1):
        px, py = (float(round(v)) for v in p.at(x * p.view_width, y * base["size"][1]))
        cx, cy = p.canvas_point(px, py)
        page.mouse.click(px, py)
        dab = nb.log.wait_for(_version(2 * n, painted=True), kind="mask", what=f"dab {n}")
        assert dab["shape"] == [681, 1024]
        expected = (ox + cx / zoom, oy + cy / zoom)
        assert _near([round(c) for c in dab["centre"]], [round(e) for e in expected], tol=1), (
            dab, expected)
        page.keyboard.press("Delete")
        nb.log.wait_for(_version(2 * n + 1), kind="mask", what="clear")
    nb.shot("new-base")
    nb.assert_widgets_healthy()


LOAD = """
import numpy as np
from venice_nb.widgets import MaskPainter
painter = MaskPainter(np.full((300, 400, 3), 90, np.uint8))
painter.observe(lambda ch: log("mask", version=ch.new, area=int((painter.mask > 0).sum())),
                names="mask_version")
painter
"""


def test_load_mask_says_what_is_wrong_in_the_painter_and_save_mask_downloads(
    server: JupyterServer, page: Any, tmp_path: Path,
) -> None:
    red = np.zeros((300, 400, 3), np.uint8)
    red[..., 0] = 255
    Image.fromarray(red).save(tmp_path / "red.png")
    Image.fromarray(np.zeros((100, 400), np.uint8)).save(tmp_path / "wide.png")
    good = np.zeros((300, 400), np.uint8)
    good[50:150, 100:300] = 255
    Image.fromarray(good).save(tmp_path / "good.png")

    nb = open_notebook(page, server, f"painter_load_{server.app}", [LOAD])
    p = Painter(page)
    assert "click the image" in p.status()  # says something useful before any action
    texts = p.button_texts()
    assert "Load mask…" in texts and "Save mask" in texts, texts
    assert not any("(0)" in t for t in texts), texts

    p.load_mask(tmp_path / "red.png")
    said = p.wait_status(r"red\.png was not loaded")
    assert "grayscale" in said, said
    p.load_mask(tmp_path / "wide.png")
    said = p.wait_status(r"wide\.png was not loaded")
    assert "400x100" in said and "400x300" in said, said
    nb.shot("load-error")

    p.load_mask(tmp_path / "good.png")
    nb.log.wait_for(lambda e: e["area"] == 200 * 100, kind="mask", what="the loaded mask")
    p.wait_status(r"Loaded good\.png")
    p.button("Clear")
    cleared = nb.log.wait_for(lambda e: e["area"] == 0, kind="mask", what="clear")
    p.load_mask(tmp_path / "good.png")  # the same file again
    nb.log.wait_for(lambda e: e["area"] == 200 * 100 and e["version"] > cleared["version"],
                    kind="mask", what="the same file loaded again")

    saved = p.save_mask(tmp_path / "downloads")
    assert saved.name == "mask-400x300.png"
    np.testing.assert_array_equal(np.asarray(Image.open(saved)), good)
    nb.assert_widgets_healthy()


def test_a_click_right_after_a_tool_key_uses_the_new_tool(
    server: JupyterServer, page: Any,
) -> None:
    nb = open_notebook(page, server, f"painter_quick_keys_{server.app}", [setup(40)])
    p = Painter(page)
    p.focus()
    # P, then at once three corners and Enter: no dab from the brush, no corner lost.
    page.keyboard.press("p")
    for x, y in ((100, 100), (300, 100), (100, 300)):
        p.click(x, y)
    page.keyboard.press("Enter")
    tri = nb.log.wait_for(lambda e: e["version"] == 1, kind="mask", what="the polygon")
    assert abs(tri["area"] - 400 * 400 / 2) < 0.01 * 400 * 400 / 2, tri
    assert _near(tri["bbox"], [200, 200, 600, 600], tol=2), tri
    # R, then at once a drag: a rectangle, not a brush stroke.
    page.keyboard.press("r")
    drag(page, [p.at(500, 100), p.at(600, 200)])
    rect = nb.log.wait_for(lambda e: e["version"] == 2, kind="mask", what="the rectangle")
    assert abs(rect["area"] - tri["area"] - 200 * 200) <= 4 * 200, rect
    # The keys are listed in the painter on a click (not only in a hover tooltip).
    listed = p.open_key_help()
    assert "P polygon" in listed and "Ctrl+Z undo" in listed, listed
    nb.assert_widgets_healthy()


MEMORY = """
import gc
import numpy as np
from venice_nb.widgets import MaskPainter

def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
"""
PHOTO = """
photo = np.full((4320, 7680, 3), 120, np.uint8)  # 33 Mpx
photo[::2, ::3] = (200, 40, 90)
painter = MaskPainter(photo)
painter.fill()
painter
"""
STUDIO = """
from venice_nb import Client
from venice_nb.widgets import EditStudio
client = globals().get("client") or Client()  # one local backend for every run
photo = np.full((4320, 7680, 3), 120, np.uint8)  # 33 Mpx
photo[::2, ::3] = (200, 40, 90)
studio = EditStudio(photo, client=client)
studio.painter.fill()
studio
"""
MEASURE = """
del photo
gc.collect()
log("rss", mb=rss_mb())
"""


def _count(log: KernelLog, kind: str, n: int) -> Callable[[dict[str, Any]], bool]:
    """True once the log holds ``n`` events of ``kind``."""
    return lambda _e: len(log.events(kind)) >= n


@pytest.mark.parametrize("cell", [PHOTO, STUDIO], ids=["painter", "studio"])
def test_rerunning_a_cell_frees_the_previous_painter(
    lab: tuple[Any, JupyterServer], cell: str,
) -> None:
    page, server = lab
    name = "painter_memory" if cell == PHOTO else "studio_memory"
    nb = open_notebook(page, server, name, [MEMORY, cell, MEASURE])
    for runs in (2, 3, 4):  # three re-runs of every cell, as a person would
        run_all(page)
        nb.log.wait_for(_count(nb.log, "rss", runs), kind="rss", timeout=KERNEL_TIMEOUT / 1000,
                        what=f"run {runs}")
    first, *_, last = (e["mb"] for e in nb.log.events("rss"))
    assert len(nb.log.events("rss")) == 4
    assert last <= first + 100, nb.log.events("rss")
    nb.assert_widgets_healthy()
