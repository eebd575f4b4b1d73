"""The local Venice-compatible backend: the default when no API key is set, so everything runs
offline. It serves the real wire contract on loopback; only model names (suffixed with
``LOCAL_NAME_SUFFIX``) tell it apart from Venice."""

from __future__ import annotations

from ._config import BackendConfig, FaultConfig
from ._limiters import BackendStats
from ._local import LocalBackend, serve_forever, serves, shared_backend

__all__ = [
    "BackendConfig",
    "BackendStats",
    "FaultConfig",
    "LocalBackend",
    "serve_forever",
    "serves",
    "shared_backend",
]
