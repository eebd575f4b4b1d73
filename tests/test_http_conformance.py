"""HTTP/1.1 conformance of the local backend, with raw sockets: whatever arrives on the wire,
the answer is one JSON error in the spec's shape (never an HTML page, never a 500 for bad
input, never a hang), bodies are consumed or the connection is closed, and oversized or slow
bodies end in 413 / 408 without being read in full."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from venice_nb._backend import BackendConfig, LocalBackend

PREFIX = "/api/v1"
# Far above any honest answer on loopback: reaching it means the server hung.
HANG = 20.0


@pytest.fixture
def server() -> Iterator[LocalBackend]:
    with LocalBackend(BackendConfig(rate_limit=10_000, body_timeout=0.5)) as backend:
        yield backend


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self, status: int, code: str | None = None) -> dict[str, Any]:
        """Assert a JSON error in the spec's shape (StandardError: a string ``error``)."""
        assert self.status == status, (self.status, self.body[:200])
        assert self.headers["content-type"] == "application/json"
        payload = json.loads(self.body)
        assert isinstance(payload, dict) and isinstance(payload["error"], str)
        if code is not None:
            assert payload["code"] == code
        return payload


class Wire:
    """One raw TCP connection to the backend."""

    def __init__(self, backend: LocalBackend) -> None:
        host, port = urlsplit(backend.url).hostname, urlsplit(backend.url).port
        self.sock = socket.create_connection((host, port), timeout=HANG)
        self.buffer = b""

    def send(self, data: bytes) -> Wire:
        self.sock.sendall(data)
        return self

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def answer(self, *, head: bool = False) -> Answer:
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"connection closed without an answer: {self.buffer!r}"
        raw_head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = raw_head.decode("latin-1").split("\r\n")
        version, status, _ = status_line.split(" ", 2)
        assert version == "HTTP/1.1"
        headers = {}
        for line in lines:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        length = 0 if head else int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            assert self._fill(), "connection closed in the middle of a body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Answer(int(status), headers, body)

    def closed(self) -> bool:
        """True when the server closed the connection (nothing more arrives)."""
        return not self.buffer and not self._fill()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def wire(server: LocalBackend) -> Iterator[Wire]:
    conn = Wire(server)
    yield conn
    conn.close()


def get(path: str, *extra: str, body: bytes = b"", method: str = "GET") -> bytes:
    lines = [f"{method} {PREFIX}{path} HTTP/1.1", "Host: localhost", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def test_get_with_a_body_consumes_it(wire: Wire) -> None:
    # The body is not read as the next request: one answer per request.
    wire.send(get("/models?type=inpaint", "Content-Length: 16", body=b"GET /x HTTP/1.1\n"))
    wire.send(get("/models?type=upscale"))
    first, second = wire.answer(), wire.answer()
    assert first.status == 200 and json.loads(first.body)["type"] == "inpaint"
    assert second.status == 200 and json.loads(second.body)["type"] == "upscale"


def test_head_is_get_without_the_body(wire: Wire) -> None:
    wire.send(get("/models?type=inpaint", method="HEAD")).send(get("/models?type=inpaint"))
    head, full = wire.answer(head=True), wire.answer()
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(full.body)) != "0"
    assert head.headers["content-type"] == full.headers["content-type"] == "application/json"


def test_options_lists_the_methods(wire: Wire) -> None:
    wire.send(get("/image/edit", method="OPTIONS")).send(get("/models", method="OPTIONS"))
    edit, models = wire.answer(), wire.answer()
    assert (edit.status, edit.headers["allow"]) == (204, "POST, OPTIONS")
    assert (models.status, models.headers["allow"]) == (204, "GET, HEAD, OPTIONS")
    assert edit.body == b"" and "content-length" not in edit.headers


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE", "BREW"])
def test_other_methods_get_405_with_allow(wire: Wire, method: str) -> None:
    wire.send(get("/image/edit", "Content-Length: 2", body=b"{}", method=method))
    wire.answer().error(405, "METHOD_NOT_ALLOWED")
    wire.send(get("/models", method=method))
    answer = wire.answer()
    answer.error(405, "METHOD_NOT_ALLOWED")
    assert answer.headers["allow"] == "GET, HEAD, OPTIONS"
    wire.send(get("/nowhere", method=method))
    wire.answer().error(404, "NOT_FOUND")


@pytest.mark.parametrize(
    "request_line",
    [
        b"GARBAGE",
        b"GET",
        b"GET /api/v1/models",  # HTTP/0.9
        b"GET  /api/v1/models HTTP/1.1",
        b"GET /api/v1/models HTTP/2.0",
        b"GET /api/v1/models HTTP/1.1.1",
        b"G\x00T /api/v1/models HTTP/1.1",
        b"GET /api/v1/models " + b"A" * 9000,
        b"\xff\xfe\x00",
    ],
)
def test_malformed_request_lines_get_400_and_close(wire: Wire, request_line: bytes) -> None:
    wire.send(request_line + b"\r\nHost: x\r\n\r\n")
    wire.answer().error(400, "INVALID_REQUEST")
    assert wire.closed()


def test_oversized_header_line_and_too_many_headers(server: LocalBackend) -> None:
    for extra in (["X-Big: " + "a" * 70_000], [f"X-H{i}: {i}" for i in range(150)]):
        conn = Wire(server)
        conn.send(get("/models", *extra)).answer().error(400, "INVALID_REQUEST")
        assert conn.closed()
        conn.close()


@pytest.mark.parametrize("length", ["-5", "-1", "+3", "0x10", "abc", "", "3, 4"])
def test_bad_content_length_gets_400_and_close(wire: Wire, length: str) -> None:
    wire.send(get("/image/edit", f"Content-Length: {length}", body=b"abc"))
    wire.answer().error(400, "INVALID_REQUEST")
    assert wire.closed()


def test_conflicting_framing_and_unknown_transfer_coding(server: LocalBackend) -> None:
    for extra in (["Content-Length: 3", "Transfer-Encoding: chunked"],
                  ["Transfer-Encoding: gzip"],
                  ["Content-Length: 3", "Content-Length: 4"]):  # fmt: skip
        conn = Wire(server)
        conn.send(get("/image/edit", *extra, body=b"3\r\nabc\r\n0\r\n\r\n", method="POST"))
        conn.answer().error(400, "INVALID_REQUEST")
        assert conn.closed()
        conn.close()


def test_huge_declared_length_is_refused_before_reading(wire: Wire) -> None:
    wire.send(get("/image/edit", f"Content-Length: {10**12}", method="POST"))
    answer = wire.answer()
    assert "limit" in answer.error(413, "PAYLOAD_TOO_LARGE")["error"]
    assert wire.closed()


@pytest.mark.parametrize(
    ("chunk", "status"),
    [(b"FFFFFFFFFFFF", 413), (b"1" * 40, 400), (b"-5", 400), (b"zz", 400), (b"", 400)],
)
def test_bad_chunk_sizes(wire: Wire, chunk: bytes, status: int) -> None:
    head = get("/image/edit", "Transfer-Encoding: chunked", method="POST")
    wire.send(head + chunk + b"\r\nabc\r\n0\r\n\r\n")
    wire.answer().error(status)
    assert wire.closed()


def test_chunk_longer_than_declared(wire: Wire) -> None:
    head = get("/image/edit", "Transfer-Encoding: chunked", method="POST")
    wire.send(head + b"2\r\nabcdef\r\n0\r\n\r\n")
    wire.answer().error(400, "INVALID_REQUEST")


def test_body_that_stops_halfway_times_out_with_408(wire: Wire) -> None:
    wire.send(get("/image/edit", "Content-Length: 1000", "Content-Type: application/json",
                  body=b'{"prompt": "', method="POST"))  # fmt: skip
    wire.answer().error(408, "REQUEST_TIMEOUT")
    assert wire.closed()


def test_chunked_body_that_stalls_times_out_with_408(wire: Wire) -> None:
    head = get("/image/edit", "Transfer-Encoding: chunked", method="POST")
    wire.send(head + b"100\r\nabc")
    wire.answer().error(408, "REQUEST_TIMEOUT")


def test_body_cut_by_the_client_leaves_the_server_serving(server: LocalBackend) -> None:
    conn = Wire(server)
    conn.send(get("/image/edit", "Content-Length: 1000", body=b"{", method="POST"))
    conn.sock.shutdown(socket.SHUT_WR)
    conn.answer().error(400, "INVALID_REQUEST")
    conn.close()
    fresh = Wire(server)
    assert fresh.send(get("/models?type=inpaint")).answer().status == 200
    fresh.close()


def test_empty_model_type_is_a_400(wire: Wire) -> None:
    payload = wire.send(get("/models?type=")).answer().error(400, "INVALID_REQUEST")
    assert "type" in payload["details"]


def test_keep_alive_survives_errors_that_are_not_framing(wire: Wire) -> None:
    body = b'{"prompt": "x"}'
    wire.send(get("/image/edit", "Content-Type: application/json",
                  f"Content-Length: {len(body)}", body=body, method="POST"))  # fmt: skip
    wire.answer().error(400, "INVALID_REQUEST")
    wire.send(get("/models?type=inpaint"))
    assert wire.answer().status == 200


def test_http_1_0_closes_after_the_answer(wire: Wire) -> None:
    wire.send(f"GET {PREFIX}/models?type=inpaint HTTP/1.0\r\n\r\n".encode())
    assert wire.answer().status == 200
    assert wire.closed()


def test_expect_100_continue(wire: Wire) -> None:
    wire.send(get("/models?type=inpaint", "Expect: 100-continue", "Content-Length: 2"))
    assert wire.answer().status == 100
    wire.send(b"{}")
    assert wire.answer().status == 200
