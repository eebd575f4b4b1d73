"""HTTP/1.1 on sockets for the local backend: strict request framing and JSON answers for
every failure; the handler only parses and writes (what to answer is ``_app.answer``'s job).

Stdlib ``ThreadingHTTPServer`` with keep-alive on loopback; the stdlib's own request parsing is
not used, because it answers malformed framing with HTML pages.

Bound beyond loopback (``venice-nb serve --host``) anyone who can reach the port can connect, so
the server also refuses a request whose headers do not authenticate before reading its body
(a 401 costs no memory, whatever ``Content-Length`` says), blocks an address after repeated
failed logins (``_policy.gate``), and serves at most ``MAX_CONNECTIONS`` connections at once
(a clear 503 beyond that, instead of a thread per connection without end).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import re
import selectors
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .._constants import MAX_IMAGE_BYTES
from .._net import is_loopback_host
from . import _policy
from ._api_error import ApiError
from ._app import Request, Response, answer, error_response
from ._limiters import FailureBlocker

if TYPE_CHECKING:
    from ._local import LocalBackend

logger = logging.getLogger("venice_nb.backend")

# Largest request body read (files must be < 25 MB each; base64 adds a third).
MAX_BODY_BYTES = 20 * MAX_IMAGE_BYTES
IDLE_TIMEOUT = 120.0
MAX_LINE = 8192  # request line or chunk-size line
MAX_CONNECTIONS = 64  # served at once when reachable beyond loopback
_LINGER_BYTES = 1 << 20  # read and dropped after an early refusal, so the client sees it
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_LENGTH = re.compile(r"[0-9]{1,15}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")


class _Framing(Exception):
    """The request cannot be read as HTTP/1.1: answer ``error`` and close the connection."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def _malformed(message: str, status: int = 400) -> _Framing:
    code = {408: "REQUEST_TIMEOUT", 413: "PAYLOAD_TOO_LARGE"}.get(status, "INVALID_REQUEST")
    return _Framing(ApiError(status, code, f"Malformed HTTP request: {message}"))


def _body_too_large(size: int) -> _Framing:
    return _Framing(
        ApiError(
            413,
            "PAYLOAD_TOO_LARGE",
            f"Request body is {size:,} bytes or more; the limit is {MAX_BODY_BYTES:,} and "
            f"images must each be smaller than {MAX_IMAGE_BYTES:,} bytes.",
        )
    )


class _Body:
    """Reads a request body against a deadline, so slow or stalled bodies end in a 408."""

    def __init__(self, handler: _Handler, timeout: float) -> None:
        self._rfile = handler.rfile
        self._conn = handler.connection
        self._deadline = time.monotonic() + timeout

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _malformed("the request body did not arrive in time", 408)
        self._conn.settimeout(left)

    def read(self, size: int) -> bytes:
        parts, got = [], 0
        try:
            while got < size:
                self._arm()
                chunk = self._rfile.read1(min(size - got, 1 << 20))
                if not chunk:
                    raise _malformed(f"the body ended after {got} of {size} bytes")
                parts.append(chunk)
                got += len(chunk)
        except TimeoutError:
            raise _malformed("the request body did not arrive in time", 408) from None
        return b"".join(parts)

    def line(self) -> bytes:
        try:
            self._arm()
            line = self._rfile.readline(MAX_LINE + 1)
        except TimeoutError:
            raise _malformed("the request body did not arrive in time", 408) from None
        if len(line) > MAX_LINE or not line.endswith(b"\n"):
            raise _malformed("a chunk-size or trailer line is too long or cut off")
        return line

    def chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            size_text = self.line().split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise _malformed(f"bad chunk size {size_text[:40]!r}")
            size = int(size_text, 16)
            if total + size > MAX_BODY_BYTES:
                raise _body_too_large(total + size)
            if size == 0:
                break
            chunks.append(self.read(size))
            if self.line().strip():
                raise _malformed("a chunk is longer than its declared size")
            total += size
        while self.line().strip():  # trailers
            pass
        return b"".join(chunks)


def origin(server: ThreadingHTTPServer) -> str:
    """``http://host:port`` of a bound server (IPv6 hosts in brackets)."""
    host, port = server.server_address[:2]
    shown = f"[{host!s}]" if ":" in str(host) else str(host)
    return f"http://{shown}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"  # so even an unparseable request gets a status line
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the backend runs inside notebooks and test runs."""

    def send_response(self, code: int, message: str | None = None) -> None:
        # Like the stdlib's, minus the Server header: the wire must look like Venice's.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def handle_one_request(self) -> None:
        """Read one request, answer it; any failure still answers in JSON (a bug: 500)."""
        self.command = ""
        self.request_version = self.default_request_version
        try:
            if not self._read_head():
                return
            refusal = self._gate()
            if refusal is not None:  # refused on its headers: the body is never read
                self.close_connection = True
                self.server.backend.stats.add(requests=1)
                self._write(error_response(refusal))
                self._linger()
                return
            if self.headers.get("Expect", "").lower() == "100-continue" and (
                    self.request_version == "HTTP/1.1"):
                self.send_response_only(100)
                self.end_headers()
            body = self._read_body()
            backend = self.server.backend
            self._write(answer(self._request(body), backend.config, backend.state))
        except _Framing as exc:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._write(error_response(exc.error))
        except OSError:
            self.close_connection = True
        except Exception:
            logger.exception("local backend failed on %s %s", self.command, self.path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._write(
                    error_response(ApiError(500, "INFERENCE_FAILED", "Inference processing failed"))
                )

    # -- parsing -------------------------------------------------------------------------------

    def _read_head(self) -> bool:
        """Request line and headers; False when the peer closed or idled out between requests."""
        self.connection.settimeout(self.timeout)
        try:
            line = self.rfile.readline(MAX_LINE + 1)
        except TimeoutError:
            self.close_connection = True
            return False
        if not line:
            self.close_connection = True
            return False
        self.raw_requestline = line
        self.requestline = line.decode("latin-1").rstrip("\r\n")
        if len(line) > MAX_LINE:
            raise _malformed(f"request line longer than {MAX_LINE} bytes")
        words = self.requestline.split(" ")
        if len(words) != 3 or not _TOKEN.fullmatch(words[0]) or not words[1]:
            raise _malformed(f"bad request line {self.requestline[:80]!r}")
        method, target, version = words
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            raise _malformed(f"unsupported protocol {version[:20]!r}; this server speaks HTTP/1.1")
        self.command, self.path, self.request_version = method, target, version
        try:
            self.headers = http.client.parse_headers(self.rfile)
        except (http.client.HTTPException, UnicodeDecodeError) as exc:
            raise _malformed(f"header section too large or malformed ({exc})") from None
        except TimeoutError:
            raise _malformed("the request headers did not arrive in time", 408) from None
        tokens = {t.strip().lower() for t in self.headers.get("Connection", "").split(",")}
        self.close_connection = "close" in tokens or (
            version == "HTTP/1.0" and "keep-alive" not in tokens
        )
        return True

    def _gate(self) -> ApiError | None:
        """The answer this request gets from its headers alone (``_policy.gate``), if any."""
        config = self.server.backend.config
        if not config.accepted_keys:
            return None
        lengths = self.headers.get_all("Content-Length") or []
        has_body = "Transfer-Encoding" in self.headers or any(
            v.strip() not in ("", "0") for v in lengths)
        return _policy.gate({k.lower(): v for k, v in self.headers.items()}, has_body,
                            self.client_address[0], config, self.server.auth_failures,
                            config.clock())

    def _linger(self) -> None:
        """After an early answer: stop sending, drop (never keep) what the client still sends,
        up to a bound, so its kernel delivers our answer rather than a reset."""
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(1.0)
            dropped = 0
            while dropped < _LINGER_BYTES:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                dropped += len(chunk)

    def _read_body(self) -> bytes:
        """The whole body (Content-Length or chunked), read against the body deadline; a 413
        for oversized bodies before reading them."""
        body = _Body(self, self.server.backend.config.body_timeout)
        encoding = self.headers.get("Transfer-Encoding")
        lengths = self.headers.get_all("Content-Length") or []
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise _malformed(f"unsupported Transfer-Encoding {encoding[:40]!r}")
            if lengths:
                raise _malformed("both Transfer-Encoding and Content-Length")
            return body.chunked()
        if not lengths:
            return b""
        if len(set(lengths)) > 1 or not _LENGTH.fullmatch(lengths[0].strip()):
            raise _malformed(f"bad Content-Length {', '.join(lengths)[:40]!r}")
        length = int(lengths[0])
        if length > MAX_BODY_BYTES:
            raise _body_too_large(length)
        return body.read(length) if length else b""

    def _request(self, body: bytes) -> Request:
        return Request(
            method=self.command,
            target=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            address=self.client_address[0],
            origin=origin(self.server),
            bind=str(self.server.server_address[0]),
        )

    # -- writing -------------------------------------------------------------------------------

    def _write(self, response: Response) -> None:
        stats = self.server.backend.stats
        if response.drop:
            stats.add(dropped=1)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = b"" if self.command == "HEAD" else response.body
        self.send_response(response.status)
        if response.content_type is not None:
            self.send_header("Content-Type", response.content_type)
        if response.status != 204:
            self.send_header("Content-Length", str(len(response.body)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        # Counters change before the bytes that let the client see the outcome, so a client
        # that has its answer always finds it counted.
        stats.add(status=response.status, truncated=int(response.truncate))
        try:
            self.end_headers()
            if response.truncate:
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body[:-1])
            ok = int(response.status == 200)
            stats.add(completed_ok=ok)
            try:
                self.wfile.write(body[-1:])
            except OSError:
                stats.add(completed_ok=-ok)
                raise
        except OSError:
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the stdlib's 5 drops connections when clients burst

    def __init__(self, address: tuple[str, int], backend: LocalBackend) -> None:
        self.backend = backend
        # Failed logins per address (``_policy.gate``), and the connection cap: both only
        # matter where other machines can connect.
        self.auth_failures = FailureBlocker()
        self.max_connections = None if is_loopback_host(address[0]) else MAX_CONNECTIONS
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._stop_requested = False
        self._wake_r, self._wake_w = socket.socketpair()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    def serve(self) -> None:
        """Accept connections until ``request_stop()``; sleeps in select, no polling."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop_requested:
                for key, _ in selector.select():
                    if key.fileobj is self and not self._stop_requested:
                        self.handle_request()  # ready: returns without waiting

    def request_stop(self) -> None:
        self._stop_requested = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            full = self.max_connections is not None and len(self._conns) >= self.max_connections
            if not full:
                self._conns.add(request)
        if full:  # answered here, on the accepting thread: no thread for it
            self._refuse_busy(request)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def _refuse_busy(self, request: socket.socket) -> None:
        err = ApiError(503, "SERVER_BUSY", f"This backend already serves {self.max_connections} "
                       "connections, its limit; retry in a moment (close idle connections).",
                       headers={"Retry-After": "1"})
        response = error_response(err)
        head = [f"HTTP/1.1 503 {http.client.responses[503]}",
                "Content-Type: application/json", f"Content-Length: {len(response.body)}",
                *(f"{k}: {v}" for k, v in response.headers.items()), "Connection: close"]
        self.backend.stats.add(status=503)
        with contextlib.suppress(OSError):
            request.settimeout(1.0)
            request.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
