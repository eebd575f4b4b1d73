"""Pacing: start requests no faster than the server's request limit allows.

Venice counts image requests per caller in fixed windows (20 a minute by default) and answers
every request with ``x-ratelimit-*`` headers. Retrying after a 429 wastes a request, and more
than a few failures in a row block the caller for a while, so an experiment paces its starts
instead: one ``Pacer`` per caller (base URL and key), shared by every experiment in the
process. It starts from the key's stated limit when the server gives one
(``GET /api_keys/rate_limits``), else from a guess, and learns from the headers either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from .._constants import (
    DEFAULT_REQUESTS_PER_MINUTE,
    H_RATELIMIT_LIMIT,
    H_RATELIMIT_REMAINING,
    H_RATELIMIT_RESET,
)
from .._exceptions import RateLimitError
from .._headers import header_number

__all__ = ["PACERS", "Pacer", "known_limit", "pacer_for"]

_RATE_WINDOW = 60.0  # Venice's limits are per minute


@dataclass
class _Window:
    """What the server last said about its window, pinned to the start it had seen by then.

    The start number is what makes out-of-order answers usable: the report vouches for starts
    up to ``seq`` only, and everything started after it still has to come out of ``remaining``.
    """

    seq: int  # the last start the server had seen when it reported this
    remaining: int
    reset: float  # Unix seconds; inf: a window we assume has started, reset not yet known
    after: float = 0.0  # for an assumed window: the reset it follows


class Pacer:
    """Starts requests no faster than the server allows, learning from ``x-ratelimit-*``.

    What may start now is the server's last word (``remaining`` until ``reset``) minus what was
    started since, and minus what was still unanswered when the reporting request was sent (the
    server may have counted those after it). When a window is over, one request goes first and
    its answer tells the new state: a clock difference with the server or a sliding window then
    costs one request's latency instead of a burst of 429s. Once such a probe has shown that
    windows refill fully, later windows start at full speed (a 429 brings the probing back).
    Without the headers it falls back to a sliding window of ``limit`` starts per minute.
    Thread-safe.
    """

    def __init__(
        self,
        limit: int = DEFAULT_REQUESTS_PER_MINUTE,
        *,
        window: float = _RATE_WINDOW,
        margin: float = 0.02,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """``margin``: seconds past a reported reset before trusting the new window (the
        server's clock may lag ours a little). ``clock``: Unix time, shared with the server's
        reset timestamps. ``sleep``: how ``acquire`` waits out a known delay; None waits in
        real time but wakes early when an answer arrives. A fake clock's ``sleep`` moves that
        clock instead, so tests run whole windows without waiting for them."""
        self.limit = limit
        self.limit_from_server = False  # True once a response stated the limit
        self.window = window
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._seq = 0
        self._starts: deque[float] = deque()
        # Starts without an answer yet; per start, how many such were out when it was sent (the
        # server may have counted them after it, so a report cannot vouch for them).
        self._unanswered: dict[int, int] = {}
        self._info: _Window | None = None
        self._lowest: tuple[float, int] | None = None  # (reset, lowest remaining reported)
        # The start sent alone into a window we know nothing about yet; others wait for it.
        self._probe: int | None = None
        self._refills = False  # a probe saw a window refill completely: no probe needed next
        self._headers: bool | None = None  # None: not known yet whether the server sends them
        self._hold_until = 0.0  # a 429's Retry-After: nothing starts before this
        # acquire() calls waiting for an answer or a time; answers wake them from any thread
        # (sync clients send from worker threads), each on its own event loop.
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def cap(self, rate_limit: int) -> None:
        """Apply a caller's ``rate_limit`` until the server states its own limit.

        The lower value wins: two experiments may share this pacer, and a default argument
        must not undo an explicit lower limit asked for earlier.
        """
        with self._lock:
            if not self.limit_from_server:
                self.limit = min(self.limit, rate_limit)

    def state(self, limit: int) -> None:
        """The key's stated limit (``GET /api_keys/rate_limits``): the server's word, replacing
        any guess, until a response's ``x-ratelimit-limit`` says otherwise."""
        with self._lock:
            self.limit, self.limit_from_server = limit, True

    def try_start(self, now: float | None = None) -> tuple[int | None, float | None]:
        """``(seq, None)`` when a request may start now, else ``(None, seconds or None)`` to wait
        (None: until a response arrives)."""
        now = self._clock() if now is None else now
        with self._lock:
            while self._starts and self._starts[0] <= now - self.window:
                self._starts.popleft()
            if now < self._hold_until:
                return None, self._hold_until - now
            if self._headers is False:
                if len(self._starts) >= self.limit:
                    return None, self._starts[0] + self.window + self.margin - now
                return self._start(now), None
            info = self._info
            if info is not None and self._refills and now >= info.reset + self.margin:
                info = self._info = _Window(
                    self._seq, self.limit - len(self._unanswered), math.inf, after=info.reset
                )
            if info is None or now >= info.reset + self.margin:
                if self._probe is not None:
                    return None, None
                self._probe = self._start(now)
                return self._probe, None
            if info.remaining - (self._seq - info.seq) > 0:
                return self._start(now), None
            return None, (info.reset + self.margin - now) if info.reset < math.inf else None

    def _start(self, now: float) -> int:
        """Count a start: the sliding window (fallback) and the unanswered set both need it."""
        self._seq += 1
        self._starts.append(now)
        self._unanswered[self._seq] = len(self._unanswered)
        return self._seq

    def note_retry(self, delay: float) -> int:
        """The client retries a request after ``delay`` s: count it as one more start."""
        with self._lock:
            return self._start(self._clock() + delay)

    def observe(self, seq: int | None, headers: Mapping[str, str] | None, *,
                error: BaseException | None = None) -> None:
        """Learn from the answer to start ``seq`` (``headers`` None: no answer came back)."""
        remaining = header_number(headers, H_RATELIMIT_REMAINING)
        reset = header_number(headers, H_RATELIMIT_RESET)
        limit = header_number(headers, H_RATELIMIT_LIMIT)
        with self._lock:
            probe = seq is not None and seq == self._probe
            if probe:
                self._probe = None
            unsure = self._unanswered.pop(seq, 0) if seq is not None else 0
            if isinstance(error, RateLimitError):
                self._refills = False
                if error.retry_after:
                    self._hold_until = max(self._hold_until, self._clock() + error.retry_after)
            if seq is not None and remaining is not None and reset is not None:
                self._headers = True
                if limit:
                    self.limit, self.limit_from_server = int(limit), True
                if self._learn(_Window(seq, int(remaining) - unsure, reset)) and probe:
                    # The first request of a new window: did the window refill completely?
                    self._refills = error is None and int(remaining) == self.limit - 1
                self._learn_lowest(int(remaining), reset)
            elif headers is not None and error is None and self._headers is None:
                self._headers = False  # a success without rate-limit headers: use the fallback
            self._wake()

    def _learn_lowest(self, remaining: int, reset: float) -> None:
        """A tighter, still safe, state: the lowest ``remaining`` a window reported came from
        the last start the server counted, so it includes every answered start (each was
        counted no later); only starts still unanswered may be missing from it. Without this,
        a burst sent at once would keep its send-time doubts for the whole window."""
        lowest = self._lowest
        if lowest is None or abs(lowest[0] - reset) > 1e-6:
            lowest = (reset, remaining)
        self._lowest = lowest = (reset, min(lowest[1], remaining))
        info = self._info
        if info is None or abs(info.reset - reset) > 1e-6:
            return
        sure = lowest[1] - len(self._unanswered)
        if sure + self._seq > info.remaining + info.seq:
            self._info = _Window(self._seq, sure, reset)

    def _learn(self, new: _Window) -> bool:
        """Keep the most telling report; True when ``new`` starts a later window."""
        old = self._info
        if old is None:
            self._info = new
            return True
        if old.reset == math.inf:  # assumed window: only a report of a later one replaces it
            if new.reset > old.after + 1e-6:
                self._info = new
            return False
        if new.reset > old.reset + 1e-6:
            self._info = new
            return True
        # Same window: keep whichever leaves fewer starts (answers arrive out of order).
        if abs(new.reset - old.reset) <= 1e-6 and (
            new.remaining + new.seq < old.remaining + old.seq
        ):
            self._info = new
        return False

    def _wake(self) -> None:
        """Every answer may free a slot (or end a probe): let waiting acquires look again."""
        waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    async def acquire(self) -> int:
        """Wait until a request may start; returns its sequence number for ``observe``."""
        loop = asyncio.get_running_loop()
        while True:
            seq, wait = self.try_start()
            if seq is not None:
                return seq
            if wait is not None and self._sleep is not None:
                await self._sleep(wait)
                continue
            event = asyncio.Event()
            with self._lock:
                self._waiters.append((loop, event))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=wait)


# The server counts per caller, not per experiment: experiments (and re-runs) in one process
# share a pacer per caller (``_failure_guard.caller_id``: base URL and a digest of the key,
# never the key itself), so they neither overrun each other nor forget what was learned.
PACERS: dict[str, Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(caller: str, rate_limit: int) -> Pacer:
    """The pacer for this caller, with ``rate_limit`` applied unless the server stated one."""
    with _PACERS_LOCK:
        pacer = PACERS.get(caller)
        if pacer is None:
            pacer = PACERS[caller] = Pacer(rate_limit)
    pacer.cap(rate_limit)
    return pacer


def known_limit(caller: str) -> int:
    """The limit an estimate should quote: what the pacer knows, else Venice's default."""
    pacer = PACERS.get(caller)
    return pacer.limit if pacer is not None else DEFAULT_REQUESTS_PER_MINUTE
