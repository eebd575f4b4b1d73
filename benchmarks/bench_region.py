"""Region edits of large photos: time beyond the backend's own, and bytes uploaded.

Run: ``python benchmarks/bench_region.py [--quick] [--json PATH]``. For a 12 Mpx (4000x3000)
and a 33 Mpx (7680x4320, Venice's maximum) JPEG with an elliptical mask of ~2 %, against the
local backend with ``realism="venice"``:

- ``region``: wall time of ``Client.edit_region`` (no store), of the run with the least
  overhead (best of N);
- ``backend``: that request's own round trip inside it (``result.raw.elapsed``);
- ``overhead`` = region - backend: what venice_nb adds (decode, crop, stitch), as a ratio to
  one decode of the same JPEG measured in the same run (the least any full-resolution result
  costs); the issue's goal is overhead <= 1.0 s;
- ``encode``: the first read of ``result.data`` (the composite's JPEG, encoded on demand:
  showing the result never needs it, saving or chaining does), also per decode;
- request body bytes of the region edit vs today's whole-photo multi-edit (the JPEG plus the
  mask layer, JSON as the client sends it); goal <= 10 %.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _shared import photo_like, timings

import venice_nb as vnb
from venice_nb import masks
from venice_nb._backend import BackendConfig, LocalBackend
from venice_nb._client import _request

SIZES = {"12 Mpx": (4000, 3000), "33 Mpx": (7680, 4320)}
MODEL = "qwen-image-2-edit"
GOAL_OVERHEAD_S = 1.0
GOAL_BODY_SHARE = 0.10


def _jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(photo_like(width, height)).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _mask(width: int, height: int) -> np.ndarray:
    # An ellipse of ~2 % of the photo, off centre.
    rx, ry = width * 0.09, height * 0.09
    cx, cy = width * 0.6, height * 0.45
    return masks.ellipse((height, width), (cx - rx, cy - ry, cx + rx, cy + ry))


def measure(name: str, size: tuple[int, int], repeat: int) -> dict[str, Any]:
    width, height = size
    photo = _jpeg(width, height)
    mask = _mask(width, height)
    bodies: list[int] = []

    def count(request: httpx.Request) -> None:
        if request.method == "POST":
            bodies.append(len(request.read()))

    http = httpx.Client(timeout=120, event_hooks={"request": [count]})
    config = BackendConfig(realism="venice", rate_limit=10**6)
    with LocalBackend(config) as backend, vnb.Client(
        "bench", base_url=backend.url, store=False, http_client=http
    ) as client:
        client.models()
        decode = min(timings(lambda: Image.open(io.BytesIO(photo)).load(), repeat))
        results: list[vnb.EditResult] = []
        walls = timings(lambda: results.append(
            client.edit_region(photo, mask, "make it warmer", model=MODEL)), repeat)
        # Per run: its wall time minus its own request's round trip (the backend's time).
        overheads = [w - (r.raw.elapsed if r.raw else 0.0)
                     for w, r in zip(walls, results, strict=True)]
        i = min(range(repeat), key=overheads.__getitem__)
        region, best, overhead = walls[i], results[i], overheads[i]
        encode = min(timings(lambda: results.pop().data, repeat))
    backend_s = best.raw.elapsed if best.raw else 0.0
    whole = _request.prepare_multi_edit(
        [photo, masks.to_image(mask)], "make it warmer", upload="json"
    ).json_body()
    return {
        "size": name,
        "mask_share": round(float((mask >= 128).mean()), 4),
        "decode_s": round(decode, 3),
        "region_s": round(region, 3),
        "backend_s": round(backend_s, 3),
        "overhead_s": round(overhead, 3),
        "overhead_per_decode": round(overhead / decode, 2),
        "encode_s": round(encode, 3),
        "encode_per_decode": round(encode / decode, 2),
        "region_body_bytes": bodies[-1],
        "whole_body_bytes": len(whole),
        "body_share": round(bodies[-1] / len(whole), 4),
        "spill": round(best.spill or 0.0, 3),
        # The time goal is absolute (the issue's), so a loaded machine can miss it; the body
        # share is exact. Both are printed.
        "time_ok": overhead <= GOAL_OVERHEAD_S,
        "ok": bodies[-1] <= GOAL_BODY_SHARE * len(whole),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run each")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    repeat = 1 if args.quick else 3
    rows = [measure(name, size, repeat) for name, size in SIZES.items()]
    print(f"python {platform.python_version()} · {platform.machine()}")
    for r in rows:
        print(
            f"{r['size']:>7}: region {r['region_s']:.2f}s = backend {r['backend_s']:.2f}s + "
            f"overhead {r['overhead_s']:.2f}s ({r['overhead_per_decode']:.1f}x one decode "
            f"of {r['decode_s']:.2f}s); .data encoded on first read {r['encode_s']:.2f}s "
            f"({r['encode_per_decode']:.1f}x); body {r['region_body_bytes'] / 1e6:.2f} MB vs whole "
            f"{r['whole_body_bytes'] / 1e6:.2f} MB ({r['body_share']:.1%}); spill "
            f"{r['spill']:.0%}; body {'ok' if r['ok'] else 'OVER GOAL'}, time "
            f"{'ok' if r['time_ok'] else 'over 1.0 s'}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
