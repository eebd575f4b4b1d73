"""What an encoded image's header and structure say, without decoding its pixels.

Reading EXIF or a size must not cost the image's full size in memory: a 0.4 MB PNG can claim
144 Mpx. Sizes come from the header; completeness from walking the file's structure (PNG's
image data is inflated in 1 MB steps and only counted), so a truncated or lying file is refused
before anything is sent, in bounded memory.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from typing import TYPE_CHECKING

from ._constants import MAX_PIXELS
from ._exceptions import ValidationError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DECODE_LIMIT_PIXELS",
    "open_header",
    "orientation",
    "sniff_mime",
    "unreadable",
    "why_incomplete",
]

# Above this an image is refused before decoding, even with fit=True: twice Venice's limit is
# a 50 Mpx camera photo (fit shrinks it), while a bomb would need gigabytes to decode.
DECODE_LIMIT_PIXELS = 2 * MAX_PIXELS

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
_ORIENTATION_TAG = 0x0112


def sniff_mime(data: bytes) -> str | None:
    """PNG, JPEG or WebP from the magic bytes; None for anything else."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def unreadable(field: str, what: str) -> ValidationError:
    return ValidationError(
        f"{field}: unreadable image data ({what})",
        action="check the file is a complete PNG, JPEG or WebP image (re-save it if unsure)",
        field=field,
    )


def _too_large_to_decode(field: str, size: tuple[int, int] | None) -> ValidationError:
    dims = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels: " if size else ""
    return ValidationError(
        f"{field} is {dims}far more pixels than Venice accepts ({MAX_PIXELS:,}), too many to "
        "decode safely",
        action="downscale it with an image editor before passing it in",
        field=field,
    )


def open_header(data: bytes, field: str) -> Image.Image:
    """Open without decoding: format, size and header metadata only."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # the size is checked below, with a clearer message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise _too_large_to_decode(field, None) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise unreadable(field, f"{type(exc).__name__}, {len(data):,} bytes") from None
    w, h = img.size
    if w * h > DECODE_LIMIT_PIXELS:
        raise _too_large_to_decode(field, (w, h))
    if w * h == 0:
        raise unreadable(field, f"the header says {w}x{h}")
    return img


def orientation(img: Image.Image) -> int:
    """EXIF orientation from the header alone (Pillow's PNG ``getexif`` would decode every
    pixel to look for a late eXIf chunk; the PNG spec puts it before the image data)."""
    from PIL import Image

    try:
        if img.format == "PNG":
            raw = img.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
        else:
            exif = img.getexif()
        value = exif.get(_ORIENTATION_TAG, 1)
    except (OSError, ValueError, SyntaxError, struct.error):
        return 1  # unreadable EXIF: show the image as stored
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # fmt: skip
_INFLATE_STEP = 1 << 20


def _png_complete(data: bytes) -> str | None:
    """Why a PNG cannot be decoded in full, or None. Walks the chunks and inflates the image
    data in 1 MB steps, counting bytes instead of keeping pixels: bounded memory, no decode."""
    pos, idat = 8, zlib.decompressobj()
    width = height = expected = produced = 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length or pos + 12 + length > len(data):
            return f"the {kind.decode('latin-1')!r} chunk is cut off"
        if kind == b"IHDR" and length >= 13:
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body[:13])
            bits = depth * _PNG_CHANNELS.get(color, 4)
            passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
            for x0, y0, dx, dy in passes:
                cols, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
                if cols > 0 and rows > 0:
                    expected += rows * (1 + -(-cols * bits // 8))
        elif kind == b"IDAT" and produced <= expected:  # past that, more data proves nothing
            try:
                chunk = idat.decompress(body, _INFLATE_STEP)
                produced += len(chunk)
                while idat.unconsumed_tail and produced <= expected:
                    produced += len(idat.decompress(idat.unconsumed_tail, _INFLATE_STEP))
            except zlib.error:
                return "its compressed pixel data is corrupt"
        elif kind == b"IEND":
            if produced < expected:
                return (
                    f"its header says {width}x{height} but the pixel data covers less "
                    f"({produced:,} of {expected:,} bytes)"
                )
            return None
        pos += 12 + length
    return "it ends before the IEND chunk (truncated)"


def _jpeg_complete(data: bytes) -> str | None:
    """Why a JPEG is cut short, or None: walk the header segments to the scan, then look for
    the end-of-image marker (entropy-coded data never contains one)."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None  # a layout this walk does not know: no opinion (Pillow opened it)
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:  # start of scan: the rest is pixel data, ended by EOI
            return None if data.find(b"\xff\xd9", pos + 2 + length) >= 0 else "it is truncated"
        pos += 2 + length
    return "it is truncated before its pixel data"


def _webp_complete(data: bytes) -> str | None:
    size = int.from_bytes(data[4:8], "little") + 8
    return None if len(data) >= size else f"it is truncated ({len(data):,} of {size:,} bytes)"


_COMPLETE = {"image/png": _png_complete, "image/jpeg": _jpeg_complete, "image/webp": _webp_complete}


def why_incomplete(mime: str, data: bytes) -> str | None:
    """Why a file of a format Venice reads cannot be decoded in full, or None."""
    check = _COMPLETE.get(mime)
    return check(data) if check else None
