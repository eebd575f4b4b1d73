"""Balance and stated limits end to end: the backend serves ``/billing/balance`` and
``/api_keys/rate_limits`` in the spec's shapes (responses validated against it), and the
client reads them as ``Balance`` / ``AccountLimits``."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import jsonschema
import pytest

import venice_nb as vnb
from venice_nb._backend import LocalBackend
from venice_nb._client._account import Balance

from ._spec import SPEC_PATH, load_spec
from .conftest import TEST_KEY, png_bytes


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema (``null`` also allowed)."""
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _schema(path: str) -> dict[str, Any]:
    spec = load_spec()
    content = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    schema: dict[str, Any] = _nullable({**content["schema"], "components": spec["components"]})
    return schema


@pytest.mark.skipif(not SPEC_PATH.exists(), reason="needs the spec file")
@pytest.mark.parametrize("balance", [None, 1.5, 0.0])
def test_answers_match_the_spec(backend: LocalBackend, balance: float | None) -> None:
    backend.config.balance_usd = balance
    for path in ("/billing/balance", "/api_keys/rate_limits"):
        resp = httpx.get(f"{backend.url}{path}", headers={"Authorization": f"Bearer {TEST_KEY}"},
                         trust_env=False)  # fmt: skip
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
        jsonschema.validate(resp.json(), _schema(path))


def test_balance_follows_what_edits_spend(backend: LocalBackend, client: vnb.Client) -> None:
    backend.config.balance_usd = 1.0
    before = client.balance()
    assert (before.usd, before.can_consume, before.currency) == (1.0, True, "USD")
    client.edit(png_bytes(), "blur")  # firered-image-edit: $0.04
    assert client.balance().usd == pytest.approx(0.96)
    backend.config.balance_usd = 0.0
    assert not client.balance().can_consume
    backend.config.balance_usd = None
    assert client.balance().usd is None  # unlimited: the local default


def test_rate_limits_state_the_backends_limit(backend: LocalBackend, client: vnb.Client) -> None:
    backend.config.rate_limit, backend.config.rate_window = 30, 60.0
    limits = client.rate_limits()
    assert limits.access_permitted and limits.tier == "local"
    assert limits.requests_per_minute("firered-image-edit") == 30.0
    assert limits.requests_per_minute("upscaler") == 30.0
    assert limits.requests_per_minute("no-such-model") is None


def test_a_rejected_key_is_an_authentication_error(backend: LocalBackend) -> None:
    backend.config.rejected_keys = frozenset({"sk-revoked"})
    with vnb.Client("sk-revoked", base_url=backend.url, max_retries=0) as client:
        with pytest.raises(vnb.AuthenticationError):
            client.balance()
        with pytest.raises(vnb.AuthenticationError):
            client.rate_limits()


def test_account_endpoints_need_credentials(backend: LocalBackend) -> None:
    for path in ("/billing/balance", "/api_keys/rate_limits"):
        resp = httpx.get(f"{backend.url}{path}", trust_env=False)  # no key, no wallet
        assert resp.status_code == 401 and resp.json()["code"] == "AUTHENTICATION_FAILED"


def test_async_twins(backend: LocalBackend) -> None:
    backend.config.balance_usd = 2.0

    async def go() -> tuple[float | None, float | None]:
        async with vnb.AsyncClient(TEST_KEY, base_url=backend.url) as client:
            balance, limits = await asyncio.gather(client.balance(), client.rate_limits())
            return balance.usd, limits.requests_per_minute("firered-image-edit")

    usd, rpm = asyncio.run(go())
    assert usd == 2.0 and rpm == backend.config.rate_limit * 60 / backend.config.rate_window


def test_spendable_counts_usd_and_diem_and_none_means_unlimited() -> None:
    def balance(usd: float | None, diem: float | None) -> Balance:
        return Balance.from_api({"canConsume": True, "consumptionCurrency": "DIEM",
                                 "balances": {"usd": usd, "diem": diem}})

    assert balance(25, 90.5).spendable_usd == 115.5
    assert balance(None, 2.0).spendable_usd == 2.0
    assert balance(None, None).spendable_usd is None
