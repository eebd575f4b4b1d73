"""Where an unmasked edit applies: the sky, the subject, the background, or a damaged corner.

Each estimate is computed on a small copy of the image (at most ``ANALYSIS_SIDE`` pixels long)
with numpy, then upsampled to a soft mode-"L" region (255 = edit fully). They are heuristics a
person would agree with on ordinary photos, not segmentation models: the sky is the bright/blue,
smooth area connected to the top edge; the subject is what differs from the colours along the
top and side edges, weighted towards the centre and towards sharp detail; the background is the
rest. An empty estimate (no sky in the photo) is returned as None so callers can fall back.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from . import _fill, _matte

Region = Image.Image  # mode "L": 255 = the edit applies fully, 0 = keep

ANALYSIS_SIDE = 128
MIN_SHARE = 0.05  # an estimate covering less than this share of the image counts as absent


def _small(img: Image.Image, side: int = ANALYSIS_SIDE) -> np.ndarray:
    w, h = img.size
    scale = min(1.0, side / max(w, h))
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    return np.asarray(img.convert("RGB").resize(size, Image.Resampling.BOX), np.float32)


def _to_region(small: np.ndarray, size: tuple[int, int], soften: float = 1.0) -> Region:
    """Low-resolution weights in [0, 1] -> a soft full-size region; exact zeros stay zero."""
    low = Image.fromarray(np.round(np.clip(small, 0.0, 1.0) * 255).astype(np.uint8))
    if soften:
        low = low.filter(ImageFilter.GaussianBlur(soften))
    return low.resize(size, Image.Resampling.BILINEAR)


def _flood(seed: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Pixels of ``allowed`` 4-connected to ``seed`` (vectorised dilation until stable)."""
    reached = seed & allowed
    while True:
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= allowed
        if (grown == reached).all():
            return np.asarray(reached)
        reached = grown


def _box(a: np.ndarray, r: int) -> np.ndarray:
    """Separable box mean of radius ``r`` (edges replicated): a cheap blur."""
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float32)
        hi = c.take(np.arange(2 * r + 1, c.shape[axis]), axis=axis)
        lo = c.take(np.arange(0, c.shape[axis] - 2 * r - 1), axis=axis)
        a = ((hi - lo) / (2 * r + 1)).astype(np.float32)
    return a


def _local_detail(grey: np.ndarray) -> np.ndarray:
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


def sky_weights(img: Image.Image) -> np.ndarray | None:
    """Low-resolution sky weights in [0, 1], or None when no sky is visible."""
    rgb = _small(img)
    h = rgb.shape[0]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    spread = rgb.max(axis=-1) - rgb.min(axis=-1)
    blue = (b > r + 12) & (b >= g - 10)
    detail = _local_detail(lum)
    overcast = (lum > 190) & (spread < 40) & (detail < 2)  # a plain wall is mottled, not this
    smooth = detail < 7
    rows = np.arange(h)[:, None] < 0.8 * h
    candidate = (blue | overcast) & smooth & rows
    seed = np.zeros_like(candidate)
    seed[0] = True
    # Reach past thin structures (wires, lattice towers) that break smoothness at this scale.
    loose = (blue | overcast) & rows & (detail < 25)
    sky = _flood(seed, candidate) | (_flood(seed, loose) & (blue | overcast))
    if sky.mean() < MIN_SHARE:
        return None
    # Soft colour test against the sky's own colour keeps foreground objects out.
    ref = np.median(rgb[sky], axis=0)
    dist = np.linalg.norm(rgb - ref, axis=-1)
    cut = max(30.0, float(np.percentile(dist[sky], 95)) * 1.3)
    near = np.clip((cut * 1.4 - dist) / (cut * 0.4), 0.0, 1.0)
    if float(np.median(dist[-max(1, h // 20) :])) < 12:
        return None  # the same colour runs down to the bottom edge: a backdrop, not a sky
    grown = _flood(sky, (near > 0) & (detail < 12) & (np.arange(h)[:, None] < 0.9 * h)) | sky
    return np.where(grown, np.maximum(near, sky.astype(np.float32)), 0.0).astype(np.float32)


def sky(img: Image.Image) -> Region | None:
    """The sky as a soft region, refined at full resolution by colour: a pixel is sky where the
    coarse estimate says so and its colour is close to the sky's local colour, so towers,
    wires and roofs in front of it stay out."""
    weights = sky_weights(img)
    if weights is None:
        return None
    coarse = _to_region(weights, img.size, soften=0.7)
    small = _small(img)
    local = _fill.pull_push(small, (weights > 0.5).astype(np.float32))
    colour = _fill.resize_float(local, img.size)
    dist = np.abs(np.asarray(img.convert("RGB"), np.float32) - colour).sum(-1)
    fine = np.clip((50.0 - dist) / 25.0, 0.0, 1.0)
    return Image.fromarray(np.round(np.asarray(coarse, np.float32) * fine).astype(np.uint8))


def _kmeans(points: np.ndarray, k: int, iterations: int = 6) -> np.ndarray:
    """Deterministic k-means (evenly spaced initial centres) on a few hundred border colours."""
    centres = points[np.linspace(0, len(points) - 1, k).astype(int)].copy()
    for _ in range(iterations):
        labels = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        for i in range(k):
            members = points[labels == i]
            if len(members):
                centres[i] = members.mean(axis=0)
    return np.asarray(centres)


PLAIN_NOISE = 12.0  # border colour spread below which the background counts as a plain backdrop


def _plain(rgb: np.ndarray) -> bool:
    """True when the border is one even colour: then ``_matte.alpha_matte`` is exact."""
    return _matte.background_colour(rgb)[1] < PLAIN_NOISE


def subject_weights(rgb: np.ndarray) -> np.ndarray:
    """Subject weights in [0, 1] (1 = subject) of a small float RGB array."""
    h, w, _ = rgb.shape
    if _plain(rgb):
        return _matte.alpha_matte(Image.fromarray(rgb.astype(np.uint8))).astype(np.float32) / 255
    lum = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    opp = np.stack(
        [lum, rgb[..., 0] - rgb[..., 1], (rgb[..., 0] + rgb[..., 1]) / 2 - rgb[..., 2]], axis=-1
    )
    b = max(1, round(min(h, w) * 0.015))  # thin: a subject may come close to an edge
    border = np.concatenate(
        [opp[:b].reshape(-1, 3), opp[:, :b].reshape(-1, 3), opp[:, -b:].reshape(-1, 3)]
    )
    centres = _kmeans(border, 8)
    dist = np.sqrt(((opp[..., None, :] - centres) ** 2).sum(-1)).min(-1)
    distinct = np.clip(dist / max(1.0, float(np.percentile(dist, 98))), 0.0, 1.0)
    detail = _local_detail(lum)
    detail = _box(detail, max(1, round(w / 40)))
    sharp = np.clip(detail / max(1.0, float(np.percentile(detail, 95))), 0.0, 1.0)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    centre = np.exp(-(((x / w - 0.5) / 0.38) ** 2) - (((y / h - 0.6) / 0.45) ** 2))
    score = (0.55 * distinct + 0.45 * sharp) * (0.35 + 0.65 * centre)
    score = _box(score.astype(np.float32), 1)
    t = _otsu(score)
    weights = np.clip((score - 0.8 * t) / (0.4 * t + 1e-6), 0.0, 1.0)
    solid = weights >= 0.5
    if not solid.any():
        return weights
    # One subject: the connected part around the strongest evidence (joined by more than a
    # thin bridge); other blobs are background.
    r = max(1, round(min(h, w) / 64))
    core = solid & ~_fill.grow(~solid, r)
    peak = np.zeros_like(solid)
    peak.flat[int(np.argmax(score * (core if core.any() else solid)))] = True
    main = _fill.grow(_flood(peak, core if core.any() else solid), r) & solid
    weights = np.where(main, weights, np.minimum(weights, 0.45 * (~solid)))
    # What the background cannot reach from the edges without squeezing through a gap
    # narrower than ``r`` cells (a dark collar, the inside of a cup) belongs to the subject.
    r = max(1, round(min(h, w) / 40))
    closed = _fill.grow(main, r)
    edge = np.zeros((h, w), bool)
    edge[0] = edge[:, 0] = edge[:, -1] = True
    outside = _fill.grow(_flood(edge, ~closed), r)
    return np.where(outside, weights, 1.0).astype(np.float32)


def _otsu(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=64)
    mids = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * mids) / np.maximum(w0, 1)
    m1 = (np.sum(hist * mids) - np.cumsum(hist * mids)) / np.maximum(w1, 1)
    return float(mids[int(np.argmax(w0 * w1 * (m0 - m1) ** 2))])


REFINE_SIDE = 320


def _refined(rgb: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sharpen a coarse matte along its edge with local colour models: in the uncertain band,
    alpha is where a pixel's colour lies between the nearby subject and background colours."""
    h, w, _ = rgb.shape
    a = (
        np.asarray(
            Image.fromarray(np.round(weights * 255).astype(np.uint8)).resize(
                (w, h), Image.Resampling.BILINEAR
            ),
            np.float32,
        )
        / 255
    )
    r = max(2, round(max(w, h) / 40))
    fa = _box(a, r)[..., None] + 1e-3
    ba = _box(1 - a, r)[..., None] + 1e-3
    fg = np.stack([_box(rgb[..., i] * a, r) for i in range(3)], -1) / fa
    bg = np.stack([_box(rgb[..., i] * (1 - a), r) for i in range(3)], -1) / ba
    d = fg - bg
    dd = (d * d).sum(-1)
    t = np.clip(((rgb - bg) * d).sum(-1) / np.maximum(dd, 100.0) * 1.2 - 0.1, 0.0, 1.0)
    # Trust the colour model only where the two sides differ clearly and near the edge.
    trust = np.clip((np.sqrt(dd) - 35) / 50, 0.0, 1.0) * (4 * a * (1 - a) > 0.3)
    refined: np.ndarray = (a + (t - a) * trust).astype(np.float32)
    return refined


def subject(img: Image.Image) -> Region:
    """The subject as a soft full-size region; on a plain backdrop, the exact alpha matte."""
    mid = _small(img, REFINE_SIDE)  # one pass over the full image; the rest works from this
    h, w, _ = mid.shape
    scale = min(1.0, ANALYSIS_SIDE / max(w, h))
    low_size = (max(8, round(w * scale)), max(8, round(h * scale)))
    low = np.asarray(
        Image.fromarray(mid.astype(np.uint8)).resize(low_size, Image.Resampling.BOX), np.float32
    )
    if _plain(low):
        return Image.fromarray(_matte.alpha_matte(img))
    return _to_region(_refined(mid, subject_weights(low)), img.size, soften=0.6)


def background(img: Image.Image) -> Region:
    return ImageOps.invert(subject(img))


def damage_weights(img: Image.Image) -> np.ndarray | None:
    """Blank (near-white or near-black, flat) areas connected to the image's edge: the torn
    corner or missing strip a "restore" prompt refers to. None when there is none."""
    rgb = _small(img, 160)
    lum = rgb.mean(axis=-1)
    spread = rgb.max(axis=-1) - rgb.min(axis=-1)
    flat = _local_detail(lum) < 3
    blank = ((lum > 235) | (lum < 12)) & (spread < 18) & flat
    edge = np.zeros_like(blank)
    edge[0] = edge[-1] = True
    edge[:, 0] = edge[:, -1] = True
    found = _flood(edge, blank)
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
    return None if weights is None else _to_region(weights, img.size, soften=0.5)


def central(size: tuple[int, int]) -> Region:
    """Soft central ellipse (a third of each side): the fallback place for "remove"."""
    w, h = size
    scale = min(1.0, ANALYSIS_SIDE / max(w, h))
    sw, sh = max(2, round(w * scale)), max(2, round(h * scale))
    y, x = np.ogrid[-1 : 1 : sh * 1j, -1 : 1 : sw * 1j]
    d = np.sqrt((x / 0.34) ** 2 + (y / 0.34) ** 2)
    return _to_region(np.clip((1.15 - d) / 0.3, 0.0, 1.0), size, soften=0)
