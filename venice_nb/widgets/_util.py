"""Small helpers shared by the widgets: image conversion, sizing, inline images, error text."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from .._exceptions import ValidationError, VeniceError
from .._html import escape
from .._images import to_pil

_ERROR_STYLE = "color:#b91c1c;line-height:1.4"

# Largest display of an image inside a notebook output (CSS pixels).
DEFAULT_MAX_DISPLAY = (800, 600)


def as_pil(image: Any) -> Image.Image:
    """Any venice_nb image input, or an EditResult (anything with a PIL ``.image``).

    A result is decoded from its encoded ``.data``: ``result.image`` would keep the decoded
    full-resolution pixels alive on every result a history or grid holds (unless the result
    already holds them, as a region edit's does: decoding again would only cost time).
    """
    if hasattr(type(image), "image"):  # a result: its held pixels, else its encoded bytes
        decoded = vars(image).get("image")  # a region edit's composite is already decoded
        if isinstance(decoded, Image.Image):
            return decoded  # (before ``.data``: a region edit's is encoded on first read)
        data = getattr(image, "data", None)
        if isinstance(data, bytes):
            return to_pil(data)
    inner = getattr(image, "image", None)
    if isinstance(inner, Image.Image):
        return inner
    return to_pil(image)


def as_rgb(image: Any) -> np.ndarray:
    """HxWx3 uint8 array; transparency is composited over white so cut-outs stay readable."""
    img = as_pil(image)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(base, rgba)
    return np.asarray(img.convert("RGB"))


def fit_size(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """Display size keeping the aspect ratio; never upscales."""
    scale = min(1.0, max_width / width, max_height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Downscale for display (LANCZOS with a reducing gap: fast on 33 Mpx, still sharp)."""
    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    img = Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(img)


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """'#rgb' / '#rrggbb' / CSS names that PIL knows -> (r, g, b)."""
    from PIL import ImageColor

    try:
        r, g, b = ImageColor.getrgb(color)[:3]
        return r, g, b
    except ValueError:
        raise ValidationError(
            f"unknown colour {color!r}", action="use a CSS colour such as '#ff2d55' or 'red'"
        ) from None


def data_url(image: Any, *, max_side: int | None = None, fmt: str = "PNG") -> str:
    """An inline ``data:`` URL for <img> tags (downscaled so notebooks stay light)."""
    img = as_pil(image) if not isinstance(image, np.ndarray) else Image.fromarray(image)
    if max_side and max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side))
    if fmt == "JPEG":
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    mime = "image/jpeg" if fmt == "JPEG" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode()}"


def friendly_error(exc: BaseException) -> str:
    """One short HTML line: what went wrong and what to do (never a traceback)."""
    if isinstance(exc, VeniceError):
        text = escape(exc.message.rstrip(". "))
        action = f" <b>What to do:</b> {escape(exc.action)}" if exc.action else ""
        return f"<span class='venice-error' style='{_ERROR_STYLE}'>⚠ {text}.{action}</span>"
    if isinstance(exc, (ValueError, TypeError)):
        return f"<span class='venice-error' style='{_ERROR_STYLE}'>⚠ {escape(str(exc))}</span>"
    kind = escape(type(exc).__name__)
    return (
        f"<span class='venice-error' style='{_ERROR_STYLE}'>⚠ Unexpected {kind}: "
        f"{escape(str(exc)[:300])}. <b>What to do:</b> retry; if it persists, "
        "report it with the notebook.</span>"
    )
