"""Speed of the selection engine (venice_nb._selection.Selector) on a 12 Mpx photo-like image.

Run: ``python benchmarks/bench_select.py [--quick] [--big] [--json PATH]``. Each row is the
best-of-N wall time and its ratio to one JPEG decode of the same image measured in the same run
(what opening the photo costs anyway). Goals from issue 20, at 12 Mpx: one-time preparation
<= 2 s (run in a background thread), click -> full-resolution mask <= 300 ms, tolerance update
<= 100 ms, grow / feather previews fast enough to follow a slider; judged as ratios to the
decode (see IDLE_DECODE_MS), since the machine's speed and load cancel out of those.
``--big`` adds the same rows at 33 Mpx (7680x4320, Venice's largest) with the peak
Python/numpy memory as a multiple of the image's own RGB size.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _shared import photo_like, timings

from venice_nb import masks
from venice_nb._selection import Selector

GOALS_MS = {"prepare": 2000.0, "click (object)": 300.0,
            "click: preview then full res (object, painter)": 300.0, "click (colour)": 300.0,
            "tolerance update": 100.0}
# The goals are milliseconds on an unloaded machine, where one 12 Mpx JPEG decode takes about
# 65 ms (measured here); as ratios to that decode they still hold on a busy or slower machine.
IDLE_DECODE_MS = 65.0
PREVIEW = (720, 960)  # the painter's on-screen size for previews (height, width)


def scene(width: int, height: int) -> tuple[np.ndarray, tuple[float, float]]:
    """The photo-like image with a blue disc on it (something to click)."""
    img = photo_like(width, height)
    r = height // 5
    disc = masks.ellipse((height, width), (width / 2 - r, height / 2 - r,
                                           width / 2 + r, height / 2 + r)) > 0
    img[disc] = (np.array([30, 70, 200]) + img[disc] // 8).astype(np.uint8)
    return img, (width / 2, height / 2)


def rows(width: int, height: int, repeat: int) -> list[dict[str, object]]:
    img, point = scene(width, height)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    decode = min(timings(lambda: np.asarray(Image.open(io.BytesIO(data)).convert("RGB")),
                         repeat))
    out: list[dict[str, object]] = []

    def row(label: str, fn: Callable[[], object], n: int = repeat) -> None:
        best = min(timings(fn, n))
        goal = GOALS_MS.get(label)
        goal_ratio = None if goal is None else round(goal / IDLE_DECODE_MS, 1)
        out.append({"case": label, "ms": round(best * 1000, 1), "ratio": round(best / decode, 2),
                    "goal_ratio": goal_ratio,
                    "met": None if goal_ratio is None else best / decode <= goal_ratio})

    out.append({"case": "baseline: JPEG decode", "ms": round(decode * 1000, 1), "ratio": 1.0,
                "goal_ratio": None, "met": None})
    row("prepare", lambda: Selector(img).prepare(), max(1, repeat // 2))
    sel = Selector(img)
    sel.prepare()
    # The engine keeps the last object / subject solve (a preview and the full mask of the
    # same clicks share it), so every timed object click is at a new point.
    spots = iter(range(10_000))

    def spot() -> tuple[float, float]:
        k = next(spots)
        return point[0] + k % 200, point[1]

    row("click (object)", lambda: sel.object([spot()]))
    row("click preview (object, on screen)", lambda: sel.object([spot()], size=PREVIEW))

    def painter_click() -> object:  # what the painter does: preview, then full resolution
        here = [spot()]
        sel.object(here, size=PREVIEW)
        return sel.object(here)

    row("click: preview then full res (object, painter)", painter_click)
    row("add a click (object, 2 includes + 1 exclude)",
        lambda: sel.object([point, spot()], [(20, 20)]))
    clicks = iter(range(10_000))

    def new_colour_click() -> object:  # a new point each time, so nothing is cached
        k = next(clicks)
        return sel.color((point[0] + k % 200, point[1]), 12)

    row("click (colour)", new_colour_click)
    tolerances = iter(np.linspace(5, 40, 10_000))
    row("tolerance update", lambda: sel.color((point[0], point[1]), float(next(tolerances))))
    row("tolerance preview (on screen)",
        lambda: sel.color((point[0], point[1]), float(next(tolerances)), size=PREVIEW))

    def subject() -> object:
        sel._solved = None  # the last solve is kept; time a fresh one
        return sel.subject()

    row("subject", subject, max(1, repeat // 2))
    m = sel.object([point])
    row("grow preview (on screen)", lambda: sel.refine(m, grow=20, size=PREVIEW))
    row("feather preview (on screen)", lambda: sel.refine(m, feather=20, size=PREVIEW))
    row("smooth preview (on screen)", lambda: sel.refine(m, smooth=8, size=PREVIEW))
    row("grow apply (full res)", lambda: sel.refine(m, grow=20), max(1, repeat // 2))
    row("feather apply (full res)", lambda: sel.refine(m, feather=20), max(1, repeat // 2))
    return out


def peak_memory(width: int, height: int) -> dict[str, float]:
    """Peak traced allocation of preparing and of one click, as multiples of the RGB image."""
    img, point = scene(width, height)
    size = img.nbytes
    sel = Selector(img)
    tracemalloc.start()
    sel.prepare()
    prep = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    sel.object([point])
    click = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    sel.color(point, 12)
    colour = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"prepare": round(prep / size, 2), "click (object)": round(click / size, 2),
            "click (colour)": round(colour / size, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--big", action="store_true", help="also 33 Mpx, with peak memory")
    ap.add_argument("--json", help="write the figures to this path")
    args = ap.parse_args()
    repeat = 3 if args.quick else 7
    report: dict[str, object] = {"python": sys.version.split()[0],
                                 "machine": platform.machine(), "sizes": {}}
    sizes = {"12 Mpx": (4000, 3000)}
    if args.big:
        sizes["33 Mpx"] = (7680, 4320)
    for label, (w, h) in sizes.items():
        table = rows(w, h, repeat)
        entry: dict[str, object] = {"rows": table}
        print(f"\n{label} ({w}x{h})")
        print(f"{'case':48s} {'ms':>9s} {'x decode':>9s}  goal (x decode)")
        for r in table:
            goal = "" if r["goal_ratio"] is None else f"<= {r['goal_ratio']} " + (
                "met" if r["met"] else "MISSED")
            print(f"{r['case']!s:48s} {r['ms']:>9} {r['ratio']:>9}  {goal}")
        if label == "33 Mpx":
            mem = peak_memory(w, h)
            entry["peak_memory_x_image"] = mem
            print("peak traced memory (x the RGB image):", mem)
        report["sizes"][label] = entry  # type: ignore[index]
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
