"""Synthetic scenes with known answers for tests/test_selection.py: textured backgrounds and
objects of several kinds, each returned with its exact mask."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from venice_nb import masks

Scene = tuple[np.ndarray, np.ndarray, tuple[float, float]]  # image, truth (bool), a point on it


def background(kind: str, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Warm, busy backgrounds: noise, stripes or a gradient (float32 RGB)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "noise":
        base = np.array([150, 120, 90], np.float32) + rng.normal(0, 25, (h, w, 3))
    elif kind == "stripes":
        s = np.sin(xx / 6 + yy / 17)[..., None]
        base = np.array([160, 130, 80], np.float32) + 50 * s * np.array([1, 0.6, 0.3])
        base = base + rng.normal(0, 8, (h, w, 3))
    elif kind == "gradient":
        base = np.stack([90 + 120 * xx / w, 140 + 60 * yy / h, 60 + 30 * xx / w], -1)
        base = base + rng.normal(0, 6, (h, w, 3))
    else:
        raise ValueError(kind)
    return base.astype(np.float32)


def shape(kind: str, h: int, w: int) -> np.ndarray:
    """uint8 0/255 masks of the objects (soft for ``blob``)."""
    cx, cy = w * 0.5, h * 0.5
    r = min(h, w) * 0.22
    if kind == "disc":
        return masks.ellipse((h, w), (cx - r, cy - r, cx + r, cy + r))
    if kind == "star":
        ang = np.arange(10) * np.pi / 5 - np.pi / 2
        rad = np.where(np.arange(10) % 2 == 0, r * 1.2, r * 0.5)
        return masks.polygon((h, w), np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1))
    if kind == "blob":
        m = masks.ellipse((h, w), (cx - r * 1.2, cy - r, cx + r * 1.2, cy + r))
        return np.asarray(Image.fromarray(m).filter(ImageFilter.GaussianBlur(6)))
    if kind == "thin":
        return masks.rect((h, w), (w * 0.1, cy - 6, w * 0.9, cy + 6))
    if kind == "touching":  # runs off the bottom and right of the frame
        return masks.ellipse((h, w), (w * 0.45, h * 0.35, w * 1.3, h * 1.4))
    raise ValueError(kind)


def scene(bg: str, obj: str, h: int = 360, w: int = 480, seed: int = 0,
          color: tuple[int, int, int] = (40, 90, 210)) -> Scene:
    """A blue object on a warm textured background; truth is where the object covers >= half."""
    rng = np.random.default_rng(seed + 1)
    base = background(bg, h, w, seed)
    alpha = shape(obj, h, w).astype(np.float32)[..., None] / 255
    fg = np.array(color, np.float32) + rng.normal(0, 6, (h, w, 3))
    img = np.clip(base * (1 - alpha) + fg * alpha, 0, 255).astype(np.uint8)
    truth = alpha[..., 0] >= 0.5
    ys, xs = np.nonzero(alpha[..., 0] >= 0.99)
    k = len(xs) // 2
    return img, truth, (float(xs[k]), float(ys[k]))


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    sel = mask >= 128
    return float((sel & truth).sum() / max(1, (sel | truth).sum()))
