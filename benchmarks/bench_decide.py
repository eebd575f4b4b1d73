"""Benchmark: the cost of the deciding aids, each as a ratio against a baseline from the same run.

1. Mask-respect figures per masked result, against decoding that result once (PNG), at the
   sample photo's size and at 1 and 4 Mpx.
2. A store of N results (default 5,000, each its own image file): opening it (which also looks
   for temp parts left by killed writers) against opening an empty store; ``history()`` filtered
   by picks and by a prompt variable, and a CSV export, against an unfiltered ``history()``.
3. ``widgets.ResultBrowser`` over those N results against one over 50: first page shown (24
   thumbnails), and a filter change.

Run: ``python benchmarks/bench_decide.py [--results 5000]``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from _shared import timings
from PIL import Image

import venice_nb as vnb
from venice_nb._client import _request
from venice_nb._models import ModelInfo
from venice_nb._respect import mask_respect

MODEL = ModelInfo(id="firered-image-edit", name="FireRed Edit", type="inpaint", price_usd=0.04)
HEADERS = {"content-type": "image/png", "x-venice-model-id": "firered-image-edit"}


def _decode_rgb(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _best(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median of ``repeat`` timings, in seconds."""
    return statistics.median(timings(fn, repeat))


def _png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def bench_respect() -> None:
    rng = np.random.default_rng(1)
    cat = np.asarray(Image.open(vnb.sample("cat")).convert("RGB"))
    for label, base in (("cat sample", cat),
                        ("1 Mpx", rng.integers(0, 256, (1000, 1000, 3), dtype=np.uint8)),
                        ("4 Mpx", rng.integers(0, 256, (2000, 2000, 3), dtype=np.uint8))):
        h, w = base.shape[:2]
        mask = np.zeros((h, w), np.uint8)
        mask[: h // 3] = 255
        edited = base.copy()
        edited[: h // 3] = 255 - edited[: h // 3]
        image, layer, result = _png(base), _png(mask, "L"), _png(edited)
        decode = _best(partial(_decode_rgb, result))
        figures = _best(partial(mask_respect, image, layer, result))
        print(f"mask respect, {label} ({w}x{h}): {figures * 1000:.1f} ms per result = "
              f"{figures / decode:.1f}x decoding the result once ({decode * 1000:.1f} ms)")


def bench_store(n: int) -> None:
    rng = np.random.default_rng(2)
    base = _png(np.full((256, 256, 3), 120, np.uint8))
    with tempfile.TemporaryDirectory() as tmp:
        empty_root, root = Path(tmp) / "empty", Path(tmp) / "full"
        store = vnb.ResultStore(root)
        start = time.perf_counter()
        for i in range(n):
            prepared = _request.prepare_edit(base, f"a {('red', 'blue')[i % 2]} hat {i}",
                                             model=MODEL)
            out = _png(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
            store.record(prepared, HEADERS, out, 0.1, False)
        store._label([(r.fingerprint, r.is_local, {"color": str(r.prompt).split()[1]})
                     for r in store.history()])
        for record in store.history(limit=n // 10):
            store.mark(record, picked=True, rating=4)
        print(f"filled a store with {n} results in {time.perf_counter() - start:.1f} s")
        store.close()

        def open_(path: Path) -> None:
            with vnb.ResultStore(path) as s:
                len(s)

        empty, full = _best(lambda: open_(empty_root)), _best(lambda: open_(root))
        print(f"open + first query: {n} results {full * 1000:.1f} ms = {full / empty:.1f}x an "
              f"empty store ({empty * 1000:.1f} ms)")
        store = vnb.ResultStore(root)
        everything = _best(store.history)
        for label, fn in (("history(picked=True)", lambda: store.history(picked=True)),
                          ("history(variables={'color': 'red'})",
                           lambda: store.history(variables={"color": "red"})),
                          ("export CSV", lambda: store.export(Path(tmp) / "all.csv"))):
            took = _best(fn)
            print(f"{label}: {took * 1000:.1f} ms = {took / everything:.2f}x an unfiltered "
                  f"history() of {n} ({everything * 1000:.1f} ms)")
        bench_browser(store, Path(tmp) / "small", n)


def bench_browser(store: vnb.ResultStore, small_root: Path, n: int) -> None:
    from venice_nb.widgets import ResultBrowser

    small = vnb.ResultStore(small_root)
    for record in store.history(limit=50):
        result = record.to_result()
        small.record(_request.prepare_edit(_png(np.full((256, 256, 3), 7, np.uint8)),
                                           record.prompt or "", model=MODEL),
                     HEADERS, result.data, 0.1, False)
    few = _best(lambda: ResultBrowser(small))
    many = _best(lambda: ResultBrowser(store))
    print(f"ResultBrowser first page: {n} results {many * 1000:.0f} ms = {many / few:.2f}x "
          f"50 results ({few * 1000:.0f} ms)")
    browser = ResultBrowser(store)

    def toggle() -> None:
        browser._picked.value = not browser._picked.value

    took = _best(toggle)
    print(f"ResultBrowser filter change over {n}: {took * 1000:.0f} ms = {took / many:.2f}x "
          "opening it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=5000)
    args = parser.parse_args()
    bench_respect()
    bench_store(args.results)


if __name__ == "__main__":
    main()
