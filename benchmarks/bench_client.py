"""Client-core benchmarks, as ratios against baselines measured in the same run.

    python benchmarks/bench_client.py

1. Request preparation of a 24 Mpx JPEG (read, sniff, validate, build the JSON body) vs plain
   ``base64.b64encode`` of the same bytes. Goal: <= 1.1x.
2. Wire bytes: JSON (base64) vs multipart for the same edit.
3. ``import venice_nb`` in a fresh interpreter vs ``import json`` (the interpreter's own cost).
   Goal: <= 0.3 s.
"""

from __future__ import annotations

import base64
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
from _shared import photo_like, timings
from PIL import Image

from venice_nb._client import _request


def _best(fn: Callable[[], object], repeat: int = 7) -> float:
    return min(timings(fn, repeat))


def bench_prepare(path: Path) -> None:
    data = path.read_bytes()
    baseline = _best(lambda: base64.b64encode(path.read_bytes()))
    prepare = _best(lambda: _request.prepare_edit(path, "sunrise").json_body())
    print(
        f"prepare 24 Mpx JPEG ({len(data) / 1e6:.1f} MB): {prepare * 1e3:.1f} ms; "
        f"read+base64 baseline {baseline * 1e3:.1f} ms; ratio {prepare / baseline:.2f}x "
        f"(goal <= 1.1x)"
    )


def bench_wire(path: Path) -> None:
    for upload in ("json", "multipart"):
        prepared = _request.prepare_edit(path, "sunrise", upload=upload)
        if upload == "json":
            size = len(prepared.json_body())
            json_size = size
        else:
            form, files = prepared.multipart()
            request = httpx.Request("POST", "http://x/", data=form, files=files)
            size = len(request.read())
        print(f"wire bytes {upload:9}: {size / 1e6:7.2f} MB")
    print(f"multipart / json: {size / json_size:.3f} (base64 costs ~4/3)")


def bench_import() -> None:
    def timed(stmt: str) -> float:
        runs = []
        for _ in range(5):
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"import time; t=time.perf_counter(); {stmt}; print(time.perf_counter()-t)",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(float(out.stdout))
        return statistics.median(runs)

    base = timed("import json")
    pkg = timed("import venice_nb")
    client = timed("import venice_nb; venice_nb.Client")
    print(
        f"import venice_nb: {pkg * 1e3:.1f} ms (goal <= 300 ms); "
        f"+ client core loaded: {client * 1e3:.1f} ms; import json baseline {base * 1e3:.2f} ms"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo24mp.jpg"
        Image.fromarray(photo_like(6000, 4000)).save(path, "JPEG", quality=92)
        bench_prepare(path)
        bench_wire(path)
    bench_import()


if __name__ == "__main__":
    main()
