"""Benchmark: a 60-edit experiment against the local backend with Venice's limit scaled in time.

Venice allows 20 image requests a minute; here the backend allows 20 per ``WINDOW`` seconds,
with ``LATENCY`` seconds of simulated inference. Three runs, each on a fresh backend:

1. ``venice_nb.experiment`` (paced, from the key's stated limit and the headers): wall time
   against the limit-bound minimum, 429 count;
2. a naive ``asyncio.gather`` of the same 60 prepared requests over the same kind of client
   (the client's own retries on), for comparison;
3. the paced experiment again with a result store, then a re-run: requests the re-run sent.

The limit-bound minimum is ``(ceil(N / limit) - 1) * WINDOW + last batch``: the last batch
cannot start before the window has turned that many times, and then takes as long as that many
concurrent edits take on an idle backend (measured in the same run, median of 3), so the ratio
compares like with like.

Run: ``python benchmarks/bench_experiment.py [--window 3] [--latency 0.2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import venice_nb as vnb
from venice_nb._backend import BackendConfig, LocalBackend
from venice_nb._client import _request
from venice_nb._experiment._run import experiment_async

LIMIT = 20
IMAGES = ("cat", "rocket", "astronaut")
PROMPTS = ("make it snowy", "paint it in watercolour", "add warm sunset light", "make it night")
MODELS = ("firered-image-edit", "qwen-image-2-edit", "seedream-v5-lite-edit",
          "nano-banana-2-lite-edit", "luma-uni-1-edit")  # fmt: skip
KEY = "bench-key"


def _config(window: float, latency: float) -> BackendConfig:
    return BackendConfig(rate_limit=LIMIT, rate_window=window, latency=latency)


def _images() -> list[Path]:
    return [vnb.sample(name) for name in IMAGES]


async def _batch(url: str, size: int, samples: int) -> list[float]:
    async with vnb.AsyncClient(KEY, base_url=url, store=False) as client:
        models = {m.id: m for m in await client.models()}
        times = []
        for round_ in range(samples):
            prepared = [
                _request.prepare_edit(_images()[i % len(IMAGES)], f"batch {round_} {i}",
                                      model=models[MODELS[i % len(MODELS)]])
                for i in range(size)
            ]
            start = time.perf_counter()
            await asyncio.gather(*(client.send(p) for p in prepared))
            times.append(time.perf_counter() - start)
        return times


def batch_time(size: int, latency: float, samples: int = 3) -> float:
    """Median time of ``size`` concurrent edits on an idle backend (no rate limit in the way)."""
    with LocalBackend(BackendConfig(latency=latency, rate_limit=10_000)) as backend:
        return statistics.median(asyncio.run(_batch(backend.url, size, samples)))


async def _paced(backend: LocalBackend, store: str | bool = False,
                 runs: int = 1) -> list[tuple[float, Any, int]]:
    """Wall time, results and requests the backend saw, for ``runs`` experiments on one client."""
    out = []
    async with vnb.AsyncClient(KEY, base_url=backend.url, store=store) as client:
        for _ in range(runs):
            before = backend.stats.requests
            start = time.perf_counter()
            results = await experiment_async(_images(), list(PROMPTS), list(MODELS),
                                             client=client, progress=False)
            out.append((time.perf_counter() - start, results, backend.stats.requests - before))
    return out


def paced(window: float, latency: float) -> tuple[float, dict[int, int], int]:
    with LocalBackend(_config(window, latency)) as backend:
        [(wall, results, _)] = asyncio.run(_paced(backend))
        return wall, backend.stats.by_status, len(results.failed)


async def _naive(url: str) -> tuple[float, int]:
    async with vnb.AsyncClient(KEY, base_url=url, store=False) as client:
        models = {m.id: m for m in await client.models()}
        prepared = [
            _request.prepare_edit(img, prompt, model=models[m])
            for img in _images() for prompt in PROMPTS for m in MODELS
        ]
        start = time.perf_counter()
        outcomes = await asyncio.gather(*(client.send(p) for p in prepared),
                                        return_exceptions=True)
        wall = time.perf_counter() - start
    return wall, sum(isinstance(o, BaseException) for o in outcomes)


def naive(window: float, latency: float) -> tuple[float, dict[int, int], int]:
    with LocalBackend(_config(window, latency)) as backend:
        wall, failed = asyncio.run(_naive(backend.url))
        return wall, backend.stats.by_status, failed


def cached_rerun(window: float, latency: float) -> tuple[int, int, float, int]:
    """Requests sent by the first run, by a re-run on the same client (and its wall time), and
    by a re-run on a new client (as a new process would)."""
    with tempfile.TemporaryDirectory() as folder, LocalBackend(_config(window, latency)) as backend:
        (_, _, first), (wall, again, rerun) = asyncio.run(_paced(backend, folder, runs=2))
        [(_, fresh, fresh_requests)] = asyncio.run(_paced(backend, folder))
        for results in (again, fresh):
            assert results.counts["cached"] == len(results), results.summary()
        return first, rerun, wall, fresh_requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=3.0, help="seconds per rate window")
    parser.add_argument("--latency", type=float, default=0.2, help="simulated inference, s")
    parser.add_argument("--repeat", type=int, default=3,
                        help="paced runs per variant (the median is reported)")
    args = parser.parse_args()
    n = len(IMAGES) * len(PROMPTS) * len(MODELS)
    windows = math.ceil(n / LIMIT) - 1
    last = batch_time(n - windows * LIMIT, args.latency)
    bound = windows * args.window + last
    print(f"{n} edits, limit {LIMIT} per {args.window:g} s, latency {args.latency:g} s; "
          f"the last batch of {n - windows * LIMIT} takes {last:.3f} s; "
          f"limit-bound minimum {bound:.2f} s")
    runs = (
        ("experiment (paced)", paced, args.repeat),
        ("naive asyncio.gather", naive, 1),
    )
    for name, run, repeat in runs:
        outcomes = [run(args.window, args.latency) for _ in range(repeat)]
        walls = sorted(wall for wall, _, _ in outcomes)
        wall = statistics.median(walls)
        too_many = sum(statuses.get(429, 0) for _, statuses, _ in outcomes)
        failed = sum(f for _, _, f in outcomes)
        spread = f" (runs: {', '.join(f'{w:.2f}' for w in walls)})" if repeat > 1 else ""
        print(f"{name:22s} wall {wall:6.2f} s = {wall / bound:.3f} x minimum{spread}; "
              f"429s: {too_many}; statuses {dict(sorted(outcomes[-1][1].items()))}; "
              f"failed jobs {failed}")
    first, rerun, wall, fresh = cached_rerun(args.window, args.latency)
    print(f"cached re-run: the first run sent {first} requests (GET /models, the balance "
          f"and the key's stated limits + {n} edits); "
          f"a re-run on the same client sent {rerun} in {wall:.3f} s; on a new client "
          f"{fresh} (GET /models only, free)")


if __name__ == "__main__":
    main()
