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

if TYPE_CHECKING:  # "X as X": an explicit re-export, which mypy --strict needs
    from . import layers as layers
    from . import masks as masks
    from . import widgets as widgets
    from ._backend import BackendConfig as BackendConfig
    from ._backend import FaultConfig as FaultConfig
    from ._backend import LocalBackend as LocalBackend
    from ._client import AccountLimits as AccountLimits
    from ._client import AsyncClient as AsyncClient
    from ._client import Balance as Balance
    from ._client import Client as Client
    from ._client import PreparedRequest as PreparedRequest
    from ._exceptions import *
    from ._experiment import CostEstimate as CostEstimate
    from ._experiment import estimate_experiment as estimate_experiment
    from ._experiment import estimate_experiment_async as estimate_experiment_async
    from ._experiment import experiment as experiment
    from ._experiment import experiment_async as experiment_async
    from ._models import ModelInfo as ModelInfo
    from ._params import EditOptions as EditOptions
    from ._result import EditResult as EditResult
    from ._result import RateLimit as RateLimit
    from ._store import ExperimentRecord as ExperimentRecord
    from ._store import ExperimentResults as ExperimentResults
    from ._store import RecordList as RecordList
    from ._store import ResultStore as ResultStore
    from ._store import StoredRecord as StoredRecord
    from ._store import StoreWarning as StoreWarning
    from ._store import open_recording as open_recording
    from ._store import save_recording as save_recording
    from ._types import Box as Box
    from ._types import ClientLike as ClientLike
    from ._types import ExperimentImages as ExperimentImages
    from ._types import ExperimentMasks as ExperimentMasks
    from ._types import ImageInput as ImageInput
    from ._types import ImagesInput as ImagesInput
    from ._types import MaskInput as MaskInput
    from ._types import ModelsInput as ModelsInput
    from ._types import StoreStats as StoreStats
    from .layers import LayerStack as LayerStack


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
    """Path of a bundled sample photo, so notebooks and tests need no download.

    Args:
        name: One of `vnb.samples()`: astronaut, cat, coffee, rocket, product.
    """
    folder = Path(__file__).parent / "_data" / "samples"
    matches = sorted(folder.glob(f"{name}.*")) if name in _SAMPLES else []
    if not matches:
        from ._exceptions import ValidationError

        raise ValidationError(
            f"no sample named {name!r:.40}", action=f"use one of {', '.join(_SAMPLES)}",
            field="name",
        )
    return matches[0]
