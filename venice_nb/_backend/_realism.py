"""How faithfully the local backend imitates Venice's answers (``BackendConfig.realism``).

``"exact"`` is the kind stand-in: the effect lands only where a mask layer says, and every other
pixel keeps its exact value. Venice is not kind: every answer is a newly generated frame at the
model's tier, and a mask layer in ``/image/multi-edit`` is only a hint the model reads. A feature
proven only against the kind backend is not proven, so ``"venice"`` imitates what a hosted model
does, on top of whatever ``_imageops.edit_image`` (the effects) produced:

- the mask layer is a *hint*: the effect spills past its edge by an uneven margin and misses
  bits of it (``hint_mask``);
- the whole frame is regenerated (``regenerate``): a small colour drift, a resampling softness,
  a sub-pixel shift and fine noise touch every pixel, masked or not.

Everything is seeded from the request (prompt, model, size), so the same request always gives
the same bytes in both modes; tests and recordings stay reproducible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from . import _imageops

Realism = Literal["exact", "venice"]
REALISMS: tuple[Realism, ...] = ("exact", "venice")

# The hint: how far the effect spills past the mask's edge, as a share of the output's diagonal
# (uneven along the edge: between the two), and the share of the mask's interior it misses.
SPILL_MIN, SPILL_MAX = 0.008, 0.03
MISS_SHARE = 0.06
# Regeneration: per-channel gain and offset drift, the softening scale, the shift (pixels) and
# the noise amplitude (levels). Small enough to look like the same photo, large enough that no
# pixel keeps its exact value.
GAIN_DRIFT, OFFSET_DRIFT = 0.025, 3.0
SOFTEN_SCALE = 0.8
SHIFT = (0.35, -0.25)
NOISE_LEVELS = 2
_WORK_SIDE = 512  # the hint is drawn at this long side (a hint has no fine detail to lose)


def _rng(*parts: object) -> np.random.Generator:
    text = "\x00".join(str(p) for p in parts)
    return np.random.default_rng(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def _smooth_field(rng: np.random.Generator, size: tuple[int, int], cells: int) -> np.ndarray:
    """A smooth random field in [0, 1] of ``size`` (w, h): a coarse grid upsampled bicubically."""
    grid = (rng.random((cells, cells)) * 255).astype(np.uint8)
    up = Image.fromarray(grid, "L").resize(size, Image.Resampling.BICUBIC)
    return np.asarray(up, dtype=np.float32) / 255.0


def hint_mask(mask: Image.Image, seed: str) -> Image.Image:
    """What a hosted model makes of a mask layer: a hard mask that reaches past the painted edge
    by an uneven margin and leaves a few holes inside, drawn at a small working size (the caller
    scales it like any mask layer)."""
    w, h = mask.size
    scale = min(1.0, _WORK_SIDE / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = mask.convert("L").resize(size, Image.Resampling.BILINEAR)
    hard = small.point(lambda v: 255 if v >= 128 else 0)
    rng = _rng("hint", seed, size)
    diag = float(np.hypot(*size))
    reach = max(1.0, SPILL_MAX * diag)
    # Distance-like falloff: a blur of the hard mask, high at the edge, fading over ``reach``.
    spread = np.asarray(hard.filter(ImageFilter.GaussianBlur(reach / 2)), dtype=np.float32)
    uneven = _smooth_field(rng, size, 6)
    # Where the falloff exceeds a threshold that varies along the edge: spill of uneven width.
    lo, hi = 255 * 0.02, 255 * (0.5 - 0.5 * SPILL_MIN / SPILL_MAX)
    grown = spread > (lo + (hi - lo) * uneven)
    inside = np.asarray(hard) > 0
    holes = _smooth_field(rng, size, 12) > (1.0 - MISS_SHARE * 2.2)
    core = np.asarray(hard.filter(ImageFilter.MinFilter(3)), dtype=bool)  # keep thin strokes
    out = (grown | inside) & ~(holes & core)
    if not out.any():
        out = inside
    return Image.fromarray((out * 255).astype(np.uint8), "L")


def regenerate(img: Image.Image, seed: str) -> Image.Image:
    """The same picture as a newly generated frame: colour drift, softer detail, a sub-pixel
    shift and fine noise on every pixel (alpha kept as is)."""
    alpha = img.getchannel("A") if img.mode == "RGBA" else None
    rgb = img.convert("RGB")
    w, h = rgb.size
    small = (max(1, round(w * SOFTEN_SCALE)), max(1, round(h * SOFTEN_SCALE)))
    soft = rgb.resize(small, Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BICUBIC)
    arr = np.asarray(soft, dtype=np.float32)
    dx, dy = SHIFT  # bilinear shift with the edge pixels repeated (no black border)
    fx, fy = np.float32(abs(dx)), np.float32(abs(dy))
    nx = np.concatenate([arr[:, 1:], arr[:, -1:]], axis=1) if dx > 0 else np.concatenate(
        [arr[:, :1], arr[:, :-1]], axis=1)
    arr = arr * (np.float32(1) - fx) + nx * fx
    ny = np.concatenate([arr[1:], arr[-1:]], axis=0) if dy > 0 else np.concatenate(
        [arr[:1], arr[:-1]], axis=0)
    arr = arr * (np.float32(1) - fy) + ny * fy
    rng = _rng("frame", seed, img.size)
    gain = 1.0 + rng.uniform(-GAIN_DRIFT, GAIN_DRIFT, 3).astype(np.float32)
    offset = rng.uniform(-OFFSET_DRIFT, OFFSET_DRIFT, 3).astype(np.float32)
    arr = arr * gain + offset
    arr += rng.integers(-NOISE_LEVELS, NOISE_LEVELS + 1, arr.shape, dtype=np.int8)
    out = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")
    if alpha is not None:
        out.putalpha(alpha)
    return out


def venice_edit(
    base: Image.Image,
    prompt: str,
    *,
    layers: Sequence[Image.Image],
    aspect_ratio: str | None,
    resolution: str | None,
    violation_blur: bool,
    model: str,
) -> Image.Image:
    """``_imageops.edit_image`` as a hosted model behaves: mask layers become hints and the
    answer is a regenerated frame."""
    seed = f"{model}\x00{prompt}"
    masks = [layer for layer in layers if _imageops.classify_layer(layer) == "mask"]
    others = [layer for layer in layers if _imageops.classify_layer(layer) != "mask"]
    if masks:
        size = masks[0].size
        combined = _imageops.as_mask(masks[0])
        for m in masks[1:]:
            combined = ImageChops.lighter(combined, _imageops.as_mask(m).resize(size))
        others.append(hint_mask(combined, seed))
    out = _imageops.edit_image(
        base,
        prompt,
        layers=others,
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        violation_blur=violation_blur,
        model=model,
    )
    return regenerate(out, seed)
