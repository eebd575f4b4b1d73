"""Experiments: the cross product, priced and checked up front, paced under the rate limit."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import venice_nb as vnb
from venice_nb._backend import BackendConfig, LocalBackend
from venice_nb._client import _request
from venice_nb._constants import H_RATELIMIT_LIMIT, H_RATELIMIT_REMAINING, H_RATELIMIT_RESET
from venice_nb._experiment._pacer import PACERS, Pacer, pacer_for
from venice_nb._experiment._run import (
    ExperimentResults,
    estimate_experiment_async,
    experiment_async,
)
from venice_nb._money import usd

from ._spec import SpecCheckingTransport, venice_price
from .conftest import TEST_KEY, UNTHROTTLED, png_bytes, sample_path

MASK = png_bytes((451, 300), (255,), "L")  # the cat sample's size; white = change everything
REFERENCE = png_bytes((320, 240), (200, 30, 30))


FIRERED = venice_price("firered-image-edit", "inpaint")
QWEN = venice_price("qwen-image-2-edit", "inpaint")


@contextlib.contextmanager
def _client(backend: LocalBackend, **kwargs: Any) -> Iterator[vnb.Client]:
    """A client whose every request is checked against the OpenAPI spec on the way out."""
    transport = SpecCheckingTransport()
    http = httpx.Client(transport=transport, timeout=60)
    with vnb.Client(TEST_KEY, base_url=backend.url, http_client=http, **kwargs) as client:
        yield client
    assert not transport.problems, "requests broke the spec:\n" + "\n".join(transport.problems)


def _images_sent(client: vnb.Client) -> int:
    """Edits sent (POSTs): the model list, alias mapping and account endpoints are GETs."""
    transport = client._http._transport
    assert isinstance(transport, SpecCheckingTransport)
    return len(transport.posts)


# Cost estimates, against the prices in Venice's public model snapshot.
def test_estimate_prices_resolution_quality_and_extra_images(backend: LocalBackend) -> None:
    gpt_price = venice_price("gpt-image-2-edit", "quality", "2K", "high")
    gpt_extra = venice_price("gpt-image-2-edit", "inputImages", "additional")
    grok_price = venice_price("grok-imagine-edit", "resolutions", "1K")
    grok_extra = venice_price("grok-imagine-edit", "inputImages", "additional")
    banana_4k = venice_price("nano-banana-2-edit", "resolutions", "4K")
    with _client(backend) as client:
        gpt = vnb.estimate_experiment(
            sample_path(), "a red scarf", "gpt-image-2-edit",
            masks={"mask+reference": [MASK, REFERENCE]}, resolution="2K", quality="high",
            client=client,
        )
        assert gpt.total_usd == pytest.approx(gpt_price + 2 * gpt_extra)  # 2 extra images
        grok = vnb.estimate_experiment(sample_path(), "snow", "grok-imagine-edit", client=client)
        assert grok.total_usd == pytest.approx(grok_price + grok_extra)  # none included
        banana = vnb.estimate_experiment(sample_path(), ["snow", "rain"], "nano-banana-2-edit",
                                         resolution="4K", client=client)
        assert banana.total_usd == pytest.approx(2 * banana_4k)
        mixed = vnb.estimate_experiment(
            [sample_path("cat"), sample_path("rocket")], ["snow", "rain", "fog"],
            ["firered-image-edit", "qwen-image-2-edit"], client=client,
        )
    assert mixed.jobs == 12 and mixed.to_send == 12 and mixed.cached == 0
    assert mixed.by_model == {
        "firered-image-edit": {"jobs": 6, "usd": pytest.approx(6 * FIRERED)},
        "qwen-image-2-edit": {"jobs": 6, "usd": pytest.approx(6 * QWEN)},
    }
    assert mixed.total_usd == mixed.to_spend_usd == pytest.approx(6 * FIRERED + 6 * QWEN)
    assert mixed.is_local  # the local backend answers: the figures are Venice prices, not charges
    assert backend.stats.requests == 1  # GET /models only: estimating sends no edit
    assert "12 jobs" in str(mixed) and "firered-image-edit: 6 jobs" in str(mixed)


def test_server_default_model_is_unpriced_and_budget_needs_prices(backend: LocalBackend) -> None:
    with _client(backend) as client:
        estimate = vnb.estimate_experiment(sample_path(), "snow", client=client)
        assert estimate.unpriced == 1 and estimate.by_model == {
            "server default": {"jobs": 1, "usd": 0.0}}
        with pytest.raises(vnb.ValidationError, match="needs a price"):
            vnb.experiment(sample_path(), "snow", client=client, budget=1.0, progress=False)
    assert backend.stats.requests == 0


# Everything is checked before the first request.
def test_bad_combinations_fail_before_any_request(backend: LocalBackend) -> None:
    with _client(backend) as client:
        with pytest.raises(vnb.ValidationError) as info:
            vnb.experiment(sample_path(), ["snow", "rain"],
                           ["gpt-image-2-edit", "firered-image-edit"], client=client,
                           resolution="2K", progress=False)
        assert "2 of 4 jobs cannot run" in str(info.value)
        assert "firered-image-edit does not take resolution" in str(info.value)
        with pytest.raises(vnb.ValidationError, match="multi-edit only"):
            vnb.experiment(sample_path(), "snow", "gpt-image-2-edit", client=client,
                           quality="low", progress=False)
        with pytest.raises(vnb.ValidationError, match=r"unknown experiment parameter.*colour"):
            vnb.experiment(sample_path(), "snow", client=client, colour="red", progress=False)
        with pytest.raises(vnb.ValidationError, match="did you mean firered-image-edit"):
            vnb.experiment(sample_path(), "snow", "firered-image-edt", client=client,
                           progress=False)
        with pytest.raises(vnb.ValidationError, match="no prompts"):
            vnb.experiment(sample_path(), [], client=client, progress=False)
        with pytest.raises(vnb.ValidationError, match="luma-uni-1-edit takes 1 to 1"):
            vnb.experiment(sample_path(), "snow", "luma-uni-1-edit", masks=MASK, client=client,
                           region=False, progress=False)  # whole-image sends need layers
    assert _images_sent(client) == 0


# Running.
def test_grid_runs_every_combination_in_order(backend: LocalBackend) -> None:
    with _client(backend) as client:
        results = vnb.experiment({"kitty": sample_path("cat"), "ship": sample_path("rocket")},
                                 ["make it snowy", "add warm light"],
                                 ["firered-image-edit", "qwen-image-2-edit"], client=client,
                                 progress=False)
    assert isinstance(results, ExperimentResults) and len(results) == 8
    assert results.counts == {"done": 8, "cached": 0, "failed": 0, "skipped": 0}
    assert [(r.image, r.prompt, r.model) for r in results[:4]] == [
        ("kitty", "make it snowy", "firered-image-edit"),
        ("kitty", "make it snowy", "qwen-image-2-edit"),
        ("kitty", "add warm light", "firered-image-edit"),
        ("kitty", "add warm light", "qwen-image-2-edit"),
    ]
    assert all(r.result.model_id == r.model and r.result.prompt == r.prompt for r in results)
    assert all(r.result.request["endpoint"] == "/image/edit" for r in results)
    assert _images_sent(client) == 8
    assert results.spent_usd == pytest.approx(4 * FIRERED + 4 * QWEN)
    frame = results.to_dataframe()
    assert list(frame["status"]) == ["done"] * 8
    assert {"image", "prompt", "model", "estimated_cost", "elapsed", "error"} <= set(frame)
    assert "8 done" in results.summary() and "8 done" in repr(results)


def test_masks_make_multi_edits_and_none_a_plain_edit(backend: LocalBackend) -> None:
    with _client(backend) as client:
        results = vnb.experiment(sample_path(), "a knitted hat", "qwen-image-2-edit",
                                 masks={"hat area": MASK, "no mask": None,
                                        "mask+ref": [MASK, REFERENCE]},
                                 client=client, progress=False)
    assert [r.mask for r in results] == ["hat area", "no mask", "mask+ref"]
    assert [r.result.request["endpoint"] for r in results] == [
        "/image/multi-edit", "/image/edit", "/image/multi-edit"]
    assert [len(r.result.request["images"]) for r in results] == [2, 1, 3]


def test_failures_are_recorded_and_the_rest_goes_on(backend: LocalBackend) -> None:
    with _client(backend, max_retries=0) as client:
        results = vnb.experiment(sample_path(), ["make it snowy", "make it nsfw"],
                                 "firered-image-edit", client=client, progress=False)
    done, failed = results
    assert done.status == "done" and done.ok
    assert failed.status == "failed" and isinstance(failed.error, vnb.ContentPolicyError)
    assert failed.result is None and failed.spent_usd == 0
    assert results.failed == [failed] and results.spent_usd == pytest.approx(FIRERED)
    assert failed.to_dict()["error_type"] == "ContentPolicyError"
    sheet = results.contact_sheet()
    assert len(sheet) == 2 and "FAILED" in sheet.items[1][1]


def test_budget_stops_before_the_job_that_would_exceed_it(backend: LocalBackend) -> None:
    grid = (sample_path(), ["snow", "rain", "fog"], ["firered-image-edit", "qwen-image-2-edit"])
    # In order the jobs alternate firered, qwen: a budget between four and five jobs' worth.
    four = 2 * FIRERED + 2 * QWEN
    budget = (four + (four + FIRERED)) / 2
    with _client(backend) as client:
        estimate = vnb.estimate_experiment(*grid, client=client, budget=budget)
        results = vnb.experiment(*grid, client=client, budget=budget, progress=False)
    assert (estimate.to_send, estimate.over_budget) == (4, 2)
    assert estimate.to_spend_usd == pytest.approx(four)
    assert [r.status for r in results] == ["done"] * 4 + ["skipped"] * 2
    assert results.spent_usd == pytest.approx(four) and results.spent_usd <= budget
    assert _images_sent(client) == 4


@pytest.mark.parametrize("budget", [0, 0.5])
def test_a_budget_that_runs_nothing_fails_before_sending(
    backend: LocalBackend, budget: float
) -> None:
    """Silently skipping every job would look like a run; on the local backend too, where
    nothing is charged, budgets count Venice prices."""
    price = venice_price("gpt-image-2-edit", "inpaint")  # 1K, default quality (high)
    fraction = budget * price
    with _client(backend) as client:
        for call in (vnb.estimate_experiment, vnb.experiment):
            with pytest.raises(vnb.ValidationError) as info:
                call(sample_path(), ["snow", "rain"], ["gpt-image-2-edit", "firered-image-edit"],
                     client=client, budget=fraction)
            text = f"{info.value} {info.value.action}"
            assert "runs none of the 4 jobs" in text and f"${price:.4f}" in text
            assert f"cheapest job costs ${FIRERED:.4f}" in text
            assert "raise budget" in text and "local backend" in text
    assert _images_sent(client) == 0


def test_stored_results_are_free_under_a_budget_and_a_rerun_sends_nothing(
    backend: LocalBackend, tmp_path: Path
) -> None:
    grid = (sample_path(), ["snow", "rain", "fog"], ["firered-image-edit", "qwen-image-2-edit"])
    with _client(backend, store=tmp_path / "store") as client:
        first = vnb.experiment(*grid, client=client, budget=0.20, progress=False)
        sent = _images_sent(client)
        estimate = vnb.estimate_experiment(*grid, client=client, budget=0.0)
        again = vnb.experiment(*grid, client=client, budget=0.0, progress=False)
    assert sent == 4 and _images_sent(client) == sent  # the re-run cost 0 requests
    assert (estimate.cached, estimate.to_send, estimate.to_spend_usd) == (4, 0, 0.0)
    assert [r.status for r in again] == ["cached"] * 4 + ["skipped"] * 2
    assert [r.result.data for r in again[:4]] == [r.result.data for r in first[:4]]
    assert again.spent_usd == 0


def test_store_argument_makes_a_storing_client(
    backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VENICE_BASE_URL", backend.url)
    monkeypatch.setenv("VENICE_API_KEY", TEST_KEY)
    folder = tmp_path / "store"
    vnb.experiment(sample_path(), "snow", "firered-image-edit", store=folder, progress=False)
    sent = backend.stats.requests
    again = vnb.experiment(sample_path(), "snow", "firered-image-edit", store=folder,
                           progress=False)
    assert again.counts["cached"] == 1 and backend.stats.requests == sent + 1  # model list
    with _client(backend) as client, pytest.raises(vnb.ValidationError, match="both"):
        vnb.experiment(sample_path(), "snow", client=client, store=folder, progress=False)


def test_replay_only_experiment_fails_loudly_before_sending(
    backend: LocalBackend, tmp_path: Path
) -> None:
    folder = tmp_path / "store"
    with _client(backend, store=folder) as client:
        vnb.experiment(sample_path(), ["snow"], "firered-image-edit", client=client,
                       progress=False)
    before = (backend.stats.requests, backend.stats.by_status)
    with _client(backend, store=folder, store_mode="replay") as replay:
        with pytest.raises(vnb.ReplayMissError, match="lacks 1 of 2"):
            vnb.experiment(sample_path(), ["snow", "rain"], "firered-image-edit",
                           client=replay, progress=False)
        ok = vnb.experiment(sample_path(), ["snow"], "firered-image-edit", client=replay,
                            progress=False)
    # Nothing at all reached the backend, not even GET /models (the store has the list).
    assert (backend.stats.requests, backend.stats.by_status) == before
    assert ok.counts["cached"] == 1


# Pacing.
def _grid(n_prompts: int) -> tuple[Path, list[str], list[str]]:
    return (sample_path(), [f"edit {i}" for i in range(n_prompts)],
            ["firered-image-edit", "qwen-image-2-edit"])


class _FakeClock:
    """Unix time for the backend's rate windows and the pacer alike; it moves only when the
    pacer waits, so whole one-minute windows pass at once, however fast the machine is."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.25  # not on a whole second: the reset header is rounded up
        self.start = self.now

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_pacing_keeps_under_a_small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _FakeClock()
    config = BackendConfig(rate_limit=4, rate_window=60.0, clock=clock)
    # Control: the same grid fired all at once does hit the limit on this backend.
    with LocalBackend(config) as backend:

        async def burst() -> None:
            async with vnb.AsyncClient(TEST_KEY, base_url=backend.url, max_retries=0) as c:
                models = {m.id: m for m in await c.models()}
                image, prompts, ids = _grid(5)
                sends = [c.send(_request.prepare_edit(image, p, model=models[m]))
                         for p in prompts for m in ids]
                await asyncio.gather(*sends, return_exceptions=True)

        asyncio.run(burst())
        assert backend.stats.by_status.get(429, 0) > 0
    assert clock.now == clock.start  # the control ran in one window
    with LocalBackend(config) as backend, _client(backend, max_retries=0) as client:
        monkeypatch.setitem(PACERS, client._caller, Pacer(clock=clock, sleep=clock.sleep))
        first = vnb.experiment(*_grid(5), client=client, progress=False)
        second = vnb.experiment(*_grid(3), client=client, progress=False)  # shares the pace
        # The model list; each run's balance, the first run's stated limits; the edits.
        assert backend.stats.by_status == {200: 1 + 2 + 1 + 10 + 6}
    assert first.counts["done"] == 10 and second.counts["done"] == 6
    # 16 edits at 4 a window: the pacer did wait out at least three windows (fake time).
    assert clock.now - clock.start >= 3 * 60.0


def test_async_experiment_and_a_running_loop(backend: LocalBackend) -> None:
    async def main() -> tuple[ExperimentResults, ExperimentResults]:
        async with vnb.AsyncClient(TEST_KEY, base_url=backend.url) as client:
            estimate = await estimate_experiment_async(sample_path(), ["snow", "rain"],
                                                       "firered-image-edit", client=client)
            assert estimate.to_spend_usd == pytest.approx(2 * FIRERED)
            with pytest.raises(vnb.ValidationError, match="estimate_experiment_async"):
                vnb.estimate_experiment(sample_path(), "snow", client=client)
            awaited = await experiment_async(sample_path(), ["snow", "rain"],
                                             "firered-image-edit", client=client,
                                             progress=False)
        with _client(backend) as sync_client:  # a loop is running here, as in Jupyter
            blocking = vnb.experiment(sample_path(), ["snow", "rain"], "firered-image-edit",
                                      client=sync_client, progress=False)
        return awaited, blocking

    awaited, blocking = asyncio.run(main())
    assert awaited.counts["done"] == blocking.counts["done"] == 2
    assert [r.result.data for r in awaited] == [r.result.data for r in blocking]


def _parameters(func: object) -> dict[str, object]:
    return {name: (p.kind, p.default) for name, p in inspect.signature(func).parameters.items()
            if not name.startswith("_")}


def test_the_four_entry_points_take_the_same_arguments() -> None:
    """Written out four times for readers and IDEs, held to one another here."""
    run = _parameters(vnb.experiment)
    assert _parameters(vnb.experiment_async) == run
    estimate = _parameters(vnb.estimate_experiment)
    assert _parameters(vnb.estimate_experiment_async) == estimate
    assert estimate == {k: v for k, v in run.items()
                        if k not in ("concurrency", "rate_limit", "progress")}


def test_errors_raised_in_the_worker_thread_reach_the_caller(backend: LocalBackend) -> None:
    async def main() -> None:
        with _client(backend) as client:
            vnb.experiment(sample_path(), "snow", "no-such-model", client=client,
                           progress=False)

    with pytest.raises(vnb.ValidationError, match="unknown edit model"):
        asyncio.run(main())


def test_plain_progress_when_not_in_a_notebook(
    backend: LocalBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    with _client(backend) as client:
        vnb.experiment(sample_path(), ["snow", "rain"], "firered-image-edit", client=client,
                       progress="plain")
    err = capsys.readouterr().err
    assert (f"experiment 2/2: 2 done, 0 cached, 0 failed, 0 skipped, {usd(2 * FIRERED)} at "
            "Venice") in err
    with pytest.raises(vnb.ValidationError, match="progress="):
        vnb.experiment(sample_path(), "snow", progress="fancy")


def test_contact_sheet_has_a_card_per_job_and_a_column_per_model(backend: LocalBackend) -> None:
    with _client(backend) as client:
        results = vnb.experiment(sample_path(), ["snow", "rain"],
                                 ["firered-image-edit", "qwen-image-2-edit",
                                  "seedream-v5-lite-edit"], client=client, progress=False)
    sheet = results.contact_sheet()
    assert isinstance(sheet, vnb.widgets.ResultGrid)
    assert len(sheet) == 6 and sheet.columns == 3
    assert "cat · firered-image-edit — snow" in sheet.items[0][1]


# The pacer's rules, on a clock the test controls.
def _rate(remaining: int, reset: float, limit: int = 5) -> dict[str, str]:
    return {H_RATELIMIT_LIMIT: str(limit), H_RATELIMIT_REMAINING: str(remaining),
            H_RATELIMIT_RESET: str(reset)}


def _drain(pacer: Pacer, now: float) -> list[int]:
    started = []
    while (seq := pacer.try_start(now)[0]) is not None:
        started.append(seq)
    return started


def test_pacer_probes_then_spends_what_the_server_reports() -> None:
    pacer = Pacer(20)
    assert pacer.try_start(100.0) == (1, None)  # nothing known: one request goes first
    assert pacer.try_start(100.0) == (None, None)  # the rest wait for its answer
    pacer.observe(1, _rate(3, 103.0, limit=4))
    assert pacer.limit == 4
    assert _drain(pacer, 100.1) == [2, 3, 4]
    assert list(pacer.try_start(100.1)) == [None, pytest.approx(2.92)]  # until the reset (+ margin)
    for seq in (2, 3, 4):
        pacer.observe(seq, _rate(0, 103.0, limit=4))
    # The first probe found a full window (3 == 4 - 1): windows refill completely, so the next
    # window starts at full speed without a probe.
    assert _drain(pacer, 103.05) == [5, 6, 7, 8]


def test_pacer_keeps_probing_when_windows_do_not_refill() -> None:
    pacer = Pacer(20)
    pacer.try_start(0.0)
    pacer.observe(1, _rate(1, 10.0))  # someone else already used 3 of 5
    assert _drain(pacer, 0.1) == [2]
    pacer.observe(2, _rate(0, 10.0))
    assert _drain(pacer, 10.05) == [3]  # window over: one probe only
    pacer.observe(3, _rate(2, 20.0))
    assert _drain(pacer, 10.2) == [4, 5]


def test_pacer_recovers_slots_once_a_burst_is_answered() -> None:
    """A burst sent at once is uncertain while in flight; once every answer is in, the lowest
    reported remaining is exact, so the rest of the window is usable without waiting."""
    pacer = Pacer(20)
    assert pacer.try_start(0.0)[0] == 1
    pacer.observe(1, _rate(19, 60.0))
    burst = [pacer.try_start(0.1)[0] for _ in range(8)]  # 8 more go out together
    for seq in reversed(burst):  # answered out of order
        assert seq is not None
        pacer.observe(seq, _rate(20 - seq, 60.0))
    # 9 counted by the server, 11 left: all usable now, none over the limit.
    assert len(_drain(pacer, 0.2)) == 11


def test_pacer_counts_requests_the_server_may_not_have_seen() -> None:
    pacer = Pacer(20)
    pacer.try_start(0.0)
    pacer.observe(1, _rate(10, 60.0, limit=11))
    assert _drain(pacer, 0.1) == list(range(2, 12))  # the 10 the server reported
    pacer2 = Pacer(20)
    pacer2.try_start(0.0)
    pacer2.observe(1, _rate(10, 60.0, limit=11))
    for _ in range(4):
        pacer2.try_start(0.1)  # starts 2..5, all unanswered
    # 5 answers first with remaining 8: the server counted 1, 5 and one more; 2..4 were out
    # when 5 was sent, so up to 2 of them are still to be counted: at most 6 more may start.
    pacer2.observe(5, _rate(8, 60.0, limit=11))
    started = _drain(pacer2, 0.2)
    assert 1 <= len(started) <= 6, "the window is not spent, but must not be overrun"


def test_pacer_holds_after_a_429_and_returns_to_probing() -> None:
    pacer = Pacer(20, clock=lambda: 0.2)  # when the 429 arrives (other calls pass the time)
    pacer.try_start(0.0)
    pacer.observe(1, _rate(4, 10.0))  # full window seen: refills trusted
    error = vnb.RateLimitError("slow down", status=429, retry_after=2.0,
                               headers=_rate(0, 10.0))
    seq = pacer.try_start(0.1)[0]
    assert seq == 2
    pacer.observe(seq, error.headers, error=error)
    assert list(pacer.try_start(0.3)) == [None, pytest.approx(1.9)]
    assert _drain(pacer, 10.1) == [3]  # one probe again, not a full window


def test_pacer_without_headers_uses_a_sliding_minute() -> None:
    pacer = Pacer(3)
    pacer.try_start(0.0)
    pacer.observe(1, {"content-type": "image/png"})
    assert _drain(pacer, 1.0) == [2, 3]
    assert list(pacer.try_start(1.0)) == [None, pytest.approx(59.02)]
    assert _drain(pacer, 60.5) == [4]


def test_rate_limit_applies_to_a_server_already_paced(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://127.0.0.1:9/api/v1"  # never contacted: only the registry is exercised
    monkeypatch.delitem(PACERS, url, raising=False)
    assert pacer_for(url, 20).limit == 20
    assert pacer_for(url, 5).limit == 5  # a later, lower rate_limit is honoured
    assert pacer_for(url, 20).limit == 5  # the default argument does not undo it
    pacer = pacer_for(url, 5)
    pacer.try_start(0.0)
    pacer.observe(1, _rate(10, 60.0, limit=11))  # the server states its real limit
    assert pacer_for(url, 3).limit == 11  # which wins over any guess
    monkeypatch.delitem(PACERS, url)


def test_rate_limit_paces_a_headerless_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without x-ratelimit headers the pacer's sliding window is the only brake, and it must
    be the rate_limit of this run even after an earlier run on the same server."""
    url = "http://127.0.0.1:9/api/v1"
    monkeypatch.delitem(PACERS, url, raising=False)
    pacer_for(url, 20)  # an earlier experiment
    pacer = pacer_for(url, 2)
    pacer.try_start(0.0)
    pacer.observe(1, {"content-type": "image/png"})  # answered, no rate-limit headers
    assert _drain(pacer, 1.0) == [2]
    assert pacer.try_start(1.0)[0] is None
    monkeypatch.delitem(PACERS, url)


def test_bad_rate_limit_fails_before_any_request(backend: LocalBackend) -> None:
    with _client(backend) as client, pytest.raises(vnb.ValidationError, match="rate_limit=0"):
        vnb.experiment(sample_path(), "snow", client=client, rate_limit=0, progress=False)
    assert backend.stats.requests == 0


def test_pacer_is_shared_per_key_and_learns_from_the_server(backend: LocalBackend) -> None:
    """Venice counts requests per key: clients of one key share a pacer, another key on the
    same server gets its own, and the registry holds digests, never a key."""
    other_key = "vnbtest-other-4d1e8a0b7c2f9e63"
    with _client(backend) as a, _client(backend) as b, \
            vnb.Client(other_key, base_url=backend.url) as c:
        for client in (a, b, c):
            vnb.experiment(sample_path(), "snow", "firered-image-edit", client=client,
                           progress=False)
        estimate = vnb.estimate_experiment(sample_path(), "snow", "firered-image-edit",
                                           client=b)
        assert PACERS[a._caller] is PACERS[b._caller]
        assert PACERS[c._caller] is not PACERS[a._caller]
        assert PACERS[a._caller].limit_from_server and PACERS[c._caller].limit_from_server
    assert estimate.rate_limit == backend.config.rate_limit
    assert not any(TEST_KEY in caller or other_key in caller for caller in PACERS)


def test_pacing_starts_from_the_keys_stated_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key's stated limit (GET /api_keys/rate_limits) replaces the default guess of 20
    before the first edit; 16 edits at 7 a window then take three windows, with no 429."""
    clock = _FakeClock()
    config = BackendConfig(rate_limit=7, rate_window=60.0, clock=clock)
    with LocalBackend(config) as backend, _client(backend, max_retries=0) as client:
        pacer = Pacer(clock=clock, sleep=clock.sleep)
        monkeypatch.setitem(PACERS, client._caller, pacer)
        assert pacer.limit == 20  # the guess
        results = vnb.experiment(*_grid(8), client=client, progress=False)
        transport = client._http._transport
        assert isinstance(transport, SpecCheckingTransport)
        paths = [r.url.path.removeprefix("/api/v1") for r in transport.requests]
        assert backend.stats.by_status == {200: 1 + 2 + 16}
    assert results.estimate.rate_limit == 7  # known before any edit was answered
    assert paths.count("/api_keys/rate_limits") == 1
    assert paths.index("/api_keys/rate_limits") < paths.index("/image/edit")
    assert results.counts["done"] == 16
    assert clock.now - clock.start >= 2 * 60.0  # fake time: the pacer waited out two windows


def test_a_stated_limit_replaces_the_guess_until_headers_say_otherwise() -> None:
    pacer = Pacer(20)
    pacer.state(7)
    pacer.cap(3)  # a caller's guess no longer lowers the server's word
    pacer.try_start(0.0)
    pacer.observe(1, {"content-type": "image/png"})  # no rate-limit headers: sliding window
    assert _drain(pacer, 1.0) == list(range(2, 8))  # 7 a minute, not the guessed 20
    pacer.observe(2, _rate(3, 60.0, limit=11))
    assert pacer.limit == 11


def test_experiments_resolve_legacy_ids_like_the_clients(backend: LocalBackend) -> None:
    """The pages' ``qwen-edit`` runs (through /models/compatibility_mapping, as client.edit
    resolves it); a typo still gets the closest id, before any edit is sent."""
    with _client(backend) as client:
        results = vnb.experiment(sample_path(), "snow", ["qwen-edit"], client=client,
                                 progress=False)
        with pytest.raises(vnb.ValidationError, match="did you mean qwen-image-2-edit"):
            vnb.experiment(sample_path(), "snow", ["qwen-image-2-edt"], client=client,
                           progress=False)
        assert _images_sent(client) == 1

    async def run_async() -> vnb.ExperimentResults:
        async with vnb.AsyncClient(TEST_KEY, base_url=backend.url) as aclient:
            return await experiment_async(sample_path(), "rain", "qwen-edit", client=aclient,
                                          progress=False)

    for run in (results, asyncio.run(run_async())):
        assert run.counts["done"] == 1
        record = run[0]
        assert record.model == record.result.model_id == "qwen-image-2-edit"
        assert record.estimated_cost == pytest.approx(QWEN)


def test_an_estimate_over_the_balance_is_refused_before_any_edit() -> None:
    balance = 1.5 * FIRERED
    config = BackendConfig(rate_limit=UNTHROTTLED, balance_usd=balance)
    grid = (sample_path(), ["snow", "rain"], "firered-image-edit")
    with LocalBackend(config) as backend, _client(backend) as client:
        with pytest.raises(vnb.ValidationError) as info:
            vnb.experiment(*grid, client=client, progress=False)
        assert _images_sent(client) == 0
        text = f"{info.value} {info.value.action}"
        assert f"${2 * FIRERED:.4f}" in text and f"${balance:.4f}" in text
        assert "top up" in text and "budget=" in text
        within = vnb.experiment(*grid, client=client, budget=1.2 * FIRERED, progress=False)
        assert [r.status for r in within] == ["done", "skipped"]
        assert backend.stats.charged_usd == pytest.approx(FIRERED)


def test_a_free_backend_is_not_checked_and_a_keyless_client_does_not_ask(
    backend: LocalBackend
) -> None:
    """The local backend without a balance states none: no refusal, however large the run. A
    client without a key cannot ask (the account endpoints need one), so it does not try.
    (Replay-only runs send nothing at all: see the replay test above.)"""
    with _client(backend) as client:
        ran = vnb.experiment(sample_path(), [f"edit {i}" for i in range(6)], "gpt-image-2-edit",
                             client=client, progress=False)
        assert client.balance().usd is None
    assert ran.counts["done"] == 6
    transport = SpecCheckingTransport()
    http = httpx.Client(transport=transport, timeout=60)
    with vnb.Client(base_url=backend.url, http_client=http) as anonymous:
        vnb.experiment(sample_path(), "rain", "firered-image-edit", client=anonymous,
                       progress=False)
    paths = {r.url.path.removeprefix("/api/v1") for r in transport.requests}
    assert paths == {"/models", "/image/edit"}
