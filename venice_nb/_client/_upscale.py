"""``POST /image/upscale`` for the client: the spec's rules checked before sending (scale 2 or
4, at most 16,777,216 output pixels, a file or base64 image) and the price from the model list."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .._constants import UPSCALE_PATH
from .._exceptions import ValidationError
from .._images import load_image
from .._models import ModelInfo
from ._request import PreparedRequest, Upload

UPSCALE_MODEL_ID = "upscaler"
MAX_OUTPUT_PIXELS = 16_777_216
SCALES = (2, 4)


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


def prepare_upscale(
    image: Any,
    *,
    scale: int = 2,
    creativity: float | None = None,
    upload: Upload = "json",
    fit: bool = False,
) -> PreparedRequest:
    """Check and encode one upscale, before any request (``priced`` adds the model and price);
    ``creativity`` (0-0.02, the server's default 0.01) is how much detail the upscaler adds."""
    if isinstance(scale, bool) or scale not in SCALES:
        raise ValidationError(f"scale={scale!r}", action="use scale=2 or scale=4", field="scale")
    if creativity is not None and (
        isinstance(creativity, bool)
        or not isinstance(creativity, int | float)
        or not math.isfinite(creativity)
        or creativity < 0
    ):
        raise ValidationError(
            f"creativity={creativity!r}",
            action="use a number from 0 to 0.02 (higher adds more detail), or leave it out",
            field="creativity",
        )
    if upload not in ("json", "multipart"):
        raise ValidationError(f"upload={upload!r}", action='use "json" or "multipart"',
                              field="upload")  # fmt: skip
    if isinstance(image, str) and image.lower().startswith(("http://", "https://")):
        raise ValidationError(
            "upscale takes a file or image data, not a URL",
            action="download the image first, or pass its bytes or path",
            field="image",
        )
    payload = load_image(image, fit=fit)
    if payload.size is not None:
        w, h = payload.size
        # Venice shrinks a 4x that would be too large; a 2x that would be is refused.
        if w * h * scale * scale > MAX_OUTPUT_PIXELS and (scale == 2 or w * h > MAX_OUTPUT_PIXELS):
            raise ValidationError(
                f"a {scale}x upscale of {w}x{h} would exceed {MAX_OUTPUT_PIXELS:,} pixels",
                action="use a smaller image (at most 2048x2048 for 2x)",
                field="image",
            )
    params: dict[str, Any] = {"scale": scale}
    if creativity is not None:
        params["creativity"] = creativity
    return PreparedRequest(
        path=UPSCALE_PATH,
        params=params,
        images=(payload,),
        upload=upload,
        fit_actions=payload.actions,
    )
