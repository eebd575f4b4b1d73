"""POST /image/upscale: the spec's rules (scale 2 or 4, at most 16,777,216 output pixels,
``creativity`` clamped to 0-0.02) and a deterministic stand-in for Venice's upscaler."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFilter

from .._constants import MAX_UPSCALE_OUTPUT_PIXELS as MAX_OUTPUT_PIXELS
from .._constants import UPSCALE_MODEL_ID
from . import _imageops
from ._api_error import bad_request
from ._catalog import load_models
from ._inputs import decode_base64, is_url, open_image
from ._wire import media_type, parse_json, parse_multipart, unsupported_media

MAX_CREATIVITY = 0.02
DEFAULT_CREATIVITY = 0.01


@dataclass(frozen=True)
class UpscaleJob:
    image: Image.Image
    scale: int  # as asked: the price follows it
    size: tuple[int, int]  # as done: a 4x that would be too large is reduced to fit
    creativity: float

    @property
    def price_usd(self) -> float:
        model = next(m for m in load_models() if m["id"] == UPSCALE_MODEL_ID)
        return float(model["model_spec"]["pricing"]["upscale"][f"{self.scale}x"]["usd"])


def _values(content_type: str | None, body: bytes) -> tuple[dict[str, Any], bool]:
    """(fields, whether they came as multipart text)."""
    kind, _ = media_type(content_type)
    if kind == "application/json":
        values = parse_json(body)
        if not isinstance(values, dict):
            raise bad_request("Expected object")
        return values, False
    if kind == "multipart/form-data":
        out: dict[str, Any] = {}
        for part in parse_multipart(content_type or "", body):
            if part.name in out:
                raise bad_request("field given more than once", field=part.name)
            out[part.name] = part.data if part.is_file else part.text()
        return out, True
    raise unsupported_media(content_type)


def _number(values: dict[str, Any], name: str, default: float, *, text: bool) -> float:
    value = values.get(name)
    if value is None:
        return default
    if text and isinstance(value, str):  # multipart sends numbers as text
        shown = value
        try:
            value = float(shown)
        except ValueError:
            raise bad_request(f"Expected number, received {shown[:20]!r}", field=name) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_request("Expected number", field=name)
    return float(value)


def output_size(size: tuple[int, int], scale: int) -> tuple[int, int]:
    """``size`` times ``scale``; a 4x beyond the output limit is reduced to fit (never below
    1x), a 2x is a 400."""
    w, h = size
    factor = float(scale)
    if w * h * factor * factor > MAX_OUTPUT_PIXELS:
        if scale == 2 or w * h > MAX_OUTPUT_PIXELS:
            raise bad_request(
                f"a {scale}x upscale of {w}x{h} would exceed {MAX_OUTPUT_PIXELS:,} pixels; "
                "send a smaller image",
                field="image",
            )
        factor = math.sqrt(MAX_OUTPUT_PIXELS / (w * h))
    return max(1, math.floor(w * factor)), max(1, math.floor(h * factor))


def upscale_job(content_type: str | None, body: bytes) -> UpscaleJob:
    """Validate the request and decode its image."""
    values, text = _values(content_type, body)
    scale = _number(values, "scale", 2.0, text=text)
    if scale not in (2.0, 4.0):
        raise bad_request(f"scale must be 2 or 4, got {scale:g}", field="scale")
    creativity = _number(values, "creativity", DEFAULT_CREATIVITY, text=text)
    value = values.get("image")
    if value is None:
        raise bad_request("Required", field="image")
    if not isinstance(value, str | bytes):
        raise bad_request("Expected string or file", field="image")
    if isinstance(value, str) and is_url(value):
        raise bad_request("image takes a file or a base64 string, not a URL", field="image")
    data = decode_base64(value, "image") if isinstance(value, str) else value
    image = open_image(data, "image")
    size = output_size(image.size, int(scale))
    return UpscaleJob(image, int(scale), size, min(max(creativity, 0.0), MAX_CREATIVITY))


def render_upscale(job: UpscaleJob) -> tuple[bytes, str]:
    """Lanczos resampling, then detail added in proportion to ``creativity``: deterministic."""
    img = _imageops.eight_bit(job.image)
    out = img.resize(job.size, Image.Resampling.LANCZOS)
    if job.creativity > 0:
        percent = round(job.creativity / MAX_CREATIVITY * 120)
        out = out.filter(ImageFilter.UnsharpMask(radius=2, percent=percent, threshold=2))
    return _imageops.encode(out, "png"), "image/png"
