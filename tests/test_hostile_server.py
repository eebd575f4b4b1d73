"""``venice-nb serve`` beyond loopback, attacked from another host.

The other host is a network namespace joined to this one by a veth pair (as the
serve-beyond-loopback test in ``test_effects.py`` makes it): the server sees a caller that is not
on its machine. The caller speaks raw HTTP over sockets, so the tests see exactly what the server
does with headers whose body never comes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from venice_nb._backend import BackendConfig, LocalBackend
from venice_nb._backend._limiters import FailureBlocker
from venice_nb._backend._policy import AUTH_FAILURE_BLOCK, gate, key_matches
from venice_nb._backend._server import MAX_CONNECTIONS

KEY = "s3cret-served-key"
EDIT = "/api/v1/image/edit"


# What the other host runs: raw requests, each answer's status line and JSON error.
_CLIENT = r"""
import json, socket, sys
host, port, requests, hold = json.loads(sys.argv[1])
held, out = [], []
def answer(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (l.split(": ", 1) for l in lines[1:] if ": " in l)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return [int(lines[0].split()[1]) if lines[0] else 0, body.decode("utf-8", "replace"),
            headers.get("retry-after")]
for _ in range(hold):  # connections kept open, each with one request served
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer(s)[0] == 200
    held.append(s)
for head in requests:
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(head.encode("latin-1"))
    out.append(answer(s))
    s.close()
print(json.dumps(out))
"""


def _from(prefix: list[str], server: LocalBackend, requests: list[str], hold: int = 0
          ) -> list[tuple[int, str, str | None]]:
    host, port = server.url.split("//")[1].split("/")[0].rsplit(":", 1)
    out = subprocess.run(
        [*prefix, sys.executable, "-c", _CLIENT, json.dumps([host, int(port), requests, hold])],
        check=True, capture_output=True, text=True, timeout=300,
    )
    return [(int(s), str(b), r) for s, b, r in json.loads(out.stdout)]


def _post(length: int, key: str | None = None) -> str:
    """The head of a POST whose body (of ``length`` bytes) is never sent."""
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (f"POST {EDIT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {length}\r\n\r\n")


def test_an_unauthenticated_body_is_refused_on_its_headers_alone(
        remote_host: tuple[str, list[str]]) -> None:
    address, on_remote = remote_host
    config = BackendConfig(require_auth=True, accepted_keys=frozenset({KEY}))
    with LocalBackend(config, host=address) as server:
        # 429 MB announced, not one byte sent: the answer comes from the headers.
        answers = _from(on_remote, server, [_post(429_000_000), _post(429_000_000, "guess"),
                                            _post(429_000_000, KEY + "x")])
    assert [a[0] for a in answers] == [401, 401, 401]
    assert "Authentication required" in answers[0][1]
    assert "VENICE_NB_SERVE_KEY" in answers[1][1] and KEY not in answers[2][1]


def test_repeated_failed_logins_block_the_address(remote_host: tuple[str, list[str]]) -> None:
    address, on_remote = remote_host
    now = [1_000_000.0]
    config = BackendConfig(require_auth=True, accepted_keys=frozenset({KEY}),
                           clock=lambda: now[0])
    count, _, duration = AUTH_FAILURE_BLOCK
    guesses = [_post(10, f"guess-{i}") for i in range(count + 1)]
    with LocalBackend(config, host=address) as server:
        answers = _from(on_remote, server, [*guesses, _post(10, "guess-again"), _post(10, KEY)])
        assert [a[0] for a in answers[:count + 1]] == [401] * (count + 1)
        blocked = answers[count + 1:]
        assert [a[0] for a in blocked] == [429, 429]  # even the right key, from there
        assert "failed logins" in blocked[0][1] and blocked[0][2] == str(int(duration))
        # Another address (this host) is not blocked by what that one did.
        ok = httpx.get(f"{server.url}/billing/balance",
                       headers={"Authorization": f"Bearer {KEY}"}, trust_env=False)
        assert ok.status_code == 200
        now[0] += duration + 1  # the block ends
        balance = ("GET /api/v1/billing/balance HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {KEY}\r\n\r\n")
        assert _from(on_remote, server, [balance])[0][0] == 200


def test_connections_beyond_the_cap_get_a_clear_503(remote_host: tuple[str, list[str]]) -> None:
    address, on_remote = remote_host
    config = BackendConfig(require_auth=True, accepted_keys=frozenset({KEY}))
    with LocalBackend(config, host=address) as server:
        head = "GET /api/v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
        (status, body, retry), = _from(on_remote, server, [head], hold=MAX_CONNECTIONS)
        assert (status, retry) == (503, "1") and "limit" in body
        assert _from(on_remote, server, [head])[0][0] == 200  # held ones closed: served again


def test_keys_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every served key is compared, each with ``hmac.compare_digest`` on equal-length digests
    (no early exit a timer could see)."""
    import hmac

    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module _policy calls
    keys = frozenset({KEY, "another-key", "k"})
    assert key_matches(KEY, keys) and not key_matches(KEY[:-1], keys)
    assert not key_matches("ключ", keys)  # any text, never an exception
    assert compared == [(32, 32)] * 9


def test_the_gate_lets_bodyless_anonymous_reads_through() -> None:
    config = BackendConfig(require_auth=True, accepted_keys=frozenset({KEY}))
    failures = FailureBlocker()
    assert gate({}, False, "10.0.0.2", config, failures, 0.0) is None  # GET /models
    refused = gate({}, True, "10.0.0.2", config, failures, 0.0)
    assert refused is not None and refused.status == 401
    assert gate({"authorization": f"Bearer {KEY}"}, True, "10.0.0.2", config, failures,
                0.0) is None
    assert gate({}, True, "10.0.0.2", BackendConfig(), failures, 0.0) is None  # loopback use
