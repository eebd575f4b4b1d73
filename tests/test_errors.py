"""Every error status becomes its own typed error carrying the server's text and an action."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

import venice_nb as vnb
from venice_nb._backend import FaultConfig, LocalBackend
from venice_nb._exceptions import error_from_response
from venice_nb._headers import header_int, header_number, parse_retry_after

from ._spec import SpecCheckingTransport
from .conftest import TEST_KEY, sample_path


def _raw_post(backend: LocalBackend, path: str, **kwargs: Any) -> httpx.Response:
    """A request the client would never send, straight at the backend."""
    return httpx.post(f"{backend.url}{path}", timeout=30, **kwargs)


def _typed(backend: LocalBackend, response: httpx.Response) -> vnb.VeniceError:
    headers = {k.lower(): v for k, v in response.headers.items()}
    return error_from_response(response.status_code, headers, response.content)


def test_400_bad_request_has_field_details(backend: LocalBackend) -> None:
    resp = _raw_post(backend, "/image/edit", json={"prompt": "x", "image": "AAAA", "colour": 1})
    err = _typed(backend, resp)
    assert isinstance(err, vnb.BadRequestError) and err.status == 400
    assert err.details and "colour" in json.dumps(err.details)
    assert "colour" in str(err) and "check image count, field names" in err.action


def test_401_rejected_key(backend: LocalBackend, client: vnb.Client) -> None:
    backend.config.rejected_keys = frozenset({TEST_KEY})
    with pytest.raises(vnb.AuthenticationError) as info:
        client.edit(sample_path(), "blur")
    assert info.value.status == 401 and "API key" in info.value.action


@pytest.mark.parametrize("wallet", [False, True])
def test_402_when_balance_is_spent(backend: LocalBackend, wallet: bool) -> None:
    backend.config.balance_usd = 0.0
    kwargs = {"wallet": "siwx-abc"} if wallet else {"api_key": TEST_KEY}
    with (
        vnb.Client(base_url=backend.url, **kwargs) as c,
        pytest.raises(vnb.InsufficientBalanceError) as info,
    ):
        c.edit(sample_path(), "blur", model="qwen-image-2-edit")
    err = info.value
    assert "venice.ai/settings/api" in err.action
    if wallet:
        assert err.code == "PAYMENT_REQUIRED"
        assert isinstance(err.payment_required, dict)
        assert err.top_up_instructions
    else:
        assert err.code == "INSUFFICIENT_BALANCE" and err.payment_required is None


def test_413_payload_too_large(backend: LocalBackend) -> None:
    blob = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(25_000_000)).decode()
    err = _typed(backend, _raw_post(backend, "/image/edit", json={"prompt": "x", "image": blob}))
    assert isinstance(err, vnb.PayloadTooLargeError) and "25 MB" in err.action


def test_415_wrong_content_type(backend: LocalBackend) -> None:
    err = _typed(
        backend,
        _raw_post(
            backend, "/image/edit", content=b"prompt=x", headers={"content-type": "text/plain"}
        ),
    )
    assert isinstance(err, vnb.UnsupportedMediaTypeError)
    assert "JSON or multipart" in err.action


def test_422_content_policy(client: vnb.Client) -> None:
    with pytest.raises(vnb.ContentPolicyError) as info:
        client.edit(sample_path(), "make it nsfw", model="qwen-image-2-edit")
    assert info.value.status == 422 and info.value.message


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        (FaultConfig(rate_429=1.0, retry_after=0), vnb.RateLimitError),
        (FaultConfig(rate_500=1.0), vnb.InternalServerError),
        (FaultConfig(rate_503=1.0), vnb.ModelAtCapacityError),
    ],
)
def test_retryable_statuses_raise_typed_errors_after_retries(
    backend: LocalBackend,
    client: vnb.Client,
    transport: SpecCheckingTransport,
    fault: FaultConfig,
    cls: type[vnb.APIStatusError],
) -> None:
    backend.config.faults = fault
    client.max_retries = 1
    waits: list[float] = []
    client._sleep = waits.append  # the backoff is recorded, not waited out
    with pytest.raises(cls) as info:
        client.edit(sample_path(), "blur")
    assert len(transport.posts) == 2, "one try plus one retry"
    assert len(waits) == 1 and 0 <= waits[0] <= 0.5
    assert info.value.action
    if isinstance(info.value, vnb.RateLimitError):
        assert info.value.retry_after == 0


def test_dropped_connection_is_api_connection_error(
    backend: LocalBackend, client: vnb.Client
) -> None:
    backend.config.faults = FaultConfig(rate_drop=1.0)
    client.max_retries = 0
    with pytest.raises(vnb.APIConnectionError):
        client.edit(sample_path(), "blur")


def test_truncated_body_is_never_returned_as_an_image(
    backend: LocalBackend, client: vnb.Client
) -> None:
    backend.config.faults = FaultConfig(rate_truncate=1.0)
    client.max_retries = 0
    with pytest.raises(vnb.APIConnectionError):
        client.edit(sample_path(), "blur")


def test_timeout_is_api_timeout_error(backend: LocalBackend) -> None:
    backend.config.latency = 5.0
    with (
        vnb.Client(TEST_KEY, base_url=backend.url, timeout=0.2, max_retries=0) as c,
        pytest.raises(vnb.APITimeoutError) as info,
    ):
        c.edit(sample_path(), "blur")
    assert "timeout=" in info.value.action


def test_nothing_listening_is_connection_error() -> None:
    with (
        vnb.Client(TEST_KEY, base_url="http://127.0.0.1:9/api/v1", max_retries=0) as c,
        pytest.raises(vnb.APIConnectionError),
    ):
        c.models()


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (403, vnb.PermissionDeniedError, "API_ACCESS_DISABLED"),
        (504, vnb.GatewayTimeoutError, "REQUEST_TIMEOUT"),
        (404, vnb.NotFoundError, None),
        (502, vnb.InternalServerError, None),
    ],
)
def test_statuses_the_local_backend_never_sends(
    status: int, cls: type[vnb.APIStatusError], code: str
) -> None:
    """Venice sends these; the mapping is a pure function of the answer."""
    body = json.dumps({"error": "the server said so", **({"code": code} if code else {})}).encode()
    err = error_from_response(status, {"content-type": "application/json"}, body)
    assert type(err) is cls and err.status == status and "the server said so" in str(err)
    assert err.action


def test_every_error_is_a_venice_error() -> None:
    for name in vnb._ERRORS:
        assert issubclass(getattr(vnb, name), vnb.VeniceError)


@pytest.mark.parametrize("value", ["", "abc", "nan", "inf", "-inf", "1e999", " ", "0x10"])
def test_garbled_number_headers_read_as_absent(value: str) -> None:
    """A proxy may mangle a header: a paid answer must still come back, with the fact unknown."""
    headers = {"x-ratelimit-limit-requests": value, "x-balance-remaining": value}
    assert header_number(headers, "x-balance-remaining") is None
    assert header_int(headers, "x-ratelimit-limit-requests") is None
    err = error_from_response(429, {"retry-after": value}, b"{}")
    assert getattr(err, "retry_after", None) is None


def test_number_headers_and_retry_after_read_the_usual_forms() -> None:
    headers = {"x-ratelimit-limit-requests": "20.0", "x-balance-remaining": "1.25"}
    assert header_int(headers, "x-ratelimit-limit-requests") == 20
    assert header_number(headers, "x-balance-remaining") == 1.25
    assert header_number(None, "x-balance-remaining") is None
    assert parse_retry_after("7") == 7.0 and parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 99 Foo 2015") is None
