"""Shared fixtures: a fresh local backend per test and clients whose every request is checked
against the OpenAPI spec on its way over real loopback HTTP."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

import venice_nb as vnb
from venice_nb._backend import BackendConfig, LocalBackend, shared_backend
from venice_nb._backend._realism import Realism

from ._spec import AsyncSpecCheckingTransport, SpecCheckingTransport

TEST_KEY = "vnbtest-9f3c2e71d4b8a6c5e0f1a2b3"  # a distinctive fake key, grepped for in leaks

ImageServer = Callable[[str, bytes], str]  # the image_server fixture: (name, data) -> its URL


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never reach Venice: a key in the developer's environment must not leak in, and a
    default store lands in the test's own folder."""
    for name in ("VENICE_API_KEY", "VENICE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VENICE_NB_STORE", str(tmp_path / "default-store"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: the quick contract tests report first, and Playwright's event loop
    never shares the main thread with tests that run their own."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


# Tests send far more than Venice's 20 requests a minute; tests of the limit set their own.
UNTHROTTLED = 100_000


@pytest.fixture(scope="session", autouse=True)
def _unthrottled_shared_backend() -> None:
    """`vnb.Client()` with no key uses the process-wide backend: lift its limit for the run
    (and keep pixels exact, as the ``backend`` fixture does by default)."""
    shared_backend().config.rate_limit = UNTHROTTLED
    shared_backend().config.realism = "exact"


# Both ways the local backend can answer (see venice_nb._backend._realism): tests that send a
# mask run against each with ``@pytest.mark.parametrize("backend", REALISMS, indirect=True)``.
REALISMS: tuple[Realism, ...] = ("exact", "venice")


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Iterator[LocalBackend]:
    """A fresh backend; "exact" pixels unless the test is parametrized over ``REALISMS``
    (tests of an effect's own pixel math need the exact answer)."""
    realism: Realism = getattr(request, "param", "exact")
    with LocalBackend(BackendConfig(rate_limit=UNTHROTTLED, realism=realism)) as server:
        yield server


@pytest.fixture
def transport() -> SpecCheckingTransport:
    return SpecCheckingTransport()


@pytest.fixture
def client(backend: LocalBackend, transport: SpecCheckingTransport) -> Iterator[vnb.Client]:
    http = httpx.Client(transport=transport, timeout=60)
    with vnb.Client(TEST_KEY, base_url=backend.url, http_client=http) as c:
        yield c
    assert not transport.problems, "requests broke the spec:\n" + "\n".join(transport.problems)


@pytest.fixture
def async_transport() -> AsyncSpecCheckingTransport:
    return AsyncSpecCheckingTransport()


@pytest.fixture
def async_client(
    backend: LocalBackend, async_transport: AsyncSpecCheckingTransport
) -> Iterator[vnb.AsyncClient]:
    http = httpx.AsyncClient(transport=async_transport, timeout=60)
    yield vnb.AsyncClient(TEST_KEY, base_url=backend.url, http_client=http)
    assert not async_transport.problems, "\n".join(async_transport.problems)


def sample_path(name: str = "cat") -> Path:
    return vnb.sample(name)


def png_bytes(
    size: tuple[int, int] = (320, 240), color: tuple[int, ...] = (40, 120, 200), mode: str = "RGB"
) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests leave files for people to look at (CI keeps this folder)."""
    path = Path(os.environ.get("VENICE_NB_ARTIFACTS", "test-artifacts")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    """Serve bytes over loopback HTTP, so URL inputs can be tested without any internet."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    files: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = files.get(self.path.lstrip("/"))
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()

    def add(name: str, data: bytes) -> str:
        files[name] = data
        return f"http://127.0.0.1:{server.server_address[1]}/{name}"

    yield add
    server.shutdown()
    server.server_close()


@pytest.fixture
def remote_host() -> Iterator[tuple[str, list[str]]]:
    """A second host made for this test: a network namespace joined to this one by a veth pair.

    Yields the address the server binds to (this side of the pair) and the command prefix that
    runs a program on the other host, so the server sees a caller that is not on its machine.
    All traffic stays between the two ends of the pair.
    """
    tag = f"{os.getpid() % 100000}"
    ns, here, there = f"vnb{tag}", f"vnbA{tag}", f"vnbB{tag}"
    net = f"10.231.{os.getpid() % 250}"

    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]  # namespaces need CAP_NET_ADMIN

    def ip(*args: str) -> None:
        subprocess.run([*sudo, "ip", *args], check=True, capture_output=True)

    ip("netns", "add", ns)
    try:
        ip("link", "add", here, "type", "veth", "peer", "name", there)
        ip("link", "set", there, "netns", ns)
        ip("addr", "add", f"{net}.1/30", "dev", here)
        ip("link", "set", here, "up")
        ip("-n", ns, "addr", "add", f"{net}.2/30", "dev", there)
        ip("-n", ns, "link", "set", there, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        yield f"{net}.1", [*sudo, "ip", "netns", "exec", ns]
    finally:
        subprocess.run([*sudo, "ip", "link", "del", here], capture_output=True)
        subprocess.run([*sudo, "ip", "netns", "del", ns], capture_output=True)
