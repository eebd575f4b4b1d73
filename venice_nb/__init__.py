"""venice_nb: edit images with the Venice.ai image-edit API from Jupyter notebooks.

``Client()`` with no ``VENICE_API_KEY`` talks to a local Venice-compatible backend, so every
notebook and test runs offline at no cost. Heavy parts (widgets, masks, the backend, the store)
load on first use to keep ``import venice_nb`` fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .__version__ import __version__

# public name -> private module that defines it (a subpackage: the package that exports it)
_LAZY = {
    "Client": "_client",
    "AsyncClient": "_client",
    "AccountLimits": "_client",
    "Balance": "_client",
    "PreparedRequest": "_client",
    "EditOptions": "_params",
    "EditResult": "_result",
    "RateLimit": "_result",
    "ModelInfo": "_models",
    "ResultStore": "_store",
    "StoredRecord": "_store",
    "StoreWarning": "_store",
    "experiment": "_experiment",
    "experiment_async": "_experiment",
    "estimate_experiment": "_experiment",
    "estimate_experiment_async": "_experiment",
    "CostEstimate": "_experiment",
    "ExperimentResults": "_store",
    "ExperimentRecord": "_store",
    "RecordList": "_store",
    "LayerStack": "layers",
    "LocalBackend": "_backend",
    "BackendConfig": "_backend",
    "FaultConfig": "_backend",
    "open_recording": "_store",
    "save_recording": "_store",
    # type aliases for annotating code that calls venice_nb
    "Box": "_types",
    "ClientLike": "_types",
    "ExperimentImages": "_types",
    "ExperimentMasks": "_types",
    "ImageInput": "_types",
    "ImagesInput": "_types",
    "MaskInput": "_types",
    "ModelsInput": "_types",
    "StoreStats": "_types",
}
_ERRORS = (
    "VeniceError",
    "ValidationError",
    "ReplayMissError",
    "APIConnectionError",
    "APITimeoutError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "InsufficientBalanceError",
    "PermissionDeniedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "UnsupportedMediaTypeError",
    "ContentPolicyError",
    "ImageTooLargeError",
    "RateLimitError",
    "InternalServerError",
    "ModelAtCapacityError",
    "GatewayTimeoutError",
)
_LAZY.update(dict.fromkeys(_ERRORS, "_exceptions"))
_SUBMODULES = ("masks", "layers", "widgets")
_SAMPLES = ("astronaut", "cat", "coffee", "rocket", "product")

__all__ = [*_LAZY, *_SUBMODULES, "sample", "samples"]

if TYPE_CHECKING:
    from . import layers, masks, widgets
    from ._backend import BackendConfig, FaultConfig, LocalBackend
    from ._client import AccountLimits, AsyncClient, Balance, Client, PreparedRequest
    from ._exceptions import *
    from ._experiment import (
        CostEstimate,
        estimate_experiment,
        estimate_experiment_async,
        experiment,
        experiment_async,
    )
    from ._models import ModelInfo
    from ._params import EditOptions
    from ._result import EditResult, RateLimit
    from ._store import (
        ExperimentRecord,
        ExperimentResults,
        RecordList,
        ResultStore,
        StoredRecord,
        StoreWarning,
        open_recording,
        save_recording,
    )
    from ._types import (
        Box,
        ClientLike,
        ExperimentImages,
        ExperimentMasks,
        ImageInput,
        ImagesInput,
        MaskInput,
        ModelsInput,
        StoreStats,
    )
    from .layers import LayerStack


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'venice_nb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


def samples() -> tuple[str, ...]:
    """Names of the bundled sample photos (public domain / CC0; see _data/samples/CREDITS.md)."""
    return _SAMPLES


def sample(name: str) -> Path:
    """Path of a bundled sample photo, so notebooks and tests need no download."""
    folder = Path(__file__).parent / "_data" / "samples"
    matches = sorted(folder.glob(f"{name}.*")) if name in _SAMPLES else []
    if not matches:
        from ._exceptions import ValidationError

        raise ValidationError(
            f"no sample named {name!r:.40}", action=f"use one of {', '.join(_SAMPLES)}",
            field="name",
        )
    return matches[0]
