"""Deterministic, prompt-driven image edits standing in for Venice's models.

``plan`` reads a prompt as a person means it: what to do (``EFFECTS``, "remove …", "restore …",
"replace the sky/background with …") and where (the mask, else the sky, subject, background or
damaged area its words name; see ``_regions``). Prompts without a known word get a seeded,
plausible colour grade. Randomness is seeded from sha256(prompt), so the same request always
yields the same bytes; work is done with Pillow's C operations and numpy on small arrays, so a
1 Mpx edit takes a few tens of milliseconds.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from .._vision._pixels import (
    ANALYSIS_SIDE,
    Region,
    box,
    eight_bit,
    fit_side,
    flood,
    grow,
    halved,
    local_detail,
    luma,
    rgb_view,
    square_extreme,
)
from . import _effects, _fill, _objects, _prompts, _regions
from ._prompts import plan

__all__ = ["edit_image", "eight_bit", "encode", "plan"]  # plan, eight_bit: for older imports

# ----------------------------------------------------------------------------- geometry


def resolution_long_side(resolution: str) -> int:
    """Long side in pixels of a resolution tier: 1K -> 1024, 2K -> 2048, 4K -> 4096."""
    return 1024 * int(resolution[:-1])


def output_geometry(
    size: tuple[int, int], aspect_ratio: str | None, resolution: str | None
) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """(crop box in input pixels, output size): centre-crop to ``aspect_ratio`` unless it is
    None/"auto", then scale the long side to the resolution tier if one is given."""
    w, h = size
    box = (0, 0, w, h)
    if aspect_ratio and aspect_ratio != "auto":
        rw, rh = (int(v) for v in aspect_ratio.split(":"))
        if w * rh > h * rw:
            cw = max(1, round(h * rw / rh))
            box = ((w - cw) // 2, 0, (w - cw) // 2 + cw, h)
        else:
            ch = max(1, round(w * rh / rw))
            box = (0, (h - ch) // 2, w, (h - ch) // 2 + ch)
    cw, ch = box[2] - box[0], box[3] - box[1]
    if resolution:
        scale = resolution_long_side(resolution) / max(cw, ch)
        return box, (max(1, round(cw * scale)), max(1, round(ch * scale)))
    return box, (cw, ch)


def fit(
    img: Image.Image,
    base_size: tuple[int, int],
    box: tuple[int, int, int, int],
    out: tuple[int, int],
    resample: Image.Resampling = Image.Resampling.LANCZOS,
) -> Image.Image:
    """Bring ``img`` (any size; it stands for the base's full frame) to the output geometry."""
    if img.size == base_size and box == (0, 0, *base_size) and out == base_size:
        return img
    sx, sy = img.size[0] / base_size[0], img.size[1] / base_size[1]
    src = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    return img.resize(out, resample, box=src)


# ----------------------------------------------------------------------------- layers


# Share of pixels within 8 of black or white that makes a grayscale layer a mask. Measured:
# masks 1.0 (hard), 0.76 (40 px feather on 300x400), 0.53 (80 px); grayscale sample photos
# 0.00-0.16. A grayscale photo sent as a reference is therefore not mistaken for a mask.
MASK_EXTREME_SHARE = 0.4


def classify_layer(img: Image.Image) -> str:
    """How a multi-edit layer is read, per the package's layer conventions: "mask" (grayscale,
    or opaque RGB(A) with R==G==B, and mostly black or white: a soft edge is fine, a grayscale
    photo is not), "overlay" (RGBA with some alpha < 255) or "reference"."""
    if img.mode == "1":
        return "mask"
    if img.mode in ("L",) or img.mode.startswith(("I", "F")):
        gray = np.asarray(eight_bit(img))
    else:
        rgba = np.asarray(img.convert("RGBA"))
        if (rgba[..., 3] < 255).any():
            return "overlay"
        r, g, b = rgba[..., 0], rgba[..., 1], rgba[..., 2]
        if not bool((r == g).all() and (g == b).all()):
            return "reference"
        gray = r
    extreme = np.count_nonzero((gray <= 8) | (gray >= 247))
    return "mask" if extreme >= MASK_EXTREME_SHARE * gray.size else "reference"


def as_mask(img: Image.Image) -> Region:
    img = eight_bit(img)
    if img.mode == "L":
        return img
    return img.convert("L") if img.mode == "1" else img.convert("RGB").getchannel("R")


def mean_colour(img: Image.Image) -> tuple[int, int, int]:
    small = img.convert("RGB").resize((1, 1), Image.Resampling.BOX)
    r, g, b = small.getpixel((0, 0))  # type: ignore[misc]
    return int(r), int(g), int(b)


def composite_overlays(rgb: Image.Image, overlays: Sequence[Image.Image]) -> Image.Image:
    """Alpha-composite RGBA overlays over the RGB base; where alpha == 0 the base is untouched."""
    for ov in overlays:
        rgb = Image.composite(ov.convert("RGB"), rgb, ov.getchannel("A"))
    return rgb


# ----------------------------------------------------------------------------- plan -> pixels


class _Regions:
    """Region estimates of one image, computed on first use."""

    def __init__(self, img: Image.Image) -> None:
        self.img = img
        self._cache: dict[str, Region | None] = {}

    def matte(self) -> np.ndarray:
        """The subject matte as float weights (what ``subject`` is made from)."""
        subject = self.get("subject")
        assert subject is not None  # the subject estimate always answers
        return np.asarray(subject, np.float32) / 255

    def rough_subject(self) -> Region:
        """The subject estimate of the image at the estimate's analysis size (its segmentation
        works at that size anyway): what "remove …" needs, a share and a hole grown on a
        small copy, at about two thirds of the full estimate's cost."""
        if "rough subject" not in self._cache:
            size = fit_side(self.img.size, ANALYSIS_SIDE)
            small = rgb_view(self.img).resize(size, Image.Resampling.BOX)
            self._cache["rough subject"] = _regions.subject(small)
        region = self._cache["rough subject"]
        assert region is not None
        return region

    def get(self, kind: str) -> Region | None:
        if kind not in self._cache:
            self._cache[kind] = {
                "sky": _regions.sky,
                "subject": _regions.subject,
                "background": _regions.background,
                "damage": _regions.damage,
            }[kind](self.img)
        return self._cache[kind]


def _removal_region(regions: _Regions, text: str) -> Region:
    """Where "remove …" acts without a mask: the named area, else the subject when it is a
    compact object, else the centre."""
    target = _prompts.target(text)
    if target == "sky" and (sky := regions.get("sky")) is not None:
        return sky
    subject = regions.rough_subject()
    share = np.asarray(subject.resize((64, 64), Image.Resampling.BOX)).mean() / 255
    if 0.01 < share < 0.45:
        # The object and a margin round it (its outline, glow and shadow go with it).
        # Grown on a small copy: a wide MaxFilter at full size costs seconds.
        size = fit_side(regions.img.size, 200)
        low = subject.resize(size, Image.Resampling.BILINEAR)
        found = np.asarray(low) > 25
        low = low.point(lambda v: 255 if v > 25 else 0).filter(ImageFilter.MaxFilter(5))
        rgb = np.asarray(rgb_view(regions.img).resize(size, Image.Resampling.BOX), np.float32)
        lift = round(_fill.halo(regions.img.size) * max(size) / max(regions.img.size))
        hole = _without_base(_object_extent(rgb, np.asarray(low) > 0), found, rgb, lift)
        low = Image.fromarray((hole * 255).astype(np.uint8))
        return low.resize(regions.img.size, Image.Resampling.BILINEAR)
    return _regions.central(regions.img.size)


BASE_WIDER = 3.0  # subject rows this many times wider than its body are what it stands on


def _without_base(
    hole: np.ndarray, found: np.ndarray, rgb: np.ndarray, lift: int = 0
) -> np.ndarray:
    """``hole`` without what a tall, narrow subject stands on: a rocket's launch platform and
    its gantry, a statue's plinth. The subject estimate takes in such a wide base cut by the
    bottom of the frame; "remove the rocket" means the rocket, so in the base's rows only the
    body's columns stay in the hole, and only as far down as they keep the body's colour
    (the platform under it is kept whole).

    The hole stops ``lift`` rows short of the platform: the fill grows it by about that much
    (an object's halo), and a hole grown into the platform's top edge has that edge redrawn
    at the fill's working size, a soft band where the object stood instead of a straight
    edge."""
    rows = np.nonzero(found.any(1))[0]
    if len(rows) >= 8 and rows[-1] < found.shape[0] - 1:
        # The estimate stops above the frame's bottom (it already leaves out what a column
        # stands on): at its foot the hole keeps to the estimate's columns and stops where the
        # subject does, so its growth does not eat the gantry or the pad.
        foot = int(rows[-1] - (rows[-1] - rows[0]) // 4)
        kept: np.ndarray = hole.copy()
        kept[foot:] &= grow(np.any(found[foot:], axis=0, keepdims=True), 1)
        kept[max(foot, rows[-1] - lift) :] = False
        return kept
    if len(rows) < 8:
        return hole
    widths = found.sum(1)
    top, bottom = int(rows[0]), int(rows[-1])
    upper = found[top : top + max(1, (bottom - top) * 3 // 5)]
    upper = upper[upper.any(1)]
    body_width = float(np.median(upper.sum(1)))
    base = bottom  # the last row of the body: the rows below are clearly wider
    while base > top and widths[base] > 1.5 * body_width + 2:
        base -= 1
    if base == bottom or widths[base + 1 :].max() <= BASE_WIDER * body_width + 2:
        return hole  # no wide base
    if base - top < 2 * (bottom - base):
        return hole  # the wide part is much of the subject (a bust, a seated figure)
    # The body's columns (its rows' median edges) and a pixel: the fill grows a halo anyway.
    left = int(np.median(upper.argmax(1)))
    right = found.shape[1] - 1 - int(np.median(upper[:, ::-1].argmax(1)))
    margin = 1
    keep = np.zeros(found.shape[1], bool)
    keep[max(0, left - margin) : right + margin + 1] = True
    # How far down the body goes: its columns' mean colour stays near the body's own.
    body_colour = rgb[max(top, base - 10) : base + 1, keep].mean((0, 1))
    end = base + 1
    while end <= bottom and np.abs(rgb[end, keep].mean(0) - body_colour).mean() < 30:
        end += 1
    out: np.ndarray = hole.copy()
    out[base + 1 : end] &= keep[None, :]
    out[max(base + 1, end - lift) :] = False
    return out


OUTLINE_SMOOTHING = 0.02  # of the long side: notches and spurs narrower than this go
EVIDENCE_SIDE = 96  # the long side of the copy the outline's evidence is read on
PARTS_SIDE = 128  # ... and of the copy small parts of a distinct colour are found on
EDGE_REACH = 0.08  # of the long side: how far the photo's evidence moves the outline
RIM = 0.012  # of the long side: how far a rim of the subject's colour outside it may join
CLEARLY = 0.75**2  # squared distance ratio to the other side that moves a pixel
LIKE = 35.0  # feature distance (chroma, half luminance, 3x detail) within which it is alike


def _recolour_area(region: Region | None) -> Region | None:
    """Where "make the <subject> <colour>" applies: the subject estimate with a smooth
    outline. The estimate's edge wanders where the subject is out of focus (spurs into the
    room, notches into a cheek), which a whole-subject recolour turns into a jagged line of
    old colour against new. A blur and a re-steepened ramp on a small copy round off what is
    narrower than ``OUTLINE_SMOOTHING`` and leave a soft edge, as a photo's out-of-focus
    edge is."""
    if region is None:
        return None
    low = _smooth_outline(region, fit_side(region.size, 256))
    return low.resize(region.size, Image.Resampling.BILINEAR)


def _smooth_outline(region: Region, size: tuple[int, int]) -> Region:
    """``region`` at ``size`` with its outline blurred and re-steepened (``_recolour_area``)."""
    low = _effects.box_shrink(region, size) if region.width >= size[0] else region.resize(size)
    low = low.filter(ImageFilter.GaussianBlur(OUTLINE_SMOOTHING * max(size)))
    return low.point(_RAMP)


# Small parts of a distinct colour kept out of a whole-subject recolour (eyes): their
# weights on a small copy and the subject's mean luminance (0-1).
_Parts = tuple[Region, float]


def _whole_subject_area(region: Region, img: Image.Image) -> tuple[Region, _Parts | None]:
    """Where a neutral "make the <subject> <colour>" applies (it changes the whole subject,
    so the outline is all that keeps it off the room): ``_recolour_area``'s, with the
    outline moved to where the photo says the subject ends (``_edge_by_evidence``) and
    without the subject's small parts of a distinct colour (``_effects.distinct_parts``),
    which are returned to be dimmed with it (``_dim_parts``)."""
    size = fit_side(img.size, 256)
    smooth = _smooth_outline(region, size)
    # The evidence is read on a smaller copy (the outline moves by tens of its pixels).
    small = _effects.box_shrink(rgb_view(img), fit_side(img.size, PARTS_SIDE))
    side = fit_side(img.size, EVIDENCE_SIDE)
    rgb = np.asarray(small.resize(side, Image.Resampling.BOX), np.float32)
    inside = _edge_by_evidence(rgb, np.asarray(smooth.resize(side, Image.Resampling.BOX)) > 127)
    moved = Image.fromarray(inside.astype(np.uint8) * 255).resize(size, Image.Resampling.BILINEAR)
    moved = _smooth_outline(moved, size)
    weight = np.asarray(moved.resize(small.size, Image.Resampling.BOX), np.float32) / 255
    parts = _effects.distinct_parts(small, weight)
    found = None
    if parts.any():
        # Soft by a pixel of the small copy, the edge half a pixel out (onto the part's rim).
        kept = Image.fromarray(parts.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(0.7))
        kept = kept.point([min(255, 2 * x) for x in range(256)]).resize(size)
        moved = ImageChops.subtract(moved, kept)
        lum = np.asarray(small.convert("L"), np.float32)[weight > 0.5]
        found = kept, float(lum.mean()) / 255 if lum.size else 0.5
    return moved.resize(img.size, Image.Resampling.BILINEAR), found


def _dim_parts(img: Image.Image, parts: _Parts, colour: tuple[int, int, int]) -> Image.Image:
    """``img`` (recoloured, the parts left as they were) with the parts dimmed by half the
    subject's change of brightness (the geometric mean of none and all of it), never
    brightened: the black cat's face has about a fifth of the ginger one's brightness, its
    eyes keep their hue and saturation at about half theirs. Fully bright they are the
    brightest thing in the face and read pasted on (and the face's luminance no longer
    follows the photo's)."""
    new = float(np.asarray(colour, np.float32) @ np.array([0.299, 0.587, 0.114])) / 255
    weights, subject_luma = parts
    gain = min(1.0, (new / max(subject_luma, 1e-3)) ** 0.5)
    bbox = weights.getbbox()
    if bbox is None or gain > 0.99:
        return img
    # Only the parts' box, at the photo's size (a pixel of the small copy round it).
    sx, sy = img.width / weights.width, img.height / weights.height
    x0, y0 = max(0, bbox[0] - 1), max(0, bbox[1] - 1)
    x1, y1 = min(weights.width, bbox[2] + 1), min(weights.height, bbox[3] + 1)
    full = (
        int(x0 * sx),
        int(y0 * sy),
        min(img.width, round(x1 * sx)),
        min(img.height, round(y1 * sy)),
    )
    there = weights.resize(
        (full[2] - full[0], full[3] - full[1]), Image.Resampling.BILINEAR, box=(x0, y0, x1, y1)
    )
    crop = img.crop(full)
    out = img.copy()
    out.paste(crop.point([round(v * gain) for v in range(256)] * 3), full, there)
    return out


_RAMP = [min(255, max(0, round((v - 128) * 3 + 128))) for v in range(256)]  # 3x steeper


def _edge_by_evidence(rgb: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """``inside`` (a subject estimate on the small copy ``rgb``) with each pixel within
    ``EDGE_REACH`` of its outline given to the side it resembles. The estimate cuts where
    its colour groups change, so it takes in background of the subject's colour (a room
    behind a ginger cat) and leaves out rims of the subject's odd colour (an ear's pink
    edge). A pixel near the outline is compared with the subject well inside (beyond the
    reach, near it) and the background just outside (near it), by chroma, luminance and
    fine detail: a subject in focus has fine texture (fur, fabric) where a defocused
    background is smooth. Only what joins the side it moves to changes (no holes or
    islands), and only where both sides are sampled nearby: a sliver of "background" at
    the frame (a subject cut by a corner) is no evidence."""
    reach = max(2, round(EDGE_REACH * max(inside.shape)))
    lum = luma(rgb)
    detail = box(local_detail(lum), 2)
    # Chroma weighs fully, luminance half (shading varies across one surface), detail three
    # times (texture is what tells a defocused room of the cat's colour from its fur).
    feat = np.stack(
        [rgb[..., 0] - rgb[..., 1], rgb[..., 1] - rgb[..., 2], 0.5 * lum, 3 * detail], -1
    )
    core = ~square_extreme(~inside, reach, np.maximum)
    near = square_extreme(inside, reach, np.maximum)
    outside = ~square_extreme(inside, 3, np.maximum)

    def nearby(
        first: np.ndarray, second: np.ndarray, r: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        # The mean feature of each mask within ``r`` of each pixel and the share of it there
        # (zeros past the frame: the frame is not more of the sample). Both are smooth at
        # that scale, so they are summed on a copy pooled by 4 and repeated back.
        h, w = first.shape
        hs, ws, n = -(-h // 4), -(-w // 4), feat.shape[-1] + 1
        sums = np.zeros((hs * 4, ws * 4, 2 * n), np.float32)
        for i, mask in enumerate((first, second)):
            m = mask.astype(np.float32)
            sums[:h, :w, i * n : i * n + n - 1] = feat * m[..., None]
            sums[:h, :w, i * n + n - 1] = m
        pooled = halved(halved(sums))
        k = max(1, round(r / 4))
        padded = np.zeros((hs + 2 * k + 2, ws + 2 * k + 2, 2 * n), np.float32)
        padded[k + 1 : -k - 1, k + 1 : -k - 1] = pooled
        full = box(padded, k)[k + 1 : -k - 1, k + 1 : -k - 1].repeat(4, 0).repeat(4, 1)[:h, :w]
        a_share, b_share = full[..., n - 1], full[..., 2 * n - 1]
        a_mean = full[..., : n - 1] / np.maximum(a_share, 1e-6)[..., None]
        b_mean = full[..., n : 2 * n - 1] / np.maximum(b_share, 1e-6)[..., None]
        return a_mean, a_share, b_mean, b_share

    fg, fg_share, bg, bg_share = nearby(core, outside, 2 * reach)
    # A pixel moves only when clearly nearer one side (by a quarter of the distance): one
    # unlike both (an ear's pink among ginger fur and a brown room) stays where it was.
    # And only when it is close to that side too (within ``LIKE``): a red saucer nearer the
    # wood beside it than the mean of a white cup, its coffee and a spoon is none of them.
    to_fg, to_bg = np.square(feat - fg).sum(-1), np.square(feat - bg).sum(-1)
    like_fg = (to_fg < CLEARLY * to_bg) & (to_fg < LIKE**2)
    vote = like_fg.astype(np.float32) - ((to_bg < CLEARLY * to_fg) & (to_bg < LIKE**2))
    vote = box(vote, 2)
    # Detail is evidence only where the subject nearby is sharp and the background defocused
    # (twice the fine detail): a glossy cup on grained wood is the other way round.
    focused = fg[..., 3] > 2 * bg[..., 3]
    judged = near & ~core & (fg_share > 0.05) & (bg_share > 0.1) & focused
    unlike = judged & (vote < -0.5)
    kept = inside & ~(flood(~inside, ~inside | unlike) & inside)
    # A rim of the subject's own odd colour just outside the outline (an ear's pink edge,
    # unlike both the fur well inside and the room) joins when its colour is clearly nearer
    # the subject's pixels at the outline than the background a little further out (not
    # its detail: the outline itself is an edge).
    rim = max(1, round(RIM * max(inside.shape)))
    grown = square_extreme(kept, rim, np.maximum)
    lip, _, room, room_share = nearby(
        kept & square_extreme(~kept, 2, np.maximum), ~grown, reach // 2
    )
    to_lip = np.square(feat[..., :3] - lip[..., :3]).sum(-1)
    to_room = np.square(feat[..., :3] - room[..., :3]).sum(-1)
    like_lip = box((to_lip < CLEARLY * to_room).astype(np.float32), 1) > 0.5
    by_rim = like_lip & (room_share > 0.1) & grown & ~unlike
    joins = (judged & (vote > 0.5)) | by_rim
    out: np.ndarray = flood(kept, kept | joins)
    return out


def _object_extent(rgb: np.ndarray, hole: np.ndarray, steps: int = 3) -> np.ndarray:
    """``hole`` grown over the pixels next to it that stand out from the scene around it (a
    thin nose cone, a glow the subject estimate left out at its coarse scale): each step
    predicts the background from what surrounds the hole and takes in the neighbours that
    differ from that prediction, so nothing of the removed object is left as a speck."""
    for _ in range(steps):
        reach = grow(hole, 3)
        if not reach.any():
            break
        # Only the box of the pixels that may join (it holds the ring and a pixel round it,
        # all the membrane reads) is predicted and compared.
        ys, xs = np.nonzero(reach.any(1))[0], np.nonzero(reach.any(0))[0]
        box = np.s_[int(ys[0]) : int(ys[-1]) + 1, int(xs[0]) : int(xs[-1]) + 1]
        ring = grow(hole[box], 2)
        background = _fill.membrane(rgb[box], (~ring).astype(np.float32))
        differs = np.abs(rgb[box] - background).max(-1) > 28
        more = np.zeros_like(hole)
        more[box] = reach[box] & differs & ~hole[box]
        if not more.any():
            break
        hole = hole | more
    return grow(hole, 1)


def _sky_step(
    img: Image.Image, kind: str, region: Region | None, seed: int, masked: bool
) -> Image.Image:
    """A new sky in ``region``; without a mask the rest of the scene takes the sky's light."""
    if region is None:  # no sky in the photo: re-light the whole scene instead
        fn = {"sunset": _effects.sunset, "night": _effects.night}.get(kind, _effects.cool)
        return fn(img, seed)
    sky = _effects.sky_fill(img.size, kind, seed)
    # Keep the old sky's brightness texture faintly so edges against the scene stay natural.
    painted = Image.composite(sky, img, region)
    if masked:
        return painted
    light = {"sunset": (255, 196, 150), "night": (110, 120, 170), "storm": (150, 156, 168)}.get(
        kind
    )
    if light is None:
        return painted
    lit = ImageChops.multiply(img, Image.new("RGB", img.size, light)).point(
        _effects.lut((1.12,) * 3, (6,) * 3)
    )
    return Image.composite(sky, lit, region)


def apply_prompt(
    img: Image.Image, prompt: str, mask: Region | None, *, style_seed: str = ""
) -> Image.Image:
    """The prompt's steps on an RGB image. With a ``mask`` every step works in it (the caller
    blends by the mask); without one, each step finds its own region from the prompt's words
    (the sky, the subject, the background, a damaged corner) and blends by it. ``style_seed``
    (the model id) varies the free-form restyle, so a grid of models shows different answers."""
    text = _prompts.clean(prompt)
    seed = _prompts.seed(prompt)
    regions = _Regions(img)
    target = _prompts.target(text)
    out = img
    for name in _prompts.plan(prompt):
        kind, _, arg = name.partition(":")
        region: Region | None = mask
        if kind == "sky":
            sky = mask if mask is not None else regions.get("sky")
            out = _sky_step(out, arg, sky, seed, mask is not None)
            continue
        if kind == "background":
            region = mask if mask is not None else regions.get("background")
            fill = (
                _effects.backdrop_fill(out, arg, seed)
                if arg != "white"
                else Image.new("RGB", out.size, (246, 246, 246))
            )
            out = Image.composite(fill, out, region) if region is not None else fill
            continue
        if kind in ("remove", "restore"):
            if mask is None:
                damaged = regions.get("damage") if kind == "restore" else None
                region = damaged or _removal_region(regions, text)
                if kind == "restore" and damaged is None:
                    out = _effects.restore_look(out, seed)
                    continue
            out = _fill.fill(out, region)  # type: ignore[arg-type]
            continue
        if kind == "object":
            obj, _, rest = arg.partition(":")
            colour_name, _, where = rest.partition(":")
            out = _objects.draw(
                out,
                obj,
                _effects.COLOURS.get(colour_name),
                matte=None if mask is not None else regions.matte(),
                mask=mask,
                inside=where == "in",
            )
            continue
        if kind == "recolour":
            # A neutral colour changes the whole subject, so its outline is all that keeps
            # it off the room and it is moved by the photo's evidence; a chromatic one is
            # narrowed to the subject's dominant hue, its own evidence.
            neutral = arg in ("black", "white", "grey", "gray", "silver")
            parts = None
            area: Region | None
            if mask is not None:
                area = mask
            elif neutral:
                # The estimate at its analysis size is enough: its outline is re-read from
                # the photo at a smaller size still (and it costs two thirds).
                area, parts = _whole_subject_area(regions.rough_subject(), out)
            else:
                area = _recolour_area(regions.get("subject"))
            if area is not None:
                if not neutral:
                    area = _effects.colour_weights(out, area)
                recoloured = _effects.recolour(out, _effects.COLOURS[arg], area)
                out = Image.composite(recoloured, out, area)
                if parts is not None:
                    out = _dim_parts(out, parts, _effects.COLOURS[arg])
            continue
        if kind == "replace":
            if region is None:
                region = _removal_region(regions, text)
            if arg == "poster":
                out = _effects.glowing_poster(out, region, seed)
            else:
                out = Image.composite(_effects.blank_sign(out, region), out, region)
            continue
        if mask is None and target is not None:
            region = regions.get(target)
        if kind == "restyle":
            edited = _effects.restyle(
                out, _prompts.seed(f"{style_seed}\n{prompt}" if style_seed else prompt)
            )
        elif kind == "tint":
            edited = _effects.tint(_effects.COLOURS[arg])(out)
        else:
            edited = _prompts.EFFECT_FNS[name](out, seed)
        out = edited if region is None or mask is not None else Image.composite(edited, out, region)
    return out


# ----------------------------------------------------------------------------- pipeline


def edit_image(
    base: Image.Image,
    prompt: str,
    *,
    layers: Sequence[Image.Image] = (),
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    violation_blur: bool = False,
    model: str = "",
) -> Image.Image:
    """The whole local "model": geometry, layers, prompt operations, mask blend.

    Pixels outside the mask keep the base's exact values (at an unchanged geometry).
    """
    base = eight_bit(base)
    base_size = base.size
    box, out_size = output_geometry(base_size, aspect_ratio, resolution)
    has_alpha = base.mode in ("RGBA", "LA", "PA") or (
        base.mode == "P" and "transparency" in base.info
    )
    work = fit(base.convert("RGBA" if has_alpha else "RGB"), base_size, box, out_size)
    alpha = work.getchannel("A") if has_alpha else None
    rgb = work.convert("RGB") if has_alpha else work

    masks, overlays, refs = [], [], []
    for layer in layers:
        kind = classify_layer(layer)
        if kind == "mask":
            # NEAREST: a hard mask stays hard, so nothing outside it changes
            masks.append(fit(as_mask(layer), base_size, box, out_size, Image.Resampling.NEAREST))
        elif kind == "overlay":
            overlays.append(fit(layer.convert("RGBA"), base_size, box, out_size))
        else:
            refs.append(layer)
    mask = None
    for m in masks:
        mask = m if mask is None else ImageChops.lighter(mask, m)

    rgb = composite_overlays(rgb, overlays)
    if alpha is not None:
        for ov in overlays:
            alpha = ImageChops.lighter(alpha, ov.getchannel("A"))
    edited = apply_prompt(rgb, prompt, mask, style_seed=model)
    if refs:
        ref = Image.new("RGB", out_size, mean_colour(refs[0]))
        edited = Image.blend(edited, ref, 0.15)
    out = edited if mask is None else Image.composite(edited, rgb, mask)
    if violation_blur:
        out = out.filter(ImageFilter.GaussianBlur(max(8.0, max(out_size) / 30)))
    if alpha is not None:
        out.putalpha(alpha)
    return out


def encode(img: Image.Image, fmt: str) -> bytes:
    """PNG (fast zlib level), JPEG (q92, alpha flattened on white) or WebP (q90)."""
    buf = io.BytesIO()
    if fmt == "jpeg":
        if img.mode == "RGBA":
            flat = Image.new("RGB", img.size, (255, 255, 255))
            flat.paste(img, mask=img.getchannel("A"))
            img = flat
        img.convert("RGB").save(buf, "JPEG", quality=92)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=90, method=0)
    else:
        img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()
