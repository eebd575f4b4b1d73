"""When to retry, how long to wait, and the guard that keeps a client from being blocked.

Venice blocks a caller for 30 s after more than 20 failed requests in 30 s. ``FailureWindow``
makes that impossible from one client: a request may start only while failures in the window
plus requests in flight (each may still fail) stay under the limit.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable

from .._constants import (
    FAILURE_BLOCK_COUNT,
    FAILURE_BLOCK_WINDOW,
    H_RATELIMIT_RESET,
    H_RETRY_AFTER,
    INITIAL_RETRY_DELAY,
    MAX_RETRY_DELAY,
    RETRY_STATUSES,
)
from .._exceptions import APIConnectionError, APIStatusError, VeniceError
from .._headers import header_number, parse_retry_after

__all__ = ["FailureWindow", "retry_delay", "server_hint", "should_retry"]


def server_hint(error: VeniceError, now: float) -> float | None:
    """Seconds the server asked us to wait: Retry-After, else (on 429) the rate-limit reset."""
    headers = error.headers if isinstance(error, APIStatusError) else {}
    hint = parse_retry_after(headers.get(H_RETRY_AFTER), now)
    if hint is not None or error.status != 429:
        return hint
    reset = header_number(headers, H_RATELIMIT_RESET)
    return None if reset is None else max(0.0, reset - now)


def should_retry(error: VeniceError) -> bool:
    """429, 500, 503, timeouts and dropped connections are worth another try, unless the
    server asks for a longer wait than a call should sit through (then the caller decides)."""
    if isinstance(error, APIConnectionError):
        return True
    if not (isinstance(error, APIStatusError) and error.status in RETRY_STATUSES):
        return False
    hint = server_hint(error, time.time())
    return hint is None or hint <= MAX_RETRY_DELAY


def retry_delay(error: VeniceError, attempt: int, *, rng: random.Random | None = None) -> float:
    """Backoff before retry ``attempt`` (0-based): the server's hint, else exponential + jitter."""
    hint = server_hint(error, time.time())
    if hint is not None:
        return min(hint, MAX_RETRY_DELAY)
    base = min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY)
    jitter = rng.random() if rng is not None else random.random()
    return base * (0.75 + 0.25 * jitter)


class FailureWindow:
    """Counts failures in a sliding window; ``reserve`` says how long to wait before sending."""

    def __init__(
        self,
        limit: int = FAILURE_BLOCK_COUNT,
        window: float = FAILURE_BLOCK_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: deque[float] = deque()
        self._in_flight = 0
        self._lock = threading.Lock()

    def reserve(self, now: float | None = None) -> float:
        """0.0 and a slot taken, or the seconds to wait before asking again."""
        now = self._clock() if now is None else now
        with self._lock:
            while self._failures and self._failures[0] <= now - self.window:
                self._failures.popleft()
            if len(self._failures) + self._in_flight < self.limit:
                self._in_flight += 1
                return 0.0
            if self._failures:
                return max(0.001, self._failures[0] + self.window - now)
            return 0.05  # every slot is in flight: wait for one to finish

    def release(self, *, failed: bool, now: float | None = None) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if failed:
                self._failures.append(self._clock() if now is None else now)

    @property
    def recent_failures(self) -> int:
        with self._lock:
            return len(self._failures)
