"""One failure guard per Venice caller in a process: every client of the same base URL and
credential shares the 20-failures-in-30-s window, because Venice counts failures per key, not
per client object (a studio and an experiment each make their own client). The experiments'
pacer (``_pacer``) is shared per caller the same way."""

from __future__ import annotations

import hashlib
import threading

from ._retry import FailureWindow

# caller id -> its window. Ids are digests: the registry never holds a key or wallet value.
_WINDOWS: dict[str, FailureWindow] = {}
_LOCK = threading.Lock()


def caller_id(base_url: str, credential: str | None) -> str:
    """``base_url`` plus a SHA-256 digest of the credential (key or wallet; "" when none)."""
    digest = hashlib.sha256((credential or "").encode("utf-8")).hexdigest()
    return f"{base_url.rstrip('/')}#{digest}"


def window_for(caller: str) -> FailureWindow:
    """The failure window shared by every client of this caller (see ``caller_id``)."""
    with _LOCK:
        window = _WINDOWS.get(caller)
        if window is None:
            window = _WINDOWS[caller] = FailureWindow()
        return window
