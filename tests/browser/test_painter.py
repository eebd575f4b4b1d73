"""MaskPainter in JupyterLab: real mouse strokes, keys and buttons change the kernel's mask."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import JupyterServer, canvas_box, drag, open_notebook

pytestmark = pytest.mark.browser

CANVAS = "canvas.venice-painter-canvas"

# 1600x1200 shown at 800x600: every browser coordinate is scaled by 2 into the mask.
SETUP = """
import numpy as np
from venice_nb.widgets import MaskPainter
img = np.zeros((1200, 1600, 3), np.uint8)
img[:, :800] = (30, 30, 30)            # dark half: the overlay must stay visible here
img[:, 800:] = (220, 220, 220)
img[300:900, 1000:1400] = (0, 0, 255)  # a blue block for the paint bucket
painter = MaskPainter(img, brush_size=40)

def report(change=None):
    m = painter.mask
    ys, xs = np.nonzero(m)
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if len(xs) else None
    log("mask", version=painter.mask_version, area=int(np.count_nonzero(m)), bbox=box,
        shape=list(m.shape), full=int(np.count_nonzero(m == 255)))

painter.observe(report, names="mask_version")
painter.observe(lambda ch: log("setting", brush_size=painter.brush_size, tool=painter.tool),
                names=["brush_size", "tool"])
log("display", size=list(painter.display_size))
painter
"""


class Painter:
    """Maps mask (display) coordinates to page coordinates for real mouse input."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.box = canvas_box(page, CANVAS)
        self.scale = self.box["width"] / 800  # CSS px per display px

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.box["x"] + x * self.scale, self.box["y"] + y * self.scale

    def button(self, name: str) -> None:
        label = re.compile(rf"^\s*{re.escape(name)}\s*$")
        self.page.locator(".venice-mask-painter button", has_text=label).click()


def _near(actual: list[int], expected: list[int], tol: int) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


def test_paint_undo_redo_invert_bucket_rect(lab: tuple[Any, JupyterServer]) -> None:
    page, server = lab
    nb = open_notebook(page, server, "painter", [SETUP])
    assert nb.log.events("display")[0]["size"] == [800, 600]
    p = Painter(page)
    page.wait_for_function(
        "(sel) => { const c = document.querySelector(sel); return c && c.width === 800; }",
        arg=CANVAS,
    )

    # A brush stroke from (100, 100) to (300, 100) on screen, radius 20 -> 40 in the mask.
    drag(page, [p.at(100, 100), p.at(200, 100), p.at(300, 100)])
    first = nb.log.wait_for(lambda e: e["version"] == 1, kind="mask", what="the stroke")
    assert first["shape"] == [1200, 1600]
    assert _near(first["bbox"], [160, 160, 640, 240], tol=6), first
    capsule = 400 * 80 + 3.1416 * 40**2  # a 400 px long, 80 px wide stroke with round ends
    assert abs(first["area"] - capsule) < 0.05 * capsule, first
    # The overlay shows on the dark half (alpha-blended pink over rgb 30).
    page.wait_for_function(
        """(sel) => {
            const c = document.querySelector(sel);
            const d = c.getContext('2d').getImageData(200, 100, 1, 1).data;
            return d[0] > 100 && d[0] > d[1] + 50;
        }""",
        arg=CANVAS,
    )
    nb.shot("stroke")

    # Ctrl+Z takes the whole stroke back, Ctrl+Shift+Z restores it (focus: the canvas).
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
    page.mouse.click(*p.at(600, 300))
    bucket = nb.log.wait_for(lambda e: e["version"] == 6, kind="mask", what="bucket fill")
    assert bucket["bbox"] == [1000, 300, 1400, 900] and bucket["area"] == 400 * 600, bucket

    # A rectangle drag adds a 200x200 block in mask pixels.
    p.button("Rect")
    nb.log.wait_for(lambda e: e["tool"] == "rect", kind="setting", what="rect tool")
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
