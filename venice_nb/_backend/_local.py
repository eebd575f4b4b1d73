"""The local backend's lifecycle: ``LocalBackend`` (serve in a daemon thread, stop, stats), the
process-wide ``shared_backend()`` and ``serve_forever()`` for ``venice-nb serve``."""

from __future__ import annotations

import atexit
import threading

from .._constants import LOCAL_NAME_SUFFIX
from ._app import API_PREFIX, State
from ._config import BackendConfig
from ._limiters import BackendStats
from ._server import Server, origin


class LocalBackend:
    """A Venice-compatible server on loopback, started in a daemon thread.

    ``config`` is live (the server reads it per request); ``stats`` counts what happened.
    Use ``with LocalBackend(...) as b:`` or ``start()``/``stop()``.

    Args:
        config: Latency, rate limits, balance, faults...; None: Venice's defaults.
        host: The address to listen on (loopback unless you mean otherwise).
        port: The port; 0 picks a free one.
    """

    def __init__(
        self, config: BackendConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config if config is not None else BackendConfig()
        self.state = State()
        self._host, self._port = host, port
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def _bind(self) -> Server:
        if self._server is not None:
            raise RuntimeError("this LocalBackend is already running")
        self.state.stopping.clear()
        self._server = Server((self._host, self._port), self)
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
        self.state.stopping.set()
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
        return f"{origin(self._server)}{API_PREFIX}"

    @property
    def stats(self) -> BackendStats:
        """What the server did so far (counters)."""
        return self.state.stats

    def reset_stats(self) -> None:
        self.state.stats.reset()

    def reset_limits(self) -> None:
        """Forget rate-limit windows and failed-request blocks."""
        self.state.limiter.clear()
        self.state.blocker.clear()

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
