"""The thread-safe state behind the policy: rate windows, failure records, the fault sequence
and the server's counters (locked: the server handles requests on many threads)."""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass

from ._config import FaultConfig


@dataclass(frozen=True)
class RateState:
    """What the x-ratelimit-* headers report."""

    limit: int
    remaining: int
    reset: float  # Unix seconds when the window resets


class RateLimiter:
    """Fixed windows per caller: ``limit`` requests per ``window`` seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def _window(self, caller: str, window: float, now: float) -> tuple[float, int]:
        start, count = self._windows.get(caller, (now, 0))
        if now >= start + window:
            start, count = now, 0
        return start, count

    def hit(self, caller: str, limit: int, window: float, now: float) -> tuple[bool, RateState]:
        """Count one request; (allowed, state after it)."""
        with self._lock:
            start, count = self._window(caller, window, now)
            allowed = count < limit
            if allowed:
                count += 1
            self._windows[caller] = (start, count)
            return allowed, RateState(limit, max(0, limit - count), start + window)

    def peek(self, caller: str, limit: int, window: float, now: float) -> RateState:
        with self._lock:
            start, count = self._window(caller, window, now)
            return RateState(limit, max(0, limit - count), start + window)

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


class FailureBlocker:
    """More than ``count`` failed requests within ``window`` seconds blocks a caller for
    ``duration`` seconds (Venice's rule for image endpoints)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def blocked_for(self, caller: str, now: float) -> float:
        """Seconds the caller stays blocked (0 when not blocked)."""
        with self._lock:
            return max(0.0, self._blocked_until.get(caller, 0.0) - now)

    def record_failure(self, caller: str, now: float, block: tuple[int, float, float]) -> None:
        count, window, duration = block
        with self._lock:
            times = self._failures.setdefault(caller, deque())
            times.append(now)
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) > count:
                self._blocked_until[caller] = now + duration
                times.clear()

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._blocked_until.clear()


FAULT_KINDS = ("429", "500", "503", "drop", "truncate")


class FaultInjector:
    """Draws the fault (or None) for each valid image request, reproducibly per FaultConfig."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config: FaultConfig | None = None
        self._rng = random.Random(0)

    def draw(self, faults: FaultConfig) -> str | None:
        rates = (faults.rate_429, faults.rate_500, faults.rate_503, faults.rate_drop,
                 faults.rate_truncate)  # fmt: skip
        if not any(rates):
            return None
        with self._lock:
            if faults is not self._config:
                self._config, self._rng = faults, random.Random(faults.seed)
            u = self._rng.random()
        edge = 0.0
        for kind, rate in zip(FAULT_KINDS, rates, strict=True):
            edge += rate
            if u < edge:
                return kind
        return None


class BackendStats:
    """Thread-safe counters of what the server did (read the attributes; copies are returned)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests = 0
            self._by_status: dict[int, int] = {}
            self._completed_ok = 0
            self._dropped = 0
            self._truncated = 0
            self._charged_usd = 0.0

    def add(
        self,
        *,
        requests: int = 0,
        status: int | None = None,
        completed_ok: int = 0,
        dropped: int = 0,
        truncated: int = 0,
        charged_usd: float = 0.0,
    ) -> None:
        with self._lock:
            self._requests += requests
            if status is not None:
                self._by_status[status] = self._by_status.get(status, 0) + 1
            self._completed_ok += completed_ok
            self._dropped += dropped
            self._truncated += truncated
            self._charged_usd = round(self._charged_usd + charged_usd, 9)

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def by_status(self) -> dict[int, int]:
        with self._lock:
            return dict(self._by_status)

    @property
    def completed_ok(self) -> int:
        return self._completed_ok

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def truncated(self) -> int:
        return self._truncated

    @property
    def charged_usd(self) -> float:
        return self._charged_usd

    def __repr__(self) -> str:
        return (
            f"BackendStats(requests={self.requests}, by_status={self.by_status}, "
            f"completed_ok={self.completed_ok}, dropped={self.dropped}, "
            f"truncated={self.truncated}, charged_usd={self.charged_usd})"
        )
