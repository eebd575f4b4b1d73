"""Speed of the local backend's effects on a 1 Mpx photo.

Run: ``python benchmarks/bench_effects.py [--quick] [--wall] [--only TEXT] [--json PATH]``.
Prints one row per prompt: best-of-N time of the local model (``edit_image``: region
estimates, effect, mask blend) and its ratio to a baseline measured in the same run, the
backend's own decode + PNG encode of the same image (work every request does anyway). Goal:
<= 100 ms per 1 Mpx edit, i.e. a ratio of about 1-2 on a typical machine; the printed
milliseconds say where this machine is. ``--only`` keeps the rows whose label contains TEXT.

Times are the process's CPU time by default: on a shared machine wall time mostly measures
the other processes (a loaded run doubled every figure at random), while CPU time is the work
the backend does. ``--wall`` measures wall time instead. Set ``OMP_NUM_THREADS=1`` so that a
multi-threaded BLAS does not count several cores.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from PIL import Image, ImageDraw

import venice_nb as vnb
from venice_nb._backend._imageops import edit_image, encode
from venice_nb._backend._matte import remove_background

GOAL_MS = 100.0
SIZE = (1224, 816)  # 1.0 Mpx, the cat sample's aspect ratio

# (label, prompt, mask box as fractions or None); on the cat unless EXTRA says otherwise
CASES: tuple[tuple[str, str, tuple[float, float, float, float] | None], ...] = (
    ("restyle (unknown words)", "make it dreamy", None),
    ("greyscale", "black and white", None),
    ("snow", "make it snowy", None),
    ("rain", "make it rain", None),
    ("fog", "foggy morning", None),
    ("winter", "winter", None),
    ("autumn", "autumn colours", None),
    ("golden hour", "golden hour light", None),
    ("watercolour", "paint it as a watercolour", None),
    ("oil painting", "an oil painting", None),
    ("pencil sketch", "a pencil sketch", None),
    ("cartoon", "make it a cartoon", None),
    ("pixel art", "pixel art", None),
    ("vintage film", "vintage film look", None),
    ("subject tint", "make the cat orange", None),
    ("background: studio", "replace the background with a studio backdrop", None),
    ("sky: sunrise (no sky found)", "change the sky to sunrise", None),
    ("remove (mask)", "remove the object", (0.55, 0.1, 0.75, 0.35)),
    ("remove (no mask)", "remove the cat", None),
    ("restore (torn corner)", "restore the torn corner of the photo", None),
    ("poster (mask)", "replace the billboard with a glowing poster", (0.05, 0.1, 0.3, 0.6)),
    ("object: hat", "a red hat", None),
    ("object: party hat (mask)", "give the cat a small red party hat", (0.33, 0.0, 0.73, 0.3)),
    ("object: scarf", "add a blue scarf to the cat", None),
    ("recolour: black cat", "make the cat black", None),
    ("remove the background", "remove the background", None),
)
# (label, sample, prompt): effects that need another scene (a sky, a cup, a face)
EXTRA: tuple[tuple[str, str, str], ...] = (
    ("object: glasses (astronaut)", "astronaut", "give the astronaut glasses"),
    ("object: flower in cup (coffee)", "coffee", "put a pink flower in the cup"),
    ("recolour: blue cup (coffee)", "coffee", "make the cup blue"),
    ("sky: storm (rocket)", "rocket", "make the sky stormy"),
    ("remove, no mask (rocket)", "rocket", "remove the tourist crowd"),
)


CLOCK: Callable[[], float] = time.process_time


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = CLOCK()
        fn()
        best = min(best, CLOCK() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--wall", action="store_true", help="wall time instead of CPU time")
    parser.add_argument("--only", help="only the rows whose label contains this text")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.perf_counter if args.wall else time.process_time
    repeat = 2 if args.quick else 5

    photo = Image.open(vnb.sample("cat")).convert("RGB").resize(SIZE, Image.Resampling.LANCZOS)
    torn = photo.copy()
    w, h = SIZE
    ImageDraw.Draw(torn).polygon([(0.7 * w, 0), (w, 0), (w, 0.35 * h)], fill=(250, 250, 247))
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=90)
    jpeg = buf.getvalue()

    def baseline() -> None:
        encode(Image.open(io.BytesIO(jpeg)).convert("RGB"), "png")

    base = best_of(baseline, repeat)
    clock = "wall" if args.wall else "CPU"
    print(f"1 Mpx ({w}x{h}); {clock} time; baseline decode JPEG + encode PNG: {base * 1000:.1f} ms")
    print(f"{'effect':30s} {'ms':>7s} {'x baseline':>11s}")  # 1 Mpx each, best of N
    rows = []

    def wanted(label: str) -> bool:
        return args.only is None or args.only in label

    for label, prompt, box in filter(lambda case: wanted(case[0]), CASES):
        layers = []
        if box is not None:
            mask = Image.new("L", SIZE, 0)
            ImageDraw.Draw(mask).rectangle((box[0] * w, box[1] * h, box[2] * w, box[3] * h), 255)
            layers.append(mask)
        image = torn if prompt.startswith("restore") else photo
        seconds = best_of(partial(edit_image, image, prompt, layers=layers), repeat)
        rows.append({"effect": label, "prompt": prompt, "ms": seconds * 1000,
                     "ratio": seconds / base})  # fmt: skip
        flag = "" if seconds * 1000 <= GOAL_MS else "  (over the 100 ms goal here)"
        print(f"{label:30s} {seconds * 1000:7.1f} {seconds / base:11.2f}{flag}")
    for label, sample, prompt in filter(lambda case: wanted(case[0]), EXTRA):
        other = Image.open(vnb.sample(sample)).convert("RGB")
        scale = (SIZE[0] * SIZE[1] / (other.width * other.height)) ** 0.5
        other = other.resize((round(other.width * scale), round(other.height * scale)))
        seconds = best_of(partial(edit_image, other, prompt), repeat)
        rows.append({"effect": label, "prompt": prompt, "ms": seconds * 1000,
                     "ratio": seconds / base})  # fmt: skip
        flag = "" if seconds * 1000 <= GOAL_MS else "  (over the 100 ms goal here)"
        print(f"{label:30s} {seconds * 1000:7.1f} {seconds / base:11.2f}{flag}")
    if wanted("/image/background-remove"):
        seconds = best_of(partial(remove_background, photo), repeat)
        rows.append({"effect": "/image/background-remove", "prompt": "", "ms": seconds * 1000,
                     "ratio": seconds / base})  # fmt: skip
        print(f"{'/image/background-remove':30s} {seconds * 1000:7.1f} {seconds / base:11.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": sys.version.split()[0], "machine": platform.machine(),
                       "clock": clock, "baseline_ms": base * 1000, "rows": rows},
                      f, indent=2)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
