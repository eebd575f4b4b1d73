"""Real-browser harness: one JupyterLab server and one headless Chromium per test session.

Each test writes its notebook into the server's root, opens it, runs all cells and drives the
widgets with real mouse and keyboard input. The notebook reports what the kernel sees by
appending JSON lines to a log file (never rewriting it), which the test polls with a deadline.
The kernel runs on ``sys.executable`` through a kernelspec written into a throwaway
JUPYTER_DATA_DIR, so the same virtualenv serves pytest, the server and the kernel.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("VENICE_NB_ARTIFACTS", REPO / "test-artifacts" / "browser"))
CHROMIUM = os.environ.get("VENICE_NB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_TIMEOUT = 60.0
KERNEL_TIMEOUT = 90_000  # ms: kernel start + Run All on 2 busy cores
UI_TIMEOUT = 30_000  # ms: one widget reaction
BROKEN_WIDGET_TEXTS = (
    "Error displaying widget", "Loading widget", "Click to show javascript error"
)


def pytest_report_header(config: pytest.Config) -> str:
    return f"browser screenshots: {ARTIFACTS}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the screenshots are (the header only shows when tests/browser is the target)."""
    if ARTIFACTS.is_dir() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {ARTIFACTS}")


# ----------------------------------------------------------------------------- servers
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _jupyter_dirs(base: Path) -> dict[str, str]:
    """Throwaway config/data/runtime dirs: a kernelspec on sys.executable, quiet JupyterLab."""
    config, data, runtime = base / "config", base / "data", base / "runtime"
    _write_json(
        data / "kernels" / "python3" / "kernel.json",
        {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "metadata": {"debugger": False},
        },
    )
    settings = config / "lab" / "user-settings" / "@jupyterlab"
    _write_json(
        settings / "apputils-extension" / "notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    _write_json(
        settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"}
    )
    env = {
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(data),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(base / "ipython"),
        # The kernelspec above must win over any system or venv-wide one.
        "JUPYTER_PATH": str(data),
    }
    return env


@dataclass
class JupyterServer:
    """A running ``jupyter lab`` or ``jupyter notebook`` in its own process group."""

    app: str  # "jupyterlab" or "notebook"
    root: Path
    url: str
    token: str
    proc: subprocess.Popen[bytes]
    log: Path

    def page_url(self, name: str) -> str:
        """The notebook's page; in JupyterLab a workspace of its own, so no tab of an earlier
        test is restored next to it (Run All must act on this notebook only)."""
        if self.app == "jupyterlab":
            workspace = re.sub(r"[^A-Za-z0-9_-]", "-", name)
            return f"{self.url}/lab/workspaces/{workspace}/tree/{name}?token={self.token}"
        return f"{self.url}/notebooks/{name}?token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(
            f"{self.url}/api/{path}", method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Free the CPU between tests: stop every session's kernel."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def start_server(app: str, base: Path) -> JupyterServer:
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, **_jupyter_dirs(base / "jupyter")}
    env.pop("VENICE_API_KEY", None)  # the browser suite always uses the local backend
    log = base / f"{app}.log"
    cmd = [
        sys.executable, "-m", app, "--no-browser", f"--port={port}",
        f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1", "--allow-root",
        f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
        # If pytest dies without its teardown, idle kernels and the server stop on their own.
        "--MappingKernelManager.cull_idle_timeout=900", "--MappingKernelManager.cull_interval=60",
        "--ServerApp.shutdown_no_activity_timeout=1200",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=root
        )
    server = JupyterServer(app, root, f"http://127.0.0.1:{port}", token, proc, log)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{app} exited early:\n{log.read_text()[-3000:]}")
        try:
            server.api("status")
            return server
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    f"{app} did not answer in time:\n{log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.2)  # polling interval while waiting for a condition, not a sync sleep


@pytest.fixture(scope="session")
def artifacts() -> Path:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    print(f"\nbrowser screenshots -> {ARTIFACTS}")
    return ARTIFACTS


@pytest.fixture(scope="session", autouse=True)
def _sigterm_runs_teardown() -> Iterator[None]:
    """A SIGTERM (CI timeout, kill) unwinds like Ctrl-C, so servers are stopped, not orphaned."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    server = start_server("jupyterlab", tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nb7_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A Notebook 7 server per test module (each module's kernels and files stay apart)."""
    server = start_server("notebook", tmp_path_factory.mktemp("nb7"))
    yield server
    server.stop()


@pytest.fixture(params=["jupyterlab", "notebook"])
def server(request: pytest.FixtureRequest) -> Iterator[JupyterServer]:
    """JupyterLab 4 and Notebook 7; the test's kernels stop afterwards."""
    chosen: JupyterServer = request.getfixturevalue(
        "lab_server" if request.param == "jupyterlab" else "nb7_server")
    yield chosen
    chosen.shutdown_kernels()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module: Playwright's sync API keeps an asyncio loop running in this thread while
    it is open, which would break every later ``asyncio.run`` in the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# ------------------------------------------------------------------------- notebooks
@dataclass
class KernelLog:
    """The append-only JSON-lines file a test notebook writes its observations to."""

    path: Path

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        # The last line may still be being written: only complete lines count.
        out = []
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if kind is None or event.get("event") == kind:
                out.append(event)
        return out

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], kind: str | None = None,
        timeout: float = UI_TIMEOUT / 1000, what: str = "event",
    ) -> dict[str, Any]:
        """The first logged event matching ``predicate``; fail with the log after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events(kind):
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                tail = "\n".join(json.dumps(e)[:300] for e in self.events()[-10:])
                raise AssertionError(f"timed out waiting for {what}; last events:\n{tail}")
            time.sleep(0.05)  # polling interval of a bounded wait on a condition


def make_notebook(cells: list[str]) -> dict[str, Any]:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
             "source": src}
            for src in cells
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                           "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


LOG_HELPER = '''
import json as _json, os as _os
_LOG = {log!r}
def log(event, **data):
    """Append one JSON line: the browser test polls this file."""
    with open(_LOG, "a") as f:
        f.write(_json.dumps({{"event": event, **data}}) + "\\n")
        f.flush()
        _os.fsync(f.fileno())
'''


@dataclass
class Notebook:
    """An open notebook page with its kernel log and screenshot helper."""

    page: Any
    log: KernelLog
    name: str
    shots: list[Path] = field(default_factory=list)

    def shot(self, label: str) -> Path:
        path = ARTIFACTS / f"{self.name}-{len(self.shots):02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path

    def assert_widgets_healthy(self) -> None:
        """No output shows an ipywidgets rendering failure, once every output has settled.

        "Loading widget" is transient: wait (bounded) until no output shows it, then check that
        none shows either failure text.
        """
        from playwright.sync_api import expect

        outputs = self.page.locator(".jp-OutputArea-output")
        expect(outputs.filter(has_text="Loading widget")).to_have_count(0, timeout=KERNEL_TIMEOUT)
        for text in BROKEN_WIDGET_TEXTS:  # settled: a failure text now is a real failure
            assert outputs.filter(has_text=text).count() == 0, f"a widget shows {text!r}"


def wait_kernel_ready(page: Any) -> None:
    """Idle indicator AND a kernel name: idle alone races with 'No Kernel' (see notes)."""
    page.wait_for_function(
        """() => {
            const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
            const name = document.querySelector('.jp-KernelName');
            const text = name ? name.textContent.trim() : '';
            return ind && ind.getAttribute('data-status') === 'idle'
                && text !== '' && text !== 'No Kernel';
        }""",
        timeout=KERNEL_TIMEOUT,
    )


def run_all(page: Any) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def open_notebook(
    page: Any, server: JupyterServer, name: str, cells: list[str], *, expect_cells_done: bool = True
) -> Notebook:
    """Write the notebook (with a ``log()`` helper first), open it and Run All."""
    log = KernelLog(server.root / f"{name}.log.jsonl")
    log.path.unlink(missing_ok=True)
    helper = LOG_HELPER.format(log=str(log.path))
    done = "log('cells_done')"
    nb = make_notebook([helper, *cells, done])
    (server.root / f"{name}.ipynb").write_text(json.dumps(nb))
    page.goto(server.page_url(f"{name}.ipynb"))
    wait_kernel_ready(page)
    run_all(page)
    notebook = Notebook(page, log, name)
    if expect_cells_done:
        try:
            log.wait_for(lambda e: True, kind="cells_done", timeout=KERNEL_TIMEOUT / 1000,
                         what="all cells to run")
        except AssertionError:
            notebook.shot("cells-not-done")
            raise
    return notebook


@pytest.fixture
def page(browser: Any, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context per test; a final screenshot is kept as a CI artifact."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(UI_TIMEOUT)
    print(f"\nscreenshots of {request.node.name} -> {artifacts}")
    yield pg
    context.close()


def final_shot(page: Any, request: pytest.FixtureRequest) -> None:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    page.screenshot(path=str(ARTIFACTS / f"{name}-final.png"), full_page=True)


@pytest.fixture
def lab(
    lab_server: JupyterServer, page: Any, request: pytest.FixtureRequest
) -> Iterator[tuple[Any, JupyterServer]]:
    """A page on the shared JupyterLab; final screenshot, then the test's kernels stop."""
    yield page, lab_server
    try:
        final_shot(page, request)
    finally:
        lab_server.shutdown_kernels()


def canvas_box(page: Any, selector: str) -> dict[str, float]:
    """Bounding box of a widget canvas, scrolled into view."""
    loc = page.locator(selector).first
    loc.scroll_into_view_if_needed()
    box = loc.bounding_box()
    assert box is not None, f"{selector} is not visible"
    found: dict[str, float] = box
    return found


def drag(page: Any, points: list[tuple[float, float]], steps: int = 8) -> None:
    """A real mouse drag through ``points`` (page coordinates)."""
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()
