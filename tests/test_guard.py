"""One failure guard per key: every client of the same base URL and key in a process shares
the 20-failures-in-30-s window (Venice counts per key), and the registry never holds a key."""

from __future__ import annotations

import pytest

import venice_nb as vnb
from venice_nb._backend import FaultConfig, LocalBackend
from venice_nb._client import _failure_guard as _guard

from .conftest import png_bytes


def test_clients_of_one_key_share_one_guard(backend: LocalBackend) -> None:
    backend.config.faults = FaultConfig(rate_500=1.0)
    a, b = (vnb.Client("sk-shared-key", base_url=backend.url, max_retries=0) for _ in range(2))
    other = vnb.Client("sk-other-key", base_url=backend.url, max_retries=0)
    try:
        for _ in range(20):
            with pytest.raises(vnb.InternalServerError):
                a.edit(png_bytes(), "blur")
        assert b._window is a._window and other._window is not a._window
        # A 21st failure would get the key blocked: b, a new client of that key, waits too.
        assert b._window.reserve() > 0
        assert other._window.reserve() == 0.0
        other._window.release(failed=False)
        assert backend.stats.by_status == {500: 20}
    finally:
        for client in (a, b, other):
            client.close()


def test_base_urls_and_credentials_are_told_apart_by_digest() -> None:
    ids = {
        _guard.caller_id("http://a/api/v1", "sk-one"),
        _guard.caller_id("http://a/api/v1/", "sk-one"),
        _guard.caller_id("http://b/api/v1", "sk-one"),
        _guard.caller_id("http://a/api/v1", "sk-two"),
        _guard.caller_id("http://a/api/v1", None),
    }
    assert len(ids) == 4  # a trailing slash is the same base URL
    assert not any("sk-" in i for i in ids)


def test_the_registry_never_holds_a_key(backend: LocalBackend) -> None:
    secret = "sk-never-stored-1234"
    with vnb.Client(secret, base_url=backend.url) as client:
        assert client._window is _guard.window_for(_guard.caller_id(backend.url, secret))
    assert not any(secret in key for key in _guard._WINDOWS)
