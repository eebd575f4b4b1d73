"""Benchmark: what reading stores and recordings as untrusted costs, as ratios against a
baseline from the same run.

1. A store answer (``ResultStore._lookup``: canonical name, no-link regular-file read, sha256,
   header and pixel check) against the bare minimum any store pays: reading the file and
   hashing it.
2. ``open_recording`` of N results: the first open (every line checked, every image read,
   hashed and header-checked, then imported) and a reopen (every row verified against its line,
   no image read), against reading and hashing every image once.

Run: ``python benchmarks/bench_hostile.py [--results 200]``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from _shared import photo_like, timings
from PIL import Image

import venice_nb as vnb
from venice_nb._client import _request
from venice_nb._models import ModelInfo

MODEL = ModelInfo(id="firered-image-edit", name="FireRed Edit", type="inpaint", price_usd=0.04)
HEADERS = {"content-type": "image/png", "x-venice-model-id": "firered-image-edit"}


def _median(fn: Callable[[], object], repeat: int = 5) -> float:
    return statistics.median(timings(fn, repeat))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=int, default=200)
    n = parser.parse_args().results
    base = photo_like(1024, 1024)
    source = io.BytesIO()
    Image.fromarray(base[:256, :256]).save(source, "PNG")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = vnb.ResultStore(folder / "store")
        requests = []
        for i in range(n):
            image = base.copy()
            image[0, 0] = (i % 256, i // 256 % 256, 7)  # each its own file
            buf = io.BytesIO()
            Image.fromarray(image).save(buf, "PNG", compress_level=1)
            prepared = _request.prepare_edit(source.getvalue(), f"take {i}", model=MODEL)
            store.record(prepared, HEADERS, buf.getvalue(), 0.1, True)
            requests.append(prepared)
        files = [Path(r.output_file) for r in store.history()]

        def baseline() -> None:
            for path in files:
                hashlib.sha256(path.read_bytes()).hexdigest()

        def answers() -> None:
            for prepared in requests:
                assert store._lookup(prepared, is_local=True) is not None

        base_s = _median(baseline)
        print(f"baseline: read + sha256 of {n} 1 Mpx PNGs: {base_s * 1000:.1f} ms")
        print(f"store answers (_lookup, all checks): {_median(answers) / base_s:.2f}x baseline")
        vnb.save_recording(store, folder / "rec")

        def first_open() -> None:
            shutil.rmtree(folder / "rec" / ".store", ignore_errors=True)
            vnb.open_recording(folder / "rec").close()

        def reopen() -> None:
            vnb.open_recording(folder / "rec").close()

        print(f"open_recording, first open: {_median(first_open, 3) / base_s:.2f}x baseline")
        print(f"open_recording, reopen:     {_median(reopen, 3) / base_s:.2f}x baseline")


if __name__ == "__main__":
    main()
