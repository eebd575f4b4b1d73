"""MaskPainter's kernel side without a browser: the protocol table, Load / Save mask, a new base
image, and closing. Messages go in through ipywidgets' own dispatch, as the browser's do."""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pytest
from PIL import Image

from venice_nb import masks
from venice_nb.widgets import MaskPainter
from venice_nb.widgets._protocol import (
    BROWSER_ACTIONS,
    JS_DIR,
    KEY_HELP,
    KEYS,
    PAINTER_MODULES,
    TOOLS,
    bundle,
    javascript,
)


def _image(h: int = 300, w: int = 400) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, w // 2 :] = 200
    return img


def _browser(p: MaskPainter, msg: dict[str, Any], buffers: list[bytes] | None = None) -> None:
    p._surface._handle_custom_msg(msg, buffers or [])


def _file(p: MaskPainter, name: str, data: bytes) -> None:
    p._controls.file._handle_custom_msg({"t": "mask_file", "name": name, "size": len(data)},
                                        [data])


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def _status(p: MaskPainter) -> str:
    return re.sub(r"<[^>]+>", "", p._controls.status.value)


def test_the_browser_reads_the_protocol_generated_from_the_python_table() -> None:
    assert (JS_DIR / "protocol.js").read_text() == javascript(), (
        "run: python -m venice_nb.widgets._protocol")
    esm = bundle(PAINTER_MODULES)
    assert "export default { render }" in esm and 'from "./' not in esm
    assert esm.count("export ") == 1


def test_every_tool_and_key_action_has_a_handler() -> None:
    p = MaskPainter(_image())
    for tool in TOOLS:
        if tool.gesture == "click":
            assert tool.name in p._click_tools, tool
        elif tool.gesture in ("drag", "lasso", "polygon"):
            assert tool.name in p._shape_tools, tool
    for key in KEYS:
        assert (key.action.startswith("tool:") or key.action in BROWSER_ACTIONS
                or key.action in p._actions), key
        assert key.shown in KEY_HELP, key
    tips = p._controls.rows[0].children[0].tooltips
    assert [t[-3:] for t in tips] == [f"({t.key.upper()})" for t in TOOLS]


def test_a_malformed_message_is_refused_in_words() -> None:
    p = MaskPainter(_image())
    _browser(p, {"t": "stroke", "id": 1, "pts": [["x", 1, 1]], "end": False})
    _browser(p, {"t": "nonsense"})
    assert masks.area(p.mask) == 0
    assert "unknown painter message" in _status(p)


def test_status_line_says_what_to_do_from_the_start() -> None:
    p = MaskPainter(_image())
    text = _status(p)
    assert "brush" in text and "400×300" in text and "click the image to paint" in text, text


def test_load_mask_shows_its_errors_and_loads_the_same_file_after_clear() -> None:
    p = MaskPainter(_image())
    rgb = np.zeros((300, 400, 3), np.uint8)
    rgb[..., 0] = 255  # red: not a grayscale mask
    _file(p, "red.png", _png(rgb))
    assert "red.png was not loaded" in _status(p) and "grayscale" in _status(p), _status(p)
    assert "role='alert'" in p._controls.status.value
    _file(p, "wide.png", _png(np.zeros((100, 400), np.uint8)))
    assert "wide.png was not loaded" in _status(p) and "400x100" in _status(p), _status(p)
    _file(p, "big.png", b"")
    assert "takes files up to" not in _status(p)  # empty, not big: PIL refuses it
    assert "big.png was not loaded" in _status(p)
    mask = np.zeros((300, 400), np.uint8)
    mask[10:50, 20:80] = 255
    _file(p, "ok.png", _png(mask))
    np.testing.assert_array_equal(p.mask, mask)
    assert "Loaded ok.png" in _status(p)
    p.clear()
    _file(p, "ok.png", _png(mask))  # the same file again
    np.testing.assert_array_equal(p.mask, mask)
    p.undo()
    assert masks.area(p.mask) == 0


def test_save_mask_sends_the_full_resolution_png() -> None:
    p = MaskPainter(_image(600, 800))  # shown at less than full size
    p.set_mask(masks.rect(p.image, (100, 50, 300, 250)))
    sent: list[tuple[dict[str, Any], list[bytes]]] = []
    p._controls.file.send = lambda content, buffers=None: sent.append((content, buffers or []))
    p._controls.file._handle_custom_msg({"t": "save_mask"}, [])
    (content, buffers), = sent
    assert content == {"t": "mask_png", "name": "mask-800x600.png"}
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(buffers[0]))), p.mask)
    assert "mask-800x600.png" in _status(p)


def test_a_new_base_of_another_size_maps_canvas_points_onto_it() -> None:
    p = MaskPainter(_image(300, 451), brush_size=4)
    sent: list[dict[str, Any]] = []
    original = p._surface.send

    def send(content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        sent.append(content)
        original(content, buffers)

    p._surface.send = send
    p.set_image(_image(681, 1024))
    assert {"t": "reset"} in sent
    w, h = p._surface.view_size
    assert (w, h) == p.display_size and p.image_size == (1024, 681)
    sid = 99
    _browser(p, {"t": "stroke", "id": sid, "pts": [[w / 2, h / 2, 1.0]], "end": True})
    x0, y0, x1, y1 = masks.bbox(p.mask) or (0, 0, 0, 0)
    assert abs((x0 + x1) / 2 - 512) <= 1 and abs((y0 + y1) / 2 - 340.5) <= 1


def test_close_lets_go_of_the_image_and_every_widget() -> None:
    p = MaskPainter(np.zeros((2000, 3000, 3), np.uint8))
    p.fill()
    parts = [p._surface, p.canvas, p._controls.file, p._controls.status, *p.canvas._canvases,
             *p._controls.buttons.values()]
    p.close()
    assert p.image.nbytes + p._mask.nbytes < 10
    assert all(w.comm is None for w in parts)


@pytest.mark.parametrize("key", [k for k in KEYS if not k.action.startswith("tool:")])
def test_keys_named_in_the_table_exist(key: Any) -> None:
    assert key.key == key.key.lower() and key.shown
