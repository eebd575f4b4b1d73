"""Background removal: a real, cheap alpha matte.

On a plain background (product shots on studio backdrops) the background colour is the median of
a thin border strip; alpha rises with the colour distance from it between a noise-aware threshold
and a soft edge; a 3x3 morphological opening then removes isolated specks. On a busy background
the subject estimate of ``_regions`` (which uses this matte for plain ones) is the alpha.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import _imageops

EDGE_SOFTNESS = 30.0  # colour-distance span over which alpha goes from 0 to 255
MIN_THRESHOLD = 10.0  # distances below this (or the border's noise) count as background


def _shifted_extreme(a: np.ndarray, op: np.ufunc) -> np.ndarray:
    """3x3 min or max filter (edges replicated) by combining shifted views."""
    p = np.pad(a, 1, mode="edge")
    h, w = a.shape
    out = p[1 : h + 1, 1 : w + 1].copy()
    for dy in range(3):
        for dx in range(3):
            op(out, p[dy : dy + h, dx : dx + w], out=out)
    return np.asarray(out)


def background_colour(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """(median border colour, 95th percentile of the border's distance from it)."""
    h, w, _ = rgb.shape
    b = max(2, round(min(h, w) * 0.02))
    border = np.concatenate(
        [
            rgb[:b].reshape(-1, 3),
            rgb[-b:].reshape(-1, 3),
            rgb[:, :b].reshape(-1, 3),
            rgb[:, -b:].reshape(-1, 3),
        ]
    ).astype(np.float32)
    bg = np.median(border, axis=0)
    noise = float(np.percentile(np.linalg.norm(border - bg, axis=1), 95))
    return bg, noise


def alpha_matte(img: Image.Image) -> np.ndarray:
    """uint8 HxW alpha: ~0 on the background, 255 on the subject, soft at the edge."""
    rgb = np.asarray(img.convert("RGB"))
    bg, noise = background_colour(rgb)
    diff = rgb.astype(np.int16) - np.round(bg).astype(np.int16)
    dist = np.sqrt((diff.astype(np.int32) ** 2).sum(axis=-1, dtype=np.int32).astype(np.float32))
    t0 = max(MIN_THRESHOLD, 1.5 * noise)
    alpha = np.clip((dist - t0) * (255.0 / EDGE_SOFTNESS), 0.0, 255.0).astype(np.uint8)
    opened = _shifted_extreme(_shifted_extreme(alpha, np.minimum), np.maximum)
    # Opening removes specks but also shaves soft edges; keep the original where it survives.
    matte: np.ndarray = np.minimum(alpha, _shifted_extreme(opened, np.maximum))
    return matte


def remove_background(img: Image.Image) -> Image.Image:
    """The image as RGBA with the background made transparent (existing alpha respected)."""
    from . import _regions  # here, not at the top: _regions builds on this module

    img = _imageops.eight_bit(img)
    alpha = np.asarray(_regions.subject(img.convert("RGB")))  # alpha_matte on a plain backdrop
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        alpha = np.minimum(alpha, np.asarray(img.convert("RGBA").getchannel("A")))
    out = img.convert("RGB")
    out.putalpha(Image.fromarray(alpha))
    return out
