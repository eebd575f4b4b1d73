"""AsyncClient gives what Client gives, concurrently, and cancels cleanly."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import venice_nb as vnb
from venice_nb._backend import FaultConfig, LocalBackend

from ._spec import AsyncSpecCheckingTransport
from .conftest import sample_path


def test_async_matches_sync(
    client: vnb.Client, async_client: vnb.AsyncClient, async_transport: AsyncSpecCheckingTransport
) -> None:
    async def go() -> Any:
        models = await async_client.models()
        edit = await async_client.edit(sample_path(), "night", model="qwen-image-2-edit")
        multi = await async_client.multi_edit(
            [sample_path(), vnb.masks.rect((300, 451), (0, 0, 200, 150))],
            "red",
            model="qwen-image-2-edit",
            upload="multipart",
        )
        cut = await async_client.remove_background(sample_path("product"))
        await async_client.aclose()
        return models, edit, multi, cut

    models, edit, multi, cut = asyncio.run(go())
    assert [m.id for m in models] == [m.id for m in client.models()]
    assert edit.data == client.edit(sample_path(), "night", model="qwen-image-2-edit").data
    assert (
        multi.data
        == client.multi_edit(
            [sample_path(), vnb.masks.rect((300, 451), (0, 0, 200, 150))],
            "red",
            model="qwen-image-2-edit",
        ).data
    )
    assert cut.data == client.remove_background(sample_path("product")).data
    assert len(async_transport.posts) == 3


def test_async_concurrent_edits(async_client: vnb.AsyncClient, backend: LocalBackend) -> None:
    async def go() -> Any:
        prompts = [f"tint {i}" for i in range(12)]
        results = await asyncio.gather(*(async_client.edit(sample_path(), p) for p in prompts))
        await async_client.aclose()
        return results

    results = asyncio.run(go())
    assert len({r.data for r in results}) == 12
    assert backend.stats.by_status.get(200, 0) >= 12


def test_cancel_frees_the_failure_window(
    async_client: vnb.AsyncClient, backend: LocalBackend
) -> None:
    backend.config.latency = 30.0

    async def go() -> None:
        task = asyncio.ensure_future(async_client.edit(sample_path(), "slow"))
        deadline = time.monotonic() + 30
        while backend.stats.requests == 0:  # wait (bounded) until the request is in flight
            assert time.monotonic() < deadline, "the request never reached the backend"
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await async_client.aclose()

    asyncio.run(go())
    assert async_client._window.reserve() == 0.0
    assert async_client._window.recent_failures == 0


def test_async_retries_follow_hints(async_client: vnb.AsyncClient, backend: LocalBackend) -> None:
    backend.config.faults = FaultConfig(rate_503=1.0)
    async_client.max_retries = 1
    waits: list[float] = []

    async def record(seconds: float) -> None:  # the backoff is recorded, not waited out
        waits.append(seconds)

    async_client._sleep = record

    async def go() -> None:
        with pytest.raises(vnb.ModelAtCapacityError):
            await async_client.edit(sample_path(), "blur")
        await async_client.aclose()

    asyncio.run(go())
    assert backend.stats.by_status.get(503) == 2
    assert len(waits) == 1
