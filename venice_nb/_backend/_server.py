"""The local Venice-compatible HTTP server: LocalBackend, shared_backend() and serve_forever().

Stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive on loopback. Per image request:
auth -> failed-request block -> rate limit -> parse and validate -> content policy -> balance ->
simulated latency -> injected fault -> local model -> charge -> response.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import math
import selectors
import socket
import threading
from collections.abc import Callable
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._constants import (
    AUTH_HEADER,
    BACKGROUND_REMOVE_PATH,
    EDIT_PATH,
    H_BALANCE_REMAINING,
    H_RATELIMIT_LIMIT,
    H_RATELIMIT_REMAINING,
    H_RATELIMIT_RESET,
    H_RETRY_AFTER,
    LOCAL_NAME_SUFFIX,
    MAX_IMAGE_BYTES,
    MODELS_PATH,
    MULTI_EDIT_PATH,
    SIWX_HEADER,
    SIWX_LEGACY_HEADER,
)
from . import _service
from ._catalog import BACKGROUND_REMOVE_USD, DEFAULT_LIST_TYPE, LIST_TYPES, served_models
from ._config import BackendConfig
from ._errors import ApiError, bad_request
from ._guards import BackendStats, FailureBlocker, FaultInjector, RateLimiter, RateState
from ._inputs import FetchPolicy
from ._payment import insufficient_balance, payment_required

logger = logging.getLogger("venice_nb.backend")

API_PREFIX = "/api/v1"
IMAGE_PATHS = (EDIT_PATH, MULTI_EDIT_PATH, BACKGROUND_REMOVE_PATH)
# Largest request body read (files must be < 25 MB each; base64 adds a third).
MAX_BODY_BYTES = 20 * MAX_IMAGE_BYTES
IDLE_TIMEOUT = 120.0


class _Drop(Exception):
    """Close the connection without a response (injected fault)."""


def _seconds(value: float) -> str:
    """A Retry-After value: whole seconds when integral, else up to 3 decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")


def _body_too_large(size: int) -> ApiError:
    return ApiError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"Request body is {size:,} bytes; images must each be smaller than "
        f"{MAX_IMAGE_BYTES:,} bytes.",
    )


def _rate_headers(state: RateState) -> dict[str, str]:
    return {
        H_RATELIMIT_LIMIT: str(state.limit),
        H_RATELIMIT_REMAINING: str(state.remaining),
        H_RATELIMIT_RESET: f"{state.reset:.3f}",  # Unix seconds, to the millisecond
    }


class _Auth:
    """Who is calling: ``kind`` is "none", "bearer" or "wallet"; ``caller`` keys the limits."""

    def __init__(self, kind: str, secret: str, address: str) -> None:
        self.kind = kind
        digest = hashlib.sha256(secret.encode()).hexdigest()[:16]
        self.caller = f"{kind}:{digest}" if kind != "none" else f"ip:{address}"


def _not_the_served_key() -> ApiError:
    return ApiError(
        401,
        "AUTHENTICATION_FAILED",
        "Authentication failed: this backend accepts only the key it was started with "
        "(VENICE_NB_SERVE_KEY); send it as 'Authorization: Bearer <key>'.",
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: _Server

    # -- plumbing ------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the backend runs inside notebooks and test runs."""

    def send_response(self, code: int, message: str | None = None) -> None:
        # Like the stdlib's, minus the Server header: the wire must look like Venice's.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def _read_body(self) -> bytes:
        """The whole request body (Content-Length or chunked), refusing absurd sizes with 413
        after draining them, so the client gets to read the answer."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise bad_request("the Content-Length header is not a number") from None
        if length > MAX_BODY_BYTES:
            remaining = length
            while remaining > 0 and (chunk := self.rfile.read(min(remaining, 1 << 20))):
                remaining -= len(chunk)
            raise _body_too_large(length)
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        try:
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
                total += size
                if total > MAX_BODY_BYTES:
                    self.close_connection = True
                    raise _body_too_large(total)
        except ValueError:
            self.close_connection = True
            raise bad_request("malformed chunked request body") from None
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(chunks)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str],
        *,
        truncate: bool = False,
    ) -> None:
        stats = self.server.backend.stats
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        # Counters change before the bytes that let the client see the outcome, so a client
        # that has its answer always finds it counted.
        stats.add(status=status, truncated=int(truncate))
        try:
            self.end_headers()
            if truncate:
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body[:-1])
            ok = int(status == 200)
            stats.add(completed_ok=ok)
            try:
                self.wfile.write(body[-1:])
            except OSError:
                stats.add(completed_ok=-ok)
                raise
        except OSError:
            self.close_connection = True

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode("utf-8")
        self._send(status, body, "application/json", headers or {})

    def _send_error(self, err: ApiError, headers: dict[str, str]) -> None:
        self._send_json(err.status, err.body(), {**headers, **err.headers})

    def _route(self) -> str:
        """The endpoint path below /api/v1 ("" when the path is outside the API)."""
        path = urlsplit(self.path).path.rstrip("/")
        return path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else ""

    def _not_found_or_not_allowed(self, route: str) -> None:
        if route in (*IMAGE_PATHS, MODELS_PATH):
            allow = "GET" if route == MODELS_PATH else "POST"
            err = ApiError(405, "METHOD_NOT_ALLOWED", f"Use {allow} for {API_PREFIX}{route}.")
            self._send_error(err, {"Allow": allow})
        else:
            shown = urlsplit(self.path).path
            self._send_error(ApiError(404, "NOT_FOUND", f"No such endpoint: {shown}"), {})

    # -- HTTP methods --------------------------------------------------------------------------

    def handle_one_request(self) -> None:
        """The stdlib's, plus: a bug in the local backend answers 500 instead of hanging up."""
        try:
            super().handle_one_request()
        except OSError:
            self.close_connection = True
        except Exception:
            logger.exception("local backend failed on %s %s", self.command, self.path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send_error(
                    ApiError(500, "INFERENCE_FAILED", "Inference processing failed"), {}
                )

    def do_GET(self) -> None:
        self.server.backend.stats.add(requests=1)
        path = self._route()
        if path != MODELS_PATH:
            self._not_found_or_not_allowed(path)
            return
        query = parse_qs(urlsplit(self.path).query)
        list_type = query.get("type", [DEFAULT_LIST_TYPE])[0]
        if list_type not in LIST_TYPES:
            self._send_error(
                bad_request(
                    f"unknown model type {list_type!r}; use one of " + ", ".join(LIST_TYPES),
                    field="type",
                ),
                {},
            )
            return
        data = served_models(list_type, self.server.backend.config.deprecated_models)
        self._send_json(200, {"object": "list", "type": list_type, "data": data})

    def do_POST(self) -> None:
        self.server.backend.stats.add(requests=1)
        path = self._route()
        if path not in IMAGE_PATHS:
            self._read_body_quietly()
            self._not_found_or_not_allowed(path)
            return
        try:
            self._image_request(path)
        except _Drop:
            self.server.backend.stats.add(dropped=1)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def _other(self) -> None:
        self.server.backend.stats.add(requests=1)
        self._read_body_quietly()
        self._not_found_or_not_allowed(self._route())

    do_PUT = do_PATCH = do_DELETE = _other

    def _read_body_quietly(self) -> None:
        try:
            self._read_body()
        except ApiError:
            self.close_connection = True

    # -- the image endpoints -------------------------------------------------------------------

    def _authenticate(self, config: BackendConfig) -> _Auth:
        address = self.client_address[0]
        authz = self.headers.get(AUTH_HEADER)
        wallet = self.headers.get(SIWX_HEADER) or self.headers.get(SIWX_LEGACY_HEADER)
        if authz:
            scheme, _, token = authz.strip().partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise ApiError(
                    401,
                    "AUTHENTICATION_FAILED",
                    "Authentication failed: the Authorization header must be 'Bearer <API key>'.",
                )
            if config.accepted_keys and token not in config.accepted_keys:
                raise _not_the_served_key()
            if token in config.rejected_keys:
                raise ApiError(
                    401,
                    "AUTHENTICATION_FAILED",
                    "Authentication failed: the API key was rejected. Check the key "
                    "(VENICE_API_KEY) or create a new one at https://venice.ai/settings/api.",
                )
            return _Auth("bearer", token, address)
        if wallet:
            if config.accepted_keys:
                raise _not_the_served_key()
            if wallet in config.rejected_keys:
                raise ApiError(
                    401,
                    "AUTHENTICATION_FAILED",
                    f"Authentication failed: the {SIWX_HEADER} credential was rejected; "
                    "sign in with your wallet again.",
                )
            return _Auth("wallet", wallet, address)
        if config.require_auth:
            raise ApiError(
                401,
                "AUTHENTICATION_FAILED",
                f"Authentication required: send 'Authorization: Bearer <API key>' or a "
                f"{SIWX_HEADER} header.",
            )
        return _Auth("none", "", address)

    def _image_request(self, path: str) -> None:
        backend = self.server.backend
        config = backend.config
        now = config.clock()
        caller = f"ip:{self.client_address[0]}"
        rate = backend.limiter.peek(caller, config.rate_limit, config.rate_window, now)
        counts_as_failure = True
        try:
            body = self._read_body()
            auth = self._authenticate(config)
            caller = auth.caller
            rate = backend.limiter.peek(caller, config.rate_limit, config.rate_window, now)
            blocked = backend.blocker.blocked_for(caller, now)
            if blocked > 0:
                counts_as_failure = False
                count, window, _ = config.failure_block
                raise ApiError(
                    429,
                    "RATE_LIMIT_EXCEEDED",
                    f"Too many failed requests (more than {count} in {window:g} s); this caller "
                    f"is blocked for {math.ceil(blocked)} more seconds. Fix the failing "
                    "requests, then retry after Retry-After.",
                    headers={H_RETRY_AFTER: str(math.ceil(blocked))},
                )
            allowed, rate = backend.limiter.hit(caller, config.rate_limit, config.rate_window, now)
            if not allowed:
                wait = max(1, math.ceil(rate.reset - now))
                raise ApiError(
                    429,
                    "RATE_LIMIT_EXCEEDED",
                    f"Rate limit exceeded: {config.rate_limit} requests per "
                    f"{config.rate_window:g} s. Retry after {wait} s.",
                    headers={H_RETRY_AFTER: str(wait)},
                )
            rendered, truncate = self._run(path, body, config, auth, now)
        except ApiError as err:
            if counts_as_failure:
                backend.blocker.record_failure(caller, config.clock(), config.failure_block)
            self._send_error(err, _rate_headers(rate))
            return
        self._send(
            200,
            rendered.body,
            rendered.content_type,
            {**rendered.headers, **_rate_headers(rate)},
            truncate=truncate,
        )

    def _run(
        self, path: str, body: bytes, config: BackendConfig, auth: _Auth, now: float
    ) -> tuple[_service.Rendered, bool]:
        """Validate, check policy and balance, simulate latency and faults, render, charge."""
        backend = self.server.backend
        content_type = self.headers.get("Content-Type")
        fetch = FetchPolicy(
            str(self.server.server_address[0]), self.client_address[0], config.allow_remote_fetch
        )
        render: Callable[[], _service.Rendered]
        if path == BACKGROUND_REMOVE_PATH:
            image = _service.prepare_background_remove(content_type, body, fetch)
            price = BACKGROUND_REMOVE_USD
            render = partial(_service.render_background_remove, image)
        else:
            job, images = _service.prepare_edit(
                content_type, body, multi=path == MULTI_EDIT_PATH, fetch=fetch
            )
            violation = _service.policy_violation(job, config.content_policy_words)
            price = job.price_usd
            render = partial(
                _service.render_edit,
                job,
                images,
                violation=violation,
                deprecated=config.deprecated_models,
            )
        self._check_balance(config, auth, price, path, now)
        if config.latency > 0:
            backend.stopping.wait(config.latency)
        fault = backend.faults.draw(config.faults)
        if fault == "drop":
            raise _Drop
        if fault == "429":
            raise ApiError(
                429,
                "RATE_LIMIT_EXCEEDED",
                "Too many requests right now; retry after Retry-After seconds.",
                headers={H_RETRY_AFTER: _seconds(config.faults.retry_after)},
            )
        if fault == "500":
            raise ApiError(500, "INFERENCE_FAILED", "Inference processing failed; retry.")
        if fault == "503":
            raise ApiError(
                503, "MODEL_AT_CAPACITY", "The model is at capacity. Please try again later."
            )
        rendered = render()
        if not backend.charge(config, price):
            self._check_balance(config, auth, price, path, now)  # raced below the price: 402
        balance = config.balance_usd
        if auth.kind == "wallet" and balance is not None:
            rendered.headers[H_BALANCE_REMAINING] = f"{balance:.6f}"
        return rendered, fault == "truncate"

    def _check_balance(
        self, config: BackendConfig, auth: _Auth, price: float, path: str, now: float
    ) -> None:
        balance = config.balance_usd
        if balance is None or balance + 1e-9 >= price:
            return
        if auth.kind == "wallet":
            host, port = self.server.server_address[:2]
            url = f"http://{host!s}:{port}{API_PREFIX}{path}"
            raise payment_required(balance, price, url, now)
        raise insufficient_balance(balance, price)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the stdlib's 5 drops connections when clients burst

    def __init__(self, address: tuple[str, int], backend: LocalBackend) -> None:
        self.backend = backend
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
                        # socketserver's own one-request step; typeshed does not list it
                        self._handle_request_noblock()  # type: ignore[attr-defined]

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
            self._conns.add(request)
        super().process_request(request, client_address)

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


class LocalBackend:
    """A Venice-compatible server on loopback, started in a daemon thread.

    ``config`` is live (the server reads it per request); ``stats`` counts what happened.
    Use ``with LocalBackend(...) as b:`` or ``start()``/``stop()``.
    """

    def __init__(
        self, config: BackendConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config if config is not None else BackendConfig()
        self.stats = BackendStats()
        self.limiter = RateLimiter()
        self.blocker = FailureBlocker()
        self.faults = FaultInjector()
        self.stopping = threading.Event()
        self._host, self._port = host, port
        self._money = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _bind(self) -> _Server:
        if self._server is not None:
            raise RuntimeError("this LocalBackend is already running")
        self.stopping.clear()
        self._server = _Server((self._host, self._port), self)
        _running_urls.add(self.url)
        return self._server

    def start(self) -> LocalBackend:
        """Bind (port 0 = a free port) and serve in a daemon thread; returns self."""
        server = self._bind()
        self._thread = threading.Thread(
            target=server.serve,
            name=f"venice_nb-local-backend:{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; safe to call twice."""
        if self._server is None:
            return
        _running_urls.discard(self.url)
        server, self._server = self._server, None
        self.stopping.set()
        server.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        server.server_close()
        server.close_connections()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT/api/v1``."""
        if self._server is None:
            raise RuntimeError("LocalBackend is not running; call start() first")
        host, port = self._server.server_address[:2]
        shown = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}{API_PREFIX}"

    def reset_stats(self) -> None:
        self.stats.reset()

    def reset_limits(self) -> None:
        """Forget rate-limit windows and failed-request blocks."""
        self.limiter.clear()
        self.blocker.clear()

    def charge(self, config: BackendConfig, price: float) -> bool:
        """Deduct ``price`` from ``config.balance_usd`` (None = unlimited) atomically;
        False when the balance no longer covers it."""
        with self._money:
            balance = config.balance_usd
            if balance is not None:
                if balance + 1e-9 < price:
                    return False
                config.balance_usd = round(max(0.0, balance - price), 6)
            self.stats.add(charged_usd=price)
            return True

    def __enter__(self) -> LocalBackend:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.running else "not running"
        return f"LocalBackend({where})"


_running_urls: set[str] = set()


def serves(url: str) -> bool:
    """True when a LocalBackend in this process serves ``url`` (its base URL)."""
    return url.rstrip("/") in _running_urls


_shared: LocalBackend | None = None
_shared_lock = threading.Lock()


def shared_backend() -> LocalBackend:
    """The process-wide local backend, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = LocalBackend().start()
            atexit.register(_shared.stop)
        return _shared


def serve_forever(
    host: str = "127.0.0.1", port: int = 8765, config: BackendConfig | None = None
) -> None:
    """Serve in the foreground until Ctrl-C (``venice-nb serve``)."""
    backend = LocalBackend(config, host=host, port=port)
    server = backend._bind()
    print(
        f"venice_nb local backend (offline stand-in for Venice; model names end with "
        f"{LOCAL_NAME_SUFFIX.strip()!r}) serving {backend.url}\n"
        f"Point a client at it with VENICE_BASE_URL={backend.url} . Ctrl-C stops it.",
        flush=True,
    )
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        backend.stop()
