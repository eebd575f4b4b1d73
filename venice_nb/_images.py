"""Turn whatever the user holds (path, bytes, file, PIL, numpy, URL) into bytes Venice accepts.

A file that is already PNG/JPEG/WebP, upright and within limits is sent as its own bytes: no
decode, no re-encode, so quality and speed are kept. Everything else is decoded once and
encoded as PNG (JPEG when ``fit`` must shrink the file).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard
from urllib.parse import urlsplit

from ._constants import ACCEPTED_INPUT_MIME, MAX_IMAGE_BYTES, MAX_PIXELS, MIN_PIXELS
from ._exceptions import ValidationError
from ._probe import open_header, orientation, sniff_mime, unreadable, why_incomplete
from ._result import EditResult

if TYPE_CHECKING:  # Pillow and numpy load on first use, not with the package
    import numpy as np
    from PIL import Image

    from ._types import ImageInput

__all__ = [
    "ImagePayload",
    "check_url",
    "is_url",
    "load_image",
    "to_pil",
]

_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True)
class ImagePayload:
    """One image ready for the wire: encoded bytes, or a URL Venice fetches itself."""

    data: bytes | None = None
    url: str | None = None
    mime: str | None = None
    size: tuple[int, int] | None = None  # (width, height) when known
    actions: tuple[str, ...] = field(default=())

    @cached_property
    def digest(self) -> str:
        """Content hash used in request fingerprints (the URL text for URLs)."""
        raw = self.data if self.data is not None else (self.url or "").encode()
        return "sha256:" + hashlib.sha256(raw).hexdigest()

    @property
    def filename(self) -> str:
        return "image." + _EXTENSIONS.get(self.mime or "", "png")

    def base64(self) -> bytes:
        """The image bytes as base64 (what the guide's examples send as ``image``)."""
        assert self.data is not None, "URL payloads have no bytes"
        return base64.b64encode(self.data)


def is_url(value: object) -> TypeGuard[str]:
    """True for text that names a web address (any scheme, any case): it is never a path."""
    return isinstance(value, str) and _URL_RE.match(value) is not None


def check_url(url: str, field: str = "image") -> str:
    """An http(s) URL Venice can fetch, with a lower-case scheme; refused before sending when
    Venice would refuse it."""
    shown = f"{url!r:.120}"
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise ValidationError(
            f"{field}: {shown} is a {scheme}: URL; Venice fetches only http:// and https://",
            action="download the file and pass its path or bytes, or use an http(s) URL",
            field=field,
        )
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValidationError(
            f"{field}: the URL {shown} contains spaces or control characters",
            action="percent-encode them (urllib.parse.quote), e.g. a space as %20",
            field=field,
        )
    try:
        host = urlsplit(url).hostname
    except ValueError:  # e.g. a malformed [IPv6] part
        host = None
    if not host:
        raise ValidationError(
            f"{field}: the URL {shown} names no host",
            action="use a full address such as https://example.com/photo.png",
            field=field,
        )
    return scheme + url[len(scheme):]


def _decode_data_url(value: str, field: str) -> bytes:
    header, comma, payload = value.partition(",")
    if not comma or ";base64" not in header.lower():
        raise ValidationError(
            f"{field}: the data URL is not base64-encoded image data",
            action="use the form data:image/png;base64,<base64 bytes>",
            field=field,
        )
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(
            f"{field}: the data URL holds invalid base64 ({exc})",
            action="re-encode the image with base64.b64encode(data).decode() after the comma",
            field=field,
        ) from None


def _read_path(obj: str | os.PathLike[str], field: str) -> bytes:
    try:
        path = Path(obj).expanduser()
        if path.is_file():
            return path.read_bytes()
        shown = str(path)
    except (OSError, ValueError, RuntimeError) as exc:  # NUL bytes, names too long, no home
        shown = f"{str(obj)!r:.80} ({type(exc).__name__})"
    raise ValidationError(
        f"{field}: no image file at {shown!r:.200}",
        action="check the path, or pass bytes, a PIL image, a numpy array or an http(s) URL",
        field=field,
    )


def _read_source(obj: ImageInput, field: str = "image") -> bytes | Image.Image:
    """Bytes for byte-like inputs, a PIL image for array/PIL inputs."""
    from PIL import Image

    if isinstance(obj, Image.Image):
        return obj
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, str) and obj[:5].lower() == "data:":
        return _decode_data_url(obj, field)
    if isinstance(obj, (str, os.PathLike)):
        return _read_path(obj, field)
    if hasattr(obj, "read"):
        data = obj.read()
        if not isinstance(data, (bytes, bytearray)):
            raise ValidationError(
                f"{field}: the file object returned text", action="open the file with 'rb'",
                field=field,
            )
        return bytes(data)
    if isinstance(obj, EditResult):  # chaining: edit a result, then upscale or edit it again
        return obj.data
    if type(obj).__module__ == "numpy" and hasattr(obj, "dtype"):
        return _array_to_pil(obj, field)
    raise ValidationError(
        f"cannot use a {type(obj).__name__} as {field}",
        action=(
            "pass a path, bytes, a binary file, a PIL image, a numpy array, an EditResult"
            " or an http(s) URL"
        ),
        field=field,
    )


def _array_to_pil(arr: np.ndarray, field: str = "image") -> Image.Image:
    import numpy as np
    from PIL import Image

    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ValidationError(
            f"{field}: the numpy image has shape {arr.shape}",
            action="use HxW (gray/mask), HxWx3 (RGB) or HxWx4 (RGBA)",
            field=field,
        )
    if arr.size == 0:
        raise ValidationError(
            f"{field}: the numpy image is empty (shape {arr.shape})",
            action="pass an image with pixels",
            field=field,
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if np.isnan(arr).any() or arr.min() < 0.0 or arr.max() > 1.0:
            raise ValidationError(
                f"{field}: float image values must lie in [0, 1]",
                action="scale it (e.g. arr / 255) or convert to uint8",
                field=field,
            )
        arr = np.round(arr * 255.0).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise ValidationError(
            f"{field}: the numpy image has dtype {arr.dtype}",
            action="use uint8 (0..255), bool (masks) or float in [0, 1]",
            field=field,
        )
    return Image.fromarray(np.array(arr, copy=True, order="C"))  # never a view of the caller's


def to_pil(obj: ImageInput, field: str = "image") -> Image.Image:
    """Decode any supported input into an upright PIL image (URLs are not fetched)."""
    from PIL import Image, ImageOps

    if is_url(obj):
        raise ValidationError(
            f"{field}: URLs are sent to Venice as-is and never downloaded by venice_nb",
            action="pass a local path, bytes or an image object to work on it locally",
            field=field,
        )
    src = _read_source(obj, field)
    if isinstance(src, Image.Image):
        return src
    img = _open_whole(src, field)
    try:
        img.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise unreadable(field, type(exc).__name__) from None
    return ImageOps.exif_transpose(img) if orientation(img) != 1 else img


def _open_whole(data: bytes, field: str) -> Image.Image:
    """The file opened from its header, refused when its structure shows it is cut short or
    lies about its size: before any pixel is decoded."""
    img = open_header(data, field)
    problem = why_incomplete(sniff_mime(data) or "", data)
    if problem:
        raise unreadable(field, f"{img.format}: {problem}")
    return img


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, "JPEG", quality=90)
    else:
        if img.mode not in ("1", "L", "LA", "RGB", "RGBA", "P", "I;16"):
            img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
        img.save(buf, "PNG")
    return buf.getvalue()


def _fit_size(w: int, h: int, min_pixels: int) -> tuple[int, int]:
    pixels = w * h
    scale = ((MAX_PIXELS if pixels > MAX_PIXELS else min_pixels) / pixels) ** 0.5
    new = (max(1, int(w * scale)), max(1, int(h * scale)))
    # Rounding may land one pixel outside the range: nudge until inside.
    while new[0] * new[1] > MAX_PIXELS:
        new = (new[0] - 1, new[1]) if new[0] >= new[1] else (new[0], new[1] - 1)
    while new[0] * new[1] < min_pixels:
        new = (new[0] + 1, new[1]) if new[0] <= new[1] else (new[0], new[1] + 1)
    return new


def _pixel_error(field: str, w: int, h: int, min_pixels: int) -> ValidationError:
    bound = f"at least {min_pixels:,}" if w * h < min_pixels else f"at most {MAX_PIXELS:,}"
    how = "resize it, or pass fit=True to let venice_nb resize it" if w * h else (
        "pass an image with pixels")
    return ValidationError(
        f"{field} is {w}x{h} = {w * h:,} pixels; Venice needs {bound}", action=how, field=field
    )


def load_image(
    obj: ImageInput, *, fit: bool = False, min_pixels: int = MIN_PIXELS, field: str = "image"
) -> ImagePayload:
    """Validate one input and encode it for sending; raise ValidationError before any request.

    Files Venice reads are checked from their headers and structure (size, pixel counts,
    truncation) without decoding their pixels. ``fit=True`` resizes into the pixel range and
    re-encodes as JPEG when the file is too big, recording each step in ``actions``.
    ``min_pixels=0``: the endpoint has no lower bound (background removal).
    """
    from PIL import Image

    if is_url(obj):
        return ImagePayload(url=check_url(obj, field))
    src = _read_source(obj, field)
    actions: list[str] = []
    if isinstance(src, Image.Image):
        img, data, mime = src, None, None
    else:
        data, mime = src, sniff_mime(src)
        img = _open_whole(src, field)
        turned = orientation(img)
        if mime not in ACCEPTED_INPUT_MIME or turned != 1:
            actions.append(
                "applied EXIF orientation" if turned != 1
                else f"re-encoded {img.format or 'image'} as PNG"
            )
            data = mime = None
    w, h = img.size
    if w * h == 0:  # nothing to resize, even with fit=True
        raise _pixel_error(field, w, h, min_pixels)
    if w * h > MAX_PIXELS and img.format == "JPEG" and fit:
        img.draft("RGB", _fit_size(w, h, min_pixels))  # decode at 1/2..1/8 scale: less memory
    if not min_pixels <= w * h <= MAX_PIXELS:
        if not fit:
            raise _pixel_error(field, w, h, min_pixels)
        img = _loaded(img, field)
        new = _fit_size(*img.size, min_pixels)
        actions.append(f"resized {w}x{h} -> {new[0]}x{new[1]} to fit the pixel limits")
        img = img.resize(new, Image.Resampling.LANCZOS)
        data = mime = None
    if data is None:
        img = _loaded(img, field)
        data, mime = _encode(img, "PNG"), "image/png"
    if len(data) >= MAX_IMAGE_BYTES:
        if not fit:
            raise ValidationError(
                f"{field}: the file is {len(data) / 1e6:.1f} MB; Venice takes less than 25 MB",
                action="save it as JPEG, or pass fit=True to re-encode it",
                field=field,
            )
        img = _loaded(img, field)
        # Transparency matters (an overlay layer needs it): keep PNG and shrink instead.
        fmt = "PNG" if "A" in img.getbands() or "transparency" in img.info else "JPEG"
        if fmt == "JPEG":
            data, mime = _encode(img, "JPEG"), "image/jpeg"
            actions.append("re-encoded as JPEG (quality 90) to stay under 25 MB")
        while len(data) >= MAX_IMAGE_BYTES:
            img = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.Resampling.LANCZOS)
            data = _encode(img, fmt)
            actions.append(f"downscaled to {img.width}x{img.height} to stay under 25 MB")
    return ImagePayload(data=data, mime=mime, size=img.size, actions=tuple(actions))


def _loaded(img: Image.Image, field: str) -> Image.Image:
    """Decoded pixels, upright."""
    from PIL import ImageOps

    turned = orientation(img)
    try:
        img.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise unreadable(field, type(exc).__name__) from None
    return ImageOps.exif_transpose(img) if turned != 1 else img
