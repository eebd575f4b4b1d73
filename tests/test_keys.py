"""The API key never shows up in a repr, an exception, a log line or a pickle."""

from __future__ import annotations

import asyncio
import logging
import pickle
import traceback

import pytest

import venice_nb as vnb
from venice_nb._backend import FaultConfig, LocalBackend

from .conftest import TEST_KEY, sample_path


def _texts_of(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__)) + repr(
        error
    )


def test_key_absent_from_client_repr_and_state(client: vnb.Client) -> None:
    assert TEST_KEY not in repr(client) and TEST_KEY not in str(vars(client))


def test_key_absent_from_errors_and_tracebacks(backend: LocalBackend, client: vnb.Client) -> None:
    errors: list[BaseException] = []
    backend.config.rejected_keys = frozenset({TEST_KEY})
    with pytest.raises(vnb.AuthenticationError) as info:
        client.edit(sample_path(), "blur")
    errors.append(info.value)
    backend.config.rejected_keys = frozenset()
    client.max_retries = 0
    for fault in (
        FaultConfig(rate_500=1.0),
        FaultConfig(rate_drop=1.0),
        FaultConfig(rate_truncate=1.0),
        FaultConfig(rate_429=1.0, retry_after=0),
    ):
        backend.config.faults = fault
        with pytest.raises(vnb.VeniceError) as raised:
            client.edit(sample_path(), "blur")
        errors.append(raised.value)
    with (
        vnb.Client(TEST_KEY, base_url="http://127.0.0.1:9/api/v1", max_retries=0) as dead,
        pytest.raises(vnb.APIConnectionError) as dropped,
    ):
        dead.edit(sample_path(), "blur")
    errors.append(dropped.value)
    for error in errors:
        assert TEST_KEY not in _texts_of(error)
        assert error.__cause__ is None or TEST_KEY not in _texts_of(error.__cause__)


def test_key_absent_from_debug_logs(
    backend: LocalBackend, client: vnb.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend.config.faults = FaultConfig(rate_500=0.5, seed=3)
    client.max_retries = 3
    client.edit(sample_path(), "blur")
    client.models(refresh=True)
    assert caplog.records, "debug logging was captured"
    assert TEST_KEY not in caplog.text


def test_key_absent_from_results(client: vnb.Client) -> None:
    res = client.edit(sample_path(), "blur")
    assert TEST_KEY not in repr(res) and TEST_KEY not in res._repr_html_()
    assert TEST_KEY not in str(res.headers) and TEST_KEY not in str(res.request)


@pytest.mark.parametrize("kind", ["sync", "async", "wallet"])
def test_client_cannot_be_pickled_with_its_key(backend: LocalBackend, kind: str) -> None:
    made: vnb.Client | vnb.AsyncClient
    if kind == "wallet":
        made = vnb.Client(base_url=backend.url, wallet=TEST_KEY)
    else:
        made = (vnb.Client if kind == "sync" else vnb.AsyncClient)(TEST_KEY, base_url=backend.url)
    with pytest.raises(TypeError, match="holds the API key") as info:
        pickle.dumps(made)
    assert TEST_KEY not in _texts_of(info.value)
    with pytest.raises(TypeError):  # nor the key holder on its own
        pickle.dumps(made._secret or made._wallet)
    if isinstance(made, vnb.AsyncClient):
        asyncio.run(made.aclose())
    else:
        made.close()


@pytest.mark.parametrize("bad", ["sk-abc\nevil: 1", " sk-abc", "sk-ünï", "sk-abc\t"])
def test_malformed_keys_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(vnb.ValidationError) as info:
        vnb.Client(bad, base_url="http://127.0.0.1:9/api/v1")
    assert bad.strip() not in _texts_of(info.value) and "strip" in info.value.action
    with pytest.raises(vnb.ValidationError):
        vnb.Client(base_url="http://127.0.0.1:9/api/v1", wallet=bad)
