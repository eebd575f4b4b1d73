"""Kernel-side widget behaviour, driven by calling the handlers the browser would trigger.

The browser suite (tests/browser) proves the front end delivers those events; these tests pin
the mask logic, the wire traffic per mouse move, and the controls' requests on the local backend.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from ipycanvas.canvas import _CANVAS_MANAGER
from ipywidgets.widgets.widget import _instances
from PIL import Image

import venice_nb as vnb
from venice_nb import masks
from venice_nb._backend import LocalBackend
from venice_nb._money import usd
from venice_nb.widgets import (
    CompareView,
    EditControls,
    EditStudio,
    MaskPainter,
    ResultBrowser,
    ResultGrid,
)
from venice_nb.widgets._history import MaskHistory
from venice_nb.widgets._protocol import KEYS
from venice_nb.widgets._viewport import MAX_ZOOM, View

from .conftest import TEST_KEY


def _image(h: int = 300, w: int = 400) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = (20, 20, 20)
    img[:, w // 2 :] = (200, 200, 200)
    img[h // 4 : h // 2, w * 5 // 8 : w * 7 // 8] = (0, 0, 250)  # a blue block
    return img


def _browser(p: MaskPainter, **msg: Any) -> None:
    """Deliver a message as the browser side sends it (the path ipywidgets takes)."""
    p._surface._handle_custom_msg(msg, [])


_strokes = iter(range(1, 1_000_000))


def _stroke(p: MaskPainter, points: list[tuple[float, float]], *, batch: int = 0,
            pressure: float = 1.0) -> None:
    """A stroke in canvas coordinates, sent in batches of ``batch`` points (0: one batch)."""
    sid = next(_strokes)
    pts = [[x, y, pressure] for x, y in points]
    step = batch or len(pts)
    for i in range(0, len(pts), step):
        _browser(p, t="stroke", id=sid, pts=pts[i : i + step], end=False)
    _browser(p, t="stroke", id=sid, pts=[], end=True)


def _key(p: MaskPainter, key: str, *, shift: bool = False, ctrl: bool = False) -> None:
    """What the browser does with a key (the table in _protocol.py): a tool key sets the tool
    there, other keys send their action."""
    name = f"ctrl+{'shift+' if shift else ''}{key.lower()}" if ctrl else key.lower()
    action = {k.key: k.action for k in KEYS}[name]
    if action.startswith("tool:"):
        p._surface.tool = action.removeprefix("tool:")
    else:
        _browser(p, t="action", name=action)


@pytest.fixture
def sent() -> Iterator[list[int]]:
    """Bytes of every ipycanvas draw-command message sent to the front end."""
    sizes: list[int] = []
    original = _CANVAS_MANAGER.send

    def record(content: Any, buffers: Any = None) -> None:
        sizes.append(sum(memoryview(b).nbytes for b in buffers or []))
        original(content, buffers=buffers)

    _CANVAS_MANAGER.send = record
    yield sizes
    del _CANVAS_MANAGER.send


# ----------------------------------------------------------------------------- painter
def test_stroke_paints_full_resolution_mask_and_bumps_version() -> None:
    p = MaskPainter(_image(), brush_size=20)
    versions: list[int] = []
    p.observe(lambda ch: versions.append(ch.new), names="mask_version")
    _stroke(p, [(50, 50), (100, 50), (150, 50)])
    m = p.mask
    assert m.shape == (300, 400) and m.dtype == np.uint8
    assert set(np.unique(m)) == {0, 255}
    assert masks.bbox(m) == (40, 40, 160, 60)  # pixel centres closer than 10 to the line
    assert versions == [1]  # one change per stroke, not per move


def test_large_image_is_shown_downscaled_but_painted_at_full_resolution() -> None:
    p = MaskPainter(_image(3000, 4000), brush_size=20)  # shown at 800x600: scale 0.2
    assert p.display_size == (800, 600)
    _stroke(p, [(100, 100), (200, 100)])
    box = masks.bbox(p.mask)
    assert box is not None
    # Screen (100..200, 100) with radius 10 -> mask (500..1000, 500) with radius 50.
    assert abs(box[0] - 450) <= 1 and abs(box[2] - 1051) <= 1
    assert abs(box[1] - 450) <= 1 and abs(box[3] - 551) <= 1


def test_undo_redo_whole_strokes_and_eraser() -> None:
    p = MaskPainter(_image(), brush_size=10)
    _stroke(p, [(20, 20), (60, 20), (100, 20)])
    first = p.mask
    _stroke(p, [(20, 100), (100, 100)])
    both = p.mask
    p.tool = "eraser"
    _stroke(p, [(20, 20), (100, 20)])
    assert masks.area(p.mask) < masks.area(both)
    p.undo()
    np.testing.assert_array_equal(p.mask, both)
    p.undo()
    np.testing.assert_array_equal(p.mask, first)
    p.undo()
    assert masks.area(p.mask) == 0 and not p.can_undo and p.can_redo
    p.redo()
    p.redo()
    np.testing.assert_array_equal(p.mask, both)
    version = p.mask_version
    p.redo()
    p.redo()  # nothing left to redo: no change, no version bump
    assert p.mask_version == version + 1


def test_keys_do_what_the_buttons_do() -> None:
    p = MaskPainter(_image(), brush_size=20)
    _key(p, "]")
    assert p.brush_size == 25
    _key(p, "[")
    assert p.brush_size == 20
    _stroke(p, [(50, 50), (80, 50)])
    area = masks.area(p.mask)
    _key(p, "z", ctrl=True)
    assert masks.area(p.mask) == 0
    _key(p, "Z", shift=True, ctrl=True)
    assert masks.area(p.mask) == area
    _key(p, "i")
    assert masks.area(p.mask) == 400 * 300 - area
    _key(p, "Delete")
    assert masks.area(p.mask) == 0
    _key(p, "f")
    assert masks.area(p.mask) == 400 * 300
    _key(p, "y", ctrl=True)  # Ctrl/Cmd+Y: redo, nothing to redo
    for key, tool in (("e", "eraser"), ("g", "bucket"), ("r", "rect"), ("o", "ellipse"),
                      ("l", "lasso"), ("p", "polygon"), ("h", "hand"), ("b", "brush")):
        _key(p, key)
        assert p.tool == tool
    _key(p, "x")
    assert p.subtract
    _key(p, "{")
    assert p.hardness == 90
    _key(p, "}")
    _key(p, "}")
    assert p.hardness == 100


def test_buttons_are_wired() -> None:
    p = MaskPainter(_image())
    buttons = p._controls.buttons
    assert buttons["Undo"].disabled and buttons["Redo"].disabled
    buttons["Fill all"].click()
    assert masks.area(p.mask) == 400 * 300 and not buttons["Undo"].disabled
    buttons["Invert"].click()
    assert masks.area(p.mask) == 0
    buttons["Undo"].click()
    assert masks.area(p.mask) == 400 * 300 and not buttons["Redo"].disabled
    buttons["Clear"].click()
    assert masks.area(p.mask) == 0


def test_bucket_rect_ellipse_and_subtract() -> None:
    p = MaskPainter(_image())
    p.tool = "bucket"
    _browser(p, t="click", tool="bucket", x=300, y=100)  # inside the blue block
    assert masks.bbox(p.mask) == (250, 75, 350, 150)
    p.tool = "rect"
    _browser(p, t="shape", tool="rect", pts=[[10, 10], [50, 40]])
    np.testing.assert_array_equal(p.mask[10:40, 10:50], 255)
    assert masks.area(p.mask) == 100 * 75 + 40 * 30
    p.subtract = True
    _browser(p, t="shape", tool="rect", pts=[[250, 75], [300, 150]])  # cut half the block out
    assert masks.area(p.mask) == 50 * 75 + 40 * 30
    p.subtract = False
    p.tool = "ellipse"
    p.clear()
    _browser(p, t="shape", tool="ellipse", pts=[[100, 100], [200, 200]])
    expected = masks.ellipse((300, 400), (100, 100, 200, 200))
    np.testing.assert_array_equal(p.mask, expected)


def test_set_mask_from_masks_module_is_shown_and_undoable() -> None:
    p = MaskPainter(_image(3000, 4000))
    seen: list[int] = []
    p.observe(lambda ch: seen.append(ch.new), names="mask_version")
    p.set_mask(masks.rect(p.image, (0, 0, 2000, 3000)))  # the left half
    assert seen == [1]
    assert p.coverage == pytest.approx(0.5, abs=0.01)
    p.undo()
    assert masks.area(p.mask) == 0
    p.set_mask(np.ones((30, 40), bool))  # same aspect: resized to the image
    assert masks.area(p.mask) == 3000 * 4000
    with pytest.raises(vnb.ValidationError, match="mask is 40x40"):
        p.set_mask(np.ones((40, 40), np.uint8))


def test_mask_is_a_copy_and_image_read_only() -> None:
    p = MaskPainter(_image())
    p.mask[:] = 255
    assert masks.area(p.mask) == 0
    with pytest.raises(ValueError):
        p.image[0, 0] = 0


def test_opacity_and_colour_only_restyle_the_overlay(sent: list[int]) -> None:
    p = MaskPainter(_image(3000, 4000))
    p.fill()
    sent.clear()
    p.opacity = 0.9
    p.color = "#00ff00"
    assert len(sent) == 2 and max(sent) < 200_000  # the display-sized overlay, not 12 Mpx
    with pytest.raises(vnb.ValidationError, match="unknown colour"):
        p.color = "not-a-colour"


def test_history_is_bounded_by_bytes() -> None:
    mask = np.zeros((100, 100), np.uint8)
    history = MaskHistory(mask, budget_bytes=25_000)
    noise = np.random.default_rng(0).integers(0, 256, (5, 100, 100), dtype=np.uint8)
    for i in range(5):  # random soft values: zlib keeps each step near its 10 kB size
        mask[...] = noise[i]
        assert history.commit((0, 0, 100, 100))
    assert 20_000 <= history.nbytes <= 25_000
    assert sum(1 for _ in range(10) if history.undo() is not None) == 2
    np.testing.assert_array_equal(mask, noise[2])


def test_set_mask_rejects_empty_and_wrong_shapes_clearly() -> None:
    p = MaskPainter(_image())
    with pytest.raises(vnb.ValidationError, match=r"mask is empty \(0x0\)"):
        p.set_mask(np.zeros((0, 0), np.uint8))
    with pytest.raises(vnb.ValidationError, match="mask is empty"):
        p.set_mask(np.zeros((300, 0), np.uint8))
    with pytest.raises(vnb.ValidationError, match="mask is 300x400 but the image is 400x300"):
        p.set_mask(np.ones((400, 300), bool))
    with pytest.raises(ValueError, match="2-D"):
        p.set_mask(np.ones(400, np.uint8))
    assert masks.area(p.mask) == 0 and p.mask_version == 0


def test_undo_history_of_a_33_mpx_mask_stays_small_and_exact() -> None:
    p = MaskPainter(np.zeros((4320, 7680, 3), np.uint8), brush_size=100)
    _stroke(p, [(100, 100), (300, 200)])
    p.set_mask(masks.feather(p.mask, 40))  # soft edges: stored with zlib, not as bits
    soft = p.mask
    for _ in range(20):
        p.invert()
    assert p._history.budget_bytes <= 64 * 2**20
    assert p._history.nbytes < 2 * 2**20  # inverts are recorded as inverts, not 33 MB copies
    np.testing.assert_array_equal(p.mask, soft)  # an even number of inverts
    p.fill()
    p.clear()
    assert p._history.nbytes < 4 * 2**20  # fill/clear keep the previous mask compressed
    for _ in range(22):
        p.undo()
    np.testing.assert_array_equal(p.mask, soft)
    p.undo()
    stroke_only = p.mask
    assert set(np.unique(stroke_only)) == {0, 255}  # the hard stroke before feathering
    for _ in range(23):
        p.redo()
    assert masks.area(p.mask) == 0 and not p.can_redo
    p.undo()
    assert masks.area(p.mask) == 4320 * 7680  # back to "fill"
    p.undo()
    np.testing.assert_array_equal(p.mask, soft)


def test_view_geometry_zooms_around_the_pointer_and_stays_inside_the_image() -> None:
    v = View.fitted((4000, 3000), (800, 600))
    assert v.zoom == 0.2 and v.origin == (0.0, 0.0) and v.to_image(400, 300) == (2000, 1500)
    z = v.zoom_at(4.0, 200, 150)  # the image point under (200, 150) stays there
    assert z.to_image(200, 150) == pytest.approx(v.to_image(200, 150))
    assert z.to_view(*z.to_image(13.25, 7.5)) == pytest.approx((13.25, 7.5))
    assert v.zoom_at(0.01, 0, 0).zoom == 0.2 and v.zoom_at(1000, 0, 0).zoom == MAX_ZOOM
    far = z.panned(1e6, -1e6)  # dragging far right / up: clamped to the image's left / bottom
    assert far.origin == (0.0, 3000 - 600 / 4.0)
    assert z.view_box((0, 0, 10, 10)) is None  # out of view
    assert z.view_box((1000, 750, 1001, 751)) == (200, 150, 204, 154)
    assert z.image_box((200, 150, 204, 154)) == pytest.approx((1000, 750, 1001, 751))


def test_batched_points_at_400_percent_paint_the_full_res_mask_with_sub_pixel_precision(
    sent: list[int],
) -> None:
    p = MaskPainter(_image(3000, 4000), brush_size=6)
    _browser(p, t="zoom", f=20.0, x=400, y=300, seq=1)  # 0.2 * 20 = 400 %
    assert p.zoom == 4.0 and p.view.to_image(400, 300) == pytest.approx((2000, 1500))
    points = [(401.0 + i * 0.5, 301.0 + i * 0.25) for i in range(40)]
    sent.clear()
    _stroke(p, points[:20], batch=5)  # stroke batches draw nothing: the browser shows them
    full = [p.view.to_image(x, y) for x, y in points[:20]]
    expected = masks.brush((3000, 4000), full, 6 / 2 / 4.0)  # 0.75 image px
    np.testing.assert_array_equal(p.mask, expected)
    assert masks.area(expected) > 0
    assert len(sent) == 1 and max(sent) < 20_000  # one overlay update for the stroke's box
    assert p.mask_version == 1 and p.view.zoom == 4.0


def test_pen_pressure_scales_the_brush() -> None:
    p = MaskPainter(_image(), brush_size=40)
    _stroke(p, [(100, 100), (200, 100)], pressure=0.25)  # a radius of 5 instead of 20
    assert masks.bbox(p.mask) == (95, 95, 205, 105)


def test_soft_brush_lands_as_a_ramp_and_erases_softly() -> None:
    p = MaskPainter(_image(), brush_size=40, hardness=0)
    _stroke(p, [(100, 150), (300, 150)], batch=1)
    row = p.mask[:, 200].astype(int)  # across the stroke, radius 20 around y = 150
    assert row[149] >= 240 and row[150] >= 240 and row[129] == 0 and row[171] == 0
    assert (np.diff(row[130:150]) >= 0).all() and len(set(row[130:150])) > 15
    p.hardness = 50  # full strength within 10 px, then a 10 px ramp
    p.clear()
    _stroke(p, [(100, 150), (300, 150)])
    row = p.mask[:, 200].astype(int)
    assert (row[141:159] == 255).all() and 0 < row[135] < 255 and row[129] == 0
    p.tool = "eraser"
    p.hardness = 0
    _stroke(p, [(200, 100), (200, 200)])
    assert p.mask[150, 200] < 10 and 0 < p.mask[150, 190] < 255  # a soft hole
    p.undo()
    assert (p.mask[141:159, 200] == 255).all()


def test_lasso_and_polygon_add_and_subtract() -> None:
    p = MaskPainter(_image())
    _browser(p, t="shape", tool="polygon", pts=[[10, 10], [110, 10], [110, 60], [10, 60]])
    np.testing.assert_array_equal(p.mask, masks.rect((300, 400), (10, 10, 110, 60)))
    p.subtract = True
    _browser(p, t="shape", tool="polygon", pts=[[10, 10], [60, 10], [10, 60]])
    assert masks.area(p.mask) == 100 * 50 - masks.area(
        masks.polygon((300, 400), [(10, 10), (60, 10), (10, 60)]))
    assert p.mask_version == 2


def test_zoom_pan_messages_and_buttons_render_only_the_visible_part(sent: list[int]) -> None:
    p = MaskPainter(_image(3000, 4000))
    sent.clear()
    _browser(p, t="zoomto", to=1, x=400, y=300, seq=3)
    assert p.zoom == 1.0 and p.view.to_image(400, 300) == pytest.approx((2000, 1500))
    assert 1 <= len(sent) <= 2 and max(sent) < 4 * 800 * 600  # the canvas size, not 12 Mpx
    _browser(p, t="pan", dx=100, dy=-50, seq=4)
    assert p.origin == pytest.approx((1600 - 100, 1200 + 50))
    p._controls.buttons["Zoom in"].click()
    assert p.zoom == 1.25
    p._controls.buttons["Fit"].click()
    assert p.zoom == 0.2 and p.origin == (0.0, 0.0)
    with pytest.raises(vnb.ValidationError, match="zoom must be"):
        p.zoom_to(0)


def test_a_2x_screen_gets_a_2x_canvas_with_the_same_geometry() -> None:
    p = MaskPainter(_image(3000, 4000), brush_size=20)
    _browser(p, t="hello", dpr=2.0)
    assert (p.canvas.width, p.canvas.height) == (1600, 1200) and p.display_size == (800, 600)
    _stroke(p, [(100, 100), (200, 100)])  # canvas coordinates stay CSS pixels
    assert masks.bbox(p.mask) == (450, 450, 1050, 550)
    _browser(p, t="hello", dpr=3.0)
    assert p.canvas.width == 1600  # capped at 2x


def test_save_and_load_a_mask_png(tmp_path: Any) -> None:
    p = MaskPainter(_image(), hardness=30)
    _stroke(p, [(100, 100), (200, 120)])
    path = p.save_mask(tmp_path / "mask.png")
    q = MaskPainter(_image())
    q.set_mask(path)
    np.testing.assert_array_equal(q.mask, p.mask)
    q.clear()
    data = path.read_bytes()  # "Load mask…" in the browser sends the file's bytes
    q._controls.file._handle_custom_msg({"t": "mask_file", "name": "m.png", "size": len(data)},
                                        [data])
    np.testing.assert_array_equal(q.mask, p.mask)


# ---------------------------------------------------------------------------- controls
@pytest.fixture
def local_client() -> Iterator[vnb.Client]:
    """What a user without a key gets: the client starts (and labels) the local backend."""
    with vnb.Client() as c:
        assert c.is_local
        yield c


def test_one_image_models_offer_no_multi_edit(local_client: vnb.Client) -> None:
    c = EditControls(_image(), client=local_client, prompt="x", model="gpt-image-2-edit",
                     operation="multi-edit")
    assert "multi-edit" in c._operation.options and c.session.multi_edit_supported
    c.selected_model = "luma-uni-1-edit"  # max_input_images == 1
    assert "multi-edit" not in c._operation.options and not c.session.multi_edit_supported
    assert c.operation == "edit" and "takes one image" in c._hint.value
    c.selected_model = "gpt-image-2-edit"
    assert "multi-edit" in c._operation.options and "whole image will change" in c._hint.value


def test_options_are_exactly_what_the_model_lists(local_client: vnb.Client) -> None:
    c = EditControls(_image(), client=local_client, prompt="x", model="gpt-image-1-5-edit")
    model = c.model
    assert model is not None
    boxes = c._option_boxes
    assert list(boxes["aspect_ratio"].options) == ["default", *model.aspect_ratios]
    assert boxes["resolution"].layout.display == "none"
    assert boxes["quality"].layout.display == "none"
    c.selected_model = "grok-imagine-image-2-0-edit"
    assert list(c._option_boxes['resolution'].options) == ["default", "1K", "2K"]
    assert c._option_boxes['quality'].layout.display == "none"  # quality is a multi-edit option
    c.operation = "multi-edit"
    assert list(c._option_boxes['quality'].options) == ["default", "low", "medium"]


def test_run_edit_multi_edit_and_background_removal(local_client: vnb.Client) -> None:
    p = MaskPainter(_image())
    c = EditControls(p, client=local_client, prompt="paint it red")
    got: list[Any] = []
    c.on_result(got.append)
    result = c.run()  # no running loop here: runs to completion
    assert result.is_local and result.request["endpoint"] == "/image/edit"
    p.fill()
    c.operation = "multi-edit"
    assert c.session.image_count() == 2  # base + painted mask
    result = c.run()
    assert result.request["endpoint"] == "/image/multi-edit" and len(result.request["images"]) == 2
    c.operation = "remove background"
    result = c.run()
    assert result.request["endpoint"] == "/image/background-remove"
    assert len(got) == 3 and got[-1] is c.result
    assert "Done on <b class='venice-local'>LOCAL backend" in c._status.value


def test_errors_are_one_friendly_line(local_client: vnb.Client) -> None:
    c = EditControls(_image(), client=local_client, prompt="something nsfw")
    assert c.run() is None
    assert isinstance(c.error, vnb.ContentPolicyError)
    assert "content policy" in c._status.value and "What to do" in c._status.value
    assert "Traceback" not in c._status.value
    c.prompt = ""
    c.run()
    assert isinstance(c.error, vnb.ValidationError) and "prompt is empty" in c._status.value


def test_api_key_never_reaches_widget_state(client: vnb.Client) -> None:
    studio = EditStudio(_image(), client=client, prompt="a hat")
    studio.controls.run()
    states = [w.get_state() for w in list(_instances.values())]
    dump = json.dumps(states, default=lambda o: repr(o)[:50])
    assert TEST_KEY not in dump
    assert TEST_KEY not in repr(studio.controls) and TEST_KEY not in repr(studio)


# ----------------------------------------------------------------------- viewers, studio
def test_result_grid_accepts_results_and_pairs(local_client: vnb.Client) -> None:
    result = local_client.edit(_image(), "make it blue")
    grid = ResultGrid([result, (_image(), "a pair")], columns=2)
    picked: list[int] = []
    grid.on_select(lambda i, item: picked.append(i), label="Pick")
    grid.append((_image(), "third"))
    assert len(grid) == 3
    cards = grid._grid.children
    assert "make it blue" in cards[0].children[1].value and "LOCAL" in cards[0].children[1].value
    cards[2].children[-1].click()
    assert picked == [2]
    with pytest.raises(TypeError, match="EditResult objects or"):
        grid.append(42)


def test_compare_view_modes_and_difference() -> None:
    before = _image()
    after = before.copy()
    after[:, 200:] = 0
    view = CompareView(before, after)
    assert view.changed_fraction == pytest.approx(0.5, abs=0.01)
    view.mode = "wipe"
    assert view._body.children == (view._wipe,) and view._wipe.before and view._wipe.after
    view._wipe.split = 0.25  # as a drag in the browser sets it
    assert view.split == 0.25
    view.set_images(before, np.zeros((100, 100, 3), np.uint8))
    assert "aspect ratio differs" in view._caption.value


def test_compare_view_pair_wraps_in_a_narrow_column_at_full_width() -> None:
    """Side by side in a 340 px column would be two 164 px thumbnails: the two cards wrap one
    above the other there (the browser knows the column's width), so each picture is made
    dense enough for the whole width on a HiDPI screen."""
    photo = np.random.default_rng(0).integers(0, 256, (800, 1200, 3), dtype=np.uint8)
    view = CompareView(photo, photo, max_size=(340, 400))
    (pair,) = view._body.children
    assert pair.layout.flex_flow == "row wrap"
    for figure in pair.children:
        assert figure.layout.min_width == "min(200px, 100%)"
        img = figure.children[0].value
        assert "width:100%" in img
        data = base64.b64decode(img.split("base64,")[1].split("'")[0])
        assert Image.open(io.BytesIO(data)).width >= 2 * 340 - 1


def test_studio_keeps_one_image_models_on_edit_with_a_hint(local_client: vnb.Client) -> None:
    studio = EditStudio(_image(), client=local_client, prompt="a hat", model="luma-uni-1-edit")
    studio.session.keep_rest = False  # the whole-image path
    studio.painter.fill()
    assert studio.controls.operation == "edit"
    assert "mask is not sent" in studio.controls._hint.value
    result = studio.controls.run()
    assert result is not None and result.request["endpoint"] == "/image/edit"


def test_studio_history_keeps_encoded_results_not_arrays(local_client: vnb.Client) -> None:
    studio = EditStudio(_image(), client=local_client, prompt="make it blue")
    first = studio.controls.run()
    studio.controls.run()
    for entry in studio.history[1:]:
        assert not any(isinstance(v, np.ndarray) for v in vars(entry).values())
    np.testing.assert_array_equal(studio.history[1].image, first.to_numpy()[..., :3])
    studio.use_as_base(1)
    np.testing.assert_array_equal(studio.base, studio.history[1].image)


def test_studio_chains_edits_and_restores(local_client: vnb.Client) -> None:
    studio = EditStudio(_image(), client=local_client, prompt="make it blue")
    assert studio.controls.operation == "edit"
    studio.painter.fill()
    assert studio.controls.operation == "multi-edit"  # a painted mask is used, not ignored
    first = studio.controls.run()
    assert studio.result is first and len(studio.history) == 2
    assert studio.history[1].parent == 0 and studio.viewer is not None
    studio.use_as_base(1)
    np.testing.assert_array_equal(studio.painter.image, studio.history[1].image)
    second = studio.controls.run()
    assert studio.history[2].parent == 1 and second is studio.result
    studio.use_as_base(0)
    np.testing.assert_array_equal(studio.base, _image())
    assert len(studio.strip) == 3


def test_operation_follows_the_mask_through_model_switches(local_client: vnb.Client) -> None:
    studio = EditStudio(_image(), client=local_client, prompt="a hat", model="gpt-image-2-edit")
    c = studio.controls
    studio.session.keep_rest = False  # the whole-image path
    studio.painter.set_mask(masks.rect(_image(), (0, 0, 40, 40)))
    assert c.operation == "multi-edit"
    c.selected_model = "luma-uni-1-edit"  # one image: edit, and the mask is said to be unused
    assert c.operation == "edit" and "mask is not sent" in c._hint.value
    c.selected_model = "gpt-image-2-edit"  # takes a mask again: the painted mask is used again
    assert c.operation == "multi-edit" and "reads the mask as a hint" in c._hint.value
    result = c.run()
    assert result.request["endpoint"] == "/image/multi-edit"
    c.operation = "edit"  # chosen by hand: the UI says plainly that the mask is ignored
    assert "mask is ignored" in c._hint.value


def test_run_is_off_while_the_prompt_is_too_long(local_client: vnb.Client) -> None:
    c = EditControls(_image(), client=local_client, prompt="x", model="firered-image-edit")
    assert not c._run_button.disabled
    c.prompt = "x" * 3000
    assert c._run_button.disabled and "shorten it to run" in c._count.value
    assert "too long" in (c._run_button.tooltip or "")
    c.prompt = "x"
    assert not c._run_button.disabled


def test_price_per_model_and_per_click_agree(local_client: vnb.Client) -> None:
    p = MaskPainter(_image())
    c = EditControls(p, client=local_client, prompt="x", model="grok-imagine-edit",
                     operation="multi-edit")
    model = c.model
    assert model is not None
    one = model.estimate_cost()
    assert one is not None
    label = dict((v, k) for k, v in c._model.options)[model.id]
    assert label.startswith(f"${one:.3f} · ")
    assert f"per run: {usd(one)} at Venice · $0 here" in c._cost.value
    p.fill()  # the mask is a second image: the click costs more, and says why
    two = model.estimate_cost(n_images=2)
    assert two is not None and two > one
    assert (f"per run: {usd(two)} at Venice · $0 here ({usd(one)} + {usd(two - one)} for 1 "
            "extra image)") in c._cost.value


def test_studio_marks_the_base_and_the_viewer_names_its_pair(local_client: vnb.Client) -> None:
    studio = EditStudio(_image(), client=local_client, prompt="make it blue")
    assert studio.viewer is None  # nothing to compare yet: nothing built
    cards = studio.strip._grid.children
    assert "venice-marked" in cards[0]._dom_classes
    studio.controls.run()
    studio.controls.run()
    assert studio.viewer is not None and studio.viewer.labels == ("Base #0", "Result #2")
    studio.use_as_base(1)
    cards = studio.strip._grid.children
    assert "venice-marked" in cards[1]._dom_classes
    assert "venice-marked" not in cards[0]._dom_classes
    assert cards[1].children[-1].description == "Current base" and cards[1].children[-1].disabled
    assert studio.viewer.labels == ("Base #0", "Result #1")
    before = studio.viewer._before  # the result is shown stretched onto the base's display size
    np.testing.assert_array_equal(studio.viewer._after, resize_for_test(studio, 1, before))
    assert "history #1" in studio._where.value


def resize_for_test(studio: EditStudio, index: int, like: np.ndarray) -> np.ndarray:
    from venice_nb.widgets._util import resize_rgb

    return resize_rgb(studio.history[index].image, (like.shape[1], like.shape[0]))


def test_a_run_in_progress_dims_the_previous_result(local_client: vnb.Client) -> None:
    studio = EditStudio(_image(), client=local_client, prompt="make it blue")
    studio.controls.run()
    assert studio.viewer is not None and "venice-busy" not in studio.viewer._dom_classes

    async def scenario() -> None:
        task = studio.controls.run()
        assert "venice-busy" in studio.viewer._dom_classes  # dimmed while the run is going
        await task

    asyncio.run(scenario())
    assert "venice-busy" not in studio.viewer._dom_classes and len(studio.history) == 3


# ------------------------------------------------------------------ upscale and balance
def _listed_upscale_price(client: vnb.Client, scale: int) -> float:
    """The price as ``GET /models?type=upscale`` lists it (read here, not through the widget)."""
    model = next(m for m in client.models("upscale") if m.id == "upscaler")
    return float(model.raw["model_spec"]["pricing"]["upscale"][f"{scale}x"]["usd"])


def test_studio_upscales_the_shown_result_into_the_history(local_client: vnb.Client) -> None:
    studio = EditStudio(_image(), client=local_client, prompt="make it blue")
    c = studio.controls
    two, four = _listed_upscale_price(local_client, 2), _listed_upscale_price(local_client, 4)
    assert f"2× {usd(two)} / 4× {usd(four)} at Venice · $0 here" in c._upscale_cost.value
    assert c.session.upscale_estimate(2) == two
    edited = c.run()
    assert studio._view.value == "Result"
    upscaled = c.upscale(2)
    assert upscaled is not None and studio.result is upscaled and len(studio.history) == 3
    entry = studio.history[2]
    assert entry.parent == 1 and entry.label == "upscale 2×"  # the shown result, not the base
    h, w = edited.to_numpy().shape[:2]
    assert entry.image.shape[:2] == (2 * h, 2 * w)
    assert upscaled.request["endpoint"] == "/image/upscale"
    assert "Upscale 2×" in studio.strip._grid.children[2].children[1].value
    studio.use_as_base(2)  # an upscale chains like any result
    assert studio.base.shape[:2] == (2 * h, 2 * w)
    c.upscale(2)  # on the paint view: the base is what is enlarged
    assert studio.history[3].parent == 2 and studio.history[3].image.shape[:2] == (4 * h, 4 * w)


def test_upscale_too_large_is_refused_before_sending(local_client: vnb.Client) -> None:
    studio = EditStudio(_image(2100, 2100), client=local_client)
    buttons = studio.controls._upscale_buttons
    assert buttons[2].disabled and buttons[4].disabled  # said before the click, with the reason
    assert "would be 17.6 Mpx" in studio.controls._upscale_cost.value
    assert "at most 16.8 Mpx" in (buttons[2].tooltip or "")
    assert studio.controls.upscale(2) is None  # called from code: the client refuses it
    assert isinstance(studio.controls.error, vnb.ValidationError)
    assert "would exceed 16,777,216 pixels" in studio.controls._status.value
    assert "What to do" in studio.controls._status.value and len(studio.history) == 1


def test_upscale_is_a_task_and_cancel_stops_it(local_client: vnb.Client) -> None:
    studio = EditStudio(_image(), client=local_client)
    c = studio.controls

    async def scenario() -> None:
        task = c.upscale(4)
        assert isinstance(task, asyncio.Task) and c.running
        assert all(b.disabled for b in c._upscale_buttons.values()) and c._run_button.disabled
        c.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert "Cancelled" in c._status.value and len(studio.history) == 1
        assert not any(b.disabled for b in c._upscale_buttons.values())
        done = await c.upscale(4)
        assert done is not None and studio.history[1].image.shape[:2] == (1200, 1600)

    asyncio.run(scenario())


def test_the_status_shows_the_balance_after_a_run() -> None:
    from venice_nb._backend import BackendConfig, LocalBackend

    from .conftest import UNTHROTTLED

    with LocalBackend(BackendConfig(rate_limit=UNTHROTTLED, balance_usd=5.0)) as server, \
            vnb.Client(TEST_KEY, base_url=server.url) as client:
        studio = EditStudio(_image(), client=client, prompt="make it blue")
        studio.controls.run()
        left = client.balance().usd
        assert left is not None and left < 5.0  # the edit was charged
        assert f"Balance: ${left:,.2f}" in studio.controls._status.value
        studio.controls.upscale(2)
        after = client.balance().usd
        assert after is not None and after < left
        assert f"Balance: ${after:,.2f}" in studio.controls._status.value
    assert TEST_KEY not in studio.controls._status.value


def test_no_balance_no_line_and_no_error(backend: LocalBackend) -> None:
    from ._spec import SpecCheckingTransport

    transport = SpecCheckingTransport()
    with vnb.Client(base_url=backend.url, http_client=httpx.Client(transport=transport)) as keyless:
        c = EditControls(_image(), client=keyless, prompt="make it blue")
        assert c.run() is not None
        assert c.run() is not None
    assert "Done" in c._status.value and "Balance" not in c._status.value
    assert "⚠" not in c._status.value and c.error is None
    # No key, no account to ask: a balance request would only be a 401 that counts toward the
    # key's 20-failures-in-30-s guard.
    assert not [r for r in transport.requests if r.url.path.endswith("/billing/balance")]


def test_async_client_upscales_and_states_its_balance() -> None:
    from venice_nb._backend import BackendConfig, LocalBackend

    from .conftest import UNTHROTTLED

    async def scenario(url: str) -> tuple[Any, EditControls, float | None]:
        client = vnb.AsyncClient(TEST_KEY, base_url=url)
        priced = asyncio.Event()  # the upscale prices load in the background, after the models
        c = EditControls(_image(), client=client)
        c._upscale_cost.observe(lambda ch: priced.set() if "n/a" not in ch.new else None,
                                names="value")
        await asyncio.wait_for(priced.wait(), timeout=30)
        result = await c.upscale(2)
        left = (await client.balance()).usd
        await client.aclose()
        return result, c, left

    with LocalBackend(BackendConfig(rate_limit=UNTHROTTLED, balance_usd=1.0)) as server:
        result, c, left = asyncio.run(asyncio.wait_for(scenario(server.url), timeout=60))
    assert result is not None and result.to_numpy().shape[:2] == (600, 800)
    assert c.session.upscale_estimate(2) is not None and left is not None and left < 1.0
    assert f"Balance: ${left:,.2f}" in c._status.value


def test_an_upscale_from_the_studio_goes_to_the_store(tmp_path: Any) -> None:
    with vnb.Client(store=tmp_path / "store") as client:
        studio = EditStudio(_image(), client=client, prompt="make it blue")
        studio.controls.run()
        upscaled = studio.controls.upscale(2)
        assert upscaled is not None and client.store is not None
        assert upscaled.fingerprint in client.store
        stored = client.store.history(endpoint="/image/upscale")
        assert len(stored) == 1


def test_the_studio_edits_only_the_painted_area_at_full_size(local_client: vnb.Client) -> None:
    photo = _image(600, 800)
    studio = EditStudio(photo, client=local_client, prompt="a hat", model="gpt-image-2-edit")
    keep = studio.controls._keep
    assert keep.layout.display == "none"  # nothing painted: nothing to keep
    studio.painter.set_mask(masks.ellipse(photo, (500, 100, 700, 250)))
    assert keep.layout.display is None and keep.value
    assert "rest of the photo is kept" in studio.controls._hint.value
    result = studio.controls.run()
    assert result.size == (800, 600) and "region edit" in studio.controls._status.value
    assert "from Run to result" in studio.controls._status.value
    studio.use_as_base(1)  # chains on the full-size result
    assert studio.base.shape == photo.shape
    np.testing.assert_array_equal(studio.base, result.to_numpy()[..., :3])
    assert studio.viewer is not None and studio.viewer.changed_fraction < 0.2


@pytest.mark.parametrize("make", ["painter", "painter_mask", "studio", "browser"])
def test_a_widget_whose_input_is_refused_leaves_no_error_behind(
        make: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad image or mask raises a clear error; the half-built widget then closes quietly when
    it is collected (it used to raise AttributeError from ``__del__``, printed under the cell)."""
    import gc
    import sys

    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(vnb.ValidationError):
        if make == "painter":
            MaskPainter(b"not an image")
        elif make == "painter_mask":
            MaskPainter(vnb.sample("cat"), mask=np.zeros((3, 3), np.uint8))
        elif make == "studio":
            EditStudio(b"not an image")
        else:
            ResultBrowser(42)
    gc.collect()
    assert unraisable == []
