"""Masks for targeted edits: build, combine, soften and apply them with plain numpy arrays.

One convention everywhere, the same as the multi-edit "mask" layer: a mask is an ``(height,
width)`` ``uint8`` array where **white (255) is what the model is asked to change** and black (0)
is what stays. Values in between are blend weights (soft edges); a pixel is *selected* when its
value is above 0.

Inputs are forgiving: masks may be ``bool``, ``uint8`` (0..255) or ``float`` (0.0..1.0) arrays
or PIL ``"1"``/``"L"`` images; images may be numpy arrays (HxW, HxWx3, HxWx4) or PIL images (or
a path / bytes). Every function returns a new ``uint8`` mask with values 0/255 (``feather`` and
``as_mask`` keep soft values) unless it draws into ``out=``.

Coordinates:

* sizes are ``(height, width)``, numpy's shape order, so ``mask.shape == size``. Wherever a size
  is asked for you may instead pass an image or array to take the size from;
* points are ``(x, y)`` = (column, row), like PIL and every canvas;
* boxes are ``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive, so ``mask[y0:y1, x0:x1]`` is the
  box and ``PIL.Image.crop(box)`` crops the same pixels;
* positions are continuous: pixel ``(x, y)`` is the unit square ``[x, x+1) x [y, y+1)`` with
  its centre at ``(x + 0.5, y + 0.5)``. A shape covers the pixels whose centre it contains, so
  ``rect(size, (2, 3, 5, 7))`` is exactly ``mask[3:7, 2:5]``.

Coordinates outside the mask are clipped, never an error; an empty shape gives an empty mask.
A bad argument raises ``venice_nb.ValidationError`` (also a ``ValueError`` and a ``TypeError``)
naming it, with ``action`` saying what to pass instead.
Everything is vectorised (numpy, Pillow's C filters); shape functions touch only the shape's
bounding box, so drawing into a large mask with ``out=`` costs what the shape covers.
"""

from __future__ import annotations

import itertools
import math
import numbers
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, overload

import numpy as np
from PIL import Image, ImageColor, ImageFilter

from . import _arguments as guards
from ._constants import MAX_PIXELS, MIN_PIXELS
from ._exceptions import ValidationError
from ._probe import DECODE_LIMIT_PIXELS
from ._segmenter import Segmenter, check_segmenter, load_segmenter
from ._types import Box, MaskInput

if TYPE_CHECKING:
    from ._selection import Selector

__all__ = [
    "Box",
    "Segmenter",
    "Size",
    "area",
    "as_mask",
    "bbox",
    "brush",
    "crop_to_mask",
    "ellipse",
    "feather",
    "from_alpha",
    "from_color",
    "grow",
    "intersect",
    "invert",
    "load_segmenter",
    "overlay",
    "paste_back",
    "polygon",
    "rect",
    "resize_to",
    "select_color",
    "select_object",
    "select_subject",
    "shrink",
    "stroke_box",
    "subtract",
    "threshold",
    "to_image",
    "union",
]

Size = tuple[int, int]
"""``(height, width)``: numpy shape order."""
SizeLike = Size | np.ndarray | Image.Image
MaskLike = np.ndarray | Image.Image
ImageLike = np.ndarray | Image.Image | str | os.PathLike[str] | bytes
ColorLike = str | int | Sequence[int]
PointsLike = Sequence[Sequence[float]] | np.ndarray
"""``(x, y)`` points: pairs, or an ``(n, 2)`` array."""

_MASK_DTYPES = "bool, uint8 (0..255) or float (0.0..1.0)"
_NONZERO_LUT = [0] + [255] * 255  # Pillow point() table: any value > 0 -> 255
_ZERO_LUT = [255] + [0] * 255  # the same, inverted
# Largest radius one Pillow box-blur pass can turn into an exact binary dilation: a single 255
# among 2r+1 pixels must still round to >= 1.
_BLUR_STEP = 200
_BLOCK_PIXELS = 1 << 20  # dense per-pixel maths is done in blocks this big to bound memory


# --------------------------------------------------------------------------------------------
# input normalisation
# --------------------------------------------------------------------------------------------


def _size(size: object) -> Size:
    """``(height, width)`` from a size tuple, an array or a PIL image."""
    if isinstance(size, Image.Image):
        return size.height, size.width
    if isinstance(size, np.ndarray):
        if size.ndim < 2:
            raise ValidationError(
                f"cannot take a (height, width) size from an array of shape {size.shape}",
                action="pass (height, width), or an image or 2-D/3-D array of that size",
                field="size",
            )
        return int(size.shape[0]), int(size.shape[1])
    if (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in size)
    ):
        h, w = int(size[0]), int(size[1])
        if h * w > DECODE_LIMIT_PIXELS:
            raise ValidationError(
                f"size {h}x{w} is {h * w:,} pixels, far beyond any image Venice takes",
                action=f"use a size of at most {MAX_PIXELS:,} pixels (the image's own size)",
                field="size",
            )
        if h < 1 or w < 1:
            raise ValidationError(
                f"size must be positive (height, width); got {tuple(size)}",
                action="use a height and width of at least 1", field="size",
            )
        return h, w
    raise ValidationError(
        f"size must be (height, width) as two ints, or an image/array to take the size from; "
        f"got {size!r:.80}",
        action="pass e.g. (512, 768), or the image itself", field="size",
    )


def _float_to_uint8(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.size:
        lo, hi = float(arr.min()), float(arr.max())
        if not (lo >= 0.0 and hi <= 1.0):  # also catches NaN
            raise ValidationError(
                f"{what} is a float array with values in [{lo:g}, {hi:g}]; float values must "
                "lie in [0.0, 1.0]",
                action="divide by 255, or pass a uint8 array", field=what,
            )
    out = np.empty(arr.shape, np.uint8)
    band = _band_rows(arr.shape[1] if arr.ndim > 1 else 1)
    for r0 in range(0, arr.shape[0], band):  # by bands: no full-size float temporary
        scaled = np.multiply(arr[r0:r0 + band], 255.0, dtype=np.float32)
        scaled += 0.5
        out[r0:r0 + band] = scaled
    return out


def _array_to_uint8(arr: np.ndarray, what: str) -> np.ndarray:
    """uint8 view/copy of a bool, uint8 or float array (uint8 input is returned as is)."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        scaled: np.ndarray = arr.view(np.uint8) * np.uint8(255)
        return scaled
    if np.issubdtype(arr.dtype, np.floating):
        return _float_to_uint8(arr, what)
    hint = (
        " (for a 0/1 integer array use `arr > 0`; for 0..255 values use `arr.astype(np.uint8)`)"
        if np.issubdtype(arr.dtype, np.integer)
        else ""
    )
    raise ValidationError(
        f"{what} has dtype {arr.dtype}; expected {_MASK_DTYPES}",
        action=f"convert it{hint or ' (e.g. arr.astype(np.uint8))'}", field=what,
    )


def _load(obj: MaskInput, what: str) -> Image.Image:
    """A PIL image from a path, bytes or file, via the package's one image loader."""
    if isinstance(obj, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(obj, "read"):
        from ._images import to_pil

        return to_pil(obj)
    raise ValidationError(
        f"{what} must be a numpy array or a PIL image (or a path/bytes); got {type(obj).__name__}",
        action=f"pass {what} as np.asarray(...) or a PIL image", field=what,
    )


def as_mask(mask: MaskInput, *, name: str = "mask") -> np.ndarray:
    """The canonical ``(height, width)`` uint8 form of any accepted mask (soft values kept).

    Accepts bool, uint8 (0..255) or float (0.0..1.0) arrays, PIL ``"1"``/``"L"`` images, and
    grayscale RGB(A) images (R == G == B, fully opaque), which is how masks saved by paint
    programs often look. A uint8 array is returned as is, not copied.

    Args:
        mask: A mask (bool, uint8 or float array, PIL image or path).
        name: What to call it in an error.
    """
    if isinstance(mask, np.ndarray):
        arr = mask
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim != 2:
            raise ValidationError(
                f"{name} must be a 2-D (height, width) array; got shape {mask.shape}",
                action="to make a mask from an image use masks.threshold, masks.from_color or "
                "masks.from_alpha",
                field=name,
            )
        return _array_to_uint8(arr, name)
    img = mask if isinstance(mask, Image.Image) else _load(mask, name)
    if img.mode in ("1", "L"):
        return np.asarray(img.convert("L"))
    if img.mode in ("I", "I;16", "F"):
        raise ValidationError(
            f"{name} is a PIL {img.mode!r} image", action="convert it to 'L' (0..255) first",
            field=name,
        )
    rgba = np.asarray(img.convert("RGBA"))
    gray = rgba[..., 0]
    opaque = (rgba[..., 3] == 255).all()
    if opaque and (rgba[..., 1] == gray).all() and (rgba[..., 2] == gray).all():
        return np.ascontiguousarray(gray)
    raise ValidationError(
        f"{name} is a PIL {img.mode!r} image with colour or transparency; a mask must be "
        "grayscale",
        action="use masks.from_alpha (transparency), masks.from_color or masks.threshold "
        "to make one",
        field=name,
    )


def _image_array(image: ImageLike, what: str = "image") -> np.ndarray:
    """uint8 ``HxW``, ``HxWx3`` or ``HxWx4`` array of an image (uint8 arrays are not copied)."""
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
            raise ValidationError(
                f"{what} must be an HxW, HxWx3 (RGB) or HxWx4 (RGBA) array; got shape "
                f"{image.shape}",
                action="pass a gray, RGB or RGBA image", field=what,
            )
        return _array_to_uint8(arr, what)
    img = image if isinstance(image, Image.Image) else _load(image, what)
    return np.asarray(_pil_standard(img))


def _pil_standard(img: Image.Image) -> Image.Image:
    """The image in "L", "RGB" or "RGBA", keeping transparency when it has any."""
    if img.mode in ("L", "RGB", "RGBA"):
        return img
    if img.mode == "1":
        return img.convert("L")
    has_alpha = "A" in img.getbands() or "transparency" in img.info
    return img.convert("RGBA" if has_alpha else "RGB")


def _as_pil(image: ImageLike, what: str = "image") -> Image.Image:
    if isinstance(image, Image.Image):
        return _pil_standard(image)
    return Image.fromarray(np.ascontiguousarray(_image_array(image, what)))


def _same_size(mask: np.ndarray, size: Size, what: str, target: str) -> None:
    if mask.shape != size:
        raise ValidationError(
            f"{what} is {mask.shape[1]}x{mask.shape[0]} (WxH) but {target} is "
            f"{size[1]}x{size[0]}",
            action=f"resize it first with masks.resize_to({what}, {target})", field=what,
        )


def _value(value: object) -> int:
    if isinstance(value, (bool, np.bool_)):
        return 255 if value else 0
    v = guards.number(value, "value")
    if not 0 <= v <= 255:
        raise ValidationError(
            f"value must be 0..255; got {value!r:.40}",
            action="use 255 to select, 0 to erase (or a blend weight between)", field="value",
        )
    return round(v)


def _target(size: SizeLike | None, out: np.ndarray | None) -> np.ndarray:
    """A fresh zero mask of ``size``, or ``out`` checked to be a writable uint8 2-D array."""
    if out is None:
        if size is None:
            raise ValidationError(
                "no size and no out= given", action="give a size (height, width), or out= to "
                "draw into", field="size",
            )
        return np.zeros(_size(size), np.uint8)
    if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.ndim != 2:
        got = f"{out.dtype} array of shape {out.shape}" if isinstance(out, np.ndarray) else (
            type(out).__name__
        )
        raise ValidationError(
            f"out must be a uint8 (height, width) array; got a {got}",
            action="pass a mask made by venice_nb.masks, or omit out=", field="out",
        )
    if not out.flags.writeable:
        raise ValidationError(
            "out is read-only", action="pass a writable array (e.g. np.array(mask))", field="out"
        )
    if size is not None and size is not out and _size(size) != out.shape:
        raise ValidationError(
            f"size {_size(size)} does not match out.shape {out.shape}",
            action="pass size=None when drawing into out=", field="size",
        )
    return out


def _points(points: object) -> np.ndarray:
    """``(n, 2)`` float64 array of ``(x, y)`` points."""
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(
            "points must be a sequence of (x, y) pairs",
            action="pass e.g. [(10, 20), (30, 40)]", field="points",
        ) from None
    if pts.size == 0:
        return pts.reshape(0, 2)
    if pts.ndim == 1 and pts.shape[0] == 2:
        pts = pts.reshape(1, 2)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValidationError(
            f"points must be a sequence of (x, y) pairs (an (n, 2) array); got shape {pts.shape}",
            action="pass e.g. [(10, 20), (30, 40)]", field="points",
        )
    if not np.isfinite(pts).all():
        raise ValidationError(
            "points must be finite numbers", action="drop NaN or infinite points", field="points"
        )
    return pts


def _box(box: object) -> tuple[float, float, float, float]:
    if not isinstance(box, (tuple, list, np.ndarray)) or len(box) != 4:
        raise ValidationError(
            f"box must be (x0, y0, x1, y1); got {box!r:.80}",
            action="pass four numbers, x1/y1 exclusive", field="box",
        )
    x0, y0, x1, y1 = (guards.number(v, "box coordinates") for v in box)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _span(lo: float, hi: float, n: int) -> tuple[int, int]:
    """Pixel indices ``[a, b)`` whose centres lie in ``[lo, hi)``, clipped to ``[0, n]``."""
    lo = min(max(lo, -1.0), n + 1.0)
    hi = min(max(hi, -1.0), n + 1.0)
    return min(max(math.ceil(lo - 0.5), 0), n), min(max(math.ceil(hi - 0.5), 0), n)


# --------------------------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------------------------


def _ranges(first: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand ranges ``first[i] .. first[i] + counts[i]`` into ``(owner i, value)`` pairs."""
    owner = np.repeat(np.arange(len(first)), counts)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, first[owner] + offset


def _fill_toggles(out: np.ndarray, rows: np.ndarray, cols: np.ndarray, value: int) -> None:
    """Set ``out`` to ``value`` where an odd number of toggles lie at or left of a pixel.

    ``(rows[i], cols[i])`` toggles inside/outside from column ``cols[i]`` onward; only the
    bounding box of the toggles is touched (even-odd rule for polygons, spans for ellipses).
    """
    if rows.size == 0:
        return
    cols = np.clip(cols, 0, out.shape[1])
    x0, x1 = int(cols.min()), int(cols.max())
    if x1 <= x0:
        return
    y0, y1 = int(rows.min()), int(rows.max()) + 1
    diff = np.zeros((y1 - y0, x1 - x0 + 1), np.uint8)
    np.add.at(diff, (rows - y0, cols - x0), 1)
    np.cumsum(diff, axis=1, dtype=np.uint8, out=diff)  # wraps at 256: parity is what counts
    inside = (diff[:, :-1] & 1).view(np.bool_)
    np.copyto(out[y0:y1, x0:x1], np.uint8(value), where=inside)


def rect(size: SizeLike | None, box: Sequence[float], *, value: int = 255,
         out: np.ndarray | None = None) -> np.ndarray:
    """A filled rectangle: pixels whose centre lies in ``box = (x0, y0, x1, y1)``.

    Integer boxes select exactly ``mask[y0:y1, x0:x1]``; corners may come in any order.
    ``out=`` draws into an existing uint8 mask in place (``value=0`` erases), touching only the
    box, and returns it.

    Args:
        size: `(height, width)`, an image or an array to take it from; None with `out=`.
        box: `(x0, y0, x1, y1)`.
        value: What to draw: 255 selects, 0 erases (with `out=`).
        out: An existing uint8 mask to draw into, in place; None: a new one.
    """
    out = _target(size, out)
    x0, y0, x1, y1 = _box(box)
    h, w = out.shape
    c0, c1 = _span(x0, x1, w)
    r0, r1 = _span(y0, y1, h)
    if c1 > c0 and r1 > r0:
        out[r0:r1, c0:c1] = _value(value)
    return out


def ellipse(size: SizeLike | None, box: Sequence[float], *, value: int = 255,
            out: np.ndarray | None = None) -> np.ndarray:
    """A filled ellipse inscribed in ``box = (x0, y0, x1, y1)`` (PIL's convention).

    A pixel is in when its centre is strictly inside the ellipse. For a circle of radius ``r``
    around ``(cx, cy)`` use ``box=(cx - r, cy - r, cx + r, cy + r)``. ``out=``/``value=`` as
    in :func:`rect`.

    Args:
        size: `(height, width)`, an image or an array to take it from; None with `out=`.
        box: `(x0, y0, x1, y1)` the ellipse is inscribed in.
        value: What to draw: 255 selects, 0 erases (with `out=`).
        out: An existing uint8 mask to draw into, in place; None: a new one.
    """
    out = _target(size, out)
    x0, y0, x1, y1 = _box(box)
    val = _value(value)
    h = out.shape[0]
    a, b = (x1 - x0) / 2, (y1 - y0) / 2
    if a <= 0 or b <= 0:
        return out
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    r0, r1 = _span(y0, y1, h)
    rows = np.arange(r0, r1)
    t = (rows + 0.5 - cy) / b
    rows, t = rows[np.abs(t) < 1], t[np.abs(t) < 1]
    half = a * np.sqrt(1 - t * t)
    w = out.shape[1]  # clip in floats first: a huge box must not overflow the int cast
    start = np.floor(np.clip(cx - half - 0.5, -2, w + 1)).astype(np.int64) + 1
    stop = np.ceil(np.clip(cx + half - 0.5, -2, w + 1)).astype(np.int64)
    keep = stop > start
    rows, start, stop = rows[keep], start[keep], stop[keep]
    _fill_toggles(out, np.concatenate([rows, rows]), np.concatenate([start, stop]), val)
    return out


def polygon(size: SizeLike | None, points: PointsLike, *, value: int = 255,
            out: np.ndarray | None = None) -> np.ndarray:
    """A filled polygon through ``points = [(x, y), ...]`` (closed automatically).

    Pixels whose centre is inside by the even-odd rule are selected, so self-intersecting
    outlines leave holes where they overlap. Fewer than 3 points, or zero area, give nothing.
    ``out=``/``value=`` as in :func:`rect`.

    Args:
        size: `(height, width)`, an image or an array to take it from; None with `out=`.
        points: `[(x, y), ...]` corners, closed automatically.
        value: What to draw: 255 selects, 0 erases (with `out=`).
        out: An existing uint8 mask to draw into, in place; None: a new one.
    """
    out = _target(size, out)
    pts = _points(points)
    val = _value(value)
    if len(pts) < 3:
        return out
    h, _ = out.shape
    xa, ya = pts[:, 0], pts[:, 1]
    xb, yb = np.roll(xa, -1), np.roll(ya, -1)
    # Rows whose centre line y = r + 0.5 crosses an edge, with min(y) <= r + 0.5 < max(y).
    first = np.clip(np.ceil(np.minimum(ya, yb) - 0.5), 0, h).astype(np.int64)
    last = np.clip(np.ceil(np.maximum(ya, yb) - 0.5), 0, h).astype(np.int64)
    edge, rows = _ranges(first, last - first)
    slope = (xb[edge] - xa[edge]) / (yb[edge] - ya[edge])
    xs = xa[edge] + (rows + 0.5 - ya[edge]) * slope
    # First pixel whose centre is right of the crossing.
    cols = np.floor(np.clip(xs, -2.0, out.shape[1] + 2.0) - 0.5).astype(np.int64) + 1
    _fill_toggles(out, rows, cols, val)
    return out


def _clip_segments(a: np.ndarray, b: np.ndarray, lo: tuple[float, float],
                   hi: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Liang-Barsky: the parts of segments ``a[i] -> b[i]`` inside the rectangle ``lo..hi``."""
    d = b - a
    t0 = np.zeros(len(a))
    t1 = np.ones(len(a))
    keep = np.ones(len(a), bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for axis in (0, 1):
            for p, q in ((-d[:, axis], a[:, axis] - lo[axis]), (d[:, axis], hi[axis] - a[:, axis])):
                keep &= ~((p == 0) & (q < 0))
                r = q / p
                t0 = np.where(p < 0, np.maximum(t0, r), t0)
                t1 = np.where(p > 0, np.minimum(t1, r), t1)
    keep &= t0 <= t1
    a2 = a + t0[:, None] * d
    b2 = a + t1[:, None] * d
    return a2[keep], b2[keep]


def _capsules(pts: np.ndarray, radius: float, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The stroke as segments ``a[i] -> b[i]`` that can touch the mask (one point: ``a == b``).

    Clipped to the mask grown by ``radius``: parts beyond are farther than ``radius`` from
    every pixel centre, so far-off points cost nothing and coordinates stay small.
    """
    a = pts[:-1] if len(pts) > 1 else pts
    b = pts[1:] if len(pts) > 1 else pts
    lo, hi = (-radius, -radius), (w + radius, h + radius)
    if (pts >= lo).all() and (pts <= hi).all():  # the usual case: nothing to clip
        return a, b
    return _clip_segments(a, b, lo, hi)


def _band(k: np.ndarray, m: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The open interval of ``u`` where ``|u * k - m| < s``: ``(lo, hi)``, empty if ``lo >= hi``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p, q = (m - s) / k, (m + s) / k
    lo, hi = np.minimum(p, q), np.maximum(p, q)
    flat = k == 0  # the line is parallel to the band: all of it or nothing
    if flat.any():
        lo[flat] = np.where(np.abs(m[flat]) < s[flat], -np.inf, np.inf)
        hi[flat] = -lo[flat]
    return lo, hi


def _capsule_spans(a: np.ndarray, b: np.ndarray, radius: float,
                   h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, starts, stops)``: the columns ``[start, stop)`` each capsule covers, per row.

    A capsule (the points closer than ``radius`` to a segment) is convex, so it cuts the
    line through a row's pixel centres in one open interval: the hull of where the two end
    discs and the band beside the segment cut it. O(rows), whatever the radius.
    """
    lo_y, hi_y = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    first = np.clip(np.floor(lo_y - radius - 0.5) + 1, 0, h).astype(np.int64)
    last = np.clip(np.ceil(hi_y + radius - 0.5), 0, h).astype(np.int64)
    seg, rows = _ranges(first, np.maximum(last - first, 0))
    ax, ay, bx, by = a[seg, 0], a[seg, 1], b[seg, 0], b[seg, 1]
    ca, cb = rows + 0.5 - ay, rows + 0.5 - by  # the row's height above each end
    r2 = radius * radius
    with np.errstate(invalid="ignore"):  # NaN where the row misses a disc; fmin/fmax skip it
        ha, hb = np.sqrt(r2 - ca * ca), np.sqrt(r2 - cb * cb)
    left, right = np.fmin(ax - ha, bx - hb), np.fmax(ax + ha, bx + hb)
    # The band beside the segment, in u = x - ax: the distance to its line, |u dy - ca dx| / L,
    # is below r and the projection u dx + ca dy lies within [0, L^2] (ends: the discs).
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    lo1, hi1 = _band(dy, ca * dx, radius * np.sqrt(length2))
    lo2, hi2 = _band(dx, length2 / 2 - ca * dy, length2 / 2)
    lo, hi = np.maximum(lo1, lo2), np.minimum(hi1, hi2)
    miss = np.where(lo < hi, ax, np.nan)
    left, right = np.fmin(left, lo + miss), np.fmax(right, hi + miss)
    # Pixels whose centre is strictly inside (left, right); NaN (no capsule) keeps nothing.
    starts = np.clip(np.floor(left - 0.5) + 1, 0, w)
    stops = np.clip(np.ceil(right - 0.5), 0, w)
    keep = stops > starts
    return rows[keep], starts[keep].astype(np.int64), stops[keep].astype(np.int64)


def _union_runs(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge half-open intervals into disjoint sorted runs.

    Sorting starts and stops separately is enough: a gap opens before the i-th start exactly
    when the i-th smallest stop is below it. Each segment's spans come already sorted, which
    the stable sort (timsort) merges in near-linear time.
    """
    s, e = np.sort(starts, kind="stable"), np.sort(stops, kind="stable")
    new = np.flatnonzero(s[1:] > e[:-1]) + 1
    return s[np.concatenate(([0], new))], e[np.concatenate((new - 1, [e.size - 1]))]


def _paint_runs(out: np.ndarray, rows: np.ndarray, starts: np.ndarray, stops: np.ndarray,
                value: int) -> None:
    """Set ``out[row, start:stop] = value`` for disjoint runs sorted by row, then column.

    The runs become one boolean bounding-box mask via ``np.repeat`` (alternating gap and
    run lengths), so the cost is one pass over the box, never a loop per run.
    """
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    x0, x1 = int(starts.min()), int(stops.max())
    bw = x1 - x0
    flat_start = (rows - y0) * bw + (starts - x0)
    flat_stop = (rows - y0) * bw + (stops - x0)
    lengths = np.empty(2 * rows.size + 1, np.int64)
    lengths[0] = flat_start[0]
    lengths[2:-1:2] = flat_start[1:] - flat_stop[:-1]
    lengths[1::2] = flat_stop - flat_start
    lengths[-1] = (y1 - y0) * bw - flat_stop[-1]
    on = np.zeros(lengths.size, bool)
    on[1::2] = True
    inside = np.repeat(on, lengths).reshape(y1 - y0, bw)
    np.copyto(out[y0:y1, x0:x1], np.uint8(value), where=inside)


def brush(size: SizeLike | None, points: PointsLike, radius: float, *, value: int = 255,
          out: np.ndarray | None = None) -> np.ndarray:
    """A brush stroke: round dabs of ``radius`` swept along ``points = [(x, y), ...]``.

    Selects every pixel whose centre is closer than ``radius`` to the polyline (one point is a
    single round dab; ``radius=0`` or no points paint nothing); centres within ~1e-4 px of the
    edge may fall either way (float rounding). The work is per row of each segment, not per
    pixel of its box, so a whole stroke with a huge brush stays fast. For painting, pass the
    mask as ``out=`` with the latest stroke segment: the cost depends on the segment, not
    the mask::

        masks.brush(None, [(x0, y0), (x1, y1)], 12, out=mask)            # paint
        masks.brush(None, [(x0, y0), (x1, y1)], 12, out=mask, value=0)   # erase

    Args:
        size: `(height, width)`, an image or an array to take it from; None with `out=`.
        points: `[(x, y), ...]` along the stroke.
        radius: The brush radius in pixels.
        value: What to draw: 255 selects, 0 erases (with `out=`).
        out: An existing uint8 mask to draw into, in place; None: a new one.
    """
    out = _target(size, out)
    pts = _points(points)
    r = guards.number(radius, "radius")
    if r < 0:
        raise ValidationError(
            f"radius must be >= 0 pixels; got {radius!r}", action="use radius=0 or more",
            field="radius",
        )
    val = _value(value)
    if r == 0 or not len(pts):
        return out
    h, w = out.shape
    a, b = _capsules(pts, r, h, w)
    if len(a) == 1:  # one segment (the painter's mouse-move): its spans are already runs
        rows, starts, stops = _capsule_spans(a, b, r, h, w)
        if rows.size:
            _paint_runs(out, rows, starts, stops, val)
        return out
    # Segments in batches, merged as they come: a segment row costs ~30 float64 temporaries,
    # so _BLOCK_PIXELS // 32 rows a batch keeps them near _BLOCK_PIXELS * 8 bytes.
    # Keys row * (w + 1) + column keep each row's runs apart.
    batch = max(1, _BLOCK_PIXELS // 32)
    height = np.minimum(np.abs(b[:, 1] - a[:, 1]) + 2 * r + 1, h)
    cuts = np.searchsorted(np.cumsum(height), np.arange(batch, height.sum(), batch))
    run_starts, run_stops = [], []
    for lo, hi in itertools.pairwise([0, *np.unique(cuts).tolist(), len(a)]):
        if hi <= lo:
            continue
        rows, starts, stops = _capsule_spans(a[lo:hi], b[lo:hi], r, h, w)
        if rows.size:
            s, e = _union_runs(rows * (w + 1) + starts, rows * (w + 1) + stops)
            run_starts.append(s)
            run_stops.append(e)
    if not run_starts:
        return out
    s, e = np.concatenate(run_starts), np.concatenate(run_stops)
    if len(run_starts) > 1:
        s, e = _union_runs(s, e)
    rows, starts = np.divmod(s, w + 1)
    _paint_runs(out, rows, starts, e - rows * (w + 1), val)
    return out


def stroke_box(size: SizeLike, points: PointsLike, radius: float) -> Box | None:
    """The clipped box :func:`brush` may change for this stroke (None when it misses the mask).

    A painter can redraw just this region after each stroke segment.

    Args:
        size: `(height, width)` of the mask.
        points: The stroke's points.
        radius: The brush radius.
    """
    h, w = _size(size)
    pts = _points(points)
    r = guards.number(radius, "radius")
    if r <= 0 or not len(pts):
        return None
    x0 = max(0, math.floor(pts[:, 0].min() - r))
    y0 = max(0, math.floor(pts[:, 1].min() - r))
    x1 = min(w, math.ceil(pts[:, 0].max() + r) + 1)
    y1 = min(h, math.ceil(pts[:, 1].max() + r) + 1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


# --------------------------------------------------------------------------------------------
# masks from images
# --------------------------------------------------------------------------------------------


def from_alpha(image: ImageLike, *, level: int | None = 128) -> np.ndarray:
    """A mask from an image's transparency: opaque (alpha >= ``level``) is white.

    ``level=None`` keeps the alpha channel's soft values. For inpainting masks drawn as
    transparent holes (the "transparent = edit" convention), use ``invert(from_alpha(img))``.

    Args:
        image: An image with transparency.
        level: Alpha at or above which a pixel is selected; None keeps soft values.
    """
    if isinstance(image, np.ndarray):
        arr = _image_array(image)
        if arr.ndim != 3 or arr.shape[2] != 4:
            raise ValidationError(
                f"from_alpha needs an HxWx4 (RGBA) array; got shape {image.shape}, which has "
                "no alpha channel",
                action="use masks.threshold or masks.from_color for opaque images",
                field="image",
            )
        alpha = arr[:, :, 3]
    else:
        img = image if isinstance(image, Image.Image) else _load(image, "image")
        if "A" not in img.getbands() and "transparency" not in img.info:
            raise ValidationError(
                f"from_alpha needs an image with transparency; this PIL image is mode "
                f"{img.mode!r} with no alpha channel",
                action="use masks.threshold or masks.from_color for opaque images",
                field="image",
            )
        alpha = np.asarray(img.convert("RGBA"))[:, :, 3]
    if level is None:
        return np.array(alpha)
    return _at_least(alpha, level)


def _bool_to_mask(selected: np.ndarray) -> np.ndarray:
    """0/255 uint8 from a bool array this module owns, reusing its memory."""
    out = selected.view(np.uint8)
    out *= np.uint8(255)
    return out


def _at_least(gray: np.ndarray, level: float) -> np.ndarray:
    return _bool_to_mask(gray >= guards.number(level, "level"))


def threshold(image: ImageLike, level: float = 128) -> np.ndarray:
    """White where the image's brightness is ``>= level`` (0..255), black elsewhere.

    Colour images are reduced to luminance first (Pillow's ITU-R 601 weights); a mask is a
    valid input, so ``threshold(soft_mask, 128)`` hardens a feathered mask.

    Args:
        image: An image or soft mask.
        level: Brightness at or above which a pixel is selected (0..255).
    """
    if isinstance(image, np.ndarray) and image.ndim == 2:
        gray = as_mask(image, name="image")
    else:
        arr = _image_array(image)
        gray = arr if arr.ndim == 2 else np.asarray(Image.fromarray(arr[:, :, :3]).convert("L"))
    return _at_least(gray, level)


def _rgb(color: object) -> tuple[int, int, int]:
    """``(r, g, b)`` from a colour name/hex string, a gray level or an RGB(A) tuple."""
    if isinstance(color, str):
        try:
            r, g, b = ImageColor.getrgb(color)[:3]
            return r, g, b
        except ValueError:
            raise ValidationError(
                f"unknown colour {color!r:.60}", action="use a name, '#rrggbb' or (r, g, b)",
                field="color",
            ) from None
    if isinstance(color, numbers.Integral) and not isinstance(color, bool):
        color = (color,) * 3
    if (
        isinstance(color, (tuple, list, np.ndarray))
        and len(color) in (3, 4)
        and all(isinstance(c, numbers.Integral) and 0 <= int(c) <= 255 for c in color)
    ):
        return int(color[0]), int(color[1]), int(color[2])
    raise ValidationError(
        f"colour {color!r:.60} is not valid",
        action="use a name, '#rrggbb', 0..255 or (r, g, b)", field="color",
    )


def from_color(image: ImageLike, color: ColorLike | None = None, tolerance: float = 0, *,
               seed: tuple[float, float] | None = None, connectivity: int = 4) -> np.ndarray:
    """White where the image has ``color`` (each RGB channel within ``tolerance``, 0..255).

    With ``seed=(x, y)`` it is a paint bucket: only the matching region connected to the seed
    pixel (4- or 8-connected) is selected, and ``color=None`` takes the seed pixel's colour.
    A seed outside the image, or on a pixel that does not match, gives an empty mask. Alpha is
    ignored (use :func:`from_alpha`). Runs in linear time, with no per-pixel Python loop.

    Args:
        image: The image.
        color: The colour to select; None with `seed`: the seed pixel's.
        tolerance: How far each RGB channel may differ (0..255).
        seed: `(x, y)`: select only the region connected to it (paint bucket).
        connectivity: 4 or 8 neighbours.
    """
    arr = _image_array(image)
    tol = guards.number(tolerance, "tolerance")
    if tol < 0:
        raise ValidationError(
            f"tolerance must be >= 0; got {tolerance!r}",
            action="use 0..255 (per channel)", field="tolerance",
        )
    if connectivity not in (4, 8) or isinstance(connectivity, bool):
        raise ValidationError(
            f"connectivity must be 4 or 8; got {connectivity!r:.40}",
            action="use 4 (edges) or 8 (edges and corners)", field="connectivity",
        )
    h, w = arr.shape[:2]
    sx = sy = None
    if seed is not None:
        sxf, syf = (guards.number(v, "seed") for v in _points(seed)[0])
        if not (0 <= sxf < w and 0 <= syf < h):
            return np.zeros((h, w), np.uint8)
        sx, sy = int(sxf), int(syf)
    if color is None:
        if sx is None or sy is None:
            raise ValidationError(
                "no colour to match",
                action="give a color, a seed=(x, y) to take the colour from, or both",
                field="color",
            )
        px = arr[sy, sx]
        rgb = (int(px),) * 3 if arr.ndim == 2 else tuple(int(c) for c in px[:3])
    else:
        rgb = _rgb(color)
    if sx is None or sy is None:
        return _bool_to_mask(_matches(arr, rgb, tol))
    return _connected(_matches(arr, rgb, tol), sx, sy, connectivity)


def _matches(arr: np.ndarray, rgb: tuple[int, ...], tol: float) -> np.ndarray:
    """Boolean: every channel within ``tol`` of ``rgb`` (uint8 comparisons, no wide temps)."""
    match = np.ones(arr.shape[:2], bool)
    for c, ref in enumerate(rgb):
        channel = arr if arr.ndim == 2 else arr[:, :, c]
        lo, hi = math.ceil(ref - tol), math.floor(ref + tol)
        if lo > 0:
            match &= channel >= lo
        if hi < 255:
            match &= channel <= hi
    return match


def _band_rows(w: int) -> int:
    """Rows per band so a band holds about ``_BLOCK_PIXELS`` pixels."""
    return max(1, _BLOCK_PIXELS // max(w, 1))


def _row_run_edges(rows: np.ndarray, *, ends: bool = False) -> np.ndarray:
    """Flat indices (within ``rows``) where runs of True start (or, with ``ends``, stop)."""
    edge = np.empty_like(rows)
    if ends:
        edge[:, -1] = rows[:, -1]
        np.greater(rows[:, :-1], rows[:, 1:], out=edge[:, :-1])
    else:
        edge[:, 0] = rows[:, 0]
        np.greater(rows[:, 1:], rows[:, :-1], out=edge[:, 1:])
    return np.flatnonzero(edge)


def _runs(match: np.ndarray, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Flat ``[start, end)`` of every horizontal run of True, in raster order, band by band."""
    h, w = match.shape
    starts, ends = [], []
    band = _band_rows(w)
    for r0 in range(0, h, band):
        rows = match[r0:r0 + band]
        starts.append((_row_run_edges(rows) + r0 * w).astype(dtype))
        ends.append((_row_run_edges(rows, ends=True) + (r0 * w + 1)).astype(dtype))
    return np.concatenate(starts), np.concatenate(ends)


def _run_edges(match: np.ndarray, starts: np.ndarray, connectivity: int,
               dtype: type) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs (upper run, lower run) of runs that touch across adjacent rows, band by band.

    One edge per stretch where both rows match is enough (every pixel pair in a stretch joins
    the same two runs). With 8-connectivity a diagonal step is added only where neither
    4-connected detour exists, which keeps the edge count close to the 4-connected one.
    """
    h, w = match.shape
    band = _band_rows(w)
    upper: list[np.ndarray] = []
    lower: list[np.ndarray] = []
    for r0 in range(0, h - 1, band):
        r1 = min(h - 1, r0 + band)
        up, down = match[r0:r1], match[r0 + 1:r1 + 1]
        i0, i1 = np.searchsorted(starts, np.array([r0 * w, (r1 + 1) * w], starts.dtype))
        local = starts[i0:i1]  # runs of rows r0..r1, so the lookups stay in cache

        def run_of(pos: np.ndarray, local: np.ndarray = local, i0: int = i0) -> np.ndarray:
            return (np.searchsorted(local, pos, "right") + (i0 - 1)).astype(dtype)

        found = [(_row_run_edges(up & down), 0, w)]
        if connectivity == 8 and w > 1:
            diag = np.greater(up[:, :-1], up[:, 1:])  # (x, y) -> (x+1, y+1), no detour
            diag &= np.greater(down[:, 1:], down[:, :-1])
            anti = np.greater(up[:, 1:], up[:, :-1])  # (x+1, y) -> (x, y+1), no detour
            anti &= np.greater(down[:, :-1], down[:, 1:])
            for pairs, up_off, down_off in ((diag, 0, w + 1), (anti, 1, w)):
                y, x = np.divmod(np.flatnonzero(pairs), w - 1)
                found.append((y * w + x, up_off, down_off))
        for pos, up_off, down_off in found:
            pos = pos + r0 * w
            upper.append(run_of(pos + up_off))
            lower.append(run_of(pos + down_off))
    if not upper:
        return []
    return [(np.concatenate(upper), np.concatenate(lower))]


def _connected(match: np.ndarray, sx: int, sy: int, connectivity: int) -> np.ndarray:
    """The connected region of ``match`` holding pixel ``(sx, sy)``, as a 0/255 mask.

    Each row's runs of matching pixels are graph nodes; runs touching across adjacent rows are
    edges (the upper run always has the smaller index). A vectorised union-find (hook roots
    under the smaller root, then pointer-jump) labels the runs in a few whole-array passes,
    whatever the region's shape. Work is banded, so memory stays near the mask's own size.
    """
    h, w = match.shape
    if not match[sy, sx]:
        return np.zeros((h, w), np.uint8)
    dtype = np.int32 if h * w < 2**31 - 1 else np.int64
    starts, ends = _runs(match, dtype)
    edges = _run_edges(match, starts, connectivity, dtype)
    del match
    parent = np.arange(starts.size, dtype=dtype)
    for a, b in edges:  # first round: every upper index is smaller, so hook directly
        np.minimum.at(parent, b, a)
    while edges:
        parent = _compress(parent)
        pending = []
        for a, b in edges:
            ra, rb = parent[a], parent[b]
            apart = ra != rb
            if apart.any():
                if not apart.all():
                    a, b, ra, rb = a[apart], b[apart], ra[apart], rb[apart]
                np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
                pending.append((a, b))
        edges = pending
    seed_run = int(np.searchsorted(starts, sy * w + sx, "right")) - 1
    chosen = parent == parent[seed_run]
    out = np.zeros(h * w, np.uint8)
    steps = out.view(np.int8)  # +1 where a chosen run starts, -1 after it ends
    steps[starts[chosen]] = 1
    stop = ends[chosen]
    steps[stop[stop < h * w]] -= 1
    np.cumsum(steps, out=steps)
    np.multiply(out, np.uint8(255), out=out)
    return out.reshape(h, w)


def _compress(parent: np.ndarray) -> np.ndarray:
    """Pointer jumping until every node points straight at its root (whole-array passes)."""
    while True:
        jumped = parent[parent]
        if np.array_equal(jumped, parent):
            return parent
        parent = jumped


# --------------------------------------------------------------------------------------------
# edits
# --------------------------------------------------------------------------------------------


def invert(mask: MaskLike, *, out: np.ndarray | None = None) -> np.ndarray:
    """Swap what changes and what stays (``255 - mask``; soft values mirror).

    Args:
        mask: A mask (bool, uint8 or float array, PIL image or path).
        out: An existing uint8 mask to draw into, in place; None: a new one.
    """
    m = as_mask(mask)
    if out is not None:
        _target(None, out)
        _same_size(out, m.shape, "out", "mask")
    inverted: np.ndarray = np.bitwise_not(m, out=out)
    return inverted


def _combine(
    masks: tuple[MaskLike, ...], op: Callable[..., np.ndarray], what: str
) -> np.ndarray:
    if not masks:
        raise ValidationError(f"{what} needs at least one mask", action="pass one or more masks")
    arrays = [as_mask(m, name=f"mask {i + 1}") for i, m in enumerate(masks)]
    for i, m in enumerate(arrays[1:], start=2):
        _same_size(m, arrays[0].shape, f"mask {i}", "mask 1")
    result = np.array(arrays[0])
    for m in arrays[1:]:
        op(result, m, out=result)
    return result


def union(*masks: MaskLike) -> np.ndarray:
    """Selected in any of the masks (pixelwise maximum).

    Args:
        *masks: The masks (same size).
    """
    return _combine(masks, np.maximum, "union")


def intersect(*masks: MaskLike) -> np.ndarray:
    """Selected in every mask (pixelwise minimum).

    Args:
        *masks: The masks (same size).
    """
    return _combine(masks, np.minimum, "intersect")


def subtract(mask: MaskLike, *others: MaskLike) -> np.ndarray:
    """``mask`` minus whatever any of ``others`` selects (``min(mask, 255 - other)``).

    Args:
        mask: A mask (bool, uint8 or float array, PIL image or path).
        *others: Masks whose selection is removed.
    """
    result = np.array(as_mask(mask))
    for i, other in enumerate(others, start=2):
        o = as_mask(other, name=f"mask {i}")
        _same_size(o, result.shape, f"mask {i}", "mask 1")
        np.minimum(result, np.bitwise_not(o), out=result)
    return result


def _binary_pil(m: np.ndarray, lut: list[int]) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(m)).point(lut)


def _dilate_axis(img: Image.Image, radius: int, horizontal: bool) -> Image.Image:
    """Exact binary dilation of a 0/255 image by a ``2 * radius + 1`` line.

    Pillow's box blur (C, cost independent of radius) spreads any 255 to >= 1 over its window,
    and clamps at the edges, which for a maximum is the same as clipping the window.
    """
    while radius > 0:
        step = min(radius, _BLUR_STEP)
        blur = ImageFilter.BoxBlur((step, 0) if horizontal else (0, step))
        img = img.filter(blur).point(_NONZERO_LUT)
        radius -= step
    return img


def _dilate_diagonal(img: Image.Image, radius: int, anti: bool) -> Image.Image:
    """Binary dilation along the (anti-)diagonal by viewing the image with a skewed stride.

    Padding each row with ``radius`` zeros and re-reading the buffer ``width + 1`` (or
    ``width - 1``) wide puts each diagonal in one column, which a vertical pass then dilates.
    """
    arr = np.asarray(img)
    h, w = arr.shape
    width = w + 2 * radius
    stride = width - 1 if anti else width + 1
    n = h * width
    rows = -(-n // stride)
    buf = np.zeros(rows * stride, np.uint8)
    buf[:n].reshape(h, width)[:, radius:radius + w] = arr
    del arr
    skewed = Image.frombuffer("L", (stride, rows), buf, "raw", "L", 0, 1)
    skewed = _dilate_axis(skewed, radius, horizontal=False)
    del buf
    out = np.asarray(skewed).ravel()[:n].reshape(h, width)[:, radius:radius + w]
    return Image.fromarray(np.ascontiguousarray(out))


def _octagon(px: int) -> tuple[int, int]:
    """Square half-size ``a`` and diagonal reach ``d`` of the octagon with apothem ~``px``.

    Axis reach is ``a + 2d = px``; diagonal reach is ``sqrt(2) * (a + d)``, also ~``px``.
    ``a >= 1`` fills the lattice points diagonal steps alone would skip.
    """
    d = max(0, min(round(px * (1 - 1 / math.sqrt(2))), (px - 1) // 2))
    return px - 2 * d, d


def _dilate(img: Image.Image, px: int) -> Image.Image:
    """Dilate a 0/255 image by a regular octagon of apothem ~``px`` (a near-disc).

    The octagon is a square (``a``) plus a diamond (two diagonal lines, ``d``), each a 1-D
    pass. The passes run on a copy padded with ``a + d`` zeros, so reaching a pixel along the
    border never needs a step that the image edge would cut off.
    """
    a, d = _octagon(px)
    pad = a + d
    padded = Image.new("L", (img.width + 2 * pad, img.height + 2 * pad), 0)
    padded.paste(img, (pad, pad))
    padded = _dilate_axis(padded, a, horizontal=True)
    padded = _dilate_axis(padded, a, horizontal=False)
    if d:
        padded = _dilate_diagonal(padded, d, anti=False)
        padded = _dilate_diagonal(padded, d, anti=True)
    return padded.crop((pad, pad, pad + img.width, pad + img.height))


def _radius(px: float, m: np.ndarray) -> int:
    """``px`` in whole pixels; beyond the mask's extent every radius acts the same, so larger
    ones are capped (``grow(m, 1e9)`` selects everything instead of allocating it)."""
    return min(guards.pixels(px, "px"), int(m.shape[0] + m.shape[1]))


def grow(mask: MaskLike, px: float) -> np.ndarray:
    """Expand the selection by ``px`` pixels in every direction; the result contains the input.

    The shape grown by is a regular octagon: ``px`` along the axes and diagonals, at most 8 %
    more in between (``px`` of 1 or 2 grow by a square). Soft masks are binarised (> 0) first.
    Linear time whatever ``px`` (~0.5 s on a 33 Mpx mask).

    Args:
        mask: A mask (bool, uint8 or float array, PIL image or path).
        px: How far to grow, in pixels.
    """
    m = as_mask(mask)
    r = _radius(px, m)
    img = _binary_pil(m, _NONZERO_LUT)
    return np.array(_dilate(img, r) if r else img)


def shrink(mask: MaskLike, px: float) -> np.ndarray:
    """Pull the selection's edge in by ``px`` pixels; the result lies inside the input.

    The exact counterpart of :func:`grow` (``shrink(grow(m, n), n)`` contains ``m``). The image
    border does not count as unselected, so a selection touching it stays touching it.

    Args:
        mask: A mask (bool, uint8 or float array, PIL image or path).
        px: How far to pull the edge in, in pixels.
    """
    m = as_mask(mask)
    r = _radius(px, m)
    outside = _binary_pil(m, _ZERO_LUT)
    if r:
        outside = _dilate(outside, r)
    return np.array(outside.point(_ZERO_LUT))


def feather(mask: MaskLike, px: float) -> np.ndarray:
    """Soften the edge into a smooth ramp that stays within ``px`` of it (soft uint8).

    The ramp runs from :func:`shrink` ``(mask, px)``, which stays 255, to :func:`grow`
    ``(mask, px)``, outside which everything stays 0, so a feathered edit never leaks further
    than ``grow`` shows. Three box blurs (a near-Gaussian profile, linear time). ``px=0``
    returns a copy.

    Args:
        mask: A mask (bool, uint8 or float array, PIL image or path).
        px: Width of the soft ramp on each side of the edge.
    """
    m = as_mask(mask)
    r = _radius(px, m)
    a, d = _octagon(r) if r else (0, 0)
    reach = a + d  # the largest square inside the octagon: its corner is at the octagon's edge
    img = Image.fromarray(np.ascontiguousarray(m))
    for radius in (reach // 3 + (i < reach % 3) for i in range(3)):
        if radius:
            img = img.filter(ImageFilter.BoxBlur(radius))
    return np.array(img)


def bbox(mask: MaskLike) -> Box | None:
    """``(x0, y0, x1, y1)`` around the selected (> 0) pixels, or None when nothing is.

    Args:
        mask: A mask (bool, uint8 or float array, PIL image or path).
    """
    m = as_mask(mask)
    rows = np.flatnonzero(m.any(axis=1))
    if not rows.size:
        return None
    cols = np.flatnonzero(m[rows[0]:rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def area(mask: MaskLike) -> int:
    """Number of selected (> 0) pixels.

    Args:
        mask: A mask (bool, uint8 or float array, PIL image or path).
    """
    return int(np.count_nonzero(as_mask(mask)))


def resize_to(mask: MaskLike, size: SizeLike) -> np.ndarray:
    """The mask at another size (``(height, width)`` or an image), nearest-neighbour.

    Nearest keeps hard edges hard; feather afterwards if you want them soft.

    Args:
        mask: A mask (bool, uint8 or float array, PIL image or path).
        size: `(height, width)` or an image to match.
    """
    m = as_mask(mask)
    h, w = _size(size)
    if m.shape == (h, w):
        return np.array(m)
    img = Image.fromarray(np.ascontiguousarray(m))
    return np.array(img.resize((w, h), Image.Resampling.NEAREST))


# --------------------------------------------------------------------------------------------
# selection by meaning (the engine is venice_nb._selection.Selector)
# --------------------------------------------------------------------------------------------


def _rgb_array(image: ImageLike) -> np.ndarray:
    """uint8 HxWx3 of any image input (gray repeated, alpha dropped): what selection reads,
    the built-in engine and a learned segmenter alike."""
    arr = _image_array(image)
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3])


def _selector(image: ImageLike) -> Selector:
    from ._selection import Selector

    return Selector(_rgb_array(image))


def select_color(image: ImageLike, point: Sequence[float], tolerance: float = 10.0,
                 contiguous: bool = True, *, softness: float | None = None) -> np.ndarray:
    """Pixels that look like the one at ``point`` (x, y): a magic wand in a perceptual space.

    ``tolerance`` is an OKLab distance x100 (about 1 is the smallest visible step; 10 takes
    shades of one colour, 30 takes a whole hue family). ``contiguous=True`` keeps the region
    connected to ``point``; ``False`` selects matching pixels everywhere. The edge is a ramp
    ``softness`` wide (default ``tolerance / 4``), so it is anti-aliased. A larger tolerance
    always selects at least what a smaller one did. Soft uint8 mask of the image's size.

    Args:
        image: The photo (path, bytes, PIL image or array).
        point: The pixel ``(x, y)`` whose colour is picked.
        tolerance: How different a colour may be and still count, in OKLab x100.
        contiguous: Keep only the region connected to ``point``.
        softness: Width of the edge ramp in the same units; ``None``: ``tolerance / 4``.
    """
    sel = _selector(image)
    return sel.color(point, tolerance, contiguous=contiguous, softness=softness)


def select_object(image: ImageLike, include: Sequence[Sequence[float]],
                  exclude: Sequence[Sequence[float]] = (),
                  box: Sequence[float] | None = None, *,
                  segmenter: Segmenter | None = None) -> np.ndarray:
    """The object under the ``include`` points (x, y), without what is under ``exclude``.

    ``box`` (x0, y0, x1, y1) limits the selection to it. One point on an object that stands
    out from its surroundings is usually enough; add include points for parts it missed and
    exclude points for parts it took too much. Soft at soft edges (fur, blur), hard at hard
    ones. Soft uint8 mask of the image's size.

    Args:
        image: The photo (path, bytes, PIL image or array).
        include: Points ``(x, y)`` on the object; at least one.
        exclude: Points ``(x, y)`` on what must not be selected.
        box: ``(x0, y0, x1, y1)``: nothing outside it is selected.
        segmenter: A learned model from :func:`load_segmenter` (optional extra) to use
            instead of the built-in engine; same points, same kind of mask.
    """
    learned = check_segmenter(segmenter)
    if learned is not None:
        return learned.select(image, include, exclude, box)
    return _selector(image).object(include, exclude, box)


def select_subject(image: ImageLike) -> np.ndarray:
    """The photo's main subject; ``invert`` it for the background.

    Found without clicks from what subjects tend to be: different from the frame's border,
    in focus, near the centre (a subject that fills the frame may touch it). Soft uint8 mask
    of the image's size; correct it with :func:`select_object` when it guesses wrong.

    Args:
        image: The photo (path, bytes, PIL image or array).
    """
    return _selector(image).subject()


# --------------------------------------------------------------------------------------------
# only-masked work
# --------------------------------------------------------------------------------------------


def _expand(box: Box, size: Size, min_pixels: int) -> Box:
    """Grow ``box`` around its centre to at least ``min_pixels``, staying inside ``size``."""
    x0, y0, x1, y1 = box
    h, w = size
    bw, bh = x1 - x0, y1 - y0
    if bw * bh >= min_pixels or w * h <= min_pixels:
        return box if w * h > min_pixels else (0, 0, w, h)
    side = math.isqrt(min_pixels - 1) + 1
    nw = min(w, max(bw, side))
    nh = min(h, max(bh, -(-min_pixels // nw)))
    nw = min(w, max(nw, -(-min_pixels // nh)))
    nx0 = min(max(0, (x0 + x1 - nw) // 2), w - nw)
    ny0 = min(max(0, (y0 + y1 - nh) // 2), h - nh)
    return nx0, ny0, nx0 + nw, ny0 + nh


@overload
def crop_to_mask(image: np.ndarray, mask: MaskLike, padding: int = 32, *,
                 min_pixels: int = MIN_PIXELS) -> tuple[np.ndarray, Box]: ...
@overload
def crop_to_mask(image: Image.Image | str | os.PathLike[str] | bytes, mask: MaskLike,
                 padding: int = 32, *, min_pixels: int = MIN_PIXELS) -> tuple[Image.Image, Box]: ...
def crop_to_mask(image: ImageLike, mask: MaskLike, padding: int = 32, *,
                 min_pixels: int = MIN_PIXELS) -> tuple[np.ndarray | Image.Image, Box]:
    """Crop the image around the selection, for editing only the masked part at full detail.

    Returns ``(crop, box)``: ``box`` is the selection's bounding box plus ``padding`` context
    pixels, enlarged around its centre to at least ``min_pixels`` (Venice rejects images under
    65,536 pixels) and clipped to the image. The crop has the type of ``image`` (PIL in, PIL
    out). Edit the crop, then put it back with :func:`paste_back`.

    Args:
        image: The full image.
        mask: What will be edited.
        padding: Context pixels around the selection.
        min_pixels: The crop is enlarged to at least this many pixels (Venice's minimum).
    """
    pad = guards.pixels(padding, "padding")
    m = as_mask(mask)
    size = _size(image) if isinstance(image, (np.ndarray, Image.Image)) else None
    pil = None
    if size is None:
        pil = _as_pil(image)
        size = (pil.height, pil.width)
    _same_size(m, size, "mask", "image")
    box = bbox(m)
    if box is None:
        raise ValidationError(
            "the mask selects nothing, so there is nothing to crop to",
            action="paint or select a region first (white = selected)", field="mask",
        )
    h, w = size
    x0, y0, x1, y1 = box
    padded = (max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad))
    box = _expand(padded, size, int(min_pixels))
    if isinstance(image, np.ndarray):
        return image[box[1]:box[3], box[0]:box[2]].copy(), box
    return (pil if pil is not None else _as_pil(image)).crop(box), box


@overload
def paste_back(original: np.ndarray, edited: ImageLike, box: Sequence[int],
               mask: MaskLike | None = None, feather: float = 0) -> np.ndarray: ...
@overload
def paste_back(original: Image.Image | str | os.PathLike[str] | bytes, edited: ImageLike,
               box: Sequence[int], mask: MaskLike | None = None,
               feather: float = 0) -> Image.Image: ...
def paste_back(original: ImageLike, edited: ImageLike, box: Sequence[int],
               mask: MaskLike | None = None, feather: float = 0) -> np.ndarray | Image.Image:
    """Blend an edited crop back into the original at ``box``, through ``mask``.

    ``edited`` is resized to the box when the model returned another size. ``mask`` (the full
    image's mask, or one the size of the box) limits the change to the selection, softened by
    ``feather`` pixels; without it the whole box is replaced. An unedited crop pastes back as
    the exact original. Returns the type of ``original`` (PIL in, PIL out; numpy gives uint8).

    Args:
        original: The full image.
        edited: The edited crop.
        box: The crop's box from `crop_to_mask`.
        mask: Limits the change (full-size or box-size); None: the whole box.
        feather: Soften the mask's edge by this many pixels.
    """
    orig = _image_array(original, "original")
    h, w = orig.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in _box(box))
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        raise ValidationError(
            f"box {tuple(box)} is not a non-empty box inside the {w}x{h} original",
            action="pass the box crop_to_mask returned", field="box",
        )
    bw, bh = x1 - x0, y1 - y0
    mode = "L" if orig.ndim == 2 else ("RGB" if orig.shape[2] == 3 else "RGBA")
    patch_img = _as_pil(edited, "edited").convert(mode)
    if patch_img.size != (bw, bh):
        patch_img = patch_img.resize((bw, bh), Image.Resampling.LANCZOS)
    patch = np.asarray(patch_img)
    alpha = _paste_alpha(mask, (h, w), (x0, y0, x1, y1), guards.pixels(feather, "feather"))
    result = np.array(orig)
    region = result[y0:y1, x0:x1]
    if alpha is None:
        region[...] = patch
    else:
        weight = alpha.astype(np.float32) / np.float32(255)
        if region.ndim == 3:
            weight = weight[:, :, None]
        base = region.astype(np.float32)
        region[...] = np.rint(base + (patch.astype(np.float32) - base) * weight).astype(np.uint8)
    if isinstance(original, np.ndarray):
        return result
    return Image.fromarray(result, mode)


def _paste_alpha(mask: MaskLike | None, size: Size, box: Box, px: int) -> np.ndarray | None:
    """The blend weights for :func:`paste_back`'s box (feathered as on the full image)."""
    if mask is None:
        return None
    m = as_mask(mask)
    x0, y0, x1, y1 = box
    h, w = size
    if m.shape == size:
        # Feather a window px wider than the box so the ramp is the same as on the full mask.
        wx0, wy0 = max(0, x0 - px), max(0, y0 - px)
        wx1, wy1 = min(w, x1 + px), min(h, y1 + px)
        window = feather(m[wy0:wy1, wx0:wx1], px) if px else m[wy0:wy1, wx0:wx1]
        return window[y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0]
    if m.shape == (y1 - y0, x1 - x0):
        return feather(m, px) if px else m
    raise ValidationError(
        f"mask is {m.shape[1]}x{m.shape[0]} (WxH); expected the original's {w}x{h} or the "
        f"box's {x1 - x0}x{y1 - y0}",
        action="pass the mask used for crop_to_mask, or masks.resize_to it", field="mask",
    )


# --------------------------------------------------------------------------------------------
# display
# --------------------------------------------------------------------------------------------


def overlay(image: ImageLike, mask: MaskLike, color: ColorLike = (255, 0, 0),
            opacity: float = 0.5) -> Image.Image:
    """A preview: the image tinted with ``color`` where the mask selects (PIL RGB).

    Args:
        image: The image.
        mask: A mask (bool, uint8 or float array, PIL image or path).
        color: The tint colour.
        opacity: 0..1.
    """
    img = _as_pil(image).convert("RGB")  # always a copy: painted in place below
    m = as_mask(mask)
    _same_size(m, (img.height, img.width), "mask", "image")
    op = guards.number(opacity, "opacity")
    if not 0 <= op <= 1:
        raise ValidationError(
            f"opacity must be in [0, 1]; got {opacity!r}", action="use 0.0 to 1.0",
            field="opacity",
        )
    alpha = Image.fromarray(np.ascontiguousarray(m)).point([round(v * op) for v in range(256)])
    img.paste(_rgb(color), (0, 0, img.width, img.height), alpha)
    return img


def to_image(mask: MaskLike) -> Image.Image:
    """The mask as a PIL ``"L"`` image (to save, or to send as a multi-edit mask layer).

    The image owns its pixels: painting into the mask afterwards does not change it.

    Args:
        mask: A mask (bool, uint8 or float array, PIL image or path).
    """
    return Image.fromarray(np.ascontiguousarray(as_mask(mask)), "L").copy()
