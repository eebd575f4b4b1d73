"""The price of ``POST /image/upscale``, from the upscaler's entry in ``GET /models?type=upscale``.

The request itself is built and checked in ``_request.prepare_upscale``, like every endpoint's.
"""

from __future__ import annotations

import dataclasses

from .._constants import UPSCALE_MODEL_ID
from .._constants import UPSCALE_SCALES as SCALES
from .._models import ModelInfo
from ._request import PreparedRequest

__all__ = ["SCALES", "priced", "upscale_price"]


def priced(prepared: PreparedRequest, models: list[ModelInfo]) -> PreparedRequest:
    """``prepared`` with the upscaler of ``GET /models?type=upscale`` and its price."""
    model = _upscaler(models)
    cost = _price(model, int(prepared.params["scale"]))
    return dataclasses.replace(prepared, model=model, estimated_cost=cost)


def upscale_price(models: list[ModelInfo], scale: int) -> float | None:
    """USD for one ``scale``x upscale from ``GET /models?type=upscale`` (None when unlisted)."""
    return _price(_upscaler(models), scale)


def _upscaler(models: list[ModelInfo]) -> ModelInfo | None:
    return next((m for m in models if m.id == UPSCALE_MODEL_ID), models[0] if models else None)


def _price(model: ModelInfo | None, scale: int) -> float | None:
    pricing = ((model.raw if model else {}).get("model_spec") or {}).get("pricing") or {}
    entry = (pricing.get("upscale") or {}).get(f"{scale}x") or {}
    usd = entry.get("usd") if isinstance(entry, dict) else None
    return float(usd) if isinstance(usd, int | float) else None
