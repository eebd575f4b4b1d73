"""The painter's viewport: which part of the full-resolution image the canvas shows, and how.

The canvas never holds the whole image (a 33 Mpx photo would be a 33 Mpx canvas, more than
some browsers allow); it holds the visible part, rendered at the canvas's size. ``View`` is the
geometry (zoom in canvas pixels per image pixel, the image point at the canvas's top-left);
``Renderer`` turns a canvas rectangle into pixels from an image pyramid and the mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from .._types import Box  # x0, y0, x1, y1, half-open

MAX_ZOOM = 32.0  # 3200 %: one image pixel is a 32 px square
_STRIP = 256  # rows of the full image turned into a PIL image at a time (an even number)


@dataclass(frozen=True)
class View:
    """A canvas of ``view_size`` showing the image (``image_size``) from ``origin`` at ``zoom``."""

    image_size: tuple[int, int]  # (width, height) in image pixels
    view_size: tuple[int, int]  # (width, height) in canvas pixels
    zoom: float  # canvas pixels per image pixel
    origin: tuple[float, float] = (0.0, 0.0)  # image point at the canvas's top-left corner

    @classmethod
    def fitted(cls, image_size: tuple[int, int], view_size: tuple[int, int]) -> View:
        return cls(image_size, view_size, fit_zoom(image_size, view_size))

    @property
    def fit(self) -> float:
        return fit_zoom(self.image_size, self.view_size)

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        """Canvas coordinates -> image coordinates (floats: painting keeps sub-pixel detail)."""
        return self.origin[0] + x / self.zoom, self.origin[1] + y / self.zoom

    def to_view(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.origin[0]) * self.zoom, (y - self.origin[1]) * self.zoom

    def zoom_at(self, zoom: float, x: float, y: float) -> View:
        """Zoom to ``zoom`` keeping the image point under canvas point (x, y) where it is."""
        zoom = min(MAX_ZOOM, max(self.fit, zoom))
        ix, iy = self.to_image(x, y)
        return replace(self, zoom=zoom, origin=(ix - x / zoom, iy - y / zoom)).clamped()

    def panned(self, dx: float, dy: float) -> View:
        """Move the image by (dx, dy) canvas pixels (a drag to the right shows more left)."""
        ox, oy = self.origin
        return replace(self, origin=(ox - dx / self.zoom, oy - dy / self.zoom)).clamped()

    def clamped(self) -> View:
        """Keep the canvas inside the image (centred on an axis the image does not fill)."""
        (w, h), (vw, vh) = self.image_size, self.view_size
        ox, oy = (_clamp_axis(o, n, v / self.zoom) for o, n, v in zip(self.origin, (w, h),
                                                                       (vw, vh), strict=True))
        return replace(self, origin=(ox, oy))

    def image_box(self, vbox: Box | None = None) -> tuple[float, float, float, float]:
        """The image rectangle (floats) shown in canvas rectangle ``vbox`` (None: all)."""
        x0, y0, x1, y1 = vbox if vbox is not None else (0, 0, *self.view_size)
        (ax, ay), (bx, by) = self.to_image(x0, y0), self.to_image(x1, y1)
        return ax, ay, bx, by

    def view_box(self, box: Box) -> Box | None:
        """The canvas pixels an image rectangle touches, clipped (None when out of view)."""
        (ax, ay), (bx, by) = self.to_view(box[0], box[1]), self.to_view(box[2], box[3])
        vw, vh = self.view_size
        out = (max(0, math.floor(ax)), max(0, math.floor(ay)),
               min(vw, math.ceil(bx)), min(vh, math.ceil(by)))
        return out if out[2] > out[0] and out[3] > out[1] else None


def fit_zoom(image_size: tuple[int, int], view_size: tuple[int, int]) -> float:
    return min(view_size[0] / image_size[0], view_size[1] / image_size[1])


def _clamp_axis(origin: float, length: int, shown: float) -> float:
    if shown >= length:
        return (length - shown) / 2
    return min(max(origin, 0.0), length - shown)


class Renderer:
    """Pixels for a canvas rectangle: the image from a pyramid, the mask as a coloured overlay.

    The pyramid holds the image halved repeatedly, so a zoomed-out view reads a small level
    instead of resampling 33 Mpx; at 100 % and beyond the full image is sampled with NEAREST,
    so every image pixel shows as itself (a square when zoomed in). Reduced copies of the mask
    are made when a zoomed-out view first needs them and kept current by ``mask_changed``.
    """

    def __init__(self, rgb: np.ndarray, mask: np.ndarray) -> None:
        # Level 0 is the caller's array itself: a PIL copy of it would be 4 bytes a pixel
        # (133 MB for 33 Mpx). Level 1 is reduced from strips of it, so no full copy is made.
        self._rgb = rgb
        self.levels: list[Image.Image] = []
        h, w = rgb.shape[:2]
        if min(w, h) >= 512:
            level = Image.new("RGB", (-(-w // 2), -(-h // 2)))
            for y in range(0, h, _STRIP):
                strip = Image.fromarray(np.ascontiguousarray(rgb[y : y + _STRIP]))
                level.paste(strip.reduce(2), (0, y // 2))
            self.levels.append(level)
            while min(level.size) >= 512:
                level = level.reduce(2)
                self.levels.append(level)
        self._mask = mask
        self._mask_levels: dict[int, np.ndarray] = {}

    def _level(self, view: View) -> int:
        """The smallest pyramid level that still has at least one pixel per canvas pixel."""
        k = 0
        while k < len(self.levels) and view.zoom * 2 ** (k + 1) <= 1.0:
            k += 1
        return k

    def image(self, view: View, vbox: Box) -> np.ndarray:
        """RGB pixels of canvas rectangle ``vbox``."""
        k = self._level(view)
        ax, ay, bx, by = view.image_box(vbox)
        size = (vbox[2] - vbox[0], vbox[3] - vbox[1])
        resample = Image.Resampling.NEAREST if view.zoom >= 1 else Image.Resampling.BILINEAR
        if k:
            level, scale = self.levels[k - 1], 2**k
            box = (ax / scale, ay / scale, bx / scale, by / scale)
            return np.asarray(level.resize(size, resample, box=_inside(box, level.size)))
        # Full resolution: only the shown part (and the filter's reach) becomes an image.
        h, w = self._rgb.shape[:2]
        x0, y0, x1, y1 = _inside((ax, ay, bx, by), (w, h))
        reach = 0 if view.zoom >= 1 else 2  # crop as the mask does: the two stay aligned
        cx0, cy0 = max(0, math.floor(x0) - reach), max(0, math.floor(y0) - reach)
        cx1, cy1 = min(w, math.ceil(x1) + reach), min(h, math.ceil(y1) + reach)
        crop = Image.fromarray(np.ascontiguousarray(self._rgb[cy0:cy1, cx0:cx1]))
        box = (x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0)
        return np.asarray(crop.resize(size, resample, box=box))

    def mask_changed(self, box: Box) -> None:
        """Bring the reduced masks up to date inside ``box`` (full-resolution pixels)."""
        for k, small in self._mask_levels.items():
            s = 2**k
            x0, y0 = box[0] // s * s, box[1] // s * s  # whole blocks of s x s pixels
            x1, y1 = -(-box[2] // s) * s, -(-box[3] // s) * s
            reduced = _reduced(self._mask[y0:y1, x0:x1], s)
            small[y0 // s : y0 // s + reduced.shape[0], x0 // s : x0 // s + reduced.shape[1]] = (
                reduced)

    def mask(self, view: View, vbox: Box) -> np.ndarray:
        """The mask averaged over each canvas pixel of ``vbox`` (only the crop is read)."""
        k = self._level(view)
        if k and k not in self._mask_levels:
            self._mask_levels[k] = _reduced(self._mask, 2**k)
        source = self._mask_levels[k] if k else self._mask
        s = 2**k
        h, w = source.shape
        ax, ay, bx, by = view.image_box(vbox)
        ax, ay, bx, by = _inside((ax / s, ay / s, bx / s, by / s), (w, h))
        cx0, cy0 = int(ax), int(ay)
        crop = source[cy0 : math.ceil(by), cx0 : math.ceil(bx)]
        size = (vbox[2] - vbox[0], vbox[3] - vbox[1])
        img = Image.fromarray(np.ascontiguousarray(crop))
        box = (ax - cx0, ay - cy0, bx - cx0, by - cy0)
        resample = Image.Resampling.NEAREST if view.zoom >= 1 else Image.Resampling.BOX
        return np.asarray(img.resize(size, resample, box=box))


def _reduced(mask: np.ndarray, s: int) -> np.ndarray:
    """``mask`` averaged over s x s blocks (as ``Image.reduce``), a strip of rows at a time:
    a PIL copy of a whole 33 Mpx mask would be a 33 MB passing allocation per change."""
    h, w = mask.shape
    out = np.empty((-(-h // s), -(-w // s)), np.uint8)
    rows = max(s, _STRIP // s * s)
    for y in range(0, h, rows):
        strip = Image.fromarray(np.ascontiguousarray(mask[y : y + rows]))
        out[y // s : y // s + -(-min(rows, h - y) // s)] = np.asarray(strip.reduce(s))
    return out


def _inside(box: tuple[float, float, float, float],
            size: tuple[int, int]) -> tuple[float, float, float, float]:
    """A source box inside the level (a view wider than the image is centred, not padded)."""
    x0, y0, x1, y1 = box
    return max(0.0, x0), max(0.0, y0), min(float(size[0]), x1), min(float(size[1]), y1)


def overlay(mask: np.ndarray, color: tuple[int, int, int], opacity: float) -> np.ndarray:
    """RGBA of the mask in ``color``, its opacity baked into alpha (drawn over the image)."""
    rgba = np.empty((*mask.shape, 4), np.uint8)
    rgba[..., :3] = color
    rgba[..., 3] = (mask.astype(np.uint16) * round(opacity * 256)) >> 8
    return rgba
