"""What a key has left and may do: ``GET /billing/balance`` and ``GET /api_keys/rate_limits``,
parsed into small records a person can read before a large run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from .._exceptions import APIConnectionError, VeniceError, error_from_response

BALANCE_PATH = "/billing/balance"
RATE_LIMITS_PATH = "/api_keys/rate_limits"

__all__ = ["BALANCE_PATH", "RATE_LIMITS_PATH", "AccountLimits", "Balance", "parse"]


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Balance:
    """The caller's balance; ``usd`` / ``diem`` are None when the server gives none (the local
    backend's unlimited balance, or no DIEM staking).

    Attributes:
        can_consume: Whether the key may spend now.
        currency: The currency the account is billed in, when stated.
        usd: Dollars left; None: not stated.
        diem: DIEM left for this epoch; None: not stated.
    """

    can_consume: bool
    currency: str | None
    usd: float | None
    diem: float | None

    @property
    def spendable_usd(self) -> float | None:
        """What a run may spend: USD plus DIEM (a DIEM is a dollar of inference for the epoch,
        spent first); None when the server states neither (unlimited)."""
        if self.usd is None and self.diem is None:
            return None
        return (self.usd or 0.0) + (self.diem or 0.0)

    @classmethod
    def from_api(cls, payload: object) -> Balance:
        data = _object(payload)
        balances = _object(data.get("balances"))
        return cls(
            can_consume=bool(data.get("canConsume", False)),
            currency=data.get("consumptionCurrency"),
            usd=_number(balances.get("usd")),
            diem=_number(balances.get("diem")),
        )


@dataclass(frozen=True)
class AccountLimits:
    """The key's stated limits: ``per_model`` maps a model id to {"RPM": 20.0, ...}.

    What the account is allowed (``GET /api_keys/rate_limits``, asked before a run), not what
    one response said is left: that is ``EditResult.rate_limit``, a ``RateLimit`` read from the
    ``x-ratelimit-*`` headers. (Called ``RateLimits`` before 0.x: the names were too alike.)

    Attributes:
        access_permitted: Whether the key may use the API at all.
        tier: The account's tier name, when stated.
        per_model: Model id -> stated limits (`"RPM"`, `"RPD"`, `"TPM"` …).
    """

    access_permitted: bool
    tier: str | None
    per_model: dict[str, dict[str, float]] = field(default_factory=dict)

    def requests_per_minute(self, model: str) -> float | None:
        """The stated RPM for ``model`` (None when the key states none).

        Args:
            model: A model id.
        """
        return self.per_model.get(model, {}).get("RPM")

    @classmethod
    def from_api(cls, payload: object) -> AccountLimits:
        data = _object(_object(payload).get("data"))
        tier = _object(data.get("apiTier"))
        per_model: dict[str, dict[str, float]] = {}
        for entry in data.get("rateLimits") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("apiModelId"), str):
                continue
            limits = {
                str(item["type"]): amount
                for item in entry.get("rateLimits") or []
                if isinstance(item, dict) and (amount := _number(item.get("amount"))) is not None
            }
            per_model[entry["apiModelId"]] = limits
        return cls(bool(data.get("accessPermitted", False)), tier.get("id"), per_model)


Record = TypeVar("Record", Balance, AccountLimits)


def parse(response: httpx.Response, record: type[Record]) -> Record | VeniceError:
    """The record for a 200, else the typed error (the retry loop decides what to do)."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    if response.status_code != 200:
        return error_from_response(response.status_code, headers, response.content)
    try:
        return record.from_api(response.json())
    except ValueError:
        error: VeniceError = APIConnectionError(
            "expected JSON from the account endpoint",
            action="check base_url points at the Venice API (…/api/v1)",
        )
        return error
