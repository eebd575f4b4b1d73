"""The selection engine behind ``masks.select_color``, ``select_object`` and ``select_subject``.

One :class:`Selector` per image. It is built for an interactive painter: a one-time
:meth:`Selector.prepare` (safe to run in a background thread) makes a reduced *working level*
(about 0.3 Mpx), its OKLab colours, superpixels and their adjacency graph, and the
full-resolution colour codes; after that every click is answered on the working level and
only the edge is refined at full resolution.

How each selection is made, and why this way:

* **colour**: OKLab distance (x100, so ~1 is a just-noticeable step) to the colour under the
  click, read for every full-resolution pixel from a 32768-entry table indexed by the pixel's
  5:5:5-bit RGB code (computed once), so a click costs one table gather, not a colour
  conversion of 12 Mpx. ``contiguous`` keeps the region connected to the click, found on the
  working level (one vectorised union-find) and applied at full resolution. The distance map
  is cached per click, so a tolerance drag only re-thresholds it.
* **object**: superpixels (a vectorised SLIC) become the nodes of a graph. A node belongs to
  the object when it is geodesically nearer an include point than the background (excludes,
  or border nodes unlike every click). A path is charged its largest step (colour, texture and
  the contrast right at the shared boundary) plus a little of their sum: a texture is many
  middling steps, an outline one big one. A GrabCut-style round then learns colour models of
  both sides (kernel densities over the superpixels) and splits again with their verdict added
  to the charges; the colours under exclude clicks weigh most in the background's model
  (what a person excludes is the look-alike that matters), and each include click's spot
  adds its own colours to the object's model, as tight as the spot's colours vary (a click
  on a missed part in a colour near the background's, a rocket's grey tip against the sky,
  brings that part in). A click seeds the superpixel under it, unless the clicked pixel is
  unlike that superpixel's dominant colour (a part a few pixels wide, the very top of a
  rocket's tip, shares one with the sky): then its own pixels there become a node of their
  own (``_spot``), so the click seeds what was clicked, never the sky beside it. Border
  nodes like a click are not background seeds (an object may touch the frame), except
  where the subject estimate is sure there is no subject. Only
  parts connected to an include point are kept. The graph has ~2,500 nodes, so plain
  Python and numpy do it in milliseconds: no graph or sparse library needed.
* **subject**: the same split, seeded where the photo's subject estimate (the local backend's
  ``_subject``, made once in ``prepare``) is sure either way. Clicks that all land on that
  subject use it too (see :meth:`Selector.object`): fur is one object despite its stripes, a
  collar between a clicked face and a clicked suit belongs with them; a further click beside
  it, on a part the estimate missed, extends it there. The subject keeps no
  pixel more than a few working pixels beyond the estimate, and beside a part of it too thin
  for superpixels to follow its outline (a rocket) only those that look like it rather than
  the background (``_unlike_the_estimate``); clicks follow the estimate only when it follows
  the photo's edges or has colours of its own (``_estimate_holds``).
* **once per set of clicks**: the split and its working-level edge are kept until the clicks
  change, so a painter's screen-size preview and its full-resolution step solve once.
* **edges**: a colour guided filter (He et al.) fitted on the working level with the image as
  guide, evaluated per full-resolution pixel in a narrow band along the edge: where the photo's
  edge is soft (fur, blur) the mask gets a ramp, where it is hard the mask gets a step.

Memory: the full-resolution image is never converted to float; the engine keeps the 2-byte
colour codes and, per colour click, a 1-byte distance map.
"""

from __future__ import annotations

import heapq
import math
import numbers
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from . import _arguments as guards
from ._exceptions import ValidationError
from ._vision import _pixels

__all__ = ["Selector"]

Point = tuple[float, float]
BoxF = tuple[float, float, float, float]

WORK_PIXELS = 300_000  # working-level pixels: enough for shapes, few enough to be quick
_SUPERPIXELS = 2500  # how many superpixels the working level is cut into (about)
_BITS = 5  # bits per channel of the colour code the distance table is indexed by
_DIST_SCALE = 2.0  # uint8 distance maps hold OKLab distance x100 x this (0.5 steps, 127.5 max)
# The object split (tuned on the synthetic scenes and the samples, see tests/test_selection.py).
_TEXTURE = 0.5  # weight of a superpixel's colour spread against its mean colour
_CONTRAST = 3.0  # weight of the contrast right at a shared boundary in a step's charge
_STEP_COST = 0.02  # charge per superpixel step, in bandwidths (nearness breaks ties)
_SUM_SHARE = 0.05  # share of a path's summed steps added to its largest step
_BANDWIDTH = 8.0  # colour-model kernel width (OKLab x100)
_BORDER_SIMILAR = 2.0  # border nodes this many bandwidths from every click count as background
_EXCLUDE_SHARE = 0.75  # share of the background's colour model taught by exclude clicks
_ROUNDS = 1  # colour-model rounds after the first split (more did not help on the samples)
_CORE = 2.0  # the object's colour model fades with geodesic distance, in bandwidths
_LIKELIHOOD = 6.0  # charge for a full change of colour-model verdict, in bandwidths
_CONFIDENT = 0.1  # a node the colour models give < this (or > 1 - this) seeds that side...
_SEED_COST = 3.0  # ... starting this far away, in bandwidths
_SPOT_FLOOR = 0.5  # an include click's own colour kernel: at least this wide, in bandwidths, ...
_SPOT_REACH = 2.0  # ... over the spot's contiguous region within this many of its widths
_OUTLIER = 3.0  # a clicked pixel this many robust spreads from its superpixel's colour ...
_OUTLIER_FLOOR = 1.5  # ... and this far (OKLab x100) is a spot of its own (``_spot``)
_SPOT_MIN = 0.1  # ... if it covers at least this share of a superpixel's grid cell
_SURE = 0.9  # subject evidence at or above this seeds the subject, ...
_UNSURE = 0.1  # ... at or below this the background
_EVIDENCE = 6.0  # when the clicks are on the subject: charge for a full change of evidence
_EVIDENCE_BG = 0.05  # ... and evidence at or below this is background too (but for
_SAME_AS_CLICK = 1.0  # ... nodes this many bandwidths from a click's colour, joined to it)
_LIKE_CLICK = 2.0  # ... and sure subject this many bandwidths from a click seeds the object
_ENCLOSED = 0.5  # ... and subject mostly bordered by the object joins it
_EVIDENCE_SHARE = 0.8  # an estimate covering more of the frame than this is no estimate
_NEAR_ESTIMATE = 4  # select_subject keeps no pixel farther than this from the estimate
_OUTLINE = 2.0  # an estimate is followed when its outline is this much sharper than usual ...
_OWN_COLOURS = 0.7  # ... or its colours tell this share of the frame inside from outside


# --------------------------------------------------------------------------------------------
# argument checks (shared by the Selector and masks.select_*)
# --------------------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def check_point(point: Any, size: tuple[int, int], name: str = "point") -> Point:
    """``(x, y)`` as floats, inside the image: a click outside it is a mistake, not a no-op."""
    if (
        isinstance(point, (str, bytes))
        or not isinstance(point, (Sequence, np.ndarray))
        or len(point) != 2
        or not all(_is_number(v) for v in point)
    ):
        raise ValidationError(
            f"{name} must be an (x, y) pair of numbers; got {point!r:.60}",
            action=f"pass {name} as e.g. (120, 80): column, then row", field=name,
        )
    x, y = guards.number(point[0], name), guards.number(point[1], name)
    h, w = size
    if not (0 <= x < w and 0 <= y < h):
        raise ValidationError(
            f"{name} ({x:g}, {y:g}) is outside the {w}x{h} image",
            action=f"use 0 <= x < {w} and 0 <= y < {h} (x is the column, y the row)", field=name,
        )
    return x, y


def check_points(points: Any, size: tuple[int, int], name: str, *,
                 required: bool) -> list[Point]:
    """A list of in-image ``(x, y)`` points; at least one when ``required``."""
    if isinstance(points, (str, bytes)) or not isinstance(points, (Sequence, np.ndarray)):
        raise ValidationError(
            f"{name} must be a list of (x, y) points; got {type(points).__name__}",
            action=f"pass {name} as e.g. [(120, 80)]", field=name,
        )
    if len(points) == 2 and all(_is_number(v) for v in points):
        raise ValidationError(
            f"{name} is a single (x, y) pair, not a list of points",
            action=f"wrap it in a list: {name}=[{tuple(points)!r}]", field=name,
        )
    if required and len(points) == 0:
        raise ValidationError(
            f"{name} is empty: the selection needs at least one point on the object",
            action=f"pass {name}=[(x, y)] with a point on what you want selected", field=name,
        )
    return [check_point(pt, size, name) for pt in points]


def check_box(box: Any, size: tuple[int, int]) -> BoxF | None:
    """``(x0, y0, x1, y1)`` with x0 < x1, y0 < y1, overlapping the image; None passes."""
    if box is None:
        return None
    if (
        isinstance(box, (str, bytes))
        or not isinstance(box, (Sequence, np.ndarray))
        or len(box) != 4
        or not all(_is_number(v) for v in box)
    ):
        raise ValidationError(
            f"box must be (x0, y0, x1, y1), four numbers; got {box!r:.60}",
            action="pass e.g. box=(10, 20, 200, 180)", field="box",
        )
    x0, y0, x1, y1 = (guards.number(v, "box") for v in box)
    h, w = size
    if not (x0 < x1 and y0 < y1):
        raise ValidationError(
            f"box {tuple(box)!r:.60} is empty: it needs x0 < x1 and y0 < y1",
            action="give the top-left corner first, then the bottom-right", field="box",
        )
    if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
        raise ValidationError(
            f"box {tuple(box)!r:.60} lies outside the {w}x{h} image",
            action=f"use a box that overlaps (0, 0, {w}, {h})", field="box",
        )
    return x0, y0, x1, y1


def check_size(size: Any) -> tuple[int, int] | None:
    """A preview size ``(height, width)`` of positive ints, or None (full resolution)."""
    if size is None:
        return None
    if (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in size)
        and 0 < size[0] * size[1] <= 50_000_000
        and min(size) > 0
    ):
        return int(size[0]), int(size[1])
    raise ValidationError(
        f"size must be (height, width), two positive ints; got {size!r:.60}",
        action="pass the preview's size, e.g. size=(720, 960), or None for full resolution",
        field="size",
    )


def _resized(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if mask.shape == size:
        return np.array(mask)
    img = Image.fromarray(np.ascontiguousarray(mask))
    out: np.ndarray = np.asarray(img.resize((size[1], size[0]), Image.Resampling.BILINEAR)).copy()
    return out


def _nearest_map(n_in: int, n_out: int) -> np.ndarray:
    """For each of ``n_out`` pixels, the input pixel PIL's NEAREST resize reads (what the
    enlargement of a working-level mask to full resolution follows, whoever makes it)."""
    ramp = Image.fromarray(np.arange(n_in, dtype=np.int32)[None, :])
    mapped: np.ndarray = np.asarray(ramp.resize((n_out, 1), Image.Resampling.NEAREST))[0]
    return mapped


def check_tolerance(tolerance: Any) -> float:
    return guards.non_negative(tolerance, "tolerance")


# --------------------------------------------------------------------------------------------
# colour
# --------------------------------------------------------------------------------------------

_M1 = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                [0.2119034982, 0.6806995451, 0.1073969566],
                [0.0883024619, 0.2817188376, 0.6299787005]], np.float32)
_M2 = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                [1.9779984951, -2.4285922050, 0.4505937099],
                [0.0259040371, 0.7827717662, -0.8086757660]], np.float32)


def _linear(v: np.ndarray) -> np.ndarray:
    """sRGB (0..1) to linear light."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


_LINEAR_LUT = _linear(np.arange(256, dtype=np.float32) / 255)


def oklab(rgb: np.ndarray) -> np.ndarray:
    """OKLab x100 (float32, ``(..., 3)``) of uint8 sRGB: Euclidean distance ~ perceived distance."""
    lin = _LINEAR_LUT[rgb]
    lms = np.cbrt(lin @ _M1.T)
    lab: np.ndarray = (lms @ _M2.T) * np.float32(100)
    return lab


def _code_colors() -> np.ndarray:
    """OKLab of the centre of every 5:5:5 colour code (32768 x 3)."""
    levels = (np.arange(1 << _BITS) << (8 - _BITS)) + (1 << (7 - _BITS))
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    rgb = np.stack([r, g, b], -1).reshape(-1, 3).astype(np.uint8)
    return oklab(rgb)


_CODE_LAB: np.ndarray | None = None


def _code_lab() -> np.ndarray:
    global _CODE_LAB
    if _CODE_LAB is None:
        _CODE_LAB = _code_colors()
    return _CODE_LAB


def _codes(rgb: np.ndarray) -> np.ndarray:
    """uint16 5:5:5 code of every pixel, computed in bands (no wide temporaries)."""
    h, w = rgb.shape[:2]
    out = np.empty((h, w), np.uint16)
    band = max(1, (1 << 20) // max(w, 1))
    shift = 8 - _BITS
    for r0 in range(0, h, band):
        part = rgb[r0:r0 + band]
        o = out[r0:r0 + band]
        np.right_shift(part[..., 0], shift, out=o, dtype=np.uint16, casting="unsafe")
        o <<= _BITS
        o |= part[..., 1] >> shift
        o <<= _BITS
        o |= part[..., 2] >> shift
    return out


def _distance_table(lab: np.ndarray) -> np.ndarray:
    """uint8 scaled OKLab distance of every colour code to ``lab``."""
    d = np.sqrt(((_code_lab() - lab) ** 2).sum(1)) * _DIST_SCALE
    table: np.ndarray = np.minimum(d + 0.5, 255).astype(np.uint8)
    return table


def _ramp(tolerance: float, softness: float) -> np.ndarray:
    """uint8 table: scaled distance -> mask value, 255 inside ``tolerance``, a ramp across it."""
    d = np.arange(256, dtype=np.float32) / _DIST_SCALE
    if softness <= 0:
        return np.where(d <= tolerance, 255, 0).astype(np.uint8)
    v = (tolerance + softness / 2 - d) / softness
    ramp: np.ndarray = (np.clip(v, 0, 1) * 255 + 0.5).astype(np.uint8)
    return ramp


# --------------------------------------------------------------------------------------------
# box filters and the guided filter (working level)
# --------------------------------------------------------------------------------------------


def _box(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges handled by the count of pixels inside (float32)."""
    out = a
    for axis in (0, 1):
        n = out.shape[axis]
        c = np.cumsum(out, axis=axis, dtype=np.float32)
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
        hi = np.minimum(np.arange(n) + r + 1, n)
        lo = np.maximum(np.arange(n) - r, 0)
        count = (hi - lo).astype(np.float32)
        s = np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis)
        s /= count.reshape((n, 1) if axis == 0 else (1, n))
        out = s
    return out


@dataclass(frozen=True)
class _Guide:
    """What the colour guided filter needs of the guide alone, computed once per image."""

    image: np.ndarray  # (h, w, 3) float32, 0..1
    mean: tuple[np.ndarray, np.ndarray, np.ndarray]
    inverse: tuple[np.ndarray, ...]  # c11, c12, c13, c22, c23, c33 of the inverse covariance
    r: int


def _guide(image: np.ndarray, r: int, eps: float) -> _Guide:
    """Window means and inverse colour covariance (closed form 3x3 inverse per pixel)."""
    planes = [np.ascontiguousarray(image[..., c]) for c in range(3)]
    mi = (_box(planes[0], r), _box(planes[1], r), _box(planes[2], r))
    var = {}
    for i in range(3):
        for j in range(i, 3):
            var[i, j] = _box(planes[i] * planes[j], r) - mi[i] * mi[j]
            if i == j:
                var[i, j] += eps
    a11, a12, a13, a22, a23, a33 = var[0, 0], var[0, 1], var[0, 2], var[1, 1], var[1, 2], var[2, 2]
    c11 = a22 * a33 - a23 * a23
    c12 = a13 * a23 - a12 * a33
    c13 = a12 * a23 - a13 * a22
    c22 = a11 * a33 - a13 * a13
    c23 = a13 * a12 - a11 * a23
    c33 = a11 * a22 - a12 * a12
    inv = 1 / np.maximum(a11 * c11 + a12 * c12 + a13 * c13, 1e-12)
    inverse = tuple(c * inv for c in (c11, c12, c13, c22, c23, c33))
    return _Guide(image, mi, inverse, r)


def _guided_coefficients(gd: _Guide, p: np.ndarray,
                         crop: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """Mean linear coefficients ``(A (h, w, 3), B (h, w))`` of the colour guided filter.

    ``q = A . I + B`` follows the guide's edges: a step where the image steps, a ramp where it
    is soft. Only ``crop`` (the edge's surroundings) is computed; elsewhere ``p`` is constant
    over every window, so ``A = 0`` and ``B = p`` exactly.
    """
    h, w = p.shape
    r = gd.r
    a_full = np.zeros((h, w, 3), np.float32)
    b_full = p.copy()
    pc = p[crop]
    mi = [m[crop] for m in gd.mean]
    mp = _box(pc, r)
    x, y, z = (_box(gd.image[crop[0], crop[1], c] * pc, r) - mi[c] * mp for c in range(3))
    c11, c12, c13, c22, c23, c33 = (c[crop] for c in gd.inverse)
    a = (c11 * x + c12 * y + c13 * z, c12 * x + c22 * y + c23 * z, c13 * x + c23 * y + c33 * z)
    b = mp - (a[0] * mi[0] + a[1] * mi[1] + a[2] * mi[2])
    for c in range(3):
        a_full[crop[0], crop[1], c] = _box(a[c], r)
    b_full[crop] = _box(b, r)
    return a_full, b_full


# --------------------------------------------------------------------------------------------
# superpixels and their graph
# --------------------------------------------------------------------------------------------


def _slic(lab: np.ndarray, step: int, iterations: int = 3, compactness: float = 6.0) -> np.ndarray:
    """int32 superpixel labels (compact, 0..n-1) by SLIC, vectorised over the 9 nearby centres.

    Each centre stays tied to its grid cell, so a pixel only looks at the centres of its own
    and the 8 neighbouring cells; centres drift less than a cell in practice. Features are kept
    as separate planes: numpy reduces long flat arrays far faster than short rows.
    """
    h, w = lab.shape[:2]
    ny, nx = max(1, round(h / step)), max(1, round(w / step))
    sy, sx = h / ny, w / nx
    spatial = compactness / ((sy + sx) / 2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy = np.minimum((yy / sy).astype(np.int32), ny - 1).ravel()
    cx = np.minimum((xx / sx).astype(np.int32), nx - 1).ravel()
    planes = [np.ascontiguousarray(lab[..., c]).ravel() for c in range(3)]
    planes += [yy.ravel() * spatial, xx.ravel() * spatial]
    k = ny * nx
    label = cy * nx + cx
    candidates = []
    for dy in (-1, 0, 1):
        ny_ = np.clip(cy + dy, 0, ny - 1) * nx
        for dx in (-1, 0, 1):
            candidates.append((ny_ + np.clip(cx + dx, 0, nx - 1)).astype(np.int32))
    for it in range(iterations + 1):
        counts = np.maximum(np.bincount(label, minlength=k), 1).astype(np.float32)
        centres = [np.bincount(label, f, k).astype(np.float32) / counts for f in planes]
        if it == iterations:
            break
        best = np.full(h * w, np.inf, np.float32)
        for cand in candidates:
            d = np.zeros(h * w, np.float32)
            for f, c in zip(planes, centres, strict=True):
                diff = f - c[cand]
                diff *= diff
                d += diff
            better = d < best
            np.copyto(best, d, where=better)
            np.copyto(label, cand, where=better)
    _, compact = np.unique(label, return_inverse=True)
    return compact.reshape(h, w).astype(np.int32)


@dataclass(frozen=True)
class _Graph:
    """Superpixel adjacency: edge ends ``i < j``, node features and colour models."""

    i: np.ndarray
    j: np.ndarray
    feats: np.ndarray  # (n, 6): mean L, a, b and their spread (texture), OKLab x100
    area: np.ndarray  # pixels per node
    centre: np.ndarray  # (n, 2): mean (x, y) in working pixels
    border: np.ndarray  # fraction of each node's pixels on the frame's border ring
    kernel: np.ndarray  # (n, n) colour kernel for the density estimates
    bandwidth: float  # its width (OKLab x100)
    contrast: np.ndarray  # per edge: mean colour step across the shared boundary
    # adjacency lists for the path searches, both directions of every edge: the edge
    # (index into [i, j] + [j, i]) order that sorts them by node, the neighbour of each, and
    # where each node's run starts (Python lists: the searches are plain Python loops)
    order: np.ndarray
    neighbours: list[int]
    starts: list[int]


def _ring(shape: tuple[int, int], step: float) -> np.ndarray:
    """The frame's border ring (half a superpixel wide): nodes on it may be background seeds."""
    ring = max(1, round(step / 2))
    edge = np.zeros(shape, bool)
    edge[:ring], edge[-ring:], edge[:, :ring], edge[:, -ring:] = True, True, True, True
    return edge


def _nodes(labels: np.ndarray, lab: np.ndarray, ring: np.ndarray, n: int,
           origin: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, ...]:
    """Per node of ``labels`` (a window of the working level at ``origin`` (y, x), or all of
    it): features (mean OKLab and spread), area, centre (x, y) and share on the ``ring``."""
    h, w = labels.shape
    flat = labels.ravel()
    area = np.maximum(np.bincount(flat, minlength=n), 1).astype(np.float32)
    sums = np.stack([np.bincount(flat, lab[..., c].ravel(), n) for c in range(3)], 1)
    mean = sums / area[:, None]
    sq = np.stack([np.bincount(flat, lab[..., c].ravel().astype(np.float64) ** 2, n)
                   for c in range(3)], 1) / area[:, None]
    tex = np.sqrt(np.maximum(sq - mean**2, 0)) * _TEXTURE
    feats = np.concatenate([mean, tex], 1).astype(np.float32)
    yy, xx = np.mgrid[origin[0]:origin[0] + h, origin[1]:origin[1] + w]
    centre = np.stack([np.bincount(flat, xx.ravel(), n), np.bincount(flat, yy.ravel(), n)], 1)
    centre = (centre / area[:, None] + 0.5).astype(np.float32)
    border = (np.bincount(flat[ring.ravel()], minlength=n) / area).astype(np.float32)
    return feats, area, centre, border


def _edges(labels: np.ndarray, lab: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Neighbouring node pairs of ``labels`` as sorted keys ``i * n + j`` (``i < j``) and,
    per pair, how sharply the image changes right at their shared boundary (the mean
    pixel-to-pixel step), which tells an object's outline from a texture better than the
    two superpixels' means do."""
    pairs = [np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], 1),
             np.stack([labels[:-1].ravel(), labels[1:].ravel()], 1)]
    steps = [np.sqrt(((lab[:, 1:] - lab[:, :-1]) ** 2).sum(-1)).ravel(),
             np.sqrt(((lab[1:] - lab[:-1]) ** 2).sum(-1)).ravel()]
    p = np.concatenate(pairs)
    across = p[:, 0] != p[:, 1]
    p = p[across]
    step_sizes = np.concatenate(steps)[across]
    p.sort(1)
    key, inverse, length = np.unique(p[:, 0].astype(np.int64) * n + p[:, 1],
                                     return_inverse=True, return_counts=True)
    contrast = np.bincount(inverse.ravel(), step_sizes, key.size) / length
    return key, contrast.astype(np.float64)


def _kernel(feats: np.ndarray, others: np.ndarray, bandwidth: float) -> np.ndarray:
    """The colour models' kernel between two sets of nodes: wide enough for the shades of
    one surface, not for another."""
    d2 = ((feats * feats).sum(1)[:, None] + (others * others).sum(1)[None, :]
          - 2 * (feats @ others.T))
    kernel: np.ndarray = np.exp(-np.maximum(d2, 0) / (2 * bandwidth**2)).astype(np.float32)
    return kernel


def _assemble(key: np.ndarray, contrast: np.ndarray, feats: np.ndarray, area: np.ndarray,
              centre: np.ndarray, border: np.ndarray, kernel: np.ndarray) -> _Graph:
    """The graph of these nodes and edges, with the adjacency lists the searches walk."""
    n = area.size
    i, j = (key // n).astype(np.int32), (key % n).astype(np.int32)
    a = np.concatenate([i, j])
    order = np.argsort(a, kind="stable")
    neighbours = np.concatenate([j, i])[order].tolist()
    starts = np.searchsorted(a[order], np.arange(n + 1)).tolist()
    return _Graph(i, j, feats, area, centre, border, kernel, _BANDWIDTH, contrast, order,
                  neighbours, starts)


def _graph(labels: np.ndarray, lab: np.ndarray, step: float) -> _Graph:
    n = int(labels.max()) + 1
    feats, area, centre, border = _nodes(labels, lab, _ring(labels.shape, step), n)
    key, contrast = _edges(labels, lab, n)
    return _assemble(key, contrast, feats, area, centre, border,
                     _kernel(feats, feats, _BANDWIDTH))


def _spot(p: _Prepared, wx: int, wy: int) -> tuple[_Prepared, int | None, bool]:
    """``p`` with the clicked pixel's own region made a node of its own, when the superpixel
    under the click is mostly of another colour (else ``p`` itself); the node to seed instead
    of the one under the click, if any; and whether the seed stands for the clicked colour
    (not for a speck left in its superpixel: that node is the colour around it).

    Superpixels about ten pixels across cannot follow a part a few pixels wide: the top of a
    rocket's tip shares one with the sky round it. A click seeds its superpixel, so a click
    there seeded the sky, and the whole sky came with it. The click says "this colour, here";
    so when the clicked pixel is unlike its superpixel's dominant colour (farther from the
    median than ``_OUTLIER`` times the superpixel's robust spread, and than ``_OUTLIER_FLOOR``
    OKLab units: a smooth sky's noise is tiny, fur's large), the superpixel's pixels unlike
    that colour and connected to the click become a new node, the rest keeps the old one.
    A spot smaller than ``_SPOT_MIN`` of a superpixel's cell is too small to stand alone:
    when it is a sliver of a neighbouring superpixel's colour (the clicked pixel would be no
    outlier of it, by its spread: the rocket's edge column in a sky superpixel), that
    neighbour is seeded; else it is a speck of detail or the blend along an edge, where a
    click lands by accident of aim, and its superpixel's colour is the better reading of
    what was meant (on the samples such specks mostly did worse).
    Only the two nodes and their edges are recomputed (the graph is too costly to rebuild
    per click); the new node's subject evidence is the estimate's mean over its pixels.
    """
    from .masks import _connected

    g = p.graph
    k = int(p.labels[wy, wx])
    rows, cols = np.nonzero(p.labels == k)
    wh, ww = p.labels.shape
    y0, y1 = max(0, int(rows.min()) - 1), min(wh, int(rows.max()) + 2)
    x0, x1 = max(0, int(cols.min()) - 1), min(ww, int(cols.max()) + 2)
    lab = p.lab[y0:y1, x0:x1]
    mine = p.labels[y0:y1, x0:x1] == k
    pixels = lab[mine]
    median = np.median(pixels, 0)
    spread = 1.4826 * float(np.linalg.norm(np.median(np.abs(pixels - median), 0)))
    unlike = np.sqrt(((lab - median) ** 2).sum(-1)) > max(_OUTLIER * spread, _OUTLIER_FLOOR)
    if not unlike[wy - y0, wx - x0]:
        return p, None, True
    part = _connected(mine & unlike, wx - x0, wy - y0, 4) > 0
    if part.sum() == mine.sum():  # no dominant colour to tell the spot from
        return p, None, True
    if part.sum() < _SPOT_MIN * p.step**2:
        touching = _pixels.grow(part, 1) & ~mine  # the pixels beside the spot, outside it
        around = np.unique(p.labels[y0:y1, x0:x1][touching])
        if around.size:  # a neighbour the clicked pixel would be no outlier of
            d = np.sqrt(((g.feats[around, :3] - p.lab[wy, wx]) ** 2).sum(1))
            spreads = 2 * np.sqrt((g.feats[around, 3:] ** 2).sum(1))  # texture is spread / 2
            d[d > np.maximum(_OUTLIER * spreads, _OUTLIER_FLOOR)] = math.inf
            if np.isfinite(d).any():
                return p, int(around[np.argmin(d)]), True
        return p, None, False
    n = g.area.size
    labels = p.labels.copy()
    window = labels[y0:y1, x0:x1]
    window[part] = n
    ring = _ring((wh, ww), p.step)[y0:y1, x0:x1]
    stats = _nodes(window, lab, ring, n + 1, (y0, x0))
    two = [k, n]
    feats, area, centre, border = (np.concatenate([old, new[n:]]) for old, new in
                                   zip((g.feats, g.area, g.centre, g.border), stats,
                                       strict=True))
    for old, new in zip((feats, area, centre, border), stats, strict=True):
        old[k] = new[k]
    key, contrast = _edges(window, lab, n + 1)
    ends = np.isin(key // (n + 1), two) | np.isin(key % (n + 1), two)
    kept = (g.i != k) & (g.j != k)
    key = np.concatenate([g.i[kept].astype(np.int64) * (n + 1) + g.j[kept], key[ends]])
    contrast = np.concatenate([g.contrast[kept], contrast[ends]])
    order = np.argsort(key, kind="stable")
    kernel = np.empty((n + 1, n + 1), np.float32)
    kernel[:n, :n] = g.kernel
    rows_k = _kernel(feats[two], feats, g.bandwidth)
    kernel[two] = rows_k
    kernel[:, two] = rows_k.T
    graph = _assemble(key[order], contrast[order], feats, area, centre, border, kernel)
    matte = p.matte[y0:y1, x0:x1]
    evidence = np.append(p.evidence, float(matte[part].mean()))
    evidence[k] = float(matte[mine & ~part].mean())
    return replace(p, labels=labels, graph=graph, evidence=evidence), None, True


def _geodesic(g: _Graph, cost: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Path distance of every node from the nodes with a finite ``start`` (Dijkstra over the
    ~2,500-node graph; ``cost`` per edge).

    A path is charged its *largest* step plus a small share of their sum: the largest step is
    what tells two regions apart (a texture has many middling steps, an outline one big one),
    and the sum breaks ties by nearness. Plain Python over lists (the adjacency is laid out
    once per image, in ``_graph``): a click runs this four times, so it is kept tight.
    """
    n = start.size
    c_list = np.concatenate([cost, cost])[g.order].tolist()
    b_list, starts = g.neighbours, g.starts
    top = start.astype(np.float64).tolist()  # largest step so far on the best path
    total = [0.0] * n
    best = list(top)
    finite = np.flatnonzero(np.isfinite(start)).tolist()
    heap = [(best[k], k) for k in finite]
    heapq.heapify(heap)
    done = [False] * n
    share = _SUM_SHARE
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        _, k = pop(heap)
        if done[k]:
            continue
        done[k] = True
        tk, sk = top[k], total[k]
        for e in range(starts[k], starts[k + 1]):
            nb = b_list[e]
            if done[nb]:
                continue
            step = c_list[e]
            t = step if step > tk else tk
            s = sk + step
            nd = t + share * s
            if nd < best[nb]:
                best[nb], top[nb], total[nb] = nd, t, s
                push(heap, (nd, nb))
    return np.asarray(best)


def _components(g: _Graph, keep: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Nodes of ``keep`` connected (through ``keep``) to any node of ``seeds`` (a BFS: the
    graph has only ~1,500 nodes)."""
    on = keep[g.i] & keep[g.j]
    a = np.concatenate([g.i[on], g.j[on]])
    b = np.concatenate([g.j[on], g.i[on]])
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order]
    starts = np.searchsorted(a, np.arange(keep.size + 1))
    found = np.zeros(keep.size, bool)
    todo = [int(s) for s in seeds if keep[s]]
    found[todo] = True
    while todo:
        node = todo.pop()
        for nb in b[starts[node]:starts[node + 1]].tolist():
            if not found[nb]:
                found[nb] = True
                todo.append(nb)
    return found


def _subject_evidence(work: np.ndarray, lab: np.ndarray, labels: np.ndarray,
                      area: np.ndarray,
                      step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per superpixel: how sure the photo's subject estimate is that it is subject (0..1);
    per working pixel, whether it lies within ``_NEAR_ESTIMATE`` pixels of the estimate and
    is not one of the margin's pixels that look like the background beside a thin part of it
    (``_unlike_the_estimate``); those pixels; and the estimate per working pixel (0..1).

    The estimate is the one the local backend uses too (``_vision._subject``: colours unlike
    the frame's edges, detail, centrality, a minimax watershed; it lets a frame-filling subject
    touch the border), read on the working level and averaged over each superpixel.
    """
    from ._vision._subject import subject_matte

    matte = subject_matte(Image.fromarray(work))
    weights = matte.ravel().astype(np.float64)
    evidence: np.ndarray = np.bincount(labels.ravel(), weights, area.size) / area
    est = matte >= 0.5
    inside = Image.fromarray((est * 255).astype(np.uint8))
    near = np.asarray(inside.filter(ImageFilter.MaxFilter(2 * _NEAR_ESTIMATE + 1))) > 0
    unlike = _unlike_the_estimate(lab, est, near, step)
    return evidence, near & ~unlike, unlike, matte.astype(np.float32)


def _unlike_the_estimate(lab: np.ndarray, est: np.ndarray, near: np.ndarray,
                         step: int) -> np.ndarray:
    """The pixels of the margin round the estimate ``est`` (``near`` is both) that lie beside
    its thin parts and look like the background beyond the margin: not the subject.

    The margin lets the split, which follows the photo's outlines, correct an estimate that
    stops a few pixels short of one. It can only do that where superpixels fit inside the
    subject: across a part narrower than three of them (a rocket, a mast) every superpixel
    touches the outline, straddles it and holds the sky or the struts beside it, so the
    split's verdict there says nothing about the outline and the whole margin would join. In
    the margin of such a part each pixel decides by its colour: closer to the estimate's
    colours around it than to those beyond the margin, or not at all.
    """
    from .masks import grow, shrink

    unlike = np.zeros(est.shape, bool)
    rows, cols = np.flatnonzero(near.any(1)), np.flatnonzero(near.any(0))
    if not rows.size:
        return unlike
    reach = 3 * step // 2
    r = 2 * _NEAR_ESTIMATE  # the colours around: the estimate's and those beyond the margin
    pad = reach + r + 1  # the work is in the margin's surroundings: crop to them
    crop = (slice(max(0, rows[0] - pad), rows[-1] + pad + 1),
            slice(max(0, cols[0] - pad), cols[-1] + pad + 1))
    est, near = est[crop], near[crop]
    wide = grow(shrink(est, reach), reach) > 0
    if not (est & ~wide).any():
        return unlike
    thin = (grow(est & ~wide, _NEAR_ESTIMATE) > 0) & near & ~est & ~(grow(wide, reach) > 0)
    if not thin.any():
        return unlike
    ins, out = est.astype(np.float32), (~near).astype(np.float32)
    n_in, n_out = _box(ins, r), _box(out, r)
    d_in = np.zeros(ins.shape, np.float32)
    d_out = np.zeros(ins.shape, np.float32)
    for c in range(3):
        plane = lab[crop][..., c]
        d_in += (plane - _box(plane * ins, r) / np.maximum(n_in, 1e-6)) ** 2
        d_out += (plane - _box(plane * out, r) / np.maximum(n_out, 1e-6)) ** 2
    unlike[crop] = thin & (d_out < d_in) & (n_out > 0)
    return unlike


def _estimate_holds(g: _Graph, evidence: np.ndarray) -> bool:
    """Whether the subject estimate is worth following for clicks: its outline runs along
    the photo's edges (contrast across it well above the graph's usual contrast) or its
    colours are its own (colour models of inside and outside tell most of the frame apart).

    A fur coat on a blurred room has a soft outline but colours of its own; a product has
    both. An estimate with neither is a blob the centre prior drew through a uniform region
    (two flat halves of noise): following it would cut that region in two.
    """
    on = evidence >= 0.5
    if not on.any() or on.all():
        return False
    cut = on[g.i] != on[g.j]
    if g.contrast[cut].mean() >= _OUTLINE * max(float(np.median(g.contrast)), 1e-6):
        return True
    inside, outside = on * g.area, ~on * g.area
    pf = g.kernel @ (inside / float(inside.sum())).astype(np.float32)
    pb = g.kernel @ (outside / float(outside.sum())).astype(np.float32)
    agree = float((g.area * ((pf > pb) == on)).sum() / g.area.sum())
    return agree >= _OWN_COLOURS


def _spot_model(g: _Graph, clicked: np.ndarray) -> np.ndarray:
    """Per node, how like one of the ``clicked`` spots it is, by that spot's own colours
    (0..1, the mean over the spots): what the object's colour model adds for the clicks.

    A click says "this colour, here, is the object". The colour models are learnt from a
    first split with a kernel as wide as the shades of one surface; a small part of the
    object in a colour a few units from the background's (a rocket's grey, shaded tip
    against a blue sky) is outvoted by them, and clicking on it changed nothing. So each
    spot teaches its own colour with a kernel only as wide as its own colour spread (above
    a floor of ``_SPOT_FLOOR`` bandwidths): tight on a smooth spot, loose on fur. And it
    teaches only where its colour reaches without a break (the nodes connected to it
    within ``_SPOT_REACH`` of its widths): the spot's own region, not a look-alike of it
    across the frame (a dark ground under a dark tip).
    """
    nodes = np.flatnonzero(clicked)
    spread2 = 4 * (g.feats[nodes, 3:] ** 2).sum(1)  # the texture features are spread / 2
    width2 = (_SPOT_FLOOR * g.bandwidth) ** 2 + spread2
    d2 = ((g.feats[:, None] - g.feats[nodes][None]) ** 2).sum(-1)
    like = np.exp(-d2 / (2 * width2))
    for k, node in enumerate(nodes.tolist()):
        like[:, k] *= _components(g, d2[:, k] <= _SPOT_REACH**2 * width2[k], np.array([node]))
    taught: np.ndarray = like.mean(1).astype(np.float32)
    return taught


def _enclosed(g: _Graph, keep: np.ndarray, allowed: np.ndarray, *,
              framed_out: bool = True) -> np.ndarray:
    """``keep`` plus each connected part of ``allowed & ~keep`` whose boundary is mostly
    ``keep`` (a collar between a clicked face and a clicked suit), not mostly the rest (a
    helmet held beside them). A part cut by the frame is left out (``framed_out``) or has each
    of its frame nodes count as a neighbour outside."""
    out: np.ndarray = keep.copy()
    free = allowed & ~keep
    label = np.full(keep.size, -1)
    k = 0
    for node in np.flatnonzero(free).tolist():
        if label[node] < 0:
            part = _components(g, free, np.array([node]))
            label[part] = k
            k += 1
    if not k:
        return out
    touching = np.zeros(k)
    other = np.zeros(k)
    for a, b in ((g.i, g.j), (g.j, g.i)):
        edge = (label[a] >= 0) & (label[b] < 0)
        np.add.at(touching, label[a][edge & keep[b]], 1)
        np.add.at(other, label[a][edge & ~keep[b]], 1)
    on_frame = (label >= 0) & (g.border > 0)
    framed = np.bincount(label[on_frame], minlength=k)
    if framed_out:  # a part cut by the frame goes on beyond it: not enclosed
        other[framed > 0] = math.inf
    else:
        other += framed
    good = np.flatnonzero(touching > _ENCLOSED * (touching + other))
    out |= np.isin(label, good)
    return out


# --------------------------------------------------------------------------------------------
# the selector
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    work: np.ndarray  # working-level RGB, uint8
    lab: np.ndarray  # its OKLab x100, float32
    guide: _Guide  # its RGB in 0..1 and window statistics, for the guided filter
    labels: np.ndarray  # superpixel of each working pixel
    graph: _Graph
    codes: np.ndarray  # full-resolution 5:5:5 colour codes, uint16
    evidence: np.ndarray  # per node: the subject estimate's mean over it (0..1)
    near_estimate: np.ndarray  # per working pixel: within _NEAR_ESTIMATE of the estimate ...
    unlike_estimate: np.ndarray  # ... less these (``_unlike_the_estimate``)
    estimate_holds: bool  # whether clicks on the estimate follow it (``_estimate_holds``)
    matte: np.ndarray  # per working pixel: the subject estimate (0..1), for ``_spot``'s nodes
    step: int  # the superpixels' grid step, in working pixels


@dataclass(frozen=True)
class _Edge:
    """A solved selection on the working level: the mask and the guided filter's fit."""

    q8: np.ndarray  # uint8 mask, soft along the edge
    coef: np.ndarray  # (h, w, 4): the fit q = a . I + b per pixel as (a, 255 b), for 0..255


class Selector:
    """Selections of one image: prepare once, then answer clicks quickly.

    ``Selector(image)`` is cheap; :meth:`prepare` does the one-time work (about 25 decodes of
    the image's worth of time) and may run in a background thread (:meth:`prepare_async`);
    every query prepares first if that has not happened. All methods are thread-safe (a lock
    serialises them) and return full-resolution ``uint8`` masks (0..255, soft at soft edges).
    Points are ``(x, y)`` in full-resolution pixels; validation is the caller's
    (``venice_nb.masks.select_*``) job.
    """

    def __init__(self, image: np.ndarray, *, work_pixels: int = WORK_PIXELS) -> None:
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8
                and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4)))):
            raise ValidationError(
                "Selector takes a uint8 HxW, HxWx3 or HxWx4 array",
                action="load the image with np.asarray(PIL.Image.open(path).convert('RGB'))",
                field="image",
            )
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, 2)
        self.image = image[:, :, :3]
        self.size: tuple[int, int] = (int(image.shape[0]), int(image.shape[1]))
        self._work_pixels = work_pixels
        self._lock = threading.RLock()
        self._prep: _Prepared | None = None
        self._color_key: tuple[int, int] | None = None
        self._color_maps: tuple[np.ndarray, np.ndarray] | None = None
        # the last object / subject solve: a preview and the full mask of the same clicks
        # (what a painter asks for in turn) share it
        self._solved: tuple[tuple[object, ...], _Edge] | None = None
        self._thread: threading.Thread | None = None

    # ---- preparation -------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once :meth:`prepare` has finished."""
        return self._prep is not None

    def prepare_async(self) -> threading.Thread:
        """Start :meth:`prepare` in a daemon thread and return it (``join()`` to wait)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self.prepare, daemon=True,
                                                name="venice-nb-selector")
                self._thread.start()
            return self._thread

    def prepare(self) -> None:
        """The one-time work: working level, OKLab, superpixels, graph, colour codes."""
        with self._lock:
            if self._prep is not None:
                return
            h, w = self.size
            scale = min(1.0, math.sqrt(self._work_pixels / (h * w)))
            wh, ww = max(8, round(h * scale)), max(8, round(w * scale))
            if (wh, ww) == (h, w):
                work = np.ascontiguousarray(self.image)
            else:
                work = np.asarray(Image.fromarray(np.ascontiguousarray(self.image)).resize(
                    (ww, wh), Image.Resampling.BOX))
            lab = oklab(work)
            step = int(np.clip(math.sqrt(wh * ww / _SUPERPIXELS), 4, 24))
            labels = _slic(lab, step)
            graph = _graph(labels, lab, step)
            radius = max(2, round(math.sqrt(wh * ww) / 200))
            guide = _guide(work.astype(np.float32) / 255, radius, 1e-3)
            evidence, near, unlike, matte = _subject_evidence(work, lab, labels, graph.area,
                                                              step)
            self._prep = _Prepared(work, lab, guide, labels, graph, _codes(self.image),
                                   evidence, near, unlike, _estimate_holds(graph, evidence),
                                   matte, step)

    def _ready(self) -> _Prepared:
        if self._prep is None:
            self.prepare()
        assert self._prep is not None
        return self._prep

    def _to_work(self, x: float, y: float) -> tuple[int, int]:
        p = self._ready()
        wh, ww = p.labels.shape
        h, w = self.size
        return min(ww - 1, int(x * ww / w)), min(wh - 1, int(y * wh / h))

    # ---- colour ------------------------------------------------------------------------

    def color(self, point: Sequence[float], tolerance: float = 10.0, *, contiguous: bool = True,
              softness: float | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
        """Pixels within ``tolerance`` (OKLab distance x100) of the colour at ``point``.

        The clicked colour is the mean of the 3x3 pixels around it. ``softness`` (default a
        quarter of the tolerance, at least 1) is the width of the ramp across the tolerance,
        which anti-aliases the edge. Calling again with the same point and another tolerance
        only re-thresholds the cached distance map (a live tolerance drag). With
        ``size=(height, width)`` the answer is a preview of that size made from the working
        level alone (for drawing while a slider moves; details finer than the working level
        may be missing).
        """
        px, py = check_point(point, self.size)
        size = check_size(size)
        tolerance = check_tolerance(tolerance)
        if softness is not None:
            softness = guards.non_negative(softness, "softness")
        if not isinstance(contiguous, (bool, np.bool_)):
            raise ValidationError(
                f"contiguous must be True or False; got {contiguous!r:.40}",
                action="pass contiguous=True (the connected region) or False (everywhere)",
                field="contiguous",
            )
        with self._lock:
            p = self._ready()
            x, y = int(px), int(py)
            key = (x, y)
            if self._color_key != key or self._color_maps is None:
                patch = self.image[max(0, y - 1):y + 2, max(0, x - 1):x + 2].reshape(-1, 3)
                ref = oklab(patch).mean(0)
                table = _distance_table(ref)
                full = table[p.codes]
                dw = np.sqrt(((p.lab - ref) ** 2).sum(-1)) * _DIST_SCALE
                work = np.minimum(dw + 0.5, 255).astype(np.uint8)
                self._color_key, self._color_maps = key, (full, work)
            full, work = self._color_maps
            soft = max(1.0, tolerance / 4) if softness is None else softness
            ramp = _ramp(tolerance, soft)
            if size is not None:
                small = ramp[work]
                if contiguous:
                    region = self._region(work, x, y, tolerance + soft / 2)
                    small = small if region is None else np.minimum(small, region)
                return _resized(small, size)
            out: np.ndarray = ramp[full]
            if not contiguous:
                return out
            allowed = self._contiguous(work, x, y, tolerance + soft / 2)
            if allowed is None:  # the click is on detail finer than the working level
                from .masks import _connected
                connected: np.ndarray = np.minimum(out, _connected(out > 0, x, y, 8))
                return connected
            np.multiply(out, allowed, out=out)
            return out

    def _region(self, work: np.ndarray, x: int, y: int, tolerance: float) -> np.ndarray | None:
        """0/255 working-level region connected to the click (grown a pixel), or None when
        the click is on detail finer than the working level."""
        from .masks import _connected

        wx, wy = self._to_work(x, y)
        match = work <= min(255, round(tolerance * _DIST_SCALE))
        if not match[wy, wx]:
            y0, x0 = max(0, wy - 2), max(0, wx - 2)
            near = np.argwhere(match[y0:wy + 3, x0:wx + 3])
            if not near.size:
                return None
            wy, wx = int(near[0][0]) + y0, int(near[0][1]) + x0
        region = _connected(match, wx, wy, 8)
        return np.asarray(Image.fromarray(region).filter(ImageFilter.MaxFilter(3)))

    def _contiguous(self, work: np.ndarray, x: int, y: int,
                    tolerance: float) -> np.ndarray | None:
        """0/1 full-resolution map of where the region connected to the click may be."""
        h, w = self.size
        region = self._region(work, x, y, tolerance)
        if region is None:
            return None
        if region.shape == (h, w):
            return (region > 0).view(np.uint8)
        big = Image.fromarray(region).resize((w, h), Image.Resampling.NEAREST)
        return (np.asarray(big) > 0).view(np.uint8)

    # ---- object and subject -----------------------------------------------------------

    def object(self, include: Sequence[Sequence[float]],
               exclude: Sequence[Sequence[float]] = (), box: Sequence[float] | None = None, *,
               size: tuple[int, int] | None = None) -> np.ndarray:
        """The object under the ``include`` points, without the regions under ``exclude``.

        ``box`` (x0, y0, x1, y1) limits it: nothing outside is selected, and the colours
        outside count as background. Each call re-solves from all the points given, so a
        painter adds or removes a click by calling again with the lists changed. With
        ``size=(height, width)`` the answer is a preview of that size, without the
        full-resolution edge pass (show it at once, then ask for the full mask).

        When every include point lies on the photo's subject (its estimate, made in
        :meth:`prepare`), the object follows that estimate as well as the colours: a click on
        each of a person's face and suit takes the whole person, though her collar is unlike
        both. A further click beside the subject, on a part the estimate missed (a rocket's
        thin tip), extends the estimate there: it does not turn it off for every click. An
        estimate covering nearly the whole frame is ignored, and so is one that neither
        follows the photo's edges nor has colours of its own (a blob through a uniform
        region). A click in a superpixel mostly of another colour seeds only its own pixels
        there (``_spot``).
        """
        size = check_size(size)
        include = check_points(include, self.size, "include", required=True)
        exclude = check_points(exclude, self.size, "exclude", required=False)
        box = check_box(box, self.size)
        if box is not None:
            x0, y0, x1, y1 = box
            for ix, iy in include:
                if not (x0 <= ix < x1 and y0 <= iy < y1):
                    raise ValidationError(
                        f"include point ({ix:g}, {iy:g}) is outside the box {box}",
                        action="move the point into the box, or widen the box", field="include",
                    )
        key = ("object", tuple(include), tuple(exclude), box)
        with self._lock:
            p = self._ready()
            if self._solved is None or self._solved[0] != key:
                spots = []  # each click's own spot, where its superpixel does not stand for it
                for px, py in include:
                    p, instead, stands = _spot(p, *self._to_work(px, py))
                    spots.append((instead, stands))
                keep, on_subject = self._split(p, include, exclude, box, spots)
                # clicks on the subject leave out the margin beside its thin parts that looks
                # like the background beyond it, as select_subject does
                within = ~p.unlike_estimate if on_subject else None
                self._solved = (key, self._edge(p, keep, within))
            return self._render(p, self._solved[1], box, size)

    def _split(self, p: _Prepared, include: list[Point], exclude: list[Point],
               box: BoxF | None,
               spots: list[tuple[int | None, bool]]) -> tuple[np.ndarray, bool]:
        """The object's superpixels (bool per node) for these clicks (see :meth:`object`), and
        whether the clicks all lay on the subject estimate, which the split then followed."""
        g = p.graph
        n = g.area.size
        fg_seed = np.zeros(n, bool)
        bg_seed = np.zeros(n, bool)
        # each click seeds its node (or the one ``_spot`` named instead); those within a
        # superpixel of the estimate that stand for the clicked colour are ``beside`` it
        # (not a superpixel of the backdrop round a speck of a mug's rim)
        beside = np.zeros(n, bool)
        r = p.step
        for (px, py), (instead, stands) in zip(include, spots, strict=True):
            wx, wy = self._to_work(px, py)
            node = int(p.labels[wy, wx]) if instead is None else instead
            fg_seed[node] = True
            near = p.matte[max(0, wy - r):wy + r + 1, max(0, wx - r):wx + r + 1] >= 0.5
            beside[node] |= stands and bool(near.any())
        for px, py in exclude:
            wx, wy = self._to_work(px, py)
            bg_seed[p.labels[wy, wx]] = True
        fg_seed &= ~bg_seed
        # a box takes what lies outside it out of the graph (its colours still teach the
        # background model) and its edge acts as the frame's border
        outside = self._outside(p, box)
        fg_seed &= ~outside
        bg_seed &= ~outside
        rim = g.border > 0
        if outside.any():
            touches = np.zeros(rim.size, bool)
            cross = outside[g.i] != outside[g.j]
            touches[g.i[cross]] = True
            touches[g.j[cross]] = True
            rim = (rim | touches) & ~outside
        # background seeds: the excludes and those border nodes that look like no clicked
        # node (a subject may touch the frame); an exclude click adds to the frame's
        # evidence, it does not replace it (one "not this" on a tower must not hand the
        # whole sky to the object)
        d2 = ((g.feats[:, None] - g.feats[fg_seed][None]) ** 2).sum(-1).min(1)
        far = d2 > (_BORDER_SIMILAR * g.bandwidth) ** 2
        # clicks all on the photo's subject: the object likely follows its outline too,
        # so a change of subject evidence is charged like an outline, and what is surely
        # not subject is background (a cat's fur is one object despite its stripes) -
        # unless an exclude click lands on that estimate: then the user has said it is
        # wrong here (a rocket's estimate that takes its launch pad too), and the colours
        # alone decide
        ev = p.evidence
        share = float((g.area * (ev >= 0.5)).sum() / g.area.sum())
        trusted = p.estimate_holds and share <= _EVIDENCE_SHARE and bool(fg_seed.any())
        if trusted and (ev[fg_seed] >= 0.5).any():
            # a further click beside the subject (within a superpixel of the estimate), on a
            # part the estimate missed (a rocket's thin tip, where its centre prior fades),
            # says that part is subject too: it extends the estimate there rather than
            # turning it off for every click (which let the launch pad and its struts in
            # through the dark tip's colours). A click away from it (on the sky) is not
            # about the subject: the colours decide, as before. The clicked spot counts as
            # sure subject (as sure as where the estimate seeds it), not as more: a spot
            # made certain stood out from its unsure surroundings like an outline, and was
            # left an island the edge pass then erased (the tip's very top, clicked, stayed
            # out).
            ev = np.where(fg_seed & beside & ~bg_seed, np.maximum(ev, _SURE), ev)
        on_subject = bool(trusted and ev[fg_seed].min() >= 0.5
                          and not (ev[bg_seed] >= 0.5).any())
        if trusted and not on_subject and ev[fg_seed].min() > _UNSURE:
            # even then, looking like a click is not enough along the frame where the
            # estimate is sure there is no subject: a click on the dark, shaded side of an
            # object must not hand the dark sky or ground at the frame to it (on the
            # subject, that sure background is a seed anyway, below). A click on such sure
            # background itself (selecting the sky) keeps the frame's look-alikes free.
            far |= ev <= _UNSURE
        bg_all = bg_seed | (rim & far & ~fg_seed)
        seeds = fg_seed
        if on_subject:
            # what the estimate is sure is not subject joins the background seeds (the
            # border nodes unlike the clicks stay: a helmet held beside a clicked suit),
            # except the clicked colour's own region, reached from a click without leaving
            # that colour (an estimate that stops halfway up a plain rod, where its centre
            # prior fades, does not cut the rod there); the sure subject of a clicked colour
            # joins the object
            like = d2 <= (_LIKE_CLICK * g.bandwidth) ** 2
            same = _components(g, (d2 <= (_SAME_AS_CLICK * g.bandwidth) ** 2) & ~outside
                               & ~bg_seed, np.flatnonzero(fg_seed))
            bg_all = bg_all | ((ev <= _EVIDENCE_BG) & ~fg_seed & ~outside & ~same)
            # ... reached from a click through subject of the clicked colours
            piece = _components(g, (ev >= 0.5) & like & ~outside & ~bg_all,
                                np.flatnonzero(fg_seed))
            rim_of = np.zeros(piece.size, bool)  # its interior only: not a stray node
            cut = piece[g.i] != piece[g.j]
            rim_of[g.i[cut]] = True
            rim_of[g.j[cut]] = True
            seeds = fg_seed | ((ev >= _SURE) & piece & ~rim_of)
        x = self._classify(g, fg_seed, bg_all, outside, ev if on_subject else None, bg_seed,
                           spots=True)
        if on_subject:
            x = _enclosed(g, x | seeds, (ev >= 0.5) & ~outside & ~bg_seed)
        keep: np.ndarray = _components(g, x, np.flatnonzero(fg_seed))
        return keep, on_subject

    def subject(self, *, size: tuple[int, int] | None = None) -> np.ndarray:
        """The photo's main subject: distinct from the frame's edges, detailed, central; may
        touch the frame.

        The subject estimate (made once in :meth:`prepare`) seeds both sides where it is
        sure; the same split as for clicks decides the rest along the photo's own outlines,
        kept within a few working pixels of the estimate (a superpixel straddling a thin
        outline is trimmed, not taken whole), and the edge is refined like every selection.
        ``size`` asks for a preview of that size, as for :meth:`object`.
        """
        size = check_size(size)
        key = ("subject",)
        with self._lock:
            p = self._ready()
            if self._solved is None or self._solved[0] != key:
                ev = p.evidence
                fg_seed = ev >= _SURE
                if not fg_seed.any():
                    fg_seed = ev >= float(ev.max())
                keep = self._classify(p.graph, fg_seed, (ev <= _UNSURE) & ~fg_seed)
                keep = _enclosed(p.graph, keep, ev > _UNSURE, framed_out=False)
                # the split follows the photo's outlines; it does not add pieces beyond the
                # estimate (a superpixel straddling a thin body is trimmed to it)
                self._solved = (key, self._edge(p, keep, p.near_estimate))
            return self._render(p, self._solved[1], None, size)

    def _outside(self, p: _Prepared, box: BoxF | None) -> np.ndarray:
        g = p.graph
        if box is None:
            return np.zeros(g.area.size, bool)
        h, w = self.size
        wh, ww = p.labels.shape
        x0, y0, x1, y1 = box[0] * ww / w, box[1] * wh / h, box[2] * ww / w, box[3] * wh / h
        cx, cy = g.centre[:, 0], g.centre[:, 1]
        outside: np.ndarray = (cx < x0) | (cx > x1) | (cy < y0) | (cy > y1)
        return outside

    @staticmethod
    def _classify(g: _Graph, fg_seed: np.ndarray, bg_seed: np.ndarray,
                  blocked: np.ndarray | None = None,
                  evidence: np.ndarray | None = None,
                  named_bg: np.ndarray | None = None, *,
                  spots: bool = False) -> np.ndarray:
        """Foreground nodes: geodesically nearer the include seeds than the background seeds.

        Each step between neighbours is charged the change of colour and texture plus the
        contrast at their shared boundary, plus a little (so that where colour cannot tell,
        nearness does); a path costs its largest step plus a share of the sum (``_geodesic``).
        Then GrabCut-style rounds add the change of the colour models' verdict to the charges,
        the models learnt from the last split. ``blocked`` nodes (outside a box) are cut off.
        With ``evidence`` (0..1 per node), a change of it is charged like an outline too.
        ``named_bg`` (the exclude clicks' nodes) teach most of the background's colour
        model: the look-alike a person excluded is the background that matters. With
        ``spots``, the ``fg_seed`` nodes are clicked spots and add their own colours to the
        object's model (``_spot_model``).
        """
        diff = np.sqrt(((g.feats[g.i] - g.feats[g.j]) ** 2).sum(1)) + _CONTRAST * g.contrast
        if evidence is not None:
            diff = diff + _EVIDENCE * g.bandwidth * np.abs(evidence[g.i] - evidence[g.j])
        if blocked is None:
            blocked = np.zeros(g.area.size, bool)
        diff = np.where(blocked[g.i] | blocked[g.j], math.inf, diff)
        step = _STEP_COST * g.bandwidth
        inf = np.full(g.area.size, math.inf)
        fg = _geodesic(g, diff + step, np.where(fg_seed, 0.0, inf)) if fg_seed.any() else inf
        bg = _geodesic(g, diff + step, np.where(bg_seed, 0.0, inf)) if bg_seed.any() else inf
        inside: np.ndarray = ((fg < bg) | fg_seed) & ~blocked
        for _ in range(_ROUNDS):
            if not inside.any() or inside.all():
                break
            # the object's colours are learnt from its core (near the seeds by the geodesic
            # measure), so a rim that leaked into the background does not teach it
            core = inside * g.area * np.exp(-np.minimum(fg, 1e6) / (_CORE * g.bandwidth))
            pf = g.kernel @ (core / max(float(core.sum()), 1e-12)).astype(np.float32)
            out_w = ~inside * g.area  # blocked nodes included: their colours are background
            pb = g.kernel @ (out_w / float(out_w.sum())).astype(np.float32)
            if _EXCLUDE_SHARE and named_bg is not None and named_bg.any():
                # the user's "not this" teaches the background's colours as much as all the
                # rest: a look-alike beside the object is what an exclude click is for
                told = named_bg * g.area
                pb = ((1 - _EXCLUDE_SHARE) * pb
                      + _EXCLUDE_SHARE * (g.kernel @ (told / float(told.sum())).astype(np.float32)))
            if spots:
                # the spots fill in what the core has not learnt; they do not outweigh it
                pf = np.maximum(pf, _spot_model(g, fg_seed))
            floor = 1e-3  # a colour neither model knows is undecided, not a 0/0 accident
            prior = (pf + floor) / (pf + pb + 2 * floor)
            cost = diff + step + _LIKELIHOOD * g.bandwidth * np.abs(prior[g.i] - prior[g.j])
            start_f = np.where(fg_seed, 0.0, inf)
            start_b = np.where(bg_seed, 0.0, inf)
            # confident nodes seed their side too, so the split follows the colour models
            start_f = np.where(prior > 1 - _CONFIDENT, _SEED_COST * g.bandwidth, start_f)
            start_b = np.where(prior < _CONFIDENT, _SEED_COST * g.bandwidth, start_b)
            start_f[bg_seed] = math.inf
            start_b[fg_seed] = math.inf
            fg = _geodesic(g, cost, start_f)
            bg = _geodesic(g, cost, start_b)
            inside = ((fg < bg) | fg_seed) & ~bg_seed & ~blocked
        return inside

    # ---- rendering at full resolution --------------------------------------------------

    @staticmethod
    def _edge(p: _Prepared, chosen: np.ndarray, within: np.ndarray | None = None) -> _Edge:
        """The ``chosen`` nodes as a working-level mask (only its pixels ``within``, when
        given), its edge fitted by the guided filter.

        The choice is binary: softness comes only from the image, through the filter. This
        is the whole of a selection's working-level work; previews and the full-resolution
        mask are both drawn from it, so a painter's preview-then-full click solves once.
        """
        picked = chosen[p.labels]
        if within is not None:
            picked &= within
        coarse = picked.astype(np.float32)
        wh, ww = coarse.shape
        edge = np.zeros((wh, ww), bool)
        edge[:, 1:] |= coarse[:, 1:] != coarse[:, :-1]
        edge[1:] |= coarse[1:] != coarse[:-1]
        rows, cols = np.flatnonzero(edge.any(1)), np.flatnonzero(edge.any(0))
        if rows.size:
            m = 2 * p.guide.r + 2
            crop = (slice(max(0, rows[0] - m), rows[-1] + m + 1),
                    slice(max(0, cols[0] - m), cols[-1] + m + 1))
            a, b = _guided_coefficients(p.guide, coarse, crop)
            q = b.copy()
            q[crop] += (a[crop] * p.guide.image[crop]).sum(-1)
        else:
            a, b = np.zeros((wh, ww, 3), np.float32), coarse
            q = coarse.copy()
        np.clip(q, 0, 1, out=q)
        # a . I + b for I in 0..1 and a result in 0..1 is a . I8 + 255 b in 0..255
        coef = np.concatenate([a, 255 * b[..., None]], -1).astype(np.float32)
        return _Edge((q * 255 + 0.5).astype(np.uint8), coef)

    def _render(self, p: _Prepared, e: _Edge, box: BoxF | None,
                size: tuple[int, int] | None = None) -> np.ndarray:
        """The selection at ``size`` (a preview from the working level) or at full
        resolution, its edge refined there by the guided filter's coefficients."""
        q8 = e.q8
        wh, ww = q8.shape
        h, w = self.size
        if size is not None:
            if box is not None:
                x0, y0, x1, y1 = box
                keep = np.zeros_like(q8)
                sl = (slice(max(0, math.floor(y0 * wh / h)), math.ceil(y1 * wh / h)),
                      slice(max(0, math.floor(x0 * ww / w)), math.ceil(x1 * ww / w)))
                keep[sl] = q8[sl]
                q8 = keep
            return _resized(q8, size)
        out = np.array(q8) if (wh, ww) == (h, w) else self._upsample_edges(q8, e.coef)
        if box is not None:
            x0, y0, x1, y1 = (max(0, math.floor(v)) for v in box)
            clip = np.zeros_like(out)
            clip[y0:y1, x0:x1] = out[y0:y1, x0:x1]
            out = clip
        return out

    def _upsample_edges(self, q8: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """q8 enlarged; in the edge band (working pixels neither 0 nor 255, and their
        neighbours) the guided filter's coefficients are interpolated and applied to the
        full-resolution pixels themselves.

        The band is found on the working level and each of its pixels expanded to the block
        of full-resolution pixels the enlargement gives it, so no full-size scan is needed.
        """
        h, w = self.size
        wh, ww = q8.shape
        # the full-resolution rows / columns each working row / column is enlarged to (as
        # PIL's nearest resize would; repeating in numpy saves copying the image out of PIL)
        rows = np.bincount(_nearest_map(wh, h), minlength=wh)
        cols = np.bincount(_nearest_map(ww, w), minlength=ww)
        out = np.repeat(np.repeat(q8, rows, 0), cols, 1)
        soft = (q8 > 0) & (q8 < 255)
        band_w = _pixels.square_extreme(soft, 1, np.maximum)  # and its 8 neighbours
        by, bx = np.nonzero(band_w)
        if not by.size:
            return out
        row0 = np.concatenate([[0], np.cumsum(rows)])  # where each working row's block starts
        col0 = np.concatenate([[0], np.cumsum(cols)])
        tall, wide = int(rows.max()), int(cols.max())
        oy = np.arange(tall).reshape(1, tall, 1)
        ox = np.arange(wide).reshape(1, 1, wide)
        flat_coef = coef.reshape(-1, 4)
        flat_image = self.image.reshape(-1, 3)
        chunk = max(1, (1 << 20) // (tall * wide))  # bounded temporaries
        for k in range(0, by.size, chunk):
            cy, cx = by[k:k + chunk], bx[k:k + chunk]
            fy = row0[cy].reshape(-1, 1, 1) + oy
            fx = col0[cx].reshape(-1, 1, 1) + ox
            inside = (fy < row0[cy + 1].reshape(-1, 1, 1)) & (fx < col0[cx + 1].reshape(-1, 1, 1))
            ys = np.broadcast_to(fy, inside.shape)[inside]
            xs = np.broadcast_to(fx, inside.shape)[inside]
            # float32 throughout: an int32 operand would turn the (n, 4) work into float64
            u = np.clip((xs + 0.5) * (ww / w) - 0.5, 0, ww - 1).astype(np.float32)
            v = np.clip((ys + 0.5) * (wh / h) - 0.5, 0, wh - 1).astype(np.float32)
            x0 = np.minimum(np.floor(u), np.float32(max(ww - 2, 0)))
            y0 = np.minimum(np.floor(v), np.float32(max(wh - 2, 0)))
            wx = (u - x0)[:, None]
            wy = (v - y0)[:, None]
            k00 = y0.astype(np.int32) * ww + x0.astype(np.int32)
            dx = np.int32(1 if ww > 1 else 0)
            dy = np.int32(ww if wh > 1 else 0)
            top = flat_coef[k00] * (1 - wx) + flat_coef[k00 + dx] * wx
            bottom = flat_coef[k00 + dy] * (1 - wx) + flat_coef[k00 + dy + dx] * wx
            c = top * (1 - wy) + bottom * wy
            idx = ys.astype(np.int64) * w + xs
            q = (c[:, :3] * flat_image[idx]).sum(1)  # coef is scaled for 0..255 in and out
            q += c[:, 3] + np.float32(0.5)
            out.reshape(-1)[idx] = np.clip(q, 0, 255).astype(np.uint8)
        return out

    # ---- refinement ---------------------------------------------------------------------

    @staticmethod
    def refine(mask: np.ndarray, *, grow: float = 0, shrink: float = 0, feather: float = 0,
               smooth: float = 0, size: tuple[int, int] | None = None) -> np.ndarray:
        """``mask`` smoothed, then grown or shrunk, then feathered (pixels of ``mask``).

        With ``size=(height, width)`` the work is done on the mask reduced to that size (the
        distances scaled to match), which is what a live preview on screen needs; without it
        the result is at full resolution, for applying.
        """
        from . import masks

        size = check_size(size)
        m = masks.as_mask(mask)
        factor = 1.0
        if size is not None and tuple(size) != m.shape:
            factor = size[0] / m.shape[0]
            m = np.asarray(Image.fromarray(m).resize((size[1], size[0]),
                                                     Image.Resampling.BILINEAR))
        if smooth:
            radius = smooth * factor
            blurred = np.asarray(Image.fromarray(m).filter(ImageFilter.GaussianBlur(radius)))
            lut = np.clip((np.arange(256) - 128) * 4 + 128, 0, 255).astype(np.uint8)
            m = lut[blurred]
        if grow or shrink:
            binary = (m >= 128).view(np.uint8) * np.uint8(255)
            amount = (grow - shrink) * factor
            m = masks.grow(binary, amount) if amount >= 0 else masks.shrink(binary, -amount)
        if feather:
            m = masks.feather(m, feather * factor)
        return np.array(m) if m is mask else m
