"""Speed and memory of venice_nb.masks on a 1 Mpx and a 33 Mpx (7680x4320, Venice's maximum) mask.

Run: ``python benchmarks/bench_masks.py [--quick] [--json PATH]``. Prints one row per helper:
best-of-N wall time, its ratio to a baseline measured in the same run (``np.copy`` of the mask),
and peak memory as a multiple of the mask's size, both as tracemalloc sees it (numpy and Python
allocations) and as the process's resident-set high-water mark rises (which also counts Pillow's
C buffers). Goals at 33 Mpx: <= 1 s and <= 4x the mask.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import platform
import re
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PIL import __version__ as PIL_VERSION

import venice_nb as vnb
from venice_nb import masks

SIZES = {"1 Mpx": (1000, 1000), "33 Mpx": (4320, 7680)}
GOAL_SECONDS = 1.0
GOAL_MEMORY = 4.0


def _libc_trim() -> Callable[[], None]:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return lambda: libc.malloc_trim(0)
    except OSError:
        return lambda: None


_trim = _libc_trim()


def _rss_kb(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"{field}:\s+(\d+)", text)
    return int(found.group(1)) if found else None


def rss_peak_bytes(fn: Callable[[], Any]) -> int | None:
    """Rise of the resident-set high-water mark during ``fn`` (Linux; None elsewhere)."""
    gc.collect()
    _trim()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        return None
    before = _rss_kb("VmRSS")
    result = fn()
    peak = _rss_kb("VmHWM")
    del result
    return None if before is None or peak is None else (peak - before) * 1024


def traced_peak_bytes(fn: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def photo(shape: tuple[int, int]) -> np.ndarray:
    """The cat sample stretched to ``shape``: a realistic image for colour selection."""
    h, w = shape
    img = Image.open(vnb.sample("cat")).convert("RGB")
    return np.asarray(img.resize((w, h), Image.Resampling.BILINEAR))


def cases(shape: tuple[int, int]) -> dict[str, Callable[[], Any]]:
    """Each helper at a realistic workload scaled to ``shape``."""
    h, w = shape
    s = w / 7680  # scale shape sizes with the mask
    rng = np.random.default_rng(0)
    mask = masks.ellipse(shape, (0.2 * w, 0.2 * h, 0.7 * w, 0.8 * h))
    other = masks.rect(shape, (0.5 * w, 0.1 * h, 0.9 * w, 0.6 * h))
    soft = masks.feather(mask, 16)
    bool_mask = mask > 0
    float_mask = soft.astype(np.float32) / 255
    img = photo(shape)
    rgba = np.dstack([img, mask])
    half = masks.resize_to(mask, (h // 2, w // 2))
    xs = np.linspace(0.05 * w, 0.95 * w, 120)
    stroke = np.column_stack([xs, h / 2 + 0.3 * h * np.sin(xs / w * 12)])
    xs = np.linspace(0.05 * w, 0.95 * w, 200)  # a whole painter stroke, drawn at mouse-up
    long_stroke = np.column_stack([xs, h / 2 + 0.3 * h * np.sin(xs / w * 12)])
    star = [(w / 2 + r * np.cos(t) * w / 3, h / 2 + r * np.sin(t) * h / 3)
            for t, r in zip(np.linspace(0, 2 * np.pi, 200, endpoint=False),
                            np.tile([1.0, 0.45], 100), strict=True)]
    small = masks.rect(shape, (0.45 * w, 0.45 * h, 0.55 * w, 0.55 * h))
    crop, box = masks.crop_to_mask(img, small, 64)
    edited = 255 - crop
    canvas = np.zeros(shape, np.uint8)
    segment = [(w / 2, h / 2), (w / 2 + 20, h / 2 + 12)]
    seed = (int(0.1 * w), int(0.5 * h))
    noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if shape == SIZES["33 Mpx"] else None
    work: dict[str, Callable[[], Any]] = {
        "baseline: np.copy(mask)": lambda: np.copy(mask),
        "rect": lambda: masks.rect(shape, (0.1 * w, 0.1 * h, 0.9 * w, 0.9 * h)),
        "ellipse": lambda: masks.ellipse(shape, (0.1 * w, 0.1 * h, 0.9 * w, 0.9 * h)),
        "polygon (200-point star)": lambda: masks.polygon(shape, star),
        "brush (120-point stroke, r=60)": lambda: masks.brush(shape, stroke, 60 * s + 2),
        "brush segment into out= (r=20)": lambda: masks.brush(None, segment, 20, out=canvas),
        # A 150 / 300 px screen brush on a 33 Mpx image: radius ~725 / ~1450 mask pixels.
        "brush 200-pt stroke out= (r=300)": lambda: masks.brush(
            None, long_stroke, 300 * s, out=canvas
        ),
        "brush 200-pt stroke out= (r=1450)": lambda: masks.brush(
            None, long_stroke, 1450 * s, out=canvas
        ),
        "as_mask(float32)": lambda: masks.as_mask(float_mask),
        "as_mask(bool)": lambda: masks.as_mask(bool_mask),
        "invert": lambda: masks.invert(mask),
        "union": lambda: masks.union(mask, other),
        "intersect": lambda: masks.intersect(mask, other),
        "subtract": lambda: masks.subtract(mask, other),
        "grow(8)": lambda: masks.grow(mask, 8),
        "grow(64)": lambda: masks.grow(mask, 64),
        "shrink(64)": lambda: masks.shrink(mask, 64),
        "feather(32)": lambda: masks.feather(mask, 32),
        "bbox": lambda: masks.bbox(mask),
        "area": lambda: masks.area(mask),
        "resize_to (2x up)": lambda: masks.resize_to(half, shape),
        "threshold (RGB)": lambda: masks.threshold(img, 128),
        "from_alpha": lambda: masks.from_alpha(rgba),
        "from_color (global, tol 24)": lambda: masks.from_color(img, (120, 100, 90), 24),
        "from_color (bucket, tol 24)": lambda: masks.from_color(img, None, 24, seed=seed),
        "from_color (bucket, 8-conn)": lambda: masks.from_color(
            img, None, 24, seed=seed, connectivity=8
        ),
        "crop_to_mask": lambda: masks.crop_to_mask(img, small, 64),
        "paste_back (feather 8)": lambda: masks.paste_back(img, edited, box, small, 8),
        "overlay": lambda: masks.overlay(img, soft),
        "to_image": lambda: masks.to_image(mask),
    }
    if noise is not None:  # worst case: every pixel a random colour, a maze of tiny runs
        work["from_color (bucket, random noise)"] = lambda: masks.from_color(
            noise, (128, 128, 128), 90, seed=(0, 0)
        )
    return work


def measure(quick: bool) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for label, shape in SIZES.items():
        mask_bytes = shape[0] * shape[1]
        repeat = 2 if quick else (3 if label == "33 Mpx" else 7)
        work = cases(shape)
        baseline = best_time(work["baseline: np.copy(mask)"], repeat)
        for name, fn in work.items():
            fn()  # warm up: first-touch page faults are not the helper's cost
            seconds = baseline if name.startswith("baseline") else best_time(fn, repeat)
            row = rows.setdefault(name, {"name": name})
            row[label] = {
                "seconds": seconds,
                "x_baseline": seconds / baseline,
                "traced_x_mask": traced_peak_bytes(fn) / mask_bytes,
                "rss_x_mask": (
                    None if (rss := rss_peak_bytes(fn)) is None else max(rss, 0) / mask_bytes
                ),
            }
    return list(rows.values())


def report(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'helper':<36}{'1 Mpx ms':>10}{'x base':>8}{'33 Mpx ms':>11}{'x base':>8}"
        f"{'mem traced':>12}{'mem RSS':>9}  goal"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        small, big = row.get("1 Mpx"), row["33 Mpx"]
        if small is None:
            continue
        rss = big["rss_x_mask"]
        ok = big["seconds"] <= GOAL_SECONDS and big["traced_x_mask"] <= GOAL_MEMORY
        lines.append(
            f"{row['name']:<36}{small['seconds'] * 1e3:>10.2f}{small['x_baseline']:>8.1f}"
            f"{big['seconds'] * 1e3:>11.1f}{big['x_baseline']:>8.1f}"
            f"{big['traced_x_mask']:>11.2f}x{'' if rss is None else f'{rss:>8.2f}x'}"
            f"  {'ok' if ok else 'MISSED'}"
        )
    only_big = [r for r in rows if "1 Mpx" not in r]
    for row in only_big:
        big = row["33 Mpx"]
        lines.append(
            f"{row['name']:<36}{'-':>10}{'-':>8}{big['seconds'] * 1e3:>11.1f}"
            f"{big['x_baseline']:>8.1f}{big['traced_x_mask']:>11.2f}x"
            f"{big['rss_x_mask'] or 0:>8.2f}x  (worst case, informative)"
        )
    lines.append(
        f"memory = peak allocation during one call / mask bytes (33 Mpx mask = 33.2 MB); "
        f"goals at 33 Mpx: <= {GOAL_SECONDS:g} s, <= {GOAL_MEMORY:g}x (traced)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    print(f"venice_nb masks benchmark - Python {platform.python_version()}, numpy "
          f"{np.__version__}, Pillow {PIL_VERSION}, {platform.machine()}")
    rows = measure(args.quick)
    print(report(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
