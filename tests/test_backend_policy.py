"""The local backend's Venice rules and request pipeline, exercised without sockets: auth, the
failure block, the rate limit, faults, balance and charging are plain functions and small
classes, and ``_app.answer`` turns a parsed request into a response as data."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from venice_nb._backend import BackendConfig, FaultConfig
from venice_nb._backend._api_error import ApiError
from venice_nb._backend._app import Request, State, answer
from venice_nb._backend._limiters import BackendStats, FailureBlocker, RateLimiter
from venice_nb._backend._policy import (
    Caller,
    Ledger,
    admit,
    authenticate,
    check_balance,
    fault_error,
    seconds,
)
from venice_nb._constants import H_RETRY_AFTER, PAYMENT_REQUIRED_HEADER

from .conftest import png_bytes

KEY = "sk-policy-test-secret"


def _error(call, *args) -> ApiError:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as info:
        call(*args)
    return info.value


# ----------------------------------------------------------------------------- auth


def test_authenticate_bearer_wallet_and_anonymous() -> None:
    config = BackendConfig()
    bearer = authenticate(f"Bearer {KEY}", None, "127.0.0.1", config)
    assert bearer.kind == "bearer" and KEY not in bearer.key
    assert authenticate(f"bearer  {KEY} ", None, "127.0.0.1", config) == bearer
    wallet = authenticate(None, "siwx-token", "127.0.0.1", config)
    assert wallet.kind == "wallet" and wallet.key != bearer.key
    assert authenticate(None, None, "10.0.0.9", config) == Caller("none", "ip:10.0.0.9")


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer   ", KEY])
def test_authenticate_refuses_malformed_authorization(header: str) -> None:
    err = _error(authenticate, header, None, "127.0.0.1", BackendConfig())
    assert (err.status, err.code) == (401, "AUTHENTICATION_FAILED")
    assert "Bearer <API key>" in err.message


def test_authenticate_rejected_credentials_and_required_auth() -> None:
    config = BackendConfig(rejected_keys=frozenset({KEY, "bad-wallet"}), require_auth=True)
    assert "rejected" in _error(authenticate, f"Bearer {KEY}", None, "h", config).message
    assert "wallet" in _error(authenticate, None, "bad-wallet", "h", config).message
    err = _error(authenticate, None, None, "h", config)
    assert err.status == 401 and "required" in err.message
    for e in (_error(authenticate, f"Bearer {KEY}", None, "h", config),):
        assert KEY not in e.message


# ----------------------------------------------------------------------------- limits


def test_rate_limit_counts_per_caller_and_resets_with_the_window() -> None:
    config = BackendConfig(rate_limit=2, rate_window=60.0)
    limiter, blocker = RateLimiter(), FailureBlocker()
    a, b = Caller("bearer", "a"), Caller("bearer", "b")
    assert admit(a, config, limiter, blocker, 1000.0).remaining == 1
    assert admit(a, config, limiter, blocker, 1001.0).remaining == 0
    err = _error(admit, a, config, limiter, blocker, 1002.0)
    assert (err.status, err.headers[H_RETRY_AFTER]) == (429, "58")
    assert err.counts_as_failure
    assert admit(b, config, limiter, blocker, 1002.0).remaining == 1  # b has its own window
    assert admit(a, config, limiter, blocker, 1060.0).remaining == 1  # a's window moved on


def test_more_than_count_failures_in_the_window_block_for_the_duration() -> None:
    config = BackendConfig(failure_block=(20, 30.0, 30.0))
    limiter, blocker = RateLimiter(), FailureBlocker()
    caller = Caller("bearer", "k")
    for i in range(20):
        blocker.record_failure(caller.key, 100.0 + i, config.failure_block)
    admit(caller, config, limiter, blocker, 120.0)  # 20 failures: not yet
    blocker.record_failure(caller.key, 121.0, config.failure_block)
    err = _error(admit, caller, config, limiter, blocker, 121.5)
    assert (err.status, err.headers[H_RETRY_AFTER]) == (429, "30")
    assert not err.counts_as_failure  # so the block can end
    assert "blocked" in err.message
    admit(caller, config, limiter, blocker, 151.0)  # served again once the block ends


def test_failures_older_than_the_window_do_not_count() -> None:
    block = (20, 30.0, 30.0)
    blocker = FailureBlocker()
    for i in range(40):  # one failure every 2 s: never more than 15 inside 30 s
        blocker.record_failure("k", i * 2.0, block)
    assert blocker.blocked_for("k", 80.0) == 0.0


# ----------------------------------------------------------------------------- faults, money


def test_fault_errors() -> None:
    faults = FaultConfig(retry_after=0.25)
    got = {kind: fault_error(kind, faults) for kind in ("429", "500", "503", "drop", None)}
    assert got["429"] is not None and got["429"].headers[H_RETRY_AFTER] == "0.25"
    assert got["500"] is not None and got["500"].code == "INFERENCE_FAILED"
    assert got["503"] is not None and got["503"].code == "MODEL_AT_CAPACITY"
    assert got["drop"] is None and got[None] is None
    assert (seconds(2.0), seconds(1.5), seconds(0.125)) == ("2", "1.5", "0.125")


def test_check_balance_per_caller_kind() -> None:
    check_balance(None, 9.0, Caller("bearer", "k"), "http://h/x", 0.0)  # unlimited
    check_balance(0.04, 0.04, Caller("bearer", "k"), "http://h/x", 0.0)  # exactly enough
    key = _error(check_balance, 0.01, 0.04, Caller("bearer", "k"), "http://h/x", 0.0)
    assert (key.status, key.code) == (402, "INSUFFICIENT_BALANCE")
    wallet = _error(check_balance, 0.01, 0.04, Caller("wallet", "w"), "http://h/x", 0.0)
    assert (wallet.status, wallet.code) == (402, "PAYMENT_REQUIRED")
    assert PAYMENT_REQUIRED_HEADER in wallet.headers
    assert wallet.body()["currentBalanceUsd"] == 0.01


def test_ledger_never_overspends_under_concurrency() -> None:
    config = BackendConfig(balance_usd=1.0)
    ledger, stats = Ledger(), BackendStats()
    results: list[bool] = []
    lock = threading.Lock()

    def spend() -> None:
        for _ in range(10):
            ok = ledger.charge(config, 0.03, stats)
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 33  # floor(1.00 / 0.03)
    assert config.balance_usd == pytest.approx(0.01)
    assert stats.charged_usd == pytest.approx(0.99)


# ----------------------------------------------------------------------------- the pipeline


def _request(method: str, target: str, body: bytes = b"", **headers: str) -> Request:
    return Request(
        method=method,
        target="/api/v1" + target,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        body=body,
        address="127.0.0.1",
        origin="http://127.0.0.1:1",
        bind="127.0.0.1",
    )


def _edit_body(**fields: object) -> bytes:
    payload = {"image": base64.b64encode(png_bytes((256, 256))).decode(), "prompt": "invert"}
    return json.dumps({**payload, **fields}).encode()


def test_answer_routes_without_sockets() -> None:
    config, state = BackendConfig(), State()
    models = answer(_request("GET", "/models?type=inpaint"), config, state)
    assert models.status == 200 and json.loads(models.body)["type"] == "inpaint"
    assert answer(_request("GET", "/nope"), config, state).status == 404
    wrong = answer(_request("DELETE", "/image/edit"), config, state)
    assert (wrong.status, wrong.headers["Allow"]) == (405, "POST, OPTIONS")
    options = answer(_request("OPTIONS", "/models"), config, state)
    assert (options.status, options.headers["Allow"]) == (204, "GET, HEAD, OPTIONS")
    empty = answer(_request("GET", "/models?type="), config, state)
    assert empty.status == 400 and json.loads(empty.body)["details"]["type"]
    assert state.stats.requests == 5


def test_answer_edits_charges_and_counts_failures() -> None:
    # failure_block count 0: the first failed request blocks the caller
    config = BackendConfig(balance_usd=0.05, failure_block=(0, 30.0, 30.0))
    state = State()
    ok = answer(
        _request("POST", "/image/edit", _edit_body(), content_type="application/json",
                 authorization=f"Bearer {KEY}"),
        config, state,
    )  # fmt: skip
    assert ok.status == 200 and ok.content_type == "image/png" and ok.body[:4] == b"\x89PNG"
    assert ok.headers["x-ratelimit-remaining-requests"] == str(config.rate_limit - 1)
    assert config.balance_usd == pytest.approx(0.01)
    poor = answer(
        _request("POST", "/image/edit", _edit_body(), content_type="application/json",
                 authorization=f"Bearer {KEY}"),
        config, state,
    )  # fmt: skip
    assert poor.status == 402 and json.loads(poor.body)["code"] == "INSUFFICIENT_BALANCE"
    caller = authenticate(f"Bearer {KEY}", None, "127.0.0.1", config)
    assert state.blocker.blocked_for(caller.key, config.clock()) > 0


def test_answer_drop_and_truncate_faults_are_data() -> None:
    state = State()
    body = _edit_body()
    drop = BackendConfig(faults=FaultConfig(rate_drop=1.0))
    response = answer(_request("POST", "/image/edit", body, content_type="application/json"),
                      drop, state)  # fmt: skip
    assert response.drop
    cut = BackendConfig(faults=FaultConfig(rate_truncate=1.0))
    response = answer(_request("POST", "/image/edit", body, content_type="application/json"),
                      cut, state)  # fmt: skip
    assert response.truncate and response.status == 200
