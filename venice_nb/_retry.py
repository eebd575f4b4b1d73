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
from email.utils import parsedate_to_datetime

from ._constants import (
    FAILURE_BLOCK_COUNT,
    FAILURE_BLOCK_WINDOW,
    H_RATELIMIT_RESET,
    H_RETRY_AFTER,
    INITIAL_RETRY_DELAY,
    MAX_RETRY_DELAY,
    RETRY_STATUSES,
)
from ._errors import APIConnectionError, APIStatusError, VeniceError

__all__ = ["FailureWindow", "retry_delay", "should_retry"]


def should_retry(error: VeniceError) -> bool:
    """429, 500, 503, timeouts and dropped connections are worth another try."""
    if isinstance(error, APIConnectionError):
        return True
    return isinstance(error, APIStatusError) and error.status in RETRY_STATUSES


def _server_hint(error: VeniceError, now: float) -> float | None:
    """Seconds the server asked us to wait: Retry-After, else the rate-limit reset time."""
    headers = error.headers if isinstance(error, APIStatusError) else {}
    value = headers.get(H_RETRY_AFTER)
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = headers.get(H_RATELIMIT_RESET)
    if reset and error.status == 429:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


def retry_delay(error: VeniceError, attempt: int, *, rng: random.Random | None = None) -> float:
    """Backoff before retry ``attempt`` (0-based): the server's hint, else exponential + jitter."""
    hint = _server_hint(error, time.time())
    if hint is not None:
        return min(hint, MAX_RETRY_DELAY)
    base = min(INITIAL_RETRY_DELAY * 2**attempt, MAX_RETRY_DELAY)
    return base * (0.75 + 0.25 * (rng or random).random())


class FailureWindow:
    """Counts failures in a sliding window; ``reserve`` says how long to wait before sending."""

    def __init__(self, limit: int = FAILURE_BLOCK_COUNT, window: float = FAILURE_BLOCK_WINDOW):
        self.limit = limit
        self.window = window
        self._failures: deque[float] = deque()
        self._in_flight = 0
        self._lock = threading.Lock()

    def reserve(self, now: float | None = None) -> float:
        """0.0 and a slot taken, or the seconds to wait before asking again."""
        now = time.monotonic() if now is None else now
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
                self._failures.append(time.monotonic() if now is None else now)

    @property
    def recent_failures(self) -> int:
        with self._lock:
            return len(self._failures)
