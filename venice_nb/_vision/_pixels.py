"""Shared raster vocabulary of the local backend's effects: the ``Region`` type and the small
numpy/Pillow helpers (analysis copies, box blur, flood fill, dilation) that the region
estimates, the subject matte, the fill and the objects all use.

This module is the bottom layer of the effects: it imports nothing from the backend, so the
modules above it form an acyclic graph (tests/test_layering.py checks that).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageFilter

Region = Image.Image
"""Mode "L" image the size of the picture: 255 = the edit applies fully, 0 = keep."""

ANALYSIS_SIDE = 128  # region estimates work on a copy at most this long


def eight_bit(img: Image.Image) -> Image.Image:
    """16-bit / integer / float greyscale scaled to mode L (a plain convert would clip it)."""
    if not img.mode.startswith(("I", "F")):
        return img
    arr = np.asarray(img, dtype=np.float64)
    top = 255.0 if arr.max() <= 255 else 65535.0
    return Image.fromarray(np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8))


def fit_side(size: tuple[int, int], side: int, least: int = 8) -> tuple[int, int]:
    """``size`` scaled down (never up) so its long side is at most ``side``."""
    w, h = size
    scale = min(1.0, side / max(w, h))
    return max(least, round(w * scale)), max(least, round(h * scale))


def small(img: Image.Image, side: int = ANALYSIS_SIDE) -> np.ndarray:
    """A float32 HxWx3 RGB copy at most ``side`` pixels long (box-averaged)."""
    return np.asarray(
        rgb_view(img).resize(fit_side(img.size, side), Image.Resampling.BOX), np.float32
    )


def to_region(weights: np.ndarray, size: tuple[int, int], soften: float = 1.0) -> Region:
    """Low-resolution weights in [0, 1] -> a soft full-size region; exact zeros stay zero."""
    low = Image.fromarray(np.round(np.clip(weights, 0.0, 1.0) * 255).astype(np.uint8))
    if soften:
        low = low.filter(ImageFilter.GaussianBlur(soften))
    return low.resize(size, Image.Resampling.BILINEAR)


def selected_box(region: Region) -> tuple[int, int, int, int] | None:
    """The bounding box (x0, y0, x1, y1) of a soft region's selected pixels (over half), or
    None when none is: where a mask's drawn thing goes."""
    box: tuple[int, int, int, int] | None = region.point(
        lambda v: 255 if v > 127 else 0
    ).getbbox()
    return box


def resize_weights(weights: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of float HxW weights to ``size`` (w, h)."""
    img = Image.fromarray(np.ascontiguousarray(weights, np.float32))
    return np.asarray(img.resize(size, Image.Resampling.BILINEAR), np.float32)


def flood(seed: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Pixels of ``allowed`` 4-connected to ``seed``.

    Whole runs at a time: a run of allowed pixels along a row (or a column) is reached as soon
    as any of its pixels is, so each round passes the flood along every row run it touches,
    then along every column run; it stops when a round adds nothing. A region takes as many
    rounds as its paths have turns, not as many as they have pixels (the one-pixel dilation
    it replaces needed a round per pixel of the longest path; same answer, the component is
    unique)."""
    reached: np.ndarray = seed & allowed
    if not reached.any():
        return reached
    row = run_ids(allowed)
    col_of = np.zeros(allowed.shape[::-1], np.intp)
    col_of[allowed.T] = run_ids(np.ascontiguousarray(allowed.T))
    col = col_of.T[allowed]
    on = reached[allowed]  # in the raster order of the allowed pixels
    count = np.count_nonzero(on)
    while True:
        for ids in (row, col):
            hit = np.zeros(int(ids.max()) + 1, bool)
            hit[ids[on]] = True
            on = hit[ids]
        now = np.count_nonzero(on)  # the flood only grows: the same count is the same set
        if now == count:
            break
        count = now
    reached[allowed] = on
    return reached


def run_ids(mask: np.ndarray) -> np.ndarray:
    """For each pixel of ``mask`` in raster order: the number of its run along the row (runs
    counted in raster order from 0)."""
    start = mask.copy()
    start[:, 1:] &= ~mask[:, :-1]
    ids: np.ndarray = np.cumsum(start[mask]) - 1
    return ids


def parts(mask: np.ndarray) -> Iterator[np.ndarray]:
    """Each 4-connected part of ``mask``, one at a time (``mask`` is left as it is)."""
    left = mask.copy()
    while left.any():
        seed = np.zeros_like(left)
        seed.flat[int(np.argmax(left))] = True
        part = flood(seed, left)
        left &= ~part
        yield part


def rgb_view(img: Image.Image) -> Image.Image:
    """``img`` as RGB, without a copy when it already is (to read, not to change)."""
    return img if img.mode == "RGB" else img.convert("RGB")


def grow(mask: np.ndarray, r: int) -> np.ndarray:
    """Binary dilation by ``r`` steps of the 4-neighbourhood."""
    out: np.ndarray = mask.copy()
    for _ in range(r):
        nxt = out.copy()
        nxt[1:] |= out[:-1]
        nxt[:-1] |= out[1:]
        nxt[:, 1:] |= out[:, :-1]
        nxt[:, :-1] |= out[:, 1:]
        out = nxt
    return out


def square_extreme(a: np.ndarray, r: int, pick: np.ufunc) -> np.ndarray:
    """The max (or min, by ``pick``: np.maximum, np.minimum) over a (2r+1)-square, edges
    clipped, as shifted copies per axis: Pillow's rank filters cost several times more. On a
    bool mask with np.maximum it is a binary dilation by the square."""
    out = a
    for axis in (0, 1):
        src = out
        out = src.copy()
        n = src.shape[axis]
        for d in range(1, min(r, n - 1) + 1):
            lo = [slice(None)] * 2
            hi = [slice(None)] * 2
            lo[axis], hi[axis] = slice(0, n - d), slice(d, n)
            pick(out[tuple(lo)], src[tuple(hi)], out=out[tuple(lo)])
            pick(out[tuple(hi)], src[tuple(lo)], out=out[tuple(hi)])
    return out


def box(a: np.ndarray, r: int) -> np.ndarray:
    """Separable box mean of radius ``r`` over the first two axes (edges replicated): a cheap
    blur; an HxWxC array is blurred per channel in one call."""
    n = 2 * r + 1
    for axis in (0, 1):
        # edges replicated (as np.pad's "edge" mode, at a fraction of its cost)
        padded = a.take(np.clip(np.arange(-r - 1, a.shape[axis] + r), 0, a.shape[axis] - 1), axis)
        if axis == 0:
            c = cumsum_rows(padded)
            a = (c[n:] - c[:-n]) * np.float32(1 / n)
        else:
            c = np.cumsum(padded, axis=1, dtype=np.float32)
            a = (c[:, n:] - c[:, :-n]) * np.float32(1 / n)
    out: np.ndarray = a.astype(np.float32, copy=False)
    return out


def cumsum_rows(a: np.ndarray) -> np.ndarray:
    """``np.cumsum(a, axis=0, dtype=np.float32)``, the same sums in the same order: numpy's
    running sum down the first axis walks each column on its own (several times slower than
    a row at a time on an image), so wide rows are added one to the next instead."""
    if a[0].size < 128:
        small_sum: np.ndarray = np.cumsum(a, axis=0, dtype=np.float32)
        return small_sum
    a = np.asarray(a, np.float32)  # cumsum's dtype casts each term first, then adds
    out = np.empty(a.shape, np.float32)
    out[0] = a[0]
    for i in range(1, len(a)):
        np.add(out[i - 1], a[i], out=out[i])
    return out


def local_detail(grey: np.ndarray) -> np.ndarray:
    """Mean absolute difference to the 4 neighbours: texture/edge strength per pixel."""
    p = np.pad(grey, 1, mode="edge")
    c = p[1:-1, 1:-1]
    detail: np.ndarray = (
        np.abs(c - p[:-2, 1:-1])
        + np.abs(c - p[2:, 1:-1])
        + np.abs(c - p[1:-1, :-2])
        + np.abs(c - p[1:-1, 2:])
    ) / 4
    return detail


def otsu(values: np.ndarray) -> float:
    """Otsu's threshold of ``values`` (64 bins)."""
    hist, edges = np.histogram(values, bins=64)
    mids = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * mids) / np.maximum(w0, 1)
    m1 = (np.sum(hist * mids) - np.cumsum(hist * mids)) / np.maximum(w1, 1)
    return float(mids[int(np.argmax(w0 * w1 * (m0 - m1) ** 2))])


def halved(a: np.ndarray) -> np.ndarray:
    """The mean of each 2 x 2 block of ``a`` (even height and width)."""
    out: np.ndarray = (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) * 0.25
    return out


def channel_sum(a: np.ndarray) -> np.ndarray:
    """``a.sum(-1)`` over a short last axis (colour channels), one channel added at a time:
    the same sums in the same order, while numpy's reduction over a last axis of 3 costs
    about ten times more per pixel."""
    out: np.ndarray = a[..., 0].copy()
    for c in range(1, a.shape[-1]):
        out += a[..., c]
    return out


def luma(rgb: np.ndarray) -> np.ndarray:
    return (rgb @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)
