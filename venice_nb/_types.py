"""The public type aliases: what an image, a mask, a set of experiment inputs or a client may be.

Defined once here so every signature (client, experiments, masks, layers, widgets) names the
same thing, and so users can annotate their own helpers with them
(``def prep(image: venice_nb.ImageInput) -> ...``). numpy and Pillow are already loaded by
anything that handles an image, so importing them here costs nothing extra.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO, TypeAlias, TypedDict, Union

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from ._client import AsyncClient, Client
    from ._models import ModelInfo
    from ._result import EditResult
    from .layers import LayerStack

__all__ = [
    "Box",
    "ClientLike",
    "ExperimentImages",
    "ExperimentMasks",
    "HistoryFilters",
    "ImageInput",
    "ImagesInput",
    "MaskInput",
    "ModelsInput",
    "PathInput",
    "StoreStats",
]

PathInput: TypeAlias = str | os.PathLike[str]
"""A file path: text or a ``pathlib.Path`` (anything ``os.fspath`` turns into text)."""

ImageInput: TypeAlias = Union[
    str, os.PathLike[str], bytes, bytearray, memoryview, BinaryIO, Image.Image, np.ndarray,
    "EditResult",
]
"""One image as a user holds it: a path, an http(s) or ``data:`` URL, encoded bytes, an open
binary file, a PIL image, a numpy array (HxW, HxWx3 or HxWx4) or an ``EditResult`` (its bytes:
edits chain)."""

MaskInput: TypeAlias = (
    np.ndarray | Image.Image | str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO
)
"""A mask: a bool, uint8 (0..255) or float (0.0..1.0) array, a PIL ``"1"``/``"L"`` (or gray
RGB) image, or a path, bytes or file of one. White (or True) means change."""

Box = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)`` in pixels, ``x1`` and ``y1`` exclusive."""

# Union[...] where a name is a forward reference: ``"LayerStack" | X`` fails at run time.
ImagesInput: TypeAlias = Union[Sequence[ImageInput], "LayerStack", ImageInput]
"""Multi-edit's images: the base image first, then its layers; or a ``LayerStack``."""

ExperimentImages: TypeAlias = ImageInput | Sequence[ImageInput] | Mapping[str, ImageInput]
"""An experiment's images: one, a list, or ``{label: image}`` (labels caption the results)."""

ExperimentMasks: TypeAlias = (
    MaskInput
    | Sequence[MaskInput | Sequence[ImageInput] | None]
    | Mapping[str, MaskInput | Sequence[ImageInput] | None]
    | None
)
"""An experiment's masks: one, a list or ``{label: mask}``; a ``None`` entry is a plain edit and
a list entry is a set of layers (``[mask, reference]``) sent after the image."""

ModelsInput: TypeAlias = Union[
    str, "ModelInfo", Sequence[Union[str, "ModelInfo", None]], None
]
"""An experiment's models: one id or ``ModelInfo``, a list of them, or None (server default)."""

if TYPE_CHECKING:
    ClientLike: TypeAlias = Client | AsyncClient
    """Either client: the widgets and experiments take both."""
else:

    def __getattr__(name: str) -> object:
        # The clients import this module (for ImageInput), so the union is made on first use.
        if name == "ClientLike":
            from ._client import AsyncClient, Client

            return Client | AsyncClient
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

class HistoryFilters(TypedDict, total=False):
    """The filters of ``ResultStore.history``, which ``stats`` and ``export`` take too."""

    model: str | None
    prompt: str | None
    since: datetime | date | timedelta | float | str | None
    until: datetime | date | timedelta | float | str | None
    endpoint: str | None
    picked: bool | None
    min_rating: int | None
    variables: Mapping[str, str] | None
    is_local: bool | None


class StoreStats(TypedDict):
    """``ResultStore.stats()``: what is stored, what it costs at Venice and what it cost here."""

    results: int
    images: int  # distinct output images (the same image kept once)
    image_bytes: int
    cost_at_venice_usd: float  # every stored answer at Venice's prices
    cost_here_usd: float  # what was charged (local answers: nothing)
    local_results: int  # of ``results``, answered by the local backend (cost nothing)
