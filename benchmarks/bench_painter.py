"""Kernel time per mouse event of MaskPainter, on a 1 Mpx and a 33 Mpx image.

Events go through the same ipycanvas dispatch the browser's messages use
(``Canvas._handle_frontend_event``), with no front end attached: draw commands are built and
sent to a dummy comm, so what is measured is the Python work per event. The baseline, measured
in the same run, is the same dispatch into a handler that does nothing.

    python benchmarks/bench_painter.py            # goal: median per move <= 2 ms
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from ipycanvas import Canvas

from venice_nb.widgets import MaskPainter

SIZES = {"1 Mpx": (866, 1155), "33 Mpx": (4320, 7680)}  # (height, width); 7680x4320 = the max
GOAL_MS = 2.0
BRUSHES = (40, 150, 300)  # screen px; at 33 Mpx 300 px is a 2,900 px wide full-res dab


def _event(canvas: Canvas, name: str, x: float, y: float) -> None:
    canvas._handle_frontend_event(None, {"event": name, "x": x, "y": y}, [])


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def _stroke_points(n: int, width: int, height: int, step: float = 4.0) -> list[tuple[float, float]]:
    """A wavy stroke with ~``step`` screen pixels between events, as a hand drag produces."""
    xs = 20 + np.arange(n) * step * 0.9
    ys = height / 2 + np.sin(np.arange(n) / 12) * height / 4
    return [(float(x % (width - 40) + 20), float(y)) for x, y in zip(xs, ys, strict=True)]


def baseline_ms(repeats: int) -> float:
    """Median ms to dispatch one mouse-move event into a no-op handler."""
    canvas = Canvas(width=800, height=600)
    canvas.on_mouse_move(lambda x, y: None)
    times = [_timed(lambda: _event(canvas, "mouse_move", 10.0, 10.0)) for _ in range(repeats)]
    return statistics.median(times)


def bench(shape: tuple[int, int], points: int, strokes: int, brush: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (*shape, 3), dtype=np.uint8)
    t0 = time.perf_counter()
    painter = MaskPainter(image, brush_size=brush)
    build_ms = (time.perf_counter() - t0) * 1000
    target = painter.canvas[-1]  # the layer that receives the browser's events
    w, h = painter.display_size
    moves: list[float] = []
    ups: list[float] = []
    whole: list[float] = []
    for _ in range(strokes):
        pts = _stroke_points(points, w, h)
        start = time.perf_counter()
        _event(target, "mouse_down", *pts[0])
        for x, y in pts[1:-1]:
            moves.append(_timed(lambda x=x, y=y: _event(target, "mouse_move", x, y)))
        ups.append(_timed(lambda p=pts[-1]: _event(target, "mouse_up", *p)))
        whole.append((time.perf_counter() - start) * 1000)
        painter.undo()
    moves.sort()
    return {
        "build": build_ms,
        "move_median": statistics.median(moves),
        "move_p95": moves[int(len(moves) * 0.95)],
        "move_max": moves[-1],
        "stroke_end": statistics.median(ups),
        "stroke": statistics.median(whole),
        "undo": _timed(painter.undo) if painter.can_undo else _timed(painter.redo),
        "invert": _timed(painter.invert),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200, help="events per stroke")
    parser.add_argument("--strokes", type=int, default=5, help="strokes per image size")
    args = parser.parse_args()
    base = baseline_ms(2000)
    print(f"baseline: no-op mouse-move handler through ipycanvas dispatch = {base * 1000:.1f} µs")
    print(f"brushes {BRUSHES} px on screen, {args.points}-point strokes x {args.strokes}\n")
    header = (f"{'image':>7} {'shown':>9} {'brush':>5} {'move med':>9} {'p95':>7} {'max':>7} "
              f"{'x base':>7} {'end':>7} {'stroke':>8} {'invert':>7} {'build':>7}")
    print(header + "   (ms)")
    ok = True
    for (name, shape), brush in ((s, b) for s in SIZES.items() for b in BRUSHES):
        r = bench(shape, args.points, args.strokes, brush)
        shown = "x".join(map(str, _display(shape)))
        print(
            f"{name:>7} {shown:>9} {brush:5} {r['move_median']:9.3f} {r['move_p95']:7.3f} "
            f"{r['move_max']:7.2f} {r['move_median'] / base:7.0f} {r['stroke_end']:7.2f} "
            f"{r['stroke']:8.1f} {r['invert']:7.1f} {r['build']:7.0f}"
        )
        ok &= r["move_median"] <= GOAL_MS
    verdict = "met" if ok else "MISSED"
    print(f"\ngoal: median kernel time per mouse move <= {GOAL_MS} ms, every size and brush "
          f"-> {verdict}")
    print("'end' is mouse-up: the whole stroke is drawn into the full-resolution mask then.")


def _display(shape: tuple[int, int]) -> tuple[int, int]:
    from venice_nb.widgets._util import DEFAULT_MAX_DISPLAY, fit_size

    return fit_size(shape[1], shape[0], *DEFAULT_MAX_DISPLAY)


if __name__ == "__main__":
    main()
