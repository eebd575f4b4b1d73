"""Region edits: what makes an edit keep the rest of the photo, whatever the model does.

Venice takes no mask and answers with a newly generated frame at the model's tier (1K by
default), so "change only where I painted" is a promise this package keeps itself, the way
ComfyUI's crop-and-stitch nodes and Photoshop's generative fill do:

1. ``plan_region``: the mask's bounding box plus context (the model needs surroundings to match
   light and texture), snapped to an aspect ratio the model accepts and scaled to its tier. A
   mask covering most of the photo is sent as the whole photo instead.
2. ``crop_for_send`` / ``mask_for_send``: the crop (JPEG, small) and the mask layer to send.
3. ``stitch``: the answer scaled back to the crop, its colour and tone matched to the original
   on a ring just outside the mask, and composited into the full-resolution original through a
   feather that lies inside the painted edge. Only the mask's bounding box is ever worked on in
   floating point, so a 33 Mpx photo costs little more than its decode and encode.

Pure functions (numpy + Pillow); both clients call them around one ordinary request.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from . import masks
from ._constants import REGION_CONTEXT
from ._exceptions import ValidationError

__all__ = [
    "Measured",
    "RegionPlan",
    "crop_for_send",
    "encode_output",
    "mask_for_send",
    "measure",
    "output_content_type",
    "plan_region",
    "read_mask",
    "source_digest",
    "stitch",
]

Box = tuple[int, int, int, int]

# Context on each side of the mask's box, as a share of the box's long side (at least
# MIN_CONTEXT pixels): enough surroundings for the model to match light and texture.
DEFAULT_CONTEXT = REGION_CONTEXT
MIN_CONTEXT = 32
# A mask selecting more than this share of the photo, or whose crop would, is sent whole.
WHOLE_MASK_SHARE = 0.5
WHOLE_CROP_SHARE = 0.8
# A pixel counts as changed by the model when a channel moved by more than this (levels):
# above JPEG and resampling noise, below anything a person sees as a change.
SPILL_LEVEL = 8
# Tone matching: the ring runs from RING_IN to RING_OUT of the mask's long side outside its edge
# (at least 4 and 8 pixels): just outside, yet beyond where a model's effect usually spills.
RING_IN, RING_OUT = 0.1, 0.2
GAIN_BOUNDS = (0.85, 1.15)
JPEG_QUALITY = 95
SEND_QUALITY = 92


@dataclass(frozen=True)
class RegionPlan:
    """Where a region edit crops, what it sends and how it stitches back."""

    image_size: tuple[int, int]  # (width, height) of the original
    box: Box  # the crop, in original pixels
    send_size: tuple[int, int]  # (width, height) of what is sent
    aspect_ratio: str | None  # sent with the request (None: not sent)
    context: float
    feather: int  # pixels of the original, inside the painted edge
    whole: bool  # the mask covers most of the photo: the whole photo is sent
    mask_share: float  # share of the photo the mask selects
    mask_box: Box  # the box around the mask's selected (>= 128) pixels

    def key(self) -> dict[str, Any]:
        """What enters the request's fingerprint (never sent): crop, context and feather."""
        return {
            "box": list(self.box),
            "context": self.context,
            "feather": self.feather,
            "whole": self.whole,
        }

    @property
    def changed(self) -> Box:
        """The window the stitch writes (the mask's box and one pixel of margin, inside the
        crop): outside it the result is the original, pixel for pixel."""
        bx0, by0, bx1, by1 = self.box
        mx0, my0, mx1, my1 = self.mask_box
        w, h = self.image_size
        return (max(bx0, mx0 - 1), max(by0, my0 - 1), min(bx1, w, mx1 + 1),
                min(by1, h, my1 + 1))

    @property
    def note(self) -> str | None:
        if not self.whole:
            return None
        return (
            f"the mask covers {self.mask_share:.0%} of the photo: sent the whole photo "
            "(still composited through the mask at full resolution)"
        )


def source_digest(image: Image.Image, data: bytes | None) -> str:
    """Identifies the original for the fingerprint: its file bytes when known, else pixels."""
    h = hashlib.sha256()
    if data is not None:
        h.update(data)
    else:
        h.update(f"{image.mode}{image.size}".encode())
        h.update(image.tobytes())
    return "sha256:" + h.hexdigest()


def read_mask(mask: Any, size: tuple[int, int]) -> np.ndarray:
    """The mask as ``(height, width)`` uint8 at the image's size; refused when empty or of
    another aspect ratio (scaling it would move the selection)."""
    m = masks.as_mask(mask)
    w, h = size
    mh, mw = m.shape
    if (mh, mw) != (h, w):
        if abs(mw * h - mh * w) > max(mw, mh, w, h):  # more than a pixel of rounding apart
            raise ValidationError(
                f"the mask is {mw}x{mh} but the photo is {w}x{h}: another aspect ratio",
                action="paint the mask on this photo, or masks.resize_to(mask, image) a mask "
                "made for it",
                field="mask",
            )
        m = np.asarray(Image.fromarray(np.ascontiguousarray(m)).resize(
            (w, h), Image.Resampling.BILINEAR))
    if not m.any() or not (m >= 128).any():
        raise ValidationError(
            "the mask selects nothing, so there is nothing to edit",
            action="paint or select the part to change first (white = change)",
            field="mask",
        )
    return m


def _ratio_value(ratio: str) -> float:
    a, b = ratio.split(":")
    return int(a) / int(b)


def _fit_ratio(box: Box, size: tuple[int, int], ratio: float) -> Box | None:
    """``box`` grown around its centre to ``ratio`` (w/h) inside the image, or None."""
    x0, y0, x1, y1 = box
    w, h = size
    bw, bh = x1 - x0, y1 - y0
    if bw / bh < ratio:
        nw, nh = round(bh * ratio), bh
    else:
        nw, nh = bw, round(bw / ratio)
    if nw > w or nh > h:
        return None
    nx0 = min(max(0, (x0 + x1 - nw) // 2), w - nw)
    ny0 = min(max(0, (y0 + y1 - nh) // 2), h - nh)
    return nx0, ny0, nx0 + nw, ny0 + nh


def _send_size(box: Box, tier_side: int, ratio: float | None) -> tuple[int, int]:
    bw, bh = box[2] - box[0], box[3] - box[1]
    r = ratio if ratio is not None else bw / bh
    if r >= 1:
        return tier_side, max(1, round(tier_side / r))
    return max(1, round(tier_side * r)), tier_side


def plan_region(
    size: tuple[int, int],
    mask: np.ndarray,
    *,
    ratios: Sequence[str],
    tier_side: int,
    context: float = DEFAULT_CONTEXT,
    feather: int | None = None,
) -> RegionPlan:
    """Crop box, send size and aspect ratio for a region edit (see the module docstring).

    ``ratios``: the aspect ratios the model lists (empty: it takes none, any crop shape is
    sent as is). ``feather`` None: 2 % of the mask's long side, at least 2 pixels.
    """
    w, h = size
    selected = mask >= 128
    rows = np.flatnonzero(selected.any(axis=1))
    assert rows.size, "read_mask refuses empty masks"
    cols = np.flatnonzero(selected[rows[0]:rows[-1] + 1].any(axis=0))
    box = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    x0, y0, x1, y1 = box
    long_side = max(x1 - x0, y1 - y0)
    f = max(2, round(0.02 * long_side)) if feather is None else int(feather)
    pad = max(MIN_CONTEXT, round(context * long_side))
    padded = (max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad))
    share = float(np.count_nonzero(selected[y0:y1, x0:x1])) / (w * h)
    listed = [r for r in ratios if r != "auto"]
    chosen: tuple[Box, str] | None = None
    if listed:
        want = np.log((padded[2] - padded[0]) / (padded[3] - padded[1]))
        for ratio in sorted(listed, key=lambda r: abs(np.log(_ratio_value(r)) - want)):
            fitted = _fit_ratio(padded, size, _ratio_value(ratio))
            if fitted is not None:
                chosen = fitted, ratio
                break
    crop_area = (padded[2] - padded[0]) * (padded[3] - padded[1])
    if chosen is not None:
        crop_area = (chosen[0][2] - chosen[0][0]) * (chosen[0][3] - chosen[0][1])
    whole = (
        share > WHOLE_MASK_SHARE
        or crop_area > WHOLE_CROP_SHARE * w * h
        or (listed and chosen is None)
    )
    if whole:
        # The photo's own shape: "auto" where the model lists ratios (it infers it from the
        # input), else nothing; the answer is scaled back to the photo either way.
        return RegionPlan(size, (0, 0, w, h), _send_size((0, 0, w, h), tier_side, None),
                          "auto" if listed else None, context, f, True, share, box)
    if chosen is None:
        return RegionPlan(size, padded, _send_size(padded, tier_side, None), None, context,
                          f, False, share, box)
    crop, ratio = chosen
    return RegionPlan(size, crop, _send_size(crop, tier_side, _ratio_value(ratio)), ratio,
                      context, f, False, share, box)


def crop_for_send(original: Image.Image, plan: RegionPlan) -> tuple[bytes, Image.Image]:
    """The crop scaled to the tier, encoded small (JPEG; PNG when it has transparency), and
    the pixels the model will see (the decoded bytes: what its answer is compared with)."""
    # reducing_gap: a fast integer reduce first, then Lanczos over the last 3x (same look).
    crop = original.crop(plan.box).resize(plan.send_size, Image.Resampling.LANCZOS,
                                          reducing_gap=3.0)
    buf = io.BytesIO()
    if crop.mode == "RGBA":
        crop.save(buf, "PNG")
        return buf.getvalue(), crop
    crop = crop.convert("RGB")
    crop.save(buf, "JPEG", quality=SEND_QUALITY)
    data = buf.getvalue()
    return data, Image.open(io.BytesIO(data)).convert("RGB")


def mask_for_send(mask: np.ndarray, plan: RegionPlan) -> bytes:
    """The mask layer for the crop: hard black and white at the send size (PNG)."""
    x0, y0, x1, y1 = plan.box
    img = Image.fromarray(np.ascontiguousarray(mask[y0:y1, x0:x1]), "L")
    small = img.resize(plan.send_size, Image.Resampling.BILINEAR)
    hard = small.point([0] * 128 + [255] * 128)
    buf = io.BytesIO()
    hard.save(buf, "PNG")
    return buf.getvalue()


def _rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"), dtype=np.int16)


@dataclass(frozen=True)
class Measured:
    """What the model did to the crop: its spill, and the tone correction back to the photo."""

    spill: float
    gain: tuple[float, float, float]
    offset: tuple[float, float, float]


def ring_widths(plan: RegionPlan) -> tuple[int, int]:
    """Inner and outer distance (original pixels) of the tone-matching ring from the mask."""
    x0, y0, x1, y1 = plan.mask_box
    long_side = max(x1 - x0, y1 - y0)
    return max(4, round(RING_IN * long_side)), max(8, round(RING_OUT * long_side))


def _tone(orig: np.ndarray, answer: np.ndarray, ring: np.ndarray) -> tuple[
        np.ndarray, np.ndarray]:
    """Per-channel gain and offset taking the answer to the original on the ring, fitted on
    the ring pixels the model did not visibly repaint (its spill would bias the fit)."""
    o = orig[ring].astype(np.float32)
    a = answer[ring].astype(np.float32)
    gains, offsets = np.ones(3, np.float32), np.zeros(3, np.float32)
    if len(o) < 16:
        return gains, offsets
    for c in range(3):
        d = o[:, c] - a[:, c]
        keep = np.abs(d - np.median(d)) <= 3 * SPILL_LEVEL
        oc, ac = o[keep, c], a[keep, c]
        if len(oc) < 16:
            continue
        spread = float(ac.std())
        gain = float(oc.std()) / spread if spread > 1.0 else 1.0
        gain = min(max(gain, GAIN_BOUNDS[0]), GAIN_BOUNDS[1])
        gains[c] = gain
        offsets[c] = float(oc.mean()) - gain * float(ac.mean())
    return gains, offsets


def measure(sent: Image.Image, answer: Image.Image, sent_mask: bytes,
            plan: RegionPlan) -> Measured:
    """Compare the model's raw answer with the crop it was sent, at the send size (cheap
    whatever the photo's size): ``spill``, the share of pixels outside the mask (2 pixels clear
    of its edge, for resampling) it visibly changed, and the per-channel gain and offset that
    take it back to the photo on a ring just outside the mask."""
    if answer.size != sent.size:
        answer = answer.resize(sent.size, Image.Resampling.LANCZOS)
    m = np.asarray(Image.open(io.BytesIO(sent_mask)).convert("L"))
    before, after = _rgb(sent), _rgb(answer)
    outside = masks.grow(m, 2) == 0
    diff = np.abs(after - before).max(axis=-1)
    n_out = int(np.count_nonzero(outside))
    share = float(np.count_nonzero(diff[outside] > SPILL_LEVEL)) / n_out if n_out else 0.0
    scale = plan.send_size[0] / (plan.box[2] - plan.box[0])
    ring_in, ring_out = (max(2, round(r * scale)) for r in ring_widths(plan))
    ring = (masks.grow(m, ring_out) > 0) & (masks.grow(m, ring_in) == 0)
    gain, offset = _tone(before, after, ring)
    return Measured(
        share,
        (float(gain[0]), float(gain[1]), float(gain[2])),
        (float(offset[0]), float(offset[1]), float(offset[2])),
    )


def stitch(
    original: Image.Image,
    mask: np.ndarray,
    answer: Image.Image,
    plan: RegionPlan,
    measured: Measured,
    *,
    in_place: bool = False,
) -> Image.Image:
    """The answer put back into the full-resolution original: scaled to the crop, corrected
    by ``measured``'s tone, blended through a feather inside the painted edge. Pixels where the
    mask is below 128 keep the original's exact values; only the mask's box is worked on.
    ``in_place``: paste into ``original`` itself (the caller decoded it and owns it: a 33 Mpx
    copy saved)."""
    f = plan.feather
    bx0, by0, bx1, by1 = plan.box
    # One pixel of margin: the feather's shrink must see the mask's edge inside the window.
    wx0, wy0, wx1, wy1 = plan.changed
    win_size = (wx1 - wx0, wy1 - wy0)
    # The window of the answer, in its own pixels (it may be any size: Venice's tier).
    sx, sy = answer.size[0] / (bx1 - bx0), answer.size[1] / (by1 - by0)
    src = ((wx0 - bx0) * sx, (wy0 - by0) * sy, (wx1 - bx0) * sx, (wy1 - by0) * sy)
    scaled = answer.resize(win_size, Image.Resampling.LANCZOS, box=src)
    patch = np.asarray(scaled.convert("RGB"), dtype=np.float32)
    gain, offset = np.array(measured.gain, np.float32), np.array(measured.offset, np.float32)
    matched = patch * gain + offset
    base_win = original.crop((wx0, wy0, wx1, wy1))
    base = _rgb(base_win).astype(np.float32)
    m = mask[wy0:wy1, wx0:wx1]
    hard = np.where(m >= 128, np.uint8(255), np.uint8(0))
    alpha = masks.feather(masks.shrink(hard, f), f) if f else hard
    weight = (alpha.astype(np.float32) / np.float32(255))[:, :, None]
    out_win = np.clip(np.rint(base + (matched - base) * weight), 0, 255).astype(np.uint8)
    keep = alpha == 0
    out_win[keep] = base[keep].astype(np.uint8)  # exact, whatever rounding did
    result = original if in_place else original.copy()
    patch_img = Image.fromarray(out_win, "RGB")
    if result.mode == "RGBA":
        patch_img.putalpha(base_win.getchannel("A"))
    elif result.mode != "RGB":
        result = result.convert("RGB")
    result.paste(patch_img, (wx0, wy0))
    return result


def output_content_type(fmt: str) -> str:
    """The content type ``encode_output`` gives ``fmt`` (known before encoding)."""
    return f"image/{fmt if fmt in ('jpeg', 'webp') else 'png'}"


def encode_output(img: Image.Image, fmt: str) -> tuple[bytes, str]:
    """The composite encoded as asked: JPEG at high quality, PNG (fast compression: a 33 Mpx
    photo would otherwise take seconds) or WebP. Returns (bytes, content type)."""
    buf = io.BytesIO()
    if fmt == "jpeg":
        (img if img.mode == "RGB" else img.convert("RGB")).save(buf, "JPEG", quality=JPEG_QUALITY)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=JPEG_QUALITY)
    else:
        img.save(buf, "PNG", compress_level=1)
    return buf.getvalue(), output_content_type(fmt)
