"""Configuration of the local backend: limits, money and injected faults.

Every field has a default that makes ``BackendConfig()`` the fast, permissive backend used when no
API key is set. Tests replace fields on the live object (``backend.config.latency = 0.5``); the
server reads the config afresh on every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .._constants import (
    DEFAULT_REQUESTS_PER_MINUTE,
    FAILURE_BLOCK_COUNT,
    FAILURE_BLOCK_DURATION,
    FAILURE_BLOCK_WINDOW,
)
from ._realism import REALISMS, Realism

# Words that make the local backend refuse a prompt as a content-policy violation (422), the way
# Venice's censored edit models do. Uncensored models answer 200 with the violation header instead.
DEFAULT_CONTENT_POLICY_WORDS: tuple[str, ...] = ("nsfw", "nude", "naked", "gore", "explicit")

# model id -> (warning, ISO date, replacement model id). One real model is marked so that clients
# can exercise the deprecation headers offline.
DEFAULT_DEPRECATED_MODELS: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "seedream-v4-edit": (
            "seedream-v4-edit is deprecated and will be removed on 2026-12-01; "
            "use seedream-v5-lite-edit instead.",
            "2026-12-01T00:00:00.000Z",
            "seedream-v5-lite-edit",
        )
    }
)


@dataclass(frozen=True)
class FaultConfig:
    """Probabilities (0..1) of injecting a failure into an otherwise valid image request.

    Faults are drawn from ``random.Random(seed)``, so a given seed yields the same sequence of
    faults; assigning a new FaultConfig restarts the sequence. ``retry_after`` is the
    Retry-After (seconds) sent with injected 429s.
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_drop: float = 0.0
    rate_truncate: float = 0.0
    seed: int = 0
    retry_after: float = 1.0

    def __post_init__(self) -> None:
        rates = (self.rate_429, self.rate_500, self.rate_503, self.rate_drop, self.rate_truncate)
        if any(r < 0 or r > 1 for r in rates) or sum(rates) > 1 + 1e-9:
            raise ValueError("fault rates must each be in [0, 1] and sum to at most 1")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")


@dataclass
class BackendConfig:
    """Behaviour of a LocalBackend; see the module docstring for how it is read."""

    latency: float = 0.0
    rate_limit: int = DEFAULT_REQUESTS_PER_MINUTE  # Venice's real default: 20 a minute
    rate_window: float = 60.0
    balance_usd: float | None = None
    rejected_keys: frozenset[str] = frozenset()
    require_auth: bool = False
    # When set, only these bearer keys are accepted (a server reachable beyond loopback).
    accepted_keys: frozenset[str] = frozenset()
    # Fetch loopback image URLs for callers on other machines too (see _inputs.fetch_refusal).
    allow_remote_fetch: bool = False
    content_policy_words: tuple[str, ...] = DEFAULT_CONTENT_POLICY_WORDS
    deprecated_models: Mapping[str, tuple[str, str, str]] = field(
        default_factory=lambda: DEFAULT_DEPRECATED_MODELS
    )
    failure_block: tuple[int, float, float] = (
        FAILURE_BLOCK_COUNT,
        FAILURE_BLOCK_WINDOW,
        FAILURE_BLOCK_DURATION,
    )
    faults: FaultConfig = field(default_factory=FaultConfig)
    # Seconds a request body may take to arrive in full; slower bodies get a 408.
    body_timeout: float = 60.0
    # Wall clock (Unix seconds) for rate windows and blocks; tests may substitute a fake clock
    # to move time forward without sleeping.
    clock: Callable[[], float] = time.time
    # How an edit answers (see _realism): "venice" regenerates the whole frame and reads a mask
    # layer as a hint, as Venice does; "exact" keeps every pixel outside a mask byte-identical.
    # "venice" by default: the local backend stands in for Venice, and a workflow that only
    # works against a kinder service fails on the first paid run. Tests of an effect's own
    # pixel math ask for "exact".
    realism: Realism = "venice"

    def __post_init__(self) -> None:
        if self.realism not in REALISMS:
            raise ValueError(f"realism must be one of {', '.join(REALISMS)}; got {self.realism!r}")
