"""``venice-nb serve`` in a process of its own: a backend other processes (kernels, clients
in a subprocess) reach over HTTP, as a person's would be."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def serve(*flags: str) -> Iterator[str]:
    """Start ``venice-nb serve --port 0 *flags`` (no ``VENICE_*`` variables); yields its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENICE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "venice_nb._cli", "serve", "--port", "0", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # blocks until the server prints where it listens
            found = re.search(r"http://127\.0\.0\.1:\d+/api/v1", line)
            if found:
                yield found.group(0)
                break
        else:
            raise AssertionError("serve printed no URL")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
