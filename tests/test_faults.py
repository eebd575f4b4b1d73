"""Under injected faults every request ends in a result or a typed error; no 200 is lost."""

from __future__ import annotations

import asyncio

import httpx

import venice_nb as vnb
from venice_nb._backend import FaultConfig, LocalBackend
from venice_nb._client import _request
from venice_nb._client._retry import FailureWindow

from .conftest import TEST_KEY, png_bytes

REQUESTS = 300
PER_REQUEST_BOUND = 60.0  # far above any honest answer: reaching it means a hang


async def _run_all(backend: LocalBackend) -> list[object]:
    # Venice's failure rule, scaled in time (20 failures per 0.3 s instead of per 30 s) for
    # both sides, so 300 requests finish in seconds; everything else is the real client.
    backend.config.failure_block = (20, 0.3, 3.0)
    backend.config.faults = FaultConfig(
        rate_429=0.06,
        rate_500=0.06,
        rate_503=0.06,
        rate_drop=0.06,
        rate_truncate=0.06,
        seed=7,
        retry_after=0.02,
    )
    http = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=16))
    client = vnb.AsyncClient(TEST_KEY, base_url=backend.url, http_client=http, max_retries=2)
    client._window = FailureWindow(limit=20, window=0.3)
    images = [png_bytes((256 + i % 7, 256), (i % 250, 30, 90)) for i in range(REQUESTS)]
    semaphore = asyncio.Semaphore(16)
    # A model that keeps the input's size: small answers keep 300 requests quick.
    keeps_size = next(m for m in await client.models() if m.id == "qwen-edit-uncensored")

    async def one(i: int) -> object:
        prepared = _request.prepare_edit(images[i], f"variation {i}", model=keeps_size)
        async with semaphore:
            try:
                # a hang raises TimeoutError here, which fails the whole test
                return await asyncio.wait_for(client.send(prepared), PER_REQUEST_BOUND)
            except vnb.VeniceError as exc:
                return exc

    try:
        return await asyncio.gather(*(one(i) for i in range(REQUESTS)))
    finally:
        await client.aclose()


def test_300_requests_at_30_percent_faults(backend: LocalBackend) -> None:
    backend.reset_stats()
    outcomes = asyncio.run(_run_all(backend))
    results = [o for o in outcomes if isinstance(o, vnb.EditResult)]
    errors = [o for o in outcomes if isinstance(o, vnb.VeniceError)]
    assert len(results) + len(errors) == REQUESTS, "something other than a result or typed error"
    # Every complete 200 the backend wrote reached the caller as a result (+1: GET /models).
    assert backend.stats.completed_ok == len(results) + 1
    assert all(r.image.size[1] == 256 for r in results)
    # Faults really happened, and retries turned most of them into results.
    assert backend.stats.dropped and backend.stats.truncated
    assert sum(backend.stats.by_status.get(s, 0) for s in (429, 500, 503)) > 0
    assert len(results) > 0.9 * REQUESTS
    assert all(type(e) is not vnb.VeniceError for e in errors)


def test_bursts_without_retries_are_all_answered(backend: LocalBackend) -> None:
    """32 at once, no retries: the server must queue them, not drop connections."""

    async def burst() -> list[object]:
        client = vnb.AsyncClient(TEST_KEY, base_url=backend.url, max_retries=0)
        prepared = [_request.prepare_edit(png_bytes((256, 256), (i, 9, 9)), "x") for i in range(32)]
        try:
            return await asyncio.gather(*(client.send(p) for p in prepared), return_exceptions=True)
        finally:
            await client.aclose()

    outcomes = asyncio.run(burst())
    assert [type(o).__name__ for o in outcomes] == ["EditResult"] * 32
