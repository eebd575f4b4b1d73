"""Mask respect: how much of an edit landed inside the mask, and how much leaked outside it.

"Which model keeps to my mask" as two numbers per result: the share of pixels changed inside
the mask and outside it (grown by a small margin, so the soft seam a model blends along the
mask's edge does not count as a leak). The returned image is compared at the input's size.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops

from . import masks

__all__ = ["CHANGE_LEVEL", "MaskRespect", "mask_respect"]

# A pixel counts as changed when a channel moved by more than this (of 255): above the noise
# of lossy output formats (JPEG/WebP at their default quality move pixels by up to ~12).
CHANGE_LEVEL = 24
_MARGIN = 0.01  # the mask grows by 1 % of the image's shorter side (at least 2 px)


@dataclass(frozen=True)
class MaskRespect:
    inside: float  # share of the mask's pixels that changed (how much of the ask was done)
    outside: float  # share of the pixels outside the grown mask that changed (leaks)


def mask_respect(image: bytes, mask: bytes, result: bytes) -> MaskRespect | None:
    """The figures for one masked result (None when the mask selects nothing)."""
    with Image.open(io.BytesIO(image)) as img:
        base = img.convert("RGB")
    with Image.open(io.BytesIO(mask)) as layer:
        selected = np.asarray(layer.convert("L").resize(base.size, Image.Resampling.NEAREST)) > 0
    if not selected.any():
        return None
    with Image.open(io.BytesIO(result)) as out:
        edited = out.convert("RGB")
    if edited.size != base.size:
        edited = edited.resize(base.size, Image.Resampling.BILINEAR)
    diff = np.asarray(ImageChops.difference(edited, base))  # |a - b| per channel, uint8, in C
    changed = (diff[..., 0] > CHANGE_LEVEL) | (diff[..., 1] > CHANGE_LEVEL) | (
        diff[..., 2] > CHANGE_LEVEL)
    margin = max(2, round(_MARGIN * min(base.size)))
    grown = masks.grow(selected, margin) > 0
    outside = ~grown
    n_out = int(outside.sum())
    return MaskRespect(
        inside=round(float(changed[selected].mean()), 4),
        outside=round(float(changed[outside].sum() / n_out), 4) if n_out else 0.0,
    )
