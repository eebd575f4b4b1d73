"""The painter's selection tools, end to end in the kernel (no browser): how long a person waits.

Every figure is a ratio to ONE decode of the same photo (a JPEG of it, decoded in this run), so
it means the same on a fast and on a busy machine. Messages go through the same ipywidgets
dispatch the browser's use, and each time includes drawing the overlay (PNG encode for the
canvas), the mask update and the undo step.

- prepare: the engine's one-time work, in a background thread once a selection tool is chosen
- preview: what shows at once after a click (screen-size answer, drawn); an object click's
  preview solves, and its full-resolution step reuses that solve
- click: a colour / object click up to the full-resolution step recorded and drawn (each
  object click adds a point, so each solves afresh)
- tolerance move: one preview while the tolerance slider is dragged
- refine preview / apply: grow 10 px on the overlay, then at full resolution

    python benchmarks/bench_painter_select.py            # 12 Mpx and 33 Mpx
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from venice_nb.widgets import MaskPainter

SIZES = {"12 Mpx": (3000, 4000), "33 Mpx": (4320, 7680)}  # (height, width)


def _scene(h: int, w: int) -> np.ndarray:
    """A photo-like scene: a textured green background with a red disc and an orange block."""
    rng = np.random.default_rng(0)
    img = (np.array([30, 90, 60]) + rng.integers(-12, 13, (h, w, 1))).astype(np.uint8)
    yy, xx = np.ogrid[:h, :w]
    img[(xx - w * 0.35) ** 2 + (yy - h * 0.5) ** 2 < (h * 0.25) ** 2] = (220, 30, 40)
    img[h // 4 : h * 3 // 4, int(w * 0.6) : int(w * 0.8)] = (230, 150, 40)
    return img


def _ms(fn: Callable[[], object], repeat: int = 3) -> float:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return statistics.median(out) * 1000.0


def _select(p: MaskPainter, tool: str, x: float, y: float) -> None:
    p._surface._handle_custom_msg({"t": "select", "tool": tool, "x": x, "y": y,
                                   "exclude": False}, [])


def run(name: str, shape: tuple[int, int]) -> None:
    h, w = shape
    img = _scene(h, w)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    decode = _ms(lambda: np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    p = MaskPainter(img)
    vw, vh = p.display_size
    cx, cy = vw * 0.35, vh * 0.5  # the disc's centre on the canvas
    start = time.perf_counter()
    p.tool = "color"
    thread = p._select._preparing
    assert thread is not None
    thread.join()
    prepare = (time.perf_counter() - start) * 1000.0
    tools = p._select

    def preview() -> None:
        s = tools.session
        assert s is not None
        size = tools._preview_size() or tools._capped(tools._view_pixels())
        tools._show(tools._view_of(tools._select(s, size)), s)

    rows = [("prepare (background)", prepare)]
    rows.append(("colour click, full res", _ms(lambda: _select(p, "color", cx, cy))))
    rows.append(("colour preview / tolerance move", _ms(preview)))
    p.tool = "object"
    rows.append(("object click, full res", _ms(lambda: _select(p, "object", cx, cy), 2)))

    def fresh_preview() -> None:  # the engine keeps the last solve: time a new one
        tools.selector._solved = None
        preview()

    rows.append(("object preview (fresh solve)", _ms(fresh_preview)))
    rows.append(("object preview (solve kept)", _ms(preview)))
    grow = tools.amount

    def refine_preview() -> None:
        grow.value = 10 if grow.value != 10 else 11

    rows.append(("grow preview", _ms(refine_preview)))
    rows.append(("grow apply, full res", _ms(tools.apply_refine, 1)))
    print(f"\n{name} ({w}x{h}); baseline: one JPEG decode = {decode:.0f} ms")
    for label, ms in rows:
        print(f"  {label:34s} {ms / decode:6.2f} decodes  ({ms:.0f} ms)")
    p.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), action="append")
    args = parser.parse_args()
    for name in args.size or list(SIZES):
        run(name, SIZES[name])


if __name__ == "__main__":
    main()
