"""Retries follow server hints, back off exponentially, and never get the caller blocked."""

from __future__ import annotations

import random
import time

import pytest

import venice_nb as vnb
from venice_nb._backend import FaultConfig, LocalBackend
from venice_nb._client import _request
from venice_nb._client._request import PreparedRequest
from venice_nb._client._retry import FailureWindow, retry_delay, should_retry
from venice_nb._exceptions import RateLimitError, error_from_response

from ._spec import SpecCheckingTransport
from .conftest import sample_path


def _prepared(path: str | None = None) -> PreparedRequest:
    return _request.prepare_edit(path or sample_path(), "blur")


class FakeTime:
    """One clock for the client's waits, its failure window and the backend: a wait the client
    asks for moves the clock instead of stalling the test."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time(backend: LocalBackend, client: vnb.Client) -> FakeTime:
    clock = FakeTime()
    client._sleep = clock.sleep
    client._window = FailureWindow(clock=clock)
    backend.config.clock = clock
    return clock


def test_retry_after_from_the_server_is_the_delay(
    backend: LocalBackend, client: vnb.Client, transport: SpecCheckingTransport, fake_time: FakeTime
) -> None:
    backend.config.faults = FaultConfig(rate_429=1.0, retry_after=0.25)
    delays: list[float] = []

    def heal(error: vnb.VeniceError, delay: float) -> None:
        delays.append(delay)
        backend.config.faults = FaultConfig()  # the next try succeeds

    result = client.send(_prepared(), on_retry=heal)
    assert delays == [0.25] and fake_time.sleeps == [0.25]
    assert result.size and len(transport.posts) == 2


def test_real_rate_limit_429_is_retried_after_the_window(
    backend: LocalBackend, client: vnb.Client, fake_time: FakeTime
) -> None:
    backend.config.rate_limit = 1
    backend.config.rate_window = 60.0
    hints: list[tuple[float, float]] = []

    def note(error: vnb.VeniceError, delay: float) -> None:
        assert isinstance(error, vnb.APIStatusError)
        hints.append((delay, float(error.headers["retry-after"])))

    client.send(_prepared(), on_retry=note)
    client.send(_prepared(), on_retry=note)  # 429: the client waits out the window, on the clock
    assert len(hints) == 1 and hints[0][0] == hints[0][1] > 0
    assert fake_time.sleeps == [hints[0][0]]
    assert backend.stats.by_status.get(429) == 1 and backend.stats.by_status.get(200) == 2


def test_a_wait_longer_than_a_call_should_take_is_not_retried(
    backend: LocalBackend, client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    backend.config.faults = FaultConfig(rate_429=1.0, retry_after=3600)
    with pytest.raises(vnb.RateLimitError) as info:
        client.send(_prepared())
    assert len(transport.posts) == 1 and info.value.retry_after == 3600


@pytest.mark.parametrize(
    "fault",
    [
        FaultConfig(rate_500=1.0),
        FaultConfig(rate_503=1.0),
        FaultConfig(rate_drop=1.0),
        FaultConfig(rate_truncate=1.0),
    ],
)
def test_retryable_failures_then_success(
    backend: LocalBackend, client: vnb.Client, fault: FaultConfig, fake_time: FakeTime
) -> None:
    backend.config.faults = fault
    reasons: list[str] = []

    def heal(error: vnb.VeniceError, delay: float) -> None:
        reasons.append(type(error).__name__)
        backend.config.faults = FaultConfig()

    assert client.send(_prepared(), on_retry=heal).data
    assert len(reasons) == 1
    assert len(fake_time.sleeps) == 1 and 0.375 <= fake_time.sleeps[0] <= 0.5  # first backoff


def test_non_retryable_errors_are_not_retried(
    backend: LocalBackend, client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    with pytest.raises(vnb.ContentPolicyError):
        client.edit(sample_path(), "nude portrait", model="qwen-image-2-edit")
    assert len(transport.posts) == 1


def test_max_retries_bounds_the_attempts(
    backend: LocalBackend, client: vnb.Client, transport: SpecCheckingTransport, fake_time: FakeTime
) -> None:
    backend.config.faults = FaultConfig(rate_500=1.0)
    client.max_retries = 3
    with pytest.raises(vnb.InternalServerError):
        client.send(_prepared())
    assert len(transport.posts) == 4
    bases = [0.5, 1.0, 2.0]  # exponential backoff between the four attempts
    assert len(fake_time.sleeps) == 3
    assert all(0.75 * b <= s <= b for s, b in zip(fake_time.sleeps, bases, strict=True))


def test_backoff_is_exponential_with_bounded_jitter() -> None:
    err = error_from_response(500, {}, b'{"error":"boom"}')
    rng = random.Random(1)
    for attempt in range(5):
        base = 0.5 * 2**attempt
        for _ in range(50):
            assert 0.75 * base <= retry_delay(err, attempt, rng=rng) <= base


def test_ratelimit_reset_header_is_used_without_retry_after() -> None:
    reset = int(time.time()) + 5  # whole seconds, as Venice sends it
    err = error_from_response(429, {"x-ratelimit-reset-requests": str(reset)}, b"{}")
    assert 3.0 < retry_delay(err, 0) <= 5.0
    assert isinstance(err, RateLimitError) and should_retry(err)


def test_retry_after_http_date_and_cap() -> None:
    err = error_from_response(503, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"{}")
    assert retry_delay(err, 0) == 0.0  # a date in the past: go now
    err = error_from_response(429, {"retry-after": "3600"}, b"{}")
    assert retry_delay(err, 0) == 60.0  # capped


def test_failure_window_counts_in_flight_requests_as_possible_failures() -> None:
    window = FailureWindow(limit=3, window=10.0)
    assert [window.reserve(now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert window.reserve(now=0.0) > 0, "a 4th request could be the 4th failure"
    for _ in range(3):
        window.release(failed=True, now=1.0)
    assert window.reserve(now=5.0) == pytest.approx(6.0)
    assert window.reserve(now=11.5) == 0.0


def test_client_never_trips_the_failure_block(
    backend: LocalBackend, client: vnb.Client, fake_time: FakeTime
) -> None:
    """More failures than Venice tolerates: the client waits instead of getting blocked."""
    backend.config.failure_block = (5, 1.0, 30.0)
    backend.config.faults = FaultConfig(rate_500=1.0)
    client._window = FailureWindow(limit=5, window=1.0, clock=fake_time)
    client.max_retries = 0
    for _ in range(12):
        with pytest.raises(vnb.InternalServerError):
            client.send(_prepared())
    assert backend.stats.by_status.get(500) == 12
    assert not backend.stats.by_status.get(429), "the backend blocked the client"
    assert sum(fake_time.sleeps) >= 2.0, "it waited out the window twice"


def test_a_naive_caller_does_trip_the_failure_block(backend: LocalBackend) -> None:
    """The guard above is needed: without it the same traffic gets blocked."""
    backend.config.failure_block = (5, 1.0, 30.0)
    backend.config.faults = FaultConfig(rate_500=1.0)
    with vnb.Client("k", base_url=backend.url, max_retries=0) as c:
        c._window = FailureWindow(limit=1000, window=1.0)
        errors = []
        for _ in range(8):
            with pytest.raises(vnb.VeniceError) as info:
                c.send(_prepared())
            errors.append(info.value.status)
    assert 429 in errors


def test_models_are_retried_like_edits(backend: LocalBackend) -> None:
    """GET /models goes through the same retry loop: a 503 with Retry-After is retried."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    body = httpx.get(f"{backend.url}/models", params={"type": "inpaint"}, timeout=30).content
    answers = [(503, b'{"error":"Model at capacity","code":"MODEL_AT_CAPACITY"}'), (200, body)]
    seen: list[int] = []

    class Flaky(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, data = answers[min(len(seen), 1)]
            seen.append(status)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/v1"
        with vnb.Client("k", base_url=url) as client:
            models = client.models()
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [503, 200]
    assert {m.id for m in models} == {m["id"] for m in json.loads(body)["data"]}
