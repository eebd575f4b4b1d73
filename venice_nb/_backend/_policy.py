"""Venice's gatekeeping rules for image requests as plain functions: who calls, whether they may
(failure block, rate limit), what an injected fault answers, and whether they can pay."""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._constants import (
    H_RATELIMIT_LIMIT,
    H_RATELIMIT_REMAINING,
    H_RATELIMIT_RESET,
    H_RETRY_AFTER,
    SIWX_HEADER,
    SIWX_LEGACY_HEADER,
)
from ._api_error import ApiError
from ._config import BackendConfig, FaultConfig
from ._limiters import BackendStats, FailureBlocker, RateLimiter, RateState
from ._payment import insufficient_balance, payment_required


@dataclass(frozen=True)
class Caller:
    """Who is calling: ``kind`` is "none", "bearer" or "wallet"; ``key`` names the limits'
    bucket (a digest of the credential, never the credential itself)."""

    kind: str
    key: str


def anonymous(address: str) -> Caller:
    return Caller("none", f"ip:{address}")


def _credential(kind: str, secret: str) -> Caller:
    return Caller(kind, f"{kind}:{hashlib.sha256(secret.encode()).hexdigest()[:16]}")


def _auth_failed(message: str) -> ApiError:
    return ApiError(401, "AUTHENTICATION_FAILED", f"Authentication failed: {message}")


def _not_the_served_key() -> ApiError:
    return _auth_failed(
        "this backend accepts only the key it was started with (VENICE_NB_SERVE_KEY); send it "
        "as 'Authorization: Bearer <key>'."
    )


def authenticate(
    authorization: str | None, wallet: str | None, address: str, config: BackendConfig
) -> Caller:
    """The caller behind the Authorization / wallet headers, or a 401."""
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _auth_failed("the Authorization header must be 'Bearer <API key>'.")
        if config.accepted_keys and not key_matches(token, config.accepted_keys):
            raise _not_the_served_key()
        if token in config.rejected_keys:
            raise _auth_failed(
                "the API key was rejected. Check the key (VENICE_API_KEY) or create a new "
                "one at https://venice.ai/settings/api."
            )
        return _credential("bearer", token)
    if wallet:
        if config.accepted_keys:
            raise _not_the_served_key()
        if wallet in config.rejected_keys:
            raise _auth_failed(
                f"the {SIWX_HEADER} credential was rejected; sign in with your wallet again."
            )
        return _credential("wallet", wallet)
    if config.require_auth:
        raise credentials_required()
    return anonymous(address)


def key_matches(token: str, keys: Iterable[str]) -> bool:
    """Whether ``token`` is one of ``keys``, in time that tells a guesser nothing: digests of
    equal length compared with ``hmac.compare_digest``, every key compared."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    found = False
    for key in keys:
        found |= hmac.compare_digest(digest, hashlib.sha256(key.encode("utf-8")).digest())
    return found


# A server reachable beyond loopback blocks an address after more than 10 failed logins in a
# minute, for a minute: guessing a key takes forever, a typo costs nothing.
AUTH_FAILURE_BLOCK = (10, 60.0, 60.0)


def gate(headers: Mapping[str, str], has_body: bool, address: str, config: BackendConfig,
         failures: FailureBlocker, now: float) -> ApiError | None:
    """The refusal a request gets from its headers alone, before its body is read, on a server
    that serves a key (``venice-nb serve`` beyond loopback): a 429 while its address is
    blocked for failed logins, a 401 for a body or credentials that do not authenticate."""
    if not config.accepted_keys:
        return None
    where = f"auth:{address}"
    blocked = failures.blocked_for(where, now)
    if blocked > 0:
        count, window, _ = AUTH_FAILURE_BLOCK
        return ApiError(
            429, "RATE_LIMIT_EXCEEDED",
            f"Too many failed logins from this address (more than {count} in {window:g} s); "
            f"it is blocked for {math.ceil(blocked)} more seconds.",
            headers={H_RETRY_AFTER: str(math.ceil(blocked))}, counts_as_failure=False)
    authorization = headers.get("authorization")
    wallet = headers.get(SIWX_HEADER.lower()) or headers.get(SIWX_LEGACY_HEADER.lower())
    if not (has_body or authorization or wallet):
        return None  # a GET with no credentials: the pipeline answers (models need none)
    try:
        authenticate(authorization, wallet, address, config)
    except ApiError as err:
        failures.record_failure(where, now, AUTH_FAILURE_BLOCK)
        return err
    return None


def credentials_required() -> ApiError:
    return ApiError(
        401,
        "AUTHENTICATION_FAILED",
        f"Authentication required: send 'Authorization: Bearer <API key>' or a "
        f"{SIWX_HEADER} header.",
    )


def admit(
    caller: Caller,
    config: BackendConfig,
    limiter: RateLimiter,
    blocker: FailureBlocker,
    now: float,
) -> RateState:
    """Count the request against the caller's limits; a 429 when blocked or over the limit.

    A blocked caller's 429 does not count as a new failure, so a block ends on time."""
    blocked = blocker.blocked_for(caller.key, now)
    if blocked > 0:
        count, window, _ = config.failure_block
        raise ApiError(
            429,
            "RATE_LIMIT_EXCEEDED",
            f"Too many failed requests (more than {count} in {window:g} s); this caller "
            f"is blocked for {math.ceil(blocked)} more seconds. Fix the failing "
            "requests, then retry after Retry-After.",
            headers={H_RETRY_AFTER: str(math.ceil(blocked))},
            counts_as_failure=False,
        )
    allowed, rate = limiter.hit(caller.key, config.rate_limit, config.rate_window, now)
    if not allowed:
        wait = max(1, math.ceil(rate.reset - now))
        raise ApiError(
            429,
            "RATE_LIMIT_EXCEEDED",
            f"Rate limit exceeded: {config.rate_limit} requests per "
            f"{config.rate_window:g} s. Retry after {wait} s.",
            headers={H_RETRY_AFTER: str(wait)},
        )
    return rate


def rate_headers(state: RateState) -> dict[str, str]:
    return {
        H_RATELIMIT_LIMIT: str(state.limit),
        H_RATELIMIT_REMAINING: str(state.remaining),
        H_RATELIMIT_RESET: f"{state.reset:.3f}",  # Unix seconds, to the millisecond
    }


def seconds(value: float) -> str:
    """A Retry-After value: whole seconds when integral, else up to 3 decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")


def fault_error(fault: str | None, faults: FaultConfig) -> ApiError | None:
    """The error answer of an injected fault ("drop" and "truncate" are not answers: None)."""
    if fault == "429":
        return ApiError(
            429,
            "RATE_LIMIT_EXCEEDED",
            "Too many requests right now; retry after Retry-After seconds.",
            headers={H_RETRY_AFTER: seconds(faults.retry_after)},
        )
    if fault == "500":
        return ApiError(500, "INFERENCE_FAILED", "Inference processing failed; retry.")
    if fault == "503":
        return ApiError(
            503, "MODEL_AT_CAPACITY", "The model is at capacity. Please try again later."
        )
    return None


def check_balance(
    balance: float | None, price: float, caller: Caller, resource_url: str, now: float
) -> None:
    """A 402 when ``balance`` (None = unlimited) does not cover ``price``: x402's
    PAYMENT_REQUIRED for wallets, INSUFFICIENT_BALANCE for keys."""
    if balance is None or balance + 1e-9 >= price:
        return
    if caller.kind == "wallet":
        raise payment_required(balance, price, resource_url, now)
    raise insufficient_balance(balance, price)


class Ledger:
    """Charges against ``config.balance_usd`` atomically across the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def charge(self, config: BackendConfig, price: float, stats: BackendStats) -> bool:
        """Deduct ``price`` (None balance = unlimited); False when the balance no longer
        covers it."""
        with self._lock:
            balance = config.balance_usd
            if balance is not None:
                if balance + 1e-9 < price:
                    return False
                config.balance_usd = round(max(0.0, balance - price), 6)
            stats.add(charged_usd=price)
            return True


def balance_body(config: BackendConfig) -> dict[str, Any]:
    """GET /billing/balance: USD only (no DIEM staking); ``usd`` null when unlimited."""
    balance = config.balance_usd
    return {
        "canConsume": balance is None or balance > 0,
        "consumptionCurrency": "USD",
        "balances": {"diem": None, "usd": balance},
        "diemEpochAllocation": 0,
    }


def rate_limits_body(config: BackendConfig, models: Iterable[str], now: float) -> dict[str, Any]:
    """GET /api_keys/rate_limits: the image limit every model shares, as requests a minute."""
    per_minute = config.rate_limit * 60.0 / config.rate_window
    epoch = time.strftime("%Y-%m-%d 00:00:00+00:00", time.gmtime(now + 86_400))
    balance = config.balance_usd
    return {
        "data": {
            "accessPermitted": True,
            "apiTier": {"id": "local", "isCharged": balance is not None},
            "balances": {} if balance is None else {"USD": balance},
            "keyExpiration": None,
            "nextEpochBegins": epoch,
            "rateLimits": [
                {"apiModelId": model, "rateLimits": [{"amount": per_minute, "type": "RPM"}]}
                for model in models
            ],
        }
    }
