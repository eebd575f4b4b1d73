"""The subject of a photo as a soft matte: what background removal keeps and what the words
"subject" / "the cat" / "background" point at.

Two cases. On a plain backdrop (a product shot: the border is one even colour) the matte is
exact: alpha rises with the colour distance from the backdrop. Otherwise the estimate is a
seeded segmentation on a small copy (at most ``ANALYSIS_SIDE`` long):

1. *Evidence*: what differs from the colours along the top and side edges, is detailed, and
   sits near the centre (``evidence``). Its confident, colour-distinct core seeds the subject,
   together with the bottom edge where the evidence says subject (people and things are cut
   by the bottom of the frame, rarely by the top).
2. *Background seeds*: the top and side edges, except where the colour matches the subject's
   own colours, so a frame-filling subject (a close-up cat) does not seed the background.
3. *Competition*: every pixel joins the seed it reaches by the path whose strongest edge is
   weakest (a minimax "watershed" on the colour gradient), so a whole object with its parts of
   other colours (a saucer under a cup, a helmet beside a suit) stays together as long as no
   stronger outline separates them from the subject's core.
4. Enclosed holes and notches of the subject's own colour are closed, and the edge is refined
   at a higher resolution: moved to where the colours change along its normal, sharpened with
   local colour models; then the matte is upsampled.

It is a heuristic a person agrees with on ordinary photos, not a segmentation model.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ._pixels import (
    ANALYSIS_SIDE,
    Region,
    box,
    channel_sum,
    flood,
    grow,
    halved,
    local_detail,
    luma,
    otsu,
    parts,
    resize_weights,
    rgb_view,
    small,
    square_extreme,
)

REFINE_SIDE = 256  # the edge refinement works on a copy at most this long
EDGE_SOFTNESS = 30.0  # plain backdrop: colour-distance span over which alpha goes 0 -> 255
MIN_THRESHOLD = 10.0  # plain backdrop: distances below this (or the border noise) are backdrop
PLAIN_NOISE = 12.0  # border colour spread below which the background is a plain backdrop
SHADOW_DARKER = 0.45  # a cast shadow is darker than this share of the background's median
SHADOW_LIT = 0.6  # ... and the subject's lit part is brighter than this share
SAME_AS_SUBJECT = 40.0  # an edge pixel this close to a subject colour does not seed background
THIN = 2  # a subject that an opening of this radius (cells) mostly removes is thin ...
MIXED = 0.6  # ... and its outline pixels this share of the way to its colour join it
COLUMN = 3.0  # a figure at least this many times taller than wide is a column ...
SUPPORT_WIDER = 2.5  # ... and a base this many times wider, below it, is what it stands on
SUPPORT_COLOUR = 30.0  # mean RGB difference from the figure's colour where its column ends
OUTLINE_SMOOTH = 2.0  # cells: where colours cannot sharpen the outline it is smoothed ...
OUTLINE_RAMP = 1.0  # ... at this scale and cut with a ramp this many refinement pixels wide
CUT_SMOOTH = 1.5  # refinement pixels: the outline a cast shadow leaves is smoothed at this scale
CUT_BAND = 3  # ... within this many pixels of the shadow
FAINT = 0.02  # alpha at or below this joins no piece of the matte
BROAD = 4  # cells: where an opening of this radius leaves the subject, it is broad
NOTCH = 6  # cells: a notch in the outline narrower than twice this is looked at by colour
NOTCH_COLOUR = 4  # ... against the colours at most this many steps away
SNAP_REACH = 1.5  # cells: the outline moves at most this far to where the colours change
SNAP_STEP = 0.5  # refinement pixels between the samples of a profile across the outline
SNAP_ALONG = 4  # refinement pixels: the moves are averaged this far along the outline


# ----------------------------------------------------------------------------- plain backdrop


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
    """uint8 HxW alpha of a subject on a plain backdrop: ~0 on the backdrop, 255 on the
    subject, soft at the edge; a 3x3 opening removes isolated specks."""
    rgb = np.asarray(img.convert("RGB"))
    bg, noise = background_colour(rgb)
    diff = rgb.astype(np.int16) - np.round(bg).astype(np.int16)
    dist = np.sqrt(channel_sum(diff.astype(np.int32) ** 2).astype(np.float32))
    t0 = max(MIN_THRESHOLD, 1.5 * noise)
    alpha = np.clip((dist - t0) * (255.0 / EDGE_SOFTNESS), 0.0, 255.0).astype(np.uint8)
    opened = square_extreme(square_extreme(alpha, 1, np.minimum), 1, np.maximum)
    # Opening removes specks but also shaves soft edges; keep the original where it survives.
    kept: np.ndarray = np.minimum(alpha, square_extreme(opened, 1, np.maximum))
    return kept


def is_plain(rgb: np.ndarray) -> bool:
    """True when the border of a float RGB array is one even colour (``alpha_matte`` is exact)."""
    return background_colour(rgb)[1] < PLAIN_NOISE


# ----------------------------------------------------------------------------- busy photos


def _sq_dist(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared distances (N x k) by |p|^2 - 2 p.c + |c|^2: one matrix product, no N x k x 3
    temporary."""
    d = (
        channel_sum(points * points)[:, None]
        - 2 * points @ centres.T
        + channel_sum(centres * centres)
    )
    clipped: np.ndarray = np.maximum(d, 0.0)
    return clipped


def _kmeans(points: np.ndarray, k: int, iterations: int = 6) -> np.ndarray:
    """Deterministic k-means (evenly spaced initial centres) on at most 2000 colours."""
    if len(points) > 2000:
        points = points[:: len(points) // 2000 + 1]
    centres: np.ndarray = points[np.linspace(0, len(points) - 1, k).astype(int)].copy()
    for _ in range(iterations):
        labels = np.argmin(_sq_dist(points, centres), axis=1)
        for i in range(k):
            members = points[labels == i]
            if len(members):
                centres[i] = members.mean(axis=0)
    return centres


def _nearest(feat: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Per pixel of ``feat`` (H x W x 3): the distance to the nearest of ``centres``."""
    flat = feat.reshape(-1, feat.shape[-1])
    sq = _sq_dist(flat, centres)
    least = sq[:, 0].copy()  # column by column: min(-1) over a few centres is slow
    for i in range(1, sq.shape[1]):
        np.minimum(least, sq[:, i], out=least)
    dist: np.ndarray = np.sqrt(least).reshape(feat.shape[:-1])
    return dist


def _opponent(rgb: np.ndarray) -> np.ndarray:
    """Luminance, red-green, yellow-blue: distances here follow what a person sees better than
    in RGB."""
    return np.stack(
        [luma(rgb), rgb[..., 0] - rgb[..., 1], (rgb[..., 0] + rgb[..., 1]) / 2 - rgb[..., 2]],
        axis=-1,
    ).astype(np.float32)


def _edge_mask(shape: tuple[int, ...], top: bool, sides: bool, bottom: bool) -> np.ndarray:
    edge = np.zeros(shape[:2], bool)
    if top:
        edge[0] = True
    if sides:
        edge[:, 0] = edge[:, -1] = True
    if bottom:
        edge[-1] = True
    return edge


def _distinct(opp: np.ndarray) -> np.ndarray:
    """How far each colour is from the colours along the top and side edges, in [0, 1]."""
    h, w, _ = opp.shape
    b = max(1, round(min(h, w) * 0.015))  # thin: a subject may come close to an edge
    border = np.concatenate(
        [opp[:b].reshape(-1, 3), opp[:, :b].reshape(-1, 3), opp[:, -b:].reshape(-1, 3)]
    )
    dist = _nearest(opp, _kmeans(border, 8))
    return np.clip(dist / max(1.0, float(np.percentile(dist, 98))), 0.0, 1.0)


def evidence(opp: np.ndarray) -> np.ndarray:
    """Subject evidence in [0, 1] of an opponent-colour array: distinct from the top/side
    border colours, detailed, near the centre; one connected subject, holes closed."""
    h, w, _ = opp.shape
    distinct = _distinct(opp)
    detail = box(local_detail(opp[..., 0]), max(1, round(w / 40)))
    sharp = np.clip(detail / max(1.0, float(np.percentile(detail, 95))), 0.0, 1.0)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    centre = np.exp(-(((x / w - 0.5) / 0.38) ** 2) - (((y / h - 0.6) / 0.45) ** 2))
    score = box(((0.55 * distinct + 0.45 * sharp) * (0.35 + 0.65 * centre)).astype(np.float32), 1)
    t = otsu(score)
    weights = np.clip((score - 0.8 * t) / (0.4 * t + 1e-6), 0.0, 1.0)
    solid = weights >= 0.5
    if not solid.any():
        return weights
    # One subject: the connected part around the strongest evidence (joined by more than a
    # thin bridge); other blobs are background.
    r = max(1, round(min(h, w) / 64))
    core = solid & ~grow(~solid, r)
    peak = np.zeros_like(solid)
    peak.flat[int(np.argmax(score * (core if core.any() else solid)))] = True
    main = grow(flood(peak, core if core.any() else solid), r) & solid
    weights = np.where(main, weights, np.minimum(weights, 0.45 * (~solid)))
    # What the background cannot reach from the edges without squeezing through a gap
    # narrower than ``r`` cells (a dark collar, the inside of a cup) belongs to the subject.
    r = max(1, round(min(h, w) / 40))
    closed = grow(main, r)
    outside = grow(flood(_edge_mask(opp.shape, True, True, False), ~closed), r)
    return np.where(outside, weights, 1.0).astype(np.float32)


SWEEP_STEPS = 4  # a sweep carries a value up to 2 ** SWEEP_STEPS - 1 pixels along a line


def _minimax(seeds: tuple[np.ndarray, ...], cost: np.ndarray) -> list[np.ndarray]:
    """Per seed mask, per pixel: over all 4-connected paths from the seed, the least largest
    ``cost`` met (the seed's own pixels count 0, every other pixel its cost).

    Rounds of sweeps right, left, down and up until a round changes nothing. A sweep is a
    log-step scan along each row (column): a stretch of a line acts on what enters it as
    ``x -> min(A, max(x, B))`` (A: the best already known at its end, B: the largest cost on
    it), and two stretches in a row compose to ``A = min(A_2, max(A_1, B_2)), B = max(B_1,
    B_2)``; the B of each step are running maxima of ``cost`` alone, computed once. A round
    thus carries values many pixels along, where one-pixel relaxation took hundreds of
    rounds; both only ever lower a value to one some path achieves, and stop when no pixel
    can improve on a neighbour, so the answer (the unique minimax distance) is the same bit
    for bit. ``SWEEP_STEPS`` steps per sweep (stretches up to 15 pixels) cost fewer
    operations for the rounds they save than whole-line scans: minimax paths wind. All seed
    masks run as one stacked array (half the per-call overhead of two runs)."""
    reach = np.where(np.stack(seeds), np.float32(0), np.float32(np.inf))
    cost = np.asarray(cost, np.float32)
    sweeps = []  # (axis of reach, step, largest cost over the step's stretch ending at i)
    for axis in (2, 1):
        top = np.array(cost)
        step = 1
        while step < cost.shape[axis - 1] and step < 2**SWEEP_STEPS:
            sweeps.append((axis, step, top.copy()))
            ahead, behind = _shifted(top, axis - 1, step)
            np.maximum(ahead, behind.copy(), out=ahead)
            step *= 2
    while True:
        before = reach.copy()
        for axis, step, top in sweeps:
            # forward: the pixel ``step`` back, through the stretch (i - step, i]
            ahead, behind = _shifted(reach, axis, step)
            np.minimum(ahead, np.maximum(behind, _shifted(top, axis - 1, step)[0]), out=ahead)
        for axis, step, top in sweeps:
            # backward: the pixel ``step`` on, through [i, i + step): the same maxima, shifted
            ahead, behind = _shifted(reach, axis, step)
            n = top.shape[axis - 1]
            stretch = _shifted(top, axis - 1, step - 1)[0] if step > 1 else top
            span = stretch[:, : n - step] if axis == 2 else stretch[: n - step]
            np.minimum(behind, np.maximum(ahead, span), out=behind)
        if np.array_equal(before, reach):
            return list(reach)


def _shifted(a: np.ndarray, axis: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Views (a[i], a[i - step]) for i >= step along ``axis``."""
    ahead = [slice(None)] * a.ndim
    behind = [slice(None)] * a.ndim
    ahead[axis], behind[axis] = slice(step, None), slice(None, a.shape[axis] - step)
    return a[tuple(ahead)], a[tuple(behind)]


def _gradient(opp: np.ndarray) -> np.ndarray:
    p = np.pad(opp, ((1, 1), (1, 1), (0, 0)), mode="edge")
    gy = channel_sum((p[2:, 1:-1] - p[:-2, 1:-1]) ** 2)
    gx = channel_sum((p[1:-1, 2:] - p[1:-1, :-2]) ** 2)
    grad: np.ndarray = np.sqrt(gx + gy).astype(np.float32)
    return grad


def _runs(seeds: np.ndarray, n: int) -> np.ndarray:
    """Edge seeds kept only in runs of at least ``n`` along the top row and the side columns
    (a 1-D opening): a stray pixel of background colour in a frame-filling subject's fur does
    not get to flood it."""
    out = np.zeros_like(seeds)
    lines: tuple[tuple[int | slice, int | slice], ...] = (
        (0, slice(None)), (slice(None), 0), (slice(None), -1),
    )  # fmt: skip
    for index in lines:
        line = seeds[index]
        c = np.concatenate([[0], np.cumsum(line, dtype=np.int32)])
        starts = np.nonzero(c[n:] - c[:-n] == n)[0]  # windows of n seeds in a row
        full = np.zeros(len(line), bool)
        for k in range(n):
            full[starts + k] = True
        out[index] |= full
    runs: np.ndarray = out & seeds
    return runs


def _cast_shadow(lum: np.ndarray, alpha: np.ndarray, unmoved: np.ndarray) -> np.ndarray:
    """Where the matte ``alpha`` holds the shadow its subject casts on the table: pixels much
    darker than the background outside the convex outline of the subject's lit part (lit in
    ``unmoved``, the matte before its outline moved to the colour change: where the outline
    of a shadow moved out onto the table, a strip of lit wood would widen the lit outline
    over the shadow, see ``_snap``). In the
    dark the edge between a shaded rim and its shadow is weak, so the segmentation hands the
    shadow to the subject; things are mostly convex and their shadows stick out of that
    outline (the shade under a cup, inside the saucer's outline, stays). Nothing is taken when
    that would be a large part of the subject (a dark subject on a light ground)."""
    inside = alpha > 0.5
    if inside.all() or not inside.any():
        return np.zeros_like(inside)
    ground = float(np.median(lum[~inside]))
    dark = lum < SHADOW_DARKER * ground
    lit = (unmoved > 0.5) & (lum >= SHADOW_LIT * ground)  # a penumbra widens no outline
    rows = np.nonzero(lit.any(1))[0]
    if len(rows) < 2:
        return np.zeros_like(inside)
    first = lit[rows].argmax(1)
    last = lit.shape[1] - 1 - lit[rows, ::-1].argmax(1)
    outside = (alpha > 0) & ~_convex_fill(rows, first, last, lit.shape)
    shadow: np.ndarray = outside & dark
    if shadow.sum() > 0.25 * inside.sum():
        return np.zeros_like(inside)
    # The lit grain of the table between the shadow's dark pixels goes with it where the
    # matte is unsure of it: the shadow is a region, and specks of wood left in a removed
    # background read as a ragged rim. (Sure subject beside a shadow, a suit by a dark
    # helmet, is not grain.)
    specks: np.ndarray = outside & grow(shadow, 2) & ((alpha < 0.9) | dark)
    return specks


def _convex_fill(
    rows: np.ndarray, first: np.ndarray, last: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray:
    """The filled convex hull of a shape given by its first and last pixel on each of its
    ``rows`` (monotone chain, drawn by Pillow)."""
    pts = sorted(
        set(zip(first.tolist(), rows.tolist(), strict=True))
        | set(zip(last.tolist(), rows.tolist(), strict=True))
    )

    def half(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for p in points:
            while (
                len(out) >= 2
                and (
                    (out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                    - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])
                )
                <= 0
            ):
                out.pop()
            out.append(p)
        return out

    hull = half(pts)[:-1] + half(pts[::-1])[:-1]
    img = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(img).polygon(hull, fill=255, outline=255)
    return np.asarray(img) > 0


def _top_pockets(detail: np.ndarray, subject: np.ndarray) -> np.ndarray:
    """Pockets of "background" that meet the frame only along its top, between parts of the
    subject, and are as detailed as the subject while the real background is smooth: a tuft of
    dark fur on a close-up's forehead, lost because its stripes are as dark as the blurred
    room. (The out-of-focus room between two ears is smooth and stays background.)"""
    sides = _edge_mask(detail.shape, False, True, True)
    open_bg = flood(sides & ~subject, ~subject)
    pocket = ~subject & ~open_bg
    out = np.zeros_like(subject)
    if not pocket.any() or not open_bg.any():
        return out
    # More detailed than the subject's typical part and well above the background's.
    enough = max(2.0 * float(np.median(detail[open_bg])), float(np.median(detail[subject])))
    for part in parts(pocket):
        if float(np.median(detail[part])) > enough:
            out |= part
    return out


def _cut_by_frame(subject: np.ndarray, like_subject: np.ndarray) -> np.ndarray:
    """Parts of a frame-filling subject the competition lost: runs of the subject's own
    colours that meet the top or a side edge where the edge gave no background seed (its
    colour was the subject's) and that border the subject over more of their outline than
    the frame. An ear cut by the top of a close-up, out of focus against an out-of-focus
    room, is reached from the room's seeds over its blurred outline before the subject's
    core gets past the ear's own edges; a wall of the cat's colour in a corner is mostly
    framed, and stays background."""
    frame = _edge_mask(subject.shape, True, True, False)
    free = like_subject & ~subject
    beside = grow(subject, 1)
    candidates = flood(frame & free, free)
    candidates = flood(candidates & beside, candidates)  # only the parts touching the subject
    out = np.zeros_like(subject)
    frame_or_bottom = _edge_mask(subject.shape, True, True, True)
    for part in parts(candidates):
        if np.count_nonzero(part & beside) > np.count_nonzero(part & frame_or_bottom):
            out |= part
    return out


def _thin_strays(subject: np.ndarray, core: np.ndarray, r: int, weights: np.ndarray) -> np.ndarray:
    """Thin arms of the estimate (narrower than ``2 r``) that run out to a side edge of the
    frame, or that reach out where the evidence says background: a bright streak of a blurred
    room attached to a close-up's cheek. A subject cut by the sides meets them over a broad
    part (a cheek, a shoulder), which an opening of radius ``r`` keeps; arms reaching the top
    edge are left alone (an ear reaching it is thin too)."""
    opened = grow(~grow(~subject, r), r)
    thin = subject & ~opened & ~core
    out = flood(_edge_mask(subject.shape, False, True, False) & thin, thin)
    rest = thin & ~out & ~flood(_edge_mask(subject.shape, True, False, False) & thin, thin)
    # each arm is looked at from where it leaves the evidence
    for part in parts(rest & (weights < 0.5)):
        if np.count_nonzero(part) >= r * r:
            arm = flood(part, rest)
            if float(weights[arm].mean()) < 0.5:
                out |= arm
    return out


def _support(subject: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """The broad base a column stands on, where the estimate took both: a rocket on its lit
    pad and gantry, a statue on its plinth, a lighthouse on its rocks. The bottom edge seeds
    the subject (things are cut by the frame's bottom), but a tall narrow figure (``COLUMN``
    times taller than its widest row) that ends on something ``SUPPORT_WIDER`` times wider
    and less than half its height, cut by the frame, stands on ground; it is not cut by the
    frame. The figure goes on down into the base in its own columns as long as they keep its
    colour (a body in front of its gantry); the rest of the base is not subject. A bust or a
    close-up is no column (a head is about as tall as wide), and a cup stands on a saucer
    taller than half of it, so neither has a support."""
    out = np.zeros_like(subject)
    rows = subject.sum(1)
    if not rows[-1]:
        return out
    top = int(np.argmax(rows > 0))
    split = 0
    for y in range(len(rows) - 1, top, -1):
        above, base = rows[top:y], rows[y:]
        if 2 * len(base) > len(above):
            break
        widest = int(above.max())
        if len(above) >= COLUMN * widest and SUPPORT_WIDER * widest <= float(np.median(base)):
            split = y
    if not split:
        return out
    own = subject[max(top, split - 3) : split].any(0)
    lowest = subject[max(top, split - 10) : split] & own
    colour = rgb[max(top, split - 10) : split][lowest].mean(0)
    end = split
    while end < len(rows):
        here = subject[end] & own
        if not here.any() or np.abs(rgb[end, here].mean(0) - colour).mean() >= SUPPORT_COLOUR:
            break
        end += 1
    out[split:] = subject[split:]
    out[split:end] &= ~own
    return out


def _thin_outline(
    subject: np.ndarray,
    feat: np.ndarray,
    cost: np.ndarray,
    to_subject: np.ndarray,
    to_background: np.ndarray,
) -> np.ndarray:
    """What a thin ``subject`` gains of its outline in the minimax competition, split by
    colour. A pixel on the outline is reached from both sides over its own edge strength
    (the gradient spans both sides, so the outline is two pixels wide) and a strict "<" hands
    it to the background. On a broad subject that is a pixel the edge refinement puts back;
    on a subject only a few pixels across (most of it gone in an opening of radius ``THIN``:
    a rocket five pixels wide, a mast) it is much of the subject (its nose cone), lost before
    the refinement sees it. There each outline pixel next to the subject joins it when its
    colour lies at least ``MIXED`` of the way from the sure background's colour around it
    to the sure subject's: mostly covered by the subject. A pixel half covered is a coin
    toss that would hand the subject a strip of whatever stands beside it (the lit tower
    beside a rocket)."""
    opened = grow(~grow(~subject, THIN), THIN)
    if not subject.any() or (opened & subject).sum() >= 0.5 * subject.sum():
        return np.zeros_like(subject)
    tie = (to_subject == to_background) & (cost >= to_subject) & grow(subject, 1)
    background = to_background < to_subject
    sure = []
    for side in (subject, background):
        weight = box(side.astype(np.float32), 2)[..., None]
        mean = box(feat * side[..., None], 2) / np.maximum(weight, 1e-6)
        sure.append((np.sqrt(channel_sum((feat - mean) ** 2)), weight[..., 0] > 0))
    (d_subject, near_subject), (d_background, near_background) = sure
    closer = np.where(near_background, MIXED * d_subject < (1 - MIXED) * d_background, near_subject)
    out: np.ndarray = tie & closer
    return out


def segment(rgb: np.ndarray) -> np.ndarray:
    """Boolean subject mask of a small float RGB array (see the module docstring)."""
    h, w, _ = rgb.shape
    weights = evidence(_opponent(rgb))
    # Colours and edges of a slightly blurred copy: fur and grain read as their mean colour.
    blurred = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(0.8)
    )
    smooth = _opponent(np.asarray(blurred, np.float32))
    core = (weights >= 0.9) & (_distinct(smooth) > 0.3)
    core &= ~grow(~core, 1)
    if not core.any():
        core = weights >= min(0.9, float(weights.max()))
    core |= _edge_mask(rgb.shape, False, False, True) & (weights >= 0.5)
    seeds = _edge_mask(rgb.shape, True, True, False) & (weights < 0.3) & ~core
    like_subject = _nearest(smooth, _kmeans(smooth[core], 6)) <= SAME_AS_SUBJECT
    seeds &= ~like_subject
    # Textured edge pixels (fur, hair) of a frame-filling subject are not reliable seeds; a
    # textured background (wood, a lattice) is reached from its smoother parts anyway.
    texture = box(local_detail(smooth[..., 0]), 1)
    if seeds.any():
        seeds &= texture <= 1.5 * float(np.median(texture[seeds]))
    seeds = _runs(seeds, max(3, round(min(h, w) / 25)))
    if not seeds.any():
        seeds = _edge_mask(rgb.shape, True, True, False) & ~core
    gradient = _gradient(smooth)
    to_subject, to_background = _minimax((core, seeds), gradient)
    subject = to_subject < to_background
    # Close small gaps (eye corners, whisker gaps), then fill what the edges cannot reach.
    r = max(1, round(min(h, w) / 60))
    subject = ~grow(~grow(subject, r), r)
    edge = _edge_mask(rgb.shape, True, True, True)
    subject |= ~flood(edge & ~subject, ~subject)
    detail = box(local_detail(_opponent(rgb)[..., 0]), 1)
    subject |= _top_pockets(detail, subject)
    subject |= _cut_by_frame(subject, like_subject & ~seeds)
    subject &= ~_thin_strays(subject, core, max(2, round(min(h, w) / 16)), weights)
    subject &= ~_support(subject, rgb)
    subject |= _thin_outline(subject, smooth, gradient, to_subject, to_background)
    # Pieces apart from the subject (a lamp, part of a model on a shelf) are not part of it:
    # keep what connects to the core's middle or to the bottom edge.
    ys, xs = np.nonzero(core & subject)
    keep = _edge_mask(rgb.shape, False, False, True) & subject
    if len(ys):
        i = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))
        keep[ys[i], xs[i]] = True
    subject = flood(keep, subject)
    out: np.ndarray = subject | _notches(subject, smooth)
    return out


def _notches(subject: np.ndarray, feat: np.ndarray) -> np.ndarray:
    """Pixels in the notches of the subject's outline (what a closing of radius ``NOTCH``
    cells adds) whose colour (``feat``) is the subject's beside them, not the background's.
    Things are mostly convex and their outlines smooth, so a notch is most often a part the
    competition lost where it is only a few cells across: the thin strip of a saucer's far rim
    showing between a cup and a spoon's handle is all outline (its gradient is high from side
    to side) and the background reaches it as cheaply as the subject. A pixel joins when its
    colour is within ``SAME_AS_SUBJECT`` of a subject pixel at most ``NOTCH_COLOUR`` steps away and
    lies at least ``MIXED`` of the way from the nearest colour of the background beyond the
    notches to that nearest subject colour (the table between a handle and the rim stays
    background; so does a gap between an arm and a body, the background's colour)."""
    r = NOTCH
    closed = ~grow(~grow(subject, r), r)
    notch: np.ndarray = closed & ~subject
    if not notch.any():
        return notch
    h, w = subject.shape
    ys, xs = np.nonzero(notch)
    r = NOTCH_COLOUR
    steps = np.abs(np.arange(-r, r + 1))
    dy, dx = np.nonzero(np.add.outer(steps, steps) <= r)
    py = np.clip(ys[:, None] + (dy - r), 0, h - 1)  # the pixels within r steps
    px = np.clip(xs[:, None] + (dx - r), 0, w - 1)
    sq = channel_sum((feat[py, px] - feat[ys, xs][:, None]) ** 2)  # squared colour distances
    to_subject = np.where(subject[py, px], sq, np.inf).min(1)
    to_background = np.where(closed[py, px], np.inf, sq).min(1)
    like = (to_subject < SAME_AS_SUBJECT**2) & (
        MIXED**2 * to_subject < (1 - MIXED) ** 2 * to_background
    )
    joined = np.zeros_like(subject)
    joined[ys[like], xs[like]] = True
    return flood(grow(subject, 1) & joined, joined)


def _refined(
    rgb: np.ndarray, weights: np.ndarray, coarse: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sharpen a coarse matte along its edge with local colour models: in the uncertain band,
    alpha is where a pixel's colour lies between the nearby subject and background colours.
    Where the two sides' colours are too alike to tell (a lit red rim on lit red wood), the
    matte is the smooth outline of the ``coarse`` mask instead, moved to where the colours
    change (see ``_outline``). Returns the matte and the same with the outline not moved."""
    h, w, _ = rgb.shape
    a = np.clip(resize_weights(weights, (w, h)), 0.0, 1.0)
    r = max(2, round(max(w, h) / 40))
    fa = box(a, r)[..., None] + 1e-3
    ba = box(1 - a, r)[..., None] + 1e-3
    fg = box(rgb * a[..., None], r) / fa
    bg = box(rgb * (1 - a)[..., None], r) / ba
    d = fg - bg
    dd = channel_sum(d * d)
    t = np.clip(channel_sum((rgb - bg) * d) / np.maximum(dd, 100.0) * 1.2 - 0.1, 0.0, 1.0)
    # Trust the colour model only where the two sides differ clearly and near the edge.
    trust = np.clip((np.sqrt(dd) - 35) / 50, 0.0, 1.0) * (4 * a * (1 - a) > 0.3)
    moved, unmoved = _outline(coarse, a, rgb)
    refined: np.ndarray = (moved + (t - moved) * trust).astype(np.float32)
    return refined, (unmoved + (t - unmoved) * trust).astype(np.float32)


def _outline(
    coarse: np.ndarray, rough: np.ndarray, rgb: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The coarse subject's outline as a crisp edge at the size of ``rough`` (the coarse
    mask upsampled): the mask blurred by ``OUTLINE_SMOOTH`` cells and cut at one half, with
    a ramp ``OUTLINE_RAMP`` pixels wide (the level's distance from one half over its
    gradient: about the distance to the cut), and that edge moved to where the colours of
    ``rgb`` change (see ``_snap``): (moved, unmoved). The blur-and-cut is a curvature flow: it
    straightens the cell-sized steps and wobbles of the segmentation (things' outlines are
    smooth at that scale) and rounds corners by about a cell. ``rough`` (a ramp as wide as
    a cell: a soft, ragged rim) stays where the subject is narrow, away from any part
    ``2 BROAD + 1`` cells across: the flow would thin a rocket a few cells wide and blunt
    its nose cone."""
    size = rough.shape[1], rough.shape[0]
    blurred = Image.fromarray((coarse * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(OUTLINE_SMOOTH)
    )
    level = resize_weights(np.asarray(blurred, np.float32) / 255, size)
    gy, gx = np.gradient(level)
    slope = np.sqrt(gx * gx + gy * gy) + 1e-3
    inside = (level - 0.5) / slope  # about the signed distance to the cut, + inside
    reach = SNAP_REACH * size[0] / coarse.shape[1]
    shift = _snap(inside, gx / slope, gy / slope, slope > 0.02, rgb, reach)
    broad = grow(grow(~grow(~coarse, BROAD), BROAD), BROAD + 1)  # near an opening's remains
    near_broad = resize_weights(broad.astype(np.float32), size) > 0.5
    moved, unmoved = (
        np.where(near_broad, np.clip(d / OUTLINE_RAMP + 0.5, 0.0, 1.0), rough).astype(np.float32)
        for d in (inside - shift, inside)
    )
    return moved, unmoved


def _snap(
    inside: np.ndarray,
    nx: np.ndarray,
    ny: np.ndarray,
    steep: np.ndarray,
    rgb: np.ndarray,
    reach: float,
) -> np.ndarray:
    """How far (pixels, + inward) the outline at distance ``inside`` (+ inside; the inward
    normal ``nx``, ``ny``; only where the coarse level is ``steep``) moves to where the
    colours change from the subject's to the background's. The segmentation hands the
    outline's own pixels to the background (its gradient spans both sides), so the coarse
    outline runs up to a cell inside the real one; where the local colour models cannot tell
    the sides apart well enough to be trusted (a red rim on orange wood), that stays: a faint
    rim, the subject looks eaten. Along the normal through each outline point, every
    ``SNAP_STEP`` pixels up to ``reach`` either side, a pixel is scored by how much more it
    is like the sure background (beyond the reach, outside) than the sure subject (beyond
    it, inside): its largest per-channel distance in opponent colour from each side's local
    mean, in units of that side's local spread, so the grain of wood (a spread in
    brightness) does not hide a red rim (a step in hue). The edge is the step that fits the
    profile best (least squares: background-like outside, subject-like inside); a highlight
    along a rim is an outlier, not the step. A move counts as far as the two sides of the
    fit differ (a clear step), and the moves are averaged over ``SNAP_ALONG`` pixels along
    the outline (an outline is smooth)."""
    band = (np.abs(inside) <= reach + 1) & steep
    if not band.any():
        return np.zeros_like(inside)
    # The sides' local means and spreads (over ``r`` pixels: smooth) from blocks 4 pixels
    # square wholly on one side, the scores only where the profiles reach; plane by plane.
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    planes = [luma(rgb), red - green, (red + green) / 2 - blue]  # as ``_opponent``
    h, w = (inside.shape[0] // 4) * 4, (inside.shape[1] // 4) * 4

    def blocks(a: np.ndarray) -> np.ndarray:
        return halved(halved(a[:h, :w]))

    means = [blocks(p) for p in planes]
    squares = [blocks(p * p) for p in planes]
    near = np.abs(inside) <= reach + 1.5
    ry, rx = np.nonzero(near)
    qy, qx = np.minimum(ry // 4, h // 4 - 1), np.minimum(rx // 4, w // 4 - 1)
    r = max(1, round(max(rgb.shape[:2]) / 80))
    here = [p[near] for p in planes]
    layers = []
    for sure in (inside < -(reach + 1), inside > reach + 1):
        wholly = (blocks(sure.astype(np.float32)) > 0.999).astype(np.float32)
        layers += [wholly] + [a * wholly for a in means + squares]
    sums = box(np.stack(layers, -1), r)[qy, qx]
    score = []  # per side: how unlike that side a pixel is
    for side in (sums[:, :7], sums[:, 7:]):
        weight = side[:, 0] + 1e-6
        unlike = np.zeros(len(ry), np.float32)
        for i, plane in enumerate(here):
            mu = side[:, 1 + i] / weight
            spread = np.sqrt(np.maximum(side[:, 4 + i] / weight - mu * mu, 0.0))
            np.maximum(unlike, np.abs(plane - mu) / (spread + 4.0), out=unlike)
        score.append(np.where(weight > 0.05, unlike, np.nan))
    with np.errstate(invalid="ignore"):
        scored = np.clip(0.5 + 0.5 * np.log2((score[0] + 0.1) / (score[1] + 0.1)), 0.0, 1.0)
    like = np.full(inside.shape, 0.5, np.float32)
    like[near] = np.nan_to_num(scored, nan=0.5)
    # one profile per pixel of the outline itself; the pixels beside it take the moves
    # averaged along it
    on = band & (np.abs(inside) <= 0.75)
    ys, xs = np.nonzero(on)
    ux, uy = nx[on], ny[on]
    fx, fy = xs - inside[on] * ux, ys - inside[on] * uy  # the outline point
    steps = np.arange(-reach, reach + 1e-3, SNAP_STEP, dtype=np.float32)
    profile = _bilinear(like, fx[:, None] + steps * ux[:, None], fy[:, None] + steps * uy[:, None])
    n = len(steps)
    zero = np.zeros((len(ys), 1), np.float32)
    outer = np.concatenate([zero, np.cumsum(profile, 1)], 1)  # sum of the first k samples
    outer_sq = np.concatenate([zero, np.cumsum(profile * profile, 1)], 1)
    k = np.arange(n + 1, dtype=np.float32)
    inner = outer[:, -1:] - outer  # sum of the samples from k on
    # squared error of 0 for the first k samples and 1 for the rest
    error = outer_sq + (n - k) - 2 * inner + (outer_sq[:, -1:] - outer_sq)
    cut = np.argmin(error[:, 1:-1], 1) + 1
    rows = np.arange(len(ys))
    contrast = inner[rows, cut] / (n - cut) - outer[rows, cut] / cut
    weight = np.clip((contrast - 0.5) / 0.3, 0.0, 1.0).astype(np.float32)
    # averaged along the outline on a grid of 4 x 4 blocks (over 3 blocks, about
    # ``SNAP_ALONG`` pixels either side), read back where the outline moves
    hq, wq = (inside.shape[0] + 3) // 4, (inside.shape[1] + 3) // 4
    cell = (ys // 4) * wq + xs // 4
    moved, counted, outline = (
        box(np.bincount(cell, v, hq * wq).reshape(hq, wq).astype(np.float32), 1)
        for v in ((steps[cut] - SNAP_STEP / 2) * weight, weight, np.ones_like(weight))
    )
    sure = np.clip(2 * counted / np.maximum(outline, 1e-6), 0.0, 1.0)  # share of clear steps
    field = moved / np.maximum(counted, 1e-6) * sure
    by, bx = np.nonzero(band)
    shift = np.zeros_like(inside)
    shift[band] = _bilinear(field, (bx - 1.5) / 4, (by - 1.5) / 4)
    return shift


def _bilinear(a: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``a`` (H x W) at the points (``x``, ``y``), bilinear, clamped to the array."""
    h, w = a.shape
    x = np.clip(x, 0, w - 1.001)
    y = np.clip(y, 0, h - 1.001)
    x0, y0 = x.astype(int), y.astype(int)
    fx, fy = x - x0, y - y0
    top = a[y0, x0] * (1 - fx) + a[y0, x0 + 1] * fx
    bottom = a[y0 + 1, x0] * (1 - fx) + a[y0 + 1, x0 + 1] * fx
    out: np.ndarray = top * (1 - fy) + bottom * fy
    return out


def _cut_smoothly(alpha: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """``alpha`` without the pixels of ``cut`` (a cast shadow), along a smooth outline. The
    shadow test decides pixel by pixel (darker than a share of the table), so the outline it
    leaves follows the grain of the wood and the pixel grid: a staircase of teeth along the
    rim, where the thing's real outline (a saucer's rim) is smooth. As in ``_outline``, the
    subject that stays is blurred by ``CUT_SMOOTH`` pixels and cut at one half with a ramp
    one pixel wide (a curvature flow: steps and teeth go, the curve stays), near the cut
    only; elsewhere the refined edge is untouched. Specks of lit grain left inside the
    shadow go with it (too small to survive the blur)."""
    if not cut.any():
        return alpha
    kept = (alpha > 0.5) & ~cut
    blurred = Image.fromarray((kept * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(CUT_SMOOTH)
    )
    level = np.asarray(blurred, np.float32) / 255
    gy, gx = np.gradient(level)
    slope = np.sqrt(gx * gx + gy * gy) + 1e-3
    crisp = np.clip((level - 0.5) / slope + 0.5, 0.0, 1.0)
    band = grow(cut, CUT_BAND)
    out: np.ndarray = np.where(band, np.minimum(alpha, crisp), alpha).astype(np.float32)
    return out


def subject_region(img: Image.Image) -> Region:
    """The subject of ``img`` as a mode "L" region at the image's size (255 = subject)."""
    rgb = rgb_view(img)
    # The refinement's copy and the segmentation's are each reduced from the photo itself (a
    # copy of the refinement's, resampled again, made shaded wood look like subject).
    mid = small(rgb, REFINE_SIDE)
    h, w, _ = mid.shape
    low = small(rgb, ANALYSIS_SIDE)
    if is_plain(low):
        return Image.fromarray(alpha_matte(rgb))
    coarse = segment(low)
    soft = Image.fromarray((coarse * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.7))
    fine, unmoved = _refined(mid, np.asarray(soft, np.float32) / 255, coarse)
    # The refinement sharpens the outline; it does not add pieces far from the segmentation.
    near = resize_weights(grow(coarse, 2).astype(np.float32), (w, h)) > 0.5
    fine *= near
    unmoved *= near
    fine = _cut_smoothly(fine, _cast_shadow(luma(mid), fine, unmoved))
    # A faint piece apart from the subject (no pixel of it half opaque) is the colour model's
    # guess on a speck of the background's colour; a real part of a thing, even a detached
    # one, is sure somewhere. (A faint dot of wood stayed beside the saucer's rim.)
    fine *= flood(fine > 0.5, fine > FAINT)
    out = Image.fromarray(np.round(fine * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(0.5)
    )
    return out.resize(rgb.size, Image.Resampling.BILINEAR)


def subject_matte(img: Image.Image) -> np.ndarray:
    """The subject of ``img`` as float32 HxW weights in [0, 1] (1 = subject), at the image's
    size: what background removal keeps and what "subject"/"background" prompts edit.
    Deterministic; a few tens of milliseconds for a 1 Mpx photo."""
    return np.asarray(subject_region(img), np.float32) / 255
