"""Where an unmasked edit applies: the sky, the subject, the background, or a damaged corner.

Each estimate is computed on a small copy of the image (at most ``ANALYSIS_SIDE`` pixels long)
with numpy, then upsampled to a soft mode-"L" region (255 = edit fully). They are heuristics a
person would agree with on ordinary photos, not segmentation models: the sky is the bright/blue,
smooth area connected to the top edge; the subject is the whole thing that stands out from the
top and side edges (``_subject``); the background is the rest. An empty estimate (no sky in
the photo) is returned as None so callers can fall back.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageOps

from .._vision._pixels import (
    ANALYSIS_SIDE,
    Region,
    flood,
    local_detail,
    rgb_view,
    small,
    square_extreme,
    to_region,
)
from .._vision._subject import subject_region
from ._fill import pull_push

HORIZON_END = 0.9  # the sky reaches no lower than this share of the height
HORIZON_FADE = 0.12  # and fades out over this share above it
MIN_SHARE = 0.05  # an estimate covering less than this share of the image counts as absent


def sky_weights(img: Image.Image) -> np.ndarray | None:
    """Low-resolution sky weights in [0, 1], or None when no sky is visible."""
    rgb = small(img)
    h = rgb.shape[0]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    spread = rgb.max(axis=-1) - rgb.min(axis=-1)
    blue = (b > r + 12) & (b >= g - 10)
    detail = local_detail(lum)
    overcast = (lum > 190) & (spread < 40) & (detail < 2)  # a plain wall is mottled, not this
    smooth = detail < 7
    rows = np.arange(h)[:, None] < 0.8 * h
    candidate = (blue | overcast) & smooth & rows
    seed = np.zeros_like(candidate)
    seed[0] = True
    # Reach past thin structures (wires, lattice towers) that break smoothness at this scale.
    loose = (blue | overcast) & rows & (detail < 25)
    sky = flood(seed, candidate) | (flood(seed, loose) & (blue | overcast))
    if sky.mean() < MIN_SHARE:
        return None
    # Soft colour test against the sky's own colour keeps foreground objects out.
    ref = np.median(rgb[sky], axis=0)
    dist = np.linalg.norm(rgb - ref, axis=-1)
    cut = max(30.0, float(np.percentile(dist[sky], 95)) * 1.3)
    near = np.clip((cut * 1.4 - dist) / (cut * 0.4), 0.0, 1.0)
    if float(np.median(dist[-max(1, h // 20) :])) < 12:
        return None  # the same colour runs down to the bottom edge: a backdrop, not a sky
    grown = flood(sky, (near > 0) & (detail < 12) & (np.arange(h)[:, None] < 0.9 * h)) | sky
    weights = np.where(grown, np.maximum(near, sky.astype(np.float32)), 0.0)
    # Towards the lowest rows the sky may reach, it fades out instead of ending on a row: the
    # new sky meets the horizon's clouds and haze as a gradient, not a hard line.
    fade = np.clip((HORIZON_END * h - np.arange(h)[:, None]) / (HORIZON_FADE * h), 0.0, 1.0)
    out: np.ndarray = (weights * fade).astype(np.float32)
    return out


def sky(img: Image.Image) -> Region | None:
    """The sky as a soft region, refined at full resolution by colour: a pixel is sky where the
    coarse estimate says so and its colour is close to the sky's local colour, so towers,
    wires and roofs in front of it stay out."""
    weights = sky_weights(img)
    if weights is None:
        return None
    coarse = to_region(weights, img.size, soften=0.7)
    rgb = rgb_view(img)
    grey = np.asarray(rgb.convert("L"))
    lines = _thin_lines(grey, 2)
    colour = _sky_colour(rgb, weights, coarse, lines)
    # Colour distance (sum over channels) in C on bytes: on float arrays it was a third of
    # the region's time.
    diff = ImageChops.difference(rgb, colour).split()
    dist = sum((np.asarray(d, np.int16) for d in diff), np.zeros(grey.shape, np.int16))
    fine = np.clip((SKY_NEAR + SKY_RAMP - dist) / SKY_RAMP, 0.0, 1.0).astype(np.float32)
    # Thin structures (a lattice's struts, wires, branches) stay in front of the new sky
    # even where the colour test lets their thin, blended pixels through: a pixel that
    # stands out from its neighbourhood's closing (darker) or opening (brighter), and from
    # the sky's own brightness there, belongs to a line too thin for the coarse estimate to
    # see (the sky showing between close struts stands out from the closing, not the sky).
    off_sky = np.abs(grey.astype(np.int16) - np.asarray(colour.convert("L"), np.int16))
    fine *= 1.0 - np.clip(np.minimum(lines, off_sky) / STRUT_DEPTH - 1, 0.0, 1.0)
    return Image.fromarray(np.round(np.asarray(coarse, np.float32) * fine).astype(np.uint8))


STRUT_DEPTH = 8.0  # grey levels off its closing/opening from which a pixel starts to be a line
SKY_NEAR = 20.0  # colour distance (sum of channel differences) still fully sky
SKY_RAMP = 15.0  # and over which a pixel fades out of it: a lit strut (about 50 off) stays out


def _sky_colour(
    rgb: Image.Image, weights: np.ndarray, coarse: Region, lines: np.ndarray
) -> Image.Image:
    """The sky's local colour at full size, from the pixels that are surely sky (the coarse
    estimate is, and no thin line crosses them) averaged per cell of the estimate's grid and
    spread over the rest. A plain cell average takes in a lattice's lit struts: the sky's
    colour over the tower drifts towards theirs, and the struts then pass as sky (the new sky
    showed through a broken, dotted tower)."""
    sure = np.where(lines < STRUT_DEPTH, np.asarray(coarse, np.float32) / 255, 0.0)
    grid = weights.shape[::-1]

    def cell_mean(a: np.ndarray) -> np.ndarray:
        plane = Image.fromarray(np.ascontiguousarray(a, np.float32))
        return np.asarray(plane.resize(grid, Image.Resampling.BOX), np.float32)

    share = cell_mean(sure)
    sums = [cell_mean(np.asarray(rgb.getchannel(c), np.float32) * sure) for c in range(3)]
    means = np.stack(sums, -1) / np.maximum(share, 1e-6)[..., None]
    # A cell counts fully once half its pixels are sure sky (and the estimate calls it sky).
    known = np.minimum(share * 2, 1.0) * (weights > 0.5)
    local = pull_push(means, known.astype(np.float32))
    cells = Image.fromarray(np.clip(local + 0.5, 0, 255).astype(np.uint8), "RGB")
    return cells.resize(rgb.size, Image.Resampling.BILINEAR)


def _thin_lines(grey: np.ndarray, r: int) -> np.ndarray:
    """How far each pixel stands out (darker or brighter) from the grey-level closing or
    opening by a (2r+1)-square of ``grey`` (bytes: their max and min cost a quarter of those
    of floats): large on lines and dots thinner than the square, 0 on larger shapes and their
    edges."""
    closing = square_extreme(square_extreme(grey, r, np.maximum), r, np.minimum)
    opening = square_extreme(square_extreme(grey, r, np.minimum), r, np.maximum)
    out: np.ndarray = np.maximum(closing - grey, grey - opening).astype(np.float32)  # both >= 0
    return out


def subject(img: Image.Image) -> Region:
    """The subject as a soft full-size region (the matte background removal uses)."""
    return subject_region(img)


def background(img: Image.Image) -> Region:
    return ImageOps.invert(subject(img))


def damage_weights(img: Image.Image) -> np.ndarray | None:
    """Blank (near-white or near-black, flat) areas connected to the image's edge: the torn
    corner or missing strip a "restore" prompt refers to. None when there is none."""
    rgb = small(img, 160)
    lum = rgb.mean(axis=-1)
    spread = rgb.max(axis=-1) - rgb.min(axis=-1)
    flat = local_detail(lum) < 3
    blank = ((lum > 235) | (lum < 12)) & (spread < 18) & flat
    edge = np.zeros_like(blank)
    edge[0] = edge[-1] = True
    edge[:, 0] = edge[:, -1] = True
    found = flood(edge, blank)
    if not 0.002 < found.mean() < 0.4:
        return None
    # Grow by two pixels so the torn edge's fibres are filled too.
    grown = np.asarray(
        Image.fromarray((found * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(5)),
        np.float32,
    )
    return grown / 255.0


def damage(img: Image.Image) -> Region | None:
    weights = damage_weights(img)
    return None if weights is None else to_region(weights, img.size, soften=0.5)


def central(size: tuple[int, int]) -> Region:
    """Soft central ellipse (a third of each side): the fallback place for "remove"."""
    w, h = size
    scale = min(1.0, ANALYSIS_SIDE / max(w, h))
    sw, sh = max(2, round(w * scale)), max(2, round(h * scale))
    y, x = np.ogrid[-1 : 1 : sh * 1j, -1 : 1 : sw * 1j]
    d = np.sqrt((x / 0.34) ** 2 + (y / 0.34) ** 2)
    return to_region(np.clip((1.15 - d) / 0.3, 0.0, 1.0), size, soften=0)
