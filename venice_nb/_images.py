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
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Union

from ._constants import ACCEPTED_INPUT_MIME, MAX_IMAGE_BYTES, MAX_PIXELS, MIN_PIXELS
from ._errors import ValidationError

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

ImageInput = Union[
    str, os.PathLike, bytes, bytearray, memoryview, BinaryIO, "Image.Image", "np.ndarray"
]

__all__ = ["ImageInput", "ImagePayload", "load_image", "to_pil"]

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
_ORIENTATION_TAG = 0x0112


def _sniff_mime(data: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


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


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _read_source(obj: Any) -> bytes | Image.Image:
    """Bytes for byte-like inputs, a PIL image for array/PIL inputs."""
    from PIL import Image

    if isinstance(obj, Image.Image):
        return obj
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, str) and obj.startswith("data:"):
        header, _, payload = obj.partition(",")
        if ";base64" not in header:
            raise ValidationError(
                "data URL is not base64-encoded", action="use data:image/png;base64,<...>"
            )
        try:
            return base64.b64decode(payload, validate=True)
        except binascii.Error as exc:
            raise ValidationError(f"data URL holds invalid base64: {exc}") from None
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj).expanduser()
        if not path.is_file():
            raise ValidationError(
                f"no image file at {str(path)!r}",
                action="check the path, or pass bytes, a PIL image, a numpy array or a URL",
            )
        return path.read_bytes()
    if hasattr(obj, "read"):
        data = obj.read()
        if not isinstance(data, (bytes, bytearray)):
            raise ValidationError("file object returned text", action="open the file with 'rb'")
        return bytes(data)
    if type(obj).__module__ == "numpy" and hasattr(obj, "dtype"):
        return _array_to_pil(obj)
    raise ValidationError(
        f"cannot use a {type(obj).__name__} as an image",
        action="pass a path, bytes, a binary file, a PIL image, a numpy array or an http(s) URL",
    )


def _array_to_pil(arr: np.ndarray) -> Image.Image:
    import numpy as np
    from PIL import Image

    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ValidationError(
            f"numpy image has shape {arr.shape}",
            action="use HxW (gray/mask), HxWx3 (RGB) or HxWx4 (RGBA)",
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if arr.size and (np.nanmin(arr) < 0.0 or np.nanmax(arr) > 1.0 or np.isnan(arr).any()):
            raise ValidationError(
                "float image values must lie in [0, 1]",
                action="scale it (e.g. arr / 255) or convert to uint8",
            )
        arr = np.round(arr * 255.0).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise ValidationError(
            f"numpy image has dtype {arr.dtype}",
            action="use uint8 (0..255), bool (masks) or float in [0, 1]",
        )
    return Image.fromarray(np.array(arr, copy=True, order="C"))  # never a view of the caller's


def to_pil(obj: Any) -> Image.Image:
    """Decode any supported input into an upright PIL image (URLs are not fetched)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(obj, str) and _is_url(obj):
        raise ValidationError(
            "URLs are sent to Venice as-is and never downloaded by venice_nb",
            action="pass a local path, bytes or an image object to work on it locally",
        )
    src = _read_source(obj)
    if isinstance(src, Image.Image):
        return src
    try:
        img = Image.open(io.BytesIO(src))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError(
            f"unreadable image data ({type(exc).__name__})",
            action="re-save the image as PNG or JPEG",
        ) from None
    return ImageOps.exif_transpose(img)


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, "JPEG", quality=90)
    else:
        if img.mode not in ("1", "L", "LA", "RGB", "RGBA", "P", "I;16"):
            img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
        img.save(buf, "PNG")
    return buf.getvalue()


def _fit_pixels(img: Image.Image, actions: list[str]) -> Image.Image:
    from PIL import Image

    w, h = img.size
    pixels = w * h
    if MIN_PIXELS <= pixels <= MAX_PIXELS:
        return img
    scale = ((MAX_PIXELS if pixels > MAX_PIXELS else MIN_PIXELS) / pixels) ** 0.5
    new = (max(1, int(w * scale)), max(1, int(h * scale)))
    # Rounding may land one pixel outside the range: nudge until inside.
    while new[0] * new[1] > MAX_PIXELS:
        new = (new[0] - 1, new[1]) if new[0] >= new[1] else (new[0], new[1] - 1)
    while new[0] * new[1] < MIN_PIXELS:
        new = (new[0] + 1, new[1]) if new[0] <= new[1] else (new[0], new[1] + 1)
    actions.append(f"resized {w}x{h} -> {new[0]}x{new[1]} to fit the pixel limits")
    return img.resize(new, Image.Resampling.LANCZOS)


def load_image(obj: Any, *, fit: bool = False, check_pixels: bool = True) -> ImagePayload:
    """Validate one input and encode it for sending; raise ValidationError before any request.

    ``fit=True`` resizes into the pixel range and re-encodes as JPEG when the file is too big,
    recording each step in ``actions``.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(obj, str) and _is_url(obj):
        return ImagePayload(url=obj)
    src = _read_source(obj)
    actions: list[str] = []
    if isinstance(src, Image.Image):
        img, data, mime = src, None, None
    else:
        data, mime = src, _sniff_mime(src)
        try:
            img = Image.open(io.BytesIO(src))
        except Image.DecompressionBombError:
            raise ValidationError(
                "the image has far more pixels than Venice accepts (over 33,177,600)",
                action="downscale it before loading; it is too large to decode safely",
                field="image",
            ) from None
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ValidationError(
                f"unreadable image data ({type(exc).__name__}, {len(src)} bytes)",
                action="check the file is a PNG, JPEG or WebP image and not truncated",
            ) from None
        orientation = img.getexif().get(_ORIENTATION_TAG, 1)  # JPEG, PNG and WebP carry it
        if mime not in ACCEPTED_INPUT_MIME or orientation not in (1, None):
            img = to_pil(src)
            actions.append(
                "applied EXIF orientation"
                if orientation not in (1, None)
                else f"re-encoded {img.format or 'image'} as PNG"
            )
            data = mime = None
    w, h = img.size
    if check_pixels and not MIN_PIXELS <= w * h <= MAX_PIXELS:
        if not fit:
            bound = "at least 65,536" if w * h < MIN_PIXELS else "at most 33,177,600"
            raise ValidationError(
                f"image is {w}x{h} = {w * h:,} pixels; Venice needs {bound}",
                action="resize it, or pass fit=True to let venice_nb resize it",
                field="image",
            )
        img = _fit_pixels(_loaded(img), actions)
        data = mime = None
    if data is None:
        img = _loaded(img)
        data, mime = _encode(img, "PNG"), "image/png"
    if len(data) >= MAX_IMAGE_BYTES:
        if not fit:
            raise ValidationError(
                f"image file is {len(data) / 1e6:.1f} MB; Venice takes less than 25 MB",
                action="save it as JPEG, or pass fit=True to re-encode it",
                field="image",
            )
        img = _loaded(img)
        # Transparency matters (an overlay layer needs it): keep PNG and shrink instead.
        fmt = "PNG" if "A" in img.getbands() or "transparency" in img.info else "JPEG"
        if fmt == "JPEG":
            data, mime = _encode(img, "JPEG"), "image/jpeg"
            actions.append("re-encoded as JPEG (quality 90) to stay under 25 MB")
        while len(data) >= MAX_IMAGE_BYTES:
            img = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.Resampling.LANCZOS)
            data = _encode(img, fmt)
            actions.append(f"downscaled to {img.width}x{img.height} to stay under 25 MB")
        w, h = img.size
    return ImagePayload(data=data, mime=mime, size=(w, h), actions=tuple(actions))


def _loaded(img: Image.Image) -> Image.Image:
    from PIL import ImageOps

    img.load()
    return ImageOps.exif_transpose(img) if img.getexif().get(_ORIENTATION_TAG, 1) != 1 else img
