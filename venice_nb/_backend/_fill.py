"""Content-aware fill for "remove …" and "restore …": a healing-brush stand-in.

The hole is filled with texture copied from a nearby, hole-free part of the image (the smallest
shift that clears the hole), corrected by the colour difference measured around the hole and
smoothly interpolated across it (pull-push on a small pyramid). The copied detail hides the
hole's outline, the correction makes light and colour continue from the surroundings, so a small
object disappears instead of turning into a smudge.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

from .._vision._pixels import (
    Region,
    fit_side,
    grow,
    luma,
    resize_weights,
    rgb_view,
    run_ids,
    square_extreme,
)
from .._vision._pixels import box as box_mean

WORK_SIDE = 256  # the smooth fill and colour correction run at most this large
SMOOTH_SURROUNDINGS = 12.0  # median ring detail (grid cells) below which nothing is copied
SEARCH_SIDE = 64  # the shift search runs on a grid this large (a hole pixel marks its cell)
_DIRECTIONS = tuple(
    (round(math.cos(a * math.pi / 8) * 100) / 100, round(math.sin(a * math.pi / 8) * 100) / 100)
    for a in range(16)
)


def pull_push(rgb: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill where ``known`` < 1 from a coarser, weight-normalised level (recursive pyramid)."""
    h, w = known.shape
    total = float(known.sum())
    if total == 0.0:
        return np.broadcast_to(rgb.mean(axis=(0, 1)), rgb.shape).astype(np.float32)
    if known.min() >= 1.0 or min(h, w) <= 2:
        mean = (rgb * known[..., None]).sum(axis=(0, 1)) / total
        flat: np.ndarray = rgb * known[..., None] + mean * (1.0 - known[..., None])
        return flat
    ph, pw = h % 2, w % 2
    k = np.pad(known, ((0, ph), (0, pw)), mode="edge")
    c = np.pad(rgb * known[..., None], ((0, ph), (0, pw), (0, 0)), mode="edge")
    k2 = k.reshape(k.shape[0] // 2, 2, k.shape[1] // 2, 2).sum(axis=(1, 3))
    c2 = c.reshape(c.shape[0] // 2, 2, c.shape[1] // 2, 2, -1).sum(axis=(1, 3))
    coarse = pull_push(c2 / np.maximum(k2, 1e-6)[..., None], np.minimum(k2, 1.0))
    up = resize_float(coarse, (w, h))
    filled: np.ndarray = rgb * known[..., None] + up * (1.0 - known[..., None])
    return filled


BAND = np.arange(-2, 3, 2)  # rows round a run's row whose pixels make its robust ends
STRIDE = 2  # every other pixel along the row: a median needs no more
EDGE_LEVELS = 24.0  # ends this far apart (RGB distance) halve the trust in a line between them
# A pixel beside the hole this far from its side's robust level (RGB distance) is half the
# scene, half something that stands out (a lamp, a girder: several times as far); the scene
# itself varies by a few tens of levels over the quarter of the picture that level is read on.
OWN_LEVELS = 2 * EDGE_LEVELS


Ends = tuple[np.ndarray, np.ndarray]  # robust left and right ends of a mask's row runs


class _Runs:
    """The runs of a mask's rows: its True pixels in row-major order (``ys``, ``xs``), the run
    each belongs to (``run``), and per run its row, first pixel and end (one past its last)."""

    def __init__(self, hole: np.ndarray) -> None:
        self.ys, self.xs = np.nonzero(hole)
        self.run = run_ids(hole)
        first = np.nonzero(np.diff(self.run, prepend=-1))[0]
        self.row, self.start = self.ys[first], self.xs[first]
        self.end = self.xs[np.r_[first[1:], len(self.xs)] - 1] + 1


def _run_ends(
    rgb: np.ndarray,
    hole: np.ndarray,
    runs: _Runs,
    offset: tuple[int, int],
    reach: int,
    like: Ends | None = None,
) -> Ends:
    """Per run of ``runs`` (found in a box that lies at ``offset``, rows and columns, in ``rgb`` and
    ``hole``, which reach ``reach`` further round it): the median of the known pixels
    among the ``reach`` pixels going away from the run on its left, and on its right (its
    end's own value where it has no known pixel on that side): what lies behind a removed
    object is what mostly surrounds it in that row, not the lamp or the girder that happens
    to touch it. With ``like`` (a colour per run for the left side, one for the right) only
    the pixels within ``OWN_LEVELS`` of it count, where there are any."""
    h, w = hole.shape
    steps = np.arange(0, reach, STRIDE)
    ends = []
    for side, (xs, sign) in enumerate(
        ((runs.start - 1 + offset[1], -1), (runs.end + offset[1], 1))
    ):
        ys = runs.row + offset[0]
        out = rgb[ys, np.clip(xs, 0, w - 1)]
        has = (xs >= 0) & (xs < w)
        if has.any():
            ys, xs = ys[has], xs[has]
            # The rows just above and below take part too, so neighbouring rows of the fill
            # do not streak.
            at = np.tile(xs[:, None] + sign * steps[None, :], len(BAND))
            on = np.clip(ys[:, None] + np.repeat(BAND, len(steps))[None, :], 0, h - 1)
            ok = (at >= 0) & (at < w)
            at = np.clip(at, 0, w - 1)
            ok &= ~hole[on, at]
            seen = rgb[on, at]
            if like is not None:
                ref = like[side][has][:, None]
                alike = ok & (np.linalg.norm(seen - ref, axis=-1) <= OWN_LEVELS)
                ok = np.where(alike.any(1, keepdims=True), alike, ok)
            middle = _known_median(seen, ok, 1)
            out[has] = np.where(np.isfinite(middle), middle, out[has])
        ends.append(out)
    return ends[0], ends[1]


def _edges(rgb: np.ndarray, runs: _Runs) -> Ends:
    """Per run: the pixel just left of it and the one just right of it (clipped)."""
    w = rgb.shape[1]
    return rgb[runs.row, np.maximum(runs.start - 1, 0)], rgb[runs.row, np.minimum(runs.end, w - 1)]


def _along_rows(
    rgb: np.ndarray, runs: _Runs, ends: Ends | None = None, shared: Ends | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per hole pixel (``runs``' order): the hole's row crossed by a straight line from its
    known pixels on the left and right (linear between two, constant from one), and a weight
    1 / span^2 that says how far the nearest known pixels are (0 where the row has none).
    With robust ``ends`` (``_run_ends``) a line whose two ends disagree is trusted less: it
    crosses an edge (a platform's top, a horizon), where the other direction runs along it.
    Each run's ends are worked out once, then spread over its pixels."""
    w = rgb.shape[1]
    left, right = runs.start - 1, runs.end
    has_l, has_r = left >= 0, right < w
    vl, vr = rgb[runs.row, np.maximum(left, 0)], rgb[runs.row, np.minimum(right, w - 1)]
    both = has_l & has_r
    gap = np.maximum(right - left, 1).astype(np.float32)
    weight_run = np.ones(len(left), np.float32)
    if ends is not None:
        # A structure met on both sides (a platform's top crossing behind the object) is
        # continued; what touches only one side (a lamp's glare) gives way to the robust ends.
        far_l, far_r = ends
        apart = np.where(both, np.linalg.norm(vl - vr, axis=-1) / EDGE_LEVELS, 0)
        same = np.where(both, 1 / (1 + apart**2), 0)[:, None].astype(np.float32)
        # A side whose pixel agrees with the level of its own side is the scene itself,
        # right up to the hole (a cloud band beside the removed rocket): it is kept even
        # when the other side is a lamp's glare, which only gives way itself.
        # (A steep cut: a lamp, several times as far off, keeps none of its trust, where a
        # gentler one would still carry a tenth of its light across.)
        own_l = 1 / (1 + (np.linalg.norm(vl - far_l, axis=-1) / OWN_LEVELS) ** 4)
        own_r = 1 / (1 + (np.linalg.norm(vr - far_r, axis=-1) / OWN_LEVELS) ** 4)
        own_l = np.where(both, own_l, 0)[:, None].astype(np.float32)
        own_r = np.where(both, own_r, 0)[:, None].astype(np.float32)
        keep_l, keep_r = np.maximum(same, own_l), np.maximum(same, own_r)
        to_l, to_r = far_l, far_r
        if shared is not None:
            # The side that gives way, where the other is the scene, gives way to what on
            # its own side looks like the other (``shared``): the clouds past a lamp, not
            # the median its glare and the lamps further on lift.
            to_l = far_l + (shared[0] - far_l) * own_r
            to_r = far_r + (shared[1] - far_r) * own_l
        vl = to_l + (vl - to_l) * keep_l
        vr = to_r + (vr - to_r) * keep_r
        disagree = np.where(both, np.linalg.norm(vl - vr, axis=-1) / EDGE_LEVELS, 0)
        weight_run = (1 / (1 + disagree**2)).astype(np.float32)
    run, xs = runs.run, runs.xs
    b, hl = both[run], has_l[run]
    t = np.where(b, (xs - left[run]).astype(np.float32) / gap[run], np.float32(0))[:, None]
    pl, pr = vl[run], vr[run]
    value = np.where(b[:, None], pl + (pr - pl) * t, np.where(hl[:, None], pl, pr))
    span = np.where(b, gap[run], 2 * np.where(hl, xs - left[run], right[run] - xs))
    weight = np.where(hl | has_r[run], 1 / np.maximum(span, 1).astype(np.float32) ** 2, 0)
    return value.astype(np.float32, copy=False), (weight * weight_run[run]).astype(np.float32)


def membrane(rgb: np.ndarray, known: np.ndarray, sweeps: int = 6, reach: int = 1) -> np.ndarray:
    """A smooth fill of the pixels where ``known`` < 0.5 from the known ones around them.

    Each hole pixel blends the straight-line interpolations along its row and its column,
    weighted by how close the known pixels are on each (1 / span^2), then a few relaxation
    sweeps of the membrane (Laplace) equation smooth the streaks. A hole touching the frame
    thus continues the rows or columns that enter it (a sky's gradient stays a gradient), where
    a pyramid average or a plain membrane pull it to one mean colour, a flat band. With
    ``reach`` > 1 the lines start from robust ends read that far beside the hole (see
    ``_run_ends``): what the scene behind a removed object needs; a correction field is
    smooth already and reads its edge as it is."""
    hole = known < 0.5
    if not hole.any():
        return rgb
    if hole.all():
        return pull_push(rgb, known.astype(np.float32))
    # Only the hole's box and the known pixels just round it are filled; the robust ends
    # read the pixels as far as ``reach`` round it.
    ys, xs = np.nonzero(hole.any(1))[0], np.nonzero(hole.any(0))[0]
    y0, y1 = max(0, int(ys[0]) - 1), min(hole.shape[0], int(ys[-1]) + 2)
    x0, x1 = max(0, int(xs[0]) - 1), min(hole.shape[1], int(xs[-1]) + 2)
    tight = np.s_[y0:y1, x0:x1]
    box, box_hole = np.asarray(rgb[tight], np.float32), hole[tight]
    rows, cols = _Runs(box_hole), _Runs(box_hole.T)  # the columns as rows of the transpose
    rows_ends: Ends | None = None
    cols_ends: Ends | None = None
    rows_shared: Ends | None = None
    cols_shared: Ends | None = None
    if reach > 1:
        py0, px0 = max(0, y0 - reach), max(0, x0 - reach)
        wide = np.s_[py0 : y1 + reach, px0 : x1 + reach]
        dy, dx = y0 - py0, x0 - px0
        wide_rgb, wide_hole = np.asarray(rgb[wide], np.float32), hole[wide]
        wide_t, hole_t = wide_rgb.transpose(1, 0, 2), wide_hole.T
        rows_ends = _run_ends(wide_rgb, wide_hole, rows, (dy, dx), reach)
        cols_ends = _run_ends(wide_t, hole_t, cols, (dx, dy), reach)
        # Each side's pixels like the other side's edge pixel.
        rows_shared = _run_ends(
            wide_rgb, wide_hole, rows, (dy, dx), reach, _edges(box, rows)[::-1]
        )
        cols_shared = _run_ends(
            wide_t, hole_t, cols, (dx, dy), reach, _edges(box.transpose(1, 0, 2), cols)[::-1]
        )
    vr, wr = _along_rows(box, rows, rows_ends, rows_shared)
    vc, wc = _along_rows(box.transpose(1, 0, 2), cols, cols_ends, cols_shared)
    # The columns' pixels in the rows' order.
    order = np.empty(box_hole.shape, np.int64)
    order[rows.ys, rows.xs] = np.arange(len(rows.xs))
    back = np.empty(len(rows.xs), np.int64)
    back[order[cols.xs, cols.ys]] = np.arange(len(cols.xs))
    vc, wc = vc[back], wc[back]
    total = wr + wc
    value = (vr * wr[:, None] + vc * wc[:, None]) / np.maximum(total, 1e-12)[:, None]
    # The sweeps work in one edge-padded buffer (its border re-copied after each sweep)
    # instead of padding a new copy per sweep.
    filled = box.copy()
    filled[rows.ys, rows.xs] = value
    p = np.pad(filled, ((1, 1), (1, 1), (0, 0)), mode="edge")
    inner = p[1:-1, 1:-1]
    where = np.broadcast_to(box_hole[..., None], inner.shape)
    # Behind a removed object (``reach`` > 1) each pixel's sweeps smooth along the direction
    # its lines were trusted in, in the same shares: where the rows carry a platform's top or
    # a horizon across and the columns cross it (their ends disagree), smoothing up and down
    # would blur that edge into a soft band over several rows (a lit roof under the hole
    # glows up into it). Only rows met on both sides carry an edge across; a row read from
    # one side (a hole on the frame's edge) is a guess, smoothed as before. Where both
    # directions are trusted alike (most holes), this is the plain four-neighbour mean.
    along = np.full((*box_hole.shape, 1), 0.5, np.float32)
    if reach > 1:
        crossed = ((rows.start > 0) & (rows.end < box_hole.shape[1]))[rows.run]
        share = wr / np.maximum(total, 1e-12)
        along[rows.ys, rows.xs, 0] = np.where(crossed, share, np.float32(0.5))
    across = 1 - along
    along *= 0.5
    across *= 0.5
    for _ in range(sweeps):
        mean = (p[:-2, 1:-1] + p[2:, 1:-1]) * across + (p[1:-1, :-2] + p[1:-1, 2:]) * along
        np.copyto(inner, mean, where=where)
        p[0, 1:-1], p[-1, 1:-1] = p[1, 1:-1], p[-2, 1:-1]
        p[:, 0], p[:, -1] = p[:, 1], p[:, -2]
    out = np.array(rgb, np.float32)
    out[tight] = inner
    return out


def _ring_median(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``rgb`` with the pixels bordering ``hole`` (all a smooth fill reads) replaced by their
    5x5 median; a full-image median filter costs far more than the few border pixels."""
    ys, xs = np.nonzero(grow(hole, 1) & ~hole)
    out = rgb.astype(np.float32, copy=True)
    if len(ys) == 0:
        return out
    p = np.pad(out, ((2, 2), (2, 2), (0, 0)), mode="edge")
    k = np.pad(~hole, 2, mode="edge")
    # Of the known pixels only (each pixel itself is one): the hole's own pixels are the
    # object being removed (a rocket's lit gantry), and counted in, its colour would seep
    # into the fill's edge and be carried across it as a tinted patch.
    known = np.stack([k[ys + dy, xs + dx] for dy in range(5) for dx in range(5)])
    patches = np.stack([p[ys + dy, xs + dx] for dy in range(5) for dx in range(5)])
    out[ys, xs] = _known_median(patches, known, 0)
    return out


def _known_median(values: np.ndarray, known: np.ndarray, axis: int) -> np.ndarray:
    """The median along ``axis`` of the colours ``values`` (``known``'s shape x 3) where
    ``known``; inf where none is. Sorted with the unknown ones (inf) last, the middle of the
    first ``count``: np.nanmedian costs several times more."""
    ordered = np.sort(np.where(known[..., None], values, np.inf), axis=axis)
    count = np.expand_dims(np.maximum(known.sum(axis), 1), axis)[..., None]
    shape = list(ordered.shape)
    shape[axis] = 1
    lo = np.take_along_axis(ordered, np.broadcast_to((count - 1) // 2, shape), axis)
    hi = np.take_along_axis(ordered, np.broadcast_to(count // 2, shape), axis)
    middle: np.ndarray = ((lo + hi) / 2).squeeze(axis)
    return middle


def grain(size: tuple[int, int], strength: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic film grain (H x W x len(strength)) with per-channel standard deviation
    ``strength``, so a filled hole is as noisy as the photo around it instead of a smooth
    patch. The sum of two uniform random bytes (a triangular distribution of 511 steps,
    scaled to unit variance): at a grain's few grey levels it looks like Gaussian noise, and
    costs a fifth as much."""
    n = size[0] * size[1]
    draws = np.frombuffer(np.random.default_rng(seed).bytes(2 * n), np.uint8)
    unit = draws[:n].astype(np.float32)
    unit += draws[n:]
    unit -= np.float32(255)
    # Each byte's variance is (256^2 - 1) / 12; the sum's is twice that.
    scale = strength.astype(np.float32) * np.float32(1 / math.sqrt((256**2 - 1) / 6))
    out: np.ndarray = unit.reshape(size[1], size[0], 1) * scale[None, None]
    return out


def resize_float(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an HxWxC float array, channel by channel (Pillow mode "F")."""
    return np.stack(
        [
            np.asarray(
                Image.fromarray(np.ascontiguousarray(a[..., i], np.float32)).resize(
                    size, Image.Resampling.BILINEAR
                )
            )
            for i in range(a.shape[-1])
        ],
        axis=-1,
    )


def _correlations(
    left: np.ndarray, spectra: list[np.ndarray], shape: tuple[int, ...]
) -> list[np.ndarray]:
    """For every shift at once, per padded map ``P`` (given by its spectrum): the sum of ``P``
    over the ``left`` pixels shifted, ``out[a, b] = sum(left[y, x] * P[a + y, b + x])``, as
    correlations by FFT, so the candidate walk looks only at shifts that can win. No index
    wraps round: each ``P`` is ``left``'s size plus a pad of at least that size on every
    side. In single precision (the inverse transforms cost a quarter of double ones): the
    counts, a few thousand at most, stay within 1e-3 of whole numbers and are rounded."""
    spectrum = np.conj(np.fft.rfft2(left.astype(np.float32), shape))
    return [np.fft.irfft2(spectrum * p, shape) for p in spectra]


def _fast_length(n: int) -> int:
    """The smallest length >= ``n`` with no prime factor above 5 (an FFT of 171 = 9 x 19
    points costs about twice one of 180)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _candidates(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shifts the search tries, nearest first: (k, dx, dy) arrays, ``k`` steps along each
    of the 16 directions, a shift met again (rounded) only once (it costs no less later)."""
    key = (h, w)
    if key not in _CANDIDATES:
        seen: set[tuple[int, int]] = set()
        rows: list[tuple[int, int, int]] = []
        for k in range(1, max(h, w)):
            for ux, uy in _DIRECTIONS:
                dx, dy = round(ux * k), round(uy * k)
                if (dx, dy) not in seen:
                    seen.add((dx, dy))
                    rows.append((k, dx, dy))
        a = np.array(rows, np.int64).reshape(-1, 3)
        _CANDIDATES[key] = (a[:, 0], a[:, 1], a[:, 2])
    return _CANDIDATES[key]


_CANDIDATES: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def source_offsets(
    hole: np.ndarray, rgb: np.ndarray, passes: int = 4, serve: np.ndarray | None = None
) -> list[tuple[np.ndarray, int, int]]:
    """Where to copy each part of the hole from: (cells, dx, dy) per pass. A shift must bring in
    hole-free, in-frame pixels; among those, the one whose surroundings match the hole's own
    surroundings best wins (so grain continues grain and wood continues wood). A hole too big
    for one shift is served in up to ``passes`` parts. With ``serve`` (cells of the hole) only
    those cells are copied to, and only their own surroundings are matched: a copy that may
    serve only beside the fur at a torn corner's edge looks for fur, and a near one, instead of
    a shift that covers the whole corner and brings a whisker or an eye into the room.

    Every candidate shift of a pass is scored at once (counts by FFT, the ring's colour
    difference and the brought-in detail by gathering), then the nearest-first walk that picks
    the winner runs over plain numbers."""
    h, w = hole.shape
    if serve is None:
        serve = hole
    ring = grow(serve, 2) & ~hole
    ys, xs = np.nonzero(ring)
    lum = rgb.mean(-1)
    detail = np.zeros_like(lum)
    detail[1:-1, 1:-1] = np.abs(lum[2:, 1:-1] - lum[:-2, 1:-1]) + np.abs(
        lum[1:-1, 2:] - lum[1:-1, :-2]
    )
    ring_detail = float(detail[ring].mean()) if ring.any() else 0.0
    ring_peak = float(np.percentile(detail[ring], 95)) if ring.any() else 0.0
    ring_busy = 1.5 * float(np.percentile(detail[ring], 75)) + 2 if ring.any() else 2.0
    if not ring.any() or float(np.median(detail[ring])) < SMOOTH_SURROUNDINGS:
        return []  # a sky, a wall: the smooth fill and grain match it; a copy only risks a patch
    # Shifted views of frame-padded copies: out[y, x] = a[y + dy, x + dx], outside the frame
    # the pad (free of hole: False, detail: 0), without a new array per candidate shift.
    m = max(h, w)
    free_pad = ~np.pad(hole, m, constant_values=True)
    detail_pad = np.pad(detail, m, constant_values=0)

    # Free pixels, and free pixels more detailed than the hole's surroundings allow.
    peaky = free_pad & (detail_pad > 1.15 * ring_peak + 2)
    busy_pad = free_pad & (detail_pad > ring_busy)
    # The last: the detail a shift brings in (summed over the free sources it copies).
    maps = (free_pad, peaky, busy_pad, np.where(free_pad, detail_pad, 0))
    shape = tuple(_fast_length(n) for n in free_pad.shape)  # any size this large serves
    spectra = [np.fft.rfft2(a.astype(np.float32), shape) for a in maps]
    ks, dxs, dys = _candidates(h, w)
    ring_rgb = rgb[ys, xs]

    left = serve & hole
    out: list[tuple[np.ndarray, int, int]] = []
    for _ in range(passes):
        need = int(left.sum())
        if need == 0:
            break
        sums = _correlations(left, spectra, shape)
        counts, peaks, busies = (np.rint(c).astype(np.int64) for c in sums[:3])
        n = counts[m + dys, m + dxs]
        ok = (10 * n >= 3 * need) & (peaks[m + dys, m + dxs] <= 0)
        # Not busier than what mostly surrounds the hole (a tower, a crowd), nor bringing in
        # something new (an eye, a sign, an edge).
        ok &= busies[m + dys, m + dxs] <= 0.08 * np.maximum(n, 1)
        idx = np.nonzero(ok)[0]
        sy, sx = ys[None, :] + dys[idx, None], xs[None, :] + dxs[idx, None]
        inside = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
        shifted_ring = rgb[np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1)]
        gap = (np.abs(ring_rgb[None] - shifted_ring).sum(-1) * inside).sum(-1)
        n_inside = inside.sum(-1)
        diff = gap / np.maximum(3 * n_inside, 1)
        # Bring in texture as busy as the hole's surroundings, not a new object.
        brought = sums[3][m + dys[idx], m + dxs[idx]] / np.maximum(n[idx], 1)
        busy = np.abs(brought - ring_detail)
        cost = (diff + 0.5 * busy) * (1 + 0.01 * ks[idx])
        whole: tuple[float, int] | None = None  # (cost, candidate)
        part: tuple[float, int] | None = None
        for j, c in enumerate(idx.tolist()):
            if n_inside[j] == 0:
                continue
            if whole is not None and ks[c] - 1 > 2 * _reach(dxs, dys, whole[1]) + 4:
                break  # one shift for all that is left beats several (each seam shows)
            nc = int(n[c])
            if nc == need and (whole is None or cost[j] < whole[0]):
                whole = (float(cost[j]), c)
            elif nc < need and (part is None or cost[j] * need / nc < part[0]):
                part = (float(cost[j] * need / nc), c)
        best = whole or part
        if best is None:
            break
        dx, dy = int(dxs[best[1]]), int(dys[best[1]])
        covered = left & free_pad[m + dy : m + dy + h, m + dx : m + dx + w]
        out.append((covered, dx, dy))
        left &= ~covered
    return out


# The finest detail's standard deviation (grey levels) from which an edge counts as sharp and
# a copy serves beside it: an out-of-focus background, a sky or a plain wall stays below.
SHARP_DETAIL = 3.0
COPY_REACH = 1 / 16  # how far (of the picture's long side) a copy reaches in from a sharp edge
DETAIL_STEP = 4  # the detail level is carried into the hole on a grid this much coarser


def _fine(img: Image.Image) -> np.ndarray:
    """The finest detail of a mode-"L" image: what a 1.5 px blur removes."""
    fine = np.asarray(img, np.float32)
    fine -= np.asarray(img.filter(ImageFilter.GaussianBlur(1.5)), np.float32)
    return fine


def _grid(size: tuple[int, int]) -> tuple[int, int]:
    """The coarse grid the detail level lives on."""
    return max(2, -(-size[0] // DETAIL_STEP)), max(2, -(-size[1] // DETAIL_STEP))


def _energy(fine: np.ndarray, squared: bool = True) -> np.ndarray:
    """The mean energy of a detail map (or of its squares already) over each cell of the
    coarse grid."""
    q = _grid((fine.shape[1], fine.shape[0]))
    power = fine * fine if squared else fine
    return np.asarray(Image.fromarray(power).resize(q, Image.Resampling.BOX), np.float32)


def _smoothed(a: np.ndarray) -> np.ndarray:
    """``a`` blended 1-2-1 with its neighbours along both axes (edges replicated)."""
    for axis in (0, 1):
        p = np.pad(a, [(1, 1) if i == axis else (0, 0) for i in range(2)], mode="edge")
        lo, mid, hi = (np.take(p, range(k, k + a.shape[axis]), axis=axis) for k in (0, 1, 2))
        a = (lo + 2 * mid + hi) * np.float32(0.25)
    return a


def _carried(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``values`` (H x W x C) kept where ``known`` and carried smoothly into the rest by a
    membrane on a grid half as fine (each 2x2 block the mean of its known cells), brought
    back up bilinearly: the levels are smooth, and the membrane costs a quarter."""
    h, w = known.shape
    if min(h, w) < 16:
        return membrane(values, known.astype(np.float32))
    ph, pw = h % 2, w % 2
    k = np.pad(known.astype(np.float32), ((0, ph), (0, pw)))
    v = np.pad(values * known[..., None], ((0, ph), (0, pw), (0, 0)))
    k2 = k.reshape(k.shape[0] // 2, 2, k.shape[1] // 2, 2).sum(axis=(1, 3))
    v2 = v.reshape(v.shape[0] // 2, 2, v.shape[1] // 2, 2, -1).sum(axis=(1, 3))
    coarse = membrane(v2 / np.maximum(k2, 1)[..., None], (k2 > 0).astype(np.float32))
    up = np.stack(
        [resize_weights(coarse[..., i], (w + pw, h + ph))[:h, :w] for i in range(values.shape[-1])],
        axis=-1,
    )
    out: np.ndarray = np.where(known[..., None], values, up)
    return out


def detail_level(
    grey: Image.Image, near: np.ndarray, reach: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """On the coarse grid of ``grey`` (a crop round the hole): the energy of the finest detail
    of the known pixels ``near`` the hole, carried smoothly into the hole (a membrane), so
    each place of the hole knows how sharp the edge nearest it is: an out-of-focus background
    is smooth beside a sharp subject. Capped at the band's median: a lamp or a lattice
    touching the hole is not grain, and a median ignores a few of them.

    Returned twice: as carried, the most detail a copy may bring; and the level the hole
    should at least have, which holds only near the edge, up to ``reach`` pixels (fur
    continues a little past a torn edge) and further in falls to the band's calm end (its
    lower quartile): a hole ringed by fur takes fur throughout, while a torn corner whose
    ring is part fur, part out-of-focus room continues the room away from the fur, with no
    copy and no loud grain. None when the band covers no whole cell."""
    # Local energies over about 10x10 pixels (each cell's mean, then a 1-2-1 blend with its
    # neighbours, on the grid: a full-size 7x7 mean first costs several times more): the
    # median of means over so few pixels as one cell holds falls well below the grain's level
    # (the energy of grain is skewed).
    energy = _smoothed(_energy(_fine(grey)))
    band = (
        np.asarray(
            Image.fromarray(near.astype(np.uint8) * 255).resize(
                _grid(grey.size), Image.Resampling.BOX
            )
        )
        > 200
    )
    if not band.any():
        return None
    cap = float(np.median(energy[band]))
    # The most a copy may bring is held to the band's level in its own neighbourhood instead
    # (the geometric mean over the band within the reach, which a lamp or a few whiskers barely
    # move): where the ring is part fur, part out-of-focus room, copied fur keeps the fur's
    # detail beside the fur (damped to the whole band's median it reads as a softer band that
    # traces the hole's outline), and stays calm beside the room.
    r = max(1, round(reach / DETAIL_STEP))
    share = box_mean(band.astype(np.float32), r)
    logs = box_mean(np.where(band, np.log(energy + np.float32(1e-3)), np.float32(0)), r)
    local = np.exp(logs / np.maximum(share, np.float32(1e-6)))
    both = np.stack([energy, np.minimum(energy, local)], axis=-1)
    carried = _carried(both, band)
    level = np.minimum(carried[..., 0], cap)
    steps = 4
    step = max(1, round(reach / DETAIL_STEP / steps))
    close = np.zeros(band.shape, np.float32)
    for k in range(steps):
        close += square_extreme(band, k * step, np.maximum) / np.float32(steps)
    close = box_mean(close, step)  # the squares' corners and steps rounded off
    # Beyond the reach, the calm end of the band: grain too weak reads as a little soft,
    # grain too strong as noise over an out-of-focus background.
    calm = np.minimum(level, float(np.percentile(energy[band], 25)))
    return carried[..., 1], calm + (level - calm) * close


def match_detail(filled: np.ndarray, most: np.ndarray, least: np.ndarray, seed: int) -> np.ndarray:
    """``filled`` (an RGB crop whose hole is filled) with its finest detail kept between the
    levels ``least`` and ``most`` (``detail_level``) place by place: copied detail above
    ``most`` (whiskers brought beside an out-of-focus room) is damped; where the fill is
    smoother than ``least`` (the smooth base), deterministic grain makes up the difference,
    so it does not read as a painted-over band."""
    h, w = filled.shape[:2]
    # Of the luminance only: the detail is light and shade (whiskers, fur, grain), and one
    # channel costs a third of three. The full-size arrays are worked on in place: each new
    # one costs about as much in fresh memory as the arithmetic itself.
    lum = filled[..., 0] + filled[..., 1]
    lum += filled[..., 2]
    lum *= np.float32(1 / 3)
    fine = _fine(Image.fromarray(_to_uint8(lum)))
    now = _energy(fine)
    gain = np.sqrt(np.minimum(1.0, most / np.maximum(now, 1e-3)))
    missing = np.sqrt(np.maximum(least - now * gain * gain, 0.0))
    fine *= resize_weights(gain - 1, (w, h))
    noise = grain((w, h), np.ones(1, np.float32), seed)[..., 0]
    noise *= resize_weights(missing, (w, h))
    fine += noise
    filled += fine[..., None]
    return filled


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """``a`` rounded and clipped to 0..255 as uint8; ``a`` (a float array no longer needed) is
    the scratch space, so no full-size temporaries are made."""
    a += np.float32(0.5)
    np.clip(a, 0, 255, out=a)
    return a.astype(np.uint8)


def _frame_fade(box: tuple[int, int, int, int], size: tuple[int, int], radius: float) -> np.ndarray:
    """Over ``box`` (which may reach past the frame of ``size``): the frame's inside (1) and
    outside (0) blurred by ``radius``. The inside is a rectangle, so its blur is the product
    of two blurred 1-D steps, one per axis: a blur of the whole box costs far more."""
    axes = []
    for lo, hi, n in ((box[0], box[2], size[0]), (box[1], box[3], size[1])):
        step = ((np.arange(lo, hi) >= 0) & (np.arange(lo, hi) < n)).astype(np.uint8) * 255
        line = Image.fromarray(step[None, :]).filter(ImageFilter.GaussianBlur(radius))
        axes.append(np.asarray(line, np.float32)[0] / 255)
    fade: np.ndarray = axes[1][:, None] * axes[0][None, :]
    return fade


def _served(
    cells: np.ndarray,
    levels: tuple[np.ndarray, np.ndarray] | None,
    box: tuple[int, int, int, int],
    w: int,
    h: int,
) -> np.ndarray:
    """The cells of the search grid (``cells``, the hole) a copy may serve: those that hold a
    place of the detail grid (over ``box``) sharp enough for a copy (see ``SHARP_DETAIL``).
    Elsewhere the smooth fill and grain serve, so searching a shift that covers them too
    would only push the copy's source further away."""
    if levels is None:
        return cells
    gy, gx = np.nonzero(levels[1] > (SHARP_DETAIL / 2) ** 2)
    marked = np.zeros_like(cells)
    ch, cw = cells.shape
    iy = np.minimum((box[1] + (gy + 0.5) * DETAIL_STEP) * ch // h, ch - 1).astype(np.int64)
    ix = np.minimum((box[0] + (gx + 0.5) * DETAIL_STEP) * cw // w, cw - 1).astype(np.int64)
    marked[iy, ix] = True
    served: np.ndarray = cells & marked
    # A hole a copy may serve nearly everywhere is searched whole: its few smooth cells take
    # no copy anyway (their weight is 0), and leaving them out would only make the shift hang
    # on a handful of cells.
    return served if 10 * int(served.sum()) < 9 * int(cells.sum()) else cells


# The blur whose remainder is a band's texture (full-size pixels): a cloud's lumps and a wall's
# grain, not its shading (the smooth fill carries that).
BAND_BLUR = 3.0
# The mean absolute texture (grey levels) below which a side brings nothing (a sky, a plain
# wall, an out-of-focus room: the smooth fill and its grain match them), and twice which it
# brings all of its texture.
BAND_TEXTURE = 0.8
STRUT_ROWS = 4  # what runs up and down through twice this many rows and more is a structure
BAND_REACH = 1 / 16  # how far (of the picture's long side) beside the hole a band's texture is read


def _strip_levels(strip: np.ndarray) -> np.ndarray:
    """Per row of ``strip`` (rows x pixels beside the hole): the mean absolute detail,
    winsorised at twice the level itself (a lamp's rays or a strut's edge in a few pixels
    barely move it), blended with the rows above and below, so a level does not flicker row
    by row."""
    a = np.abs(strip)
    level = a.mean(1)
    for _ in range(3):  # each pass moves the level nearer the typical pixel's
        level = np.minimum(a, 2 * level[:, None]).mean(1)
    kernel = np.array([1, 2, 3, 2, 1], np.float32) / np.float32(9)
    out: np.ndarray = np.convolve(np.pad(level, 2, mode="edge"), kernel, mode="valid")
    return out


def _band_texture(
    img: Image.Image, filled: np.ndarray, box: tuple[int, int, int, int], hole: np.ndarray
) -> np.ndarray | None:
    """The texture a band crossing the hole along its rows brings into it (grey levels, the
    bounding box's size, 0 outside the hole), or None where it brings nothing.

    A smooth fill across a lumpy cloud band or a wall's grain reads as a flat block where the
    object stood, where no copy serves (the surroundings are too smooth for one). What lies
    just beside the hole on each side of a row is the band's own texture: its detail (what a
    small blur removes) is mirrored into the hole from each side (reflected back and forth
    within ``BAND_REACH`` of the picture beside it), and the two are cross-faded by the
    distance from each side (renormalised, so the middle keeps the band's level instead of
    averaging two unrelated textures down). Each side's detail is clipped to twice its own
    typical level, and a side far louder than the other (a lamp's glare) gives way to it, so
    neither is carried into the gap. A row whose sides are both smooth (a sky, an
    out-of-focus room) brings nothing: the fill stays as the membrane and grain make it.
    Only rows met on both sides take part: the texture continues a band across the gap."""
    w, h = img.size
    bh, bw = hole.shape
    rows = np.nonzero(hole.any(1))[0]
    if len(rows) == 0:
        return None
    lit = hole[rows]
    start = lit.argmax(1)
    end = bw - lit[:, ::-1].argmax(1)
    reach = max(4, round(max(w, h) * BAND_REACH))
    ok = (box[0] + start >= reach) & (box[0] + end + reach <= w)
    rows, start, end = rows[ok], start[ok], end[ok]
    if len(rows) == 0:
        return None
    # The picture as filled so far, in grey, over the rows taken part and a reach either side.
    m = 3 * round(BAND_BLUR) + STRUT_ROWS
    rx0, rx1 = box[0] + int(start.min()) - reach - m, box[0] + int(end.max()) + reach + m
    ry0, ry1 = box[1] + int(rows[0]) - m, box[1] + int(rows[-1]) + 1 + m
    rx0, ry0, rx1, ry1 = max(0, rx0), max(0, ry0), min(w, rx1), min(h, ry1)
    grey = np.asarray(img.crop((rx0, ry0, rx1, ry1)).convert("L"), np.float32)
    inner = luma(filled)
    bx0, by0 = box[0] - rx0, box[1] - ry0
    cy0, cy1 = max(0, by0), min(grey.shape[0], by0 + bh)
    cx0, cx1 = max(0, bx0), min(grey.shape[1], bx0 + bw)
    grey[cy0:cy1, cx0:cx1] = inner[cy0 - by0 : cy1 - by0, cx0 - bx0 : cx1 - bx0]
    picture = Image.fromarray(np.clip(grey + 0.5, 0, 255).astype(np.uint8))
    detail = grey - np.asarray(picture.filter(ImageFilter.GaussianBlur(BAND_BLUR)), np.float32)
    # Less what runs straight up and down through several rows (a strut, a pole, a wall's
    # corner): it is an object standing beside the hole, not the band's texture, and mirrored
    # it would stand in the gap a second time. A band's lumps and grain vary from row to row.
    r = STRUT_ROWS
    sums = np.cumsum(np.pad(detail, ((r + 1, r), (0, 0)), mode="edge"), axis=0)
    detail -= (sums[2 * r + 1 :] - sums[: -2 * r - 1]) / np.float32(2 * r + 1)
    gy = (rows + by0)[:, None]
    steps = np.arange(reach)[None, :]
    left = detail[gy, (start + bx0 - 1)[:, None] - steps]  # going away from the hole
    right = detail[gy, (end + bx0)[:, None] + steps]
    ll, lr = _strip_levels(left), _strip_levels(right)
    take = np.maximum(ll, lr) > BAND_TEXTURE
    if not take.any():
        return None
    rows, start, end = rows[take], start[take], end[take]
    left, right, ll, lr = left[take], right[take], ll[take], lr[take]
    np.clip(left, -2 * ll[:, None], 2 * ll[:, None], out=left)
    np.clip(right, -2 * lr[:, None], 2 * lr[:, None], out=right)
    # A side louder than twice the other gives way (a steep cut, as for the membrane's ends).
    tl = (1 / (1 + (ll / (2 * lr + 1e-3)) ** 4))[:, None]
    tr = (1 / (1 + (lr / (2 * ll + 1e-3)) ** 4))[:, None]
    x0, x1 = int(start.min()), int(end.max())
    x = np.arange(x0, x1)[None, :]
    k_l, k_r = x - start[:, None], end[:, None] - 1 - x
    n = np.arange(len(rows))[:, None]

    def mirrored(strip: np.ndarray, k: np.ndarray) -> np.ndarray:
        """The strip read back and forth: the pixel ``k`` into the hole takes the one ``k``
        out of it, and past the reach turns back."""
        k = np.clip(k, 0, None) % (2 * reach)
        picked: np.ndarray = strip[n, np.minimum(k, 2 * reach - 1 - k)]
        return picked

    # Cross-faded by the distance from each side; the share of a side that gives way goes to
    # the other (else, renormalised, it would still rule the pixels next to it).
    t = (k_l + 1) / (end - start + 1)[:, None].astype(np.float32)
    wl = tl * (1 - t * tr)
    wr = tr * (1 - (1 - t) * tl)
    level = (wl * ll[:, None] + wr * lr[:, None]) / np.maximum(wl + wr, 1e-6)
    gain = np.clip(level / BAND_TEXTURE - 1, 0, 1)
    mixed = wl * mirrored(left, k_l) + wr * mirrored(right, k_r)
    mixed *= gain / np.maximum(np.sqrt(wl * wl + wr * wr), 1e-6)
    out = np.zeros((bh, bw), np.float32)
    out[rows, x0:x1] = np.where(hole[rows, x0:x1], mixed, 0)
    return out


def _reach(dxs: np.ndarray, dys: np.ndarray, c: int) -> int:
    return max(abs(int(dxs[c])), abs(int(dys[c])))


def work_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size of the working copy the hole is found and smoothly filled on."""
    return fit_side(size, WORK_SIDE, 4)


def _halo_cells(work: tuple[int, int]) -> int:
    """How far (working-copy pixels) ``fill`` grows the hole."""
    return max(1, round(max(work) / 60))


def halo(size: tuple[int, int]) -> float:
    """How far ``fill`` grows the hole round the region it is given, in pixels of an image
    of ``size``: a region that must not reach something (the platform a removed object
    stood on) stops this far short of it."""
    return _halo_cells(work_size(size)) * max(size) / max(work_size(size))


def fill(img: Image.Image, region: Region) -> Image.Image:
    """``img`` with ``region`` replaced by surrounding content (see the module docstring).
    ``region`` may be smaller than ``img`` (it stands for the whole frame): it is read at
    ``work_size`` only.

    Full-resolution work is confined to the hole's bounding box, so a small hole in a big photo
    costs little more than the low-resolution analysis.
    """
    w, h = img.size
    sw, sh = work_size(img.size)
    # Grow the hole a little: objects carry a halo of edge and shadow pixels.
    hole = square_extreme(
        np.asarray(region.resize((sw, sh), Image.Resampling.BOX)) > 8,
        _halo_cells((sw, sh)),
        np.maximum,
    )
    if not hole.any():
        return img
    hole_img = Image.fromarray((hole * 255).astype(np.uint8))
    rgb = rgb_view(img)
    soft = hole_img.filter(ImageFilter.MaxFilter(3)).filter(ImageFilter.GaussianBlur(1))
    bx0, by0, bx1, by1 = soft.getbbox() or (0, 0, sw, sh)
    box = (bx0 * w // sw, by0 * h // sh, min(w, -(-bx1 * w // sw)), min(h, -(-by1 * h // sh)))
    small_box = (box[0] * sw / w, box[1] * sh / h, box[2] * sw / w, box[3] * sh / h)
    size = (box[2] - box[0], box[3] - box[1])

    def up(low: Image.Image, resample: Image.Resampling = Image.Resampling.BILINEAR) -> Image.Image:
        """The bounding box's part of a low-resolution map, at full resolution."""
        return low.resize(size, resample, box=small_box)

    def add_up(piece: np.ndarray, low: np.ndarray, sub: tuple[int, int, int, int]) -> None:
        """Add to ``piece`` the ``sub`` part (x0, y0, x1, y1 in the bounding box) of a
        low-resolution float map brought up like ``up``, in place."""
        sx, sy = (small_box[2] - small_box[0]) / size[0], (small_box[3] - small_box[1]) / size[1]
        src = (small_box[0] + sub[0] * sx, small_box[1] + sub[1] * sy,
               small_box[0] + sub[2] * sx, small_box[1] + sub[3] * sy)  # fmt: skip
        out = (sub[2] - sub[0], sub[3] - sub[1])
        # One 8-bit RGB resize instead of three float ones: the map halved and offset by 128
        # (a correction of up to 255 levels either way fits, to within a level after the
        # doubling back; the smooth map's values between its pixels come from Pillow).
        half = Image.fromarray(_to_uint8(low * np.float32(0.5) + np.float32(128)))
        up_half = np.asarray(half.resize(out, Image.Resampling.BILINEAR, box=src))
        piece += up_half  # twice the half, less twice the offset; no float copy of it
        piece += up_half
        piece -= np.float32(256)

    search = hole_img.resize(fit_side(hole_img.size, SEARCH_SIDE, 4), Image.Resampling.BOX)
    cells = np.asarray(search) > 0
    small_img = rgb.resize((sw, sh), Image.Resampling.BOX)
    small = np.asarray(small_img, np.float32)
    # Start from a smooth fill, so cells no shift could serve are still hidden.
    # The membrane starts from a median-filtered copy: a street lamp or a star on the hole's
    # edge is not smeared across it as a glow; its lines start from the median of what lies
    # up to a quarter of the picture beside the hole (a lamp's glare or a girder touching
    # one side is a minority there).
    calm = _ring_median(small, hole)
    behind = membrane(calm, (~hole).astype(np.float32), reach=max(sw, sh) // 4)
    smooth = np.clip(behind + 0.5, 0, 255).astype(np.uint8)
    crop = rgb.crop(box)
    filled = np.asarray(
        Image.composite(up(Image.fromarray(smooth)), crop, up(hole_img, Image.Resampling.NEAREST)),
        np.float32,
    )
    # From the working copy: another pass over the full image would cost more than the search.
    cells_rgb = np.asarray(small_img.resize(cells.shape[::-1], Image.Resampling.BOX), np.float32)
    cx, cy = cells.shape[1] / sw, cells.shape[0] / sh
    cells_box = (small_box[0] * cx, small_box[1] * cy, small_box[2] * cx, small_box[3] * cy)
    # How sharp the edge nearest each place of the hole is: a copy serves only where it is
    # sharp (fur beside fur); beside an out-of-focus room or a sky the smooth fill continues
    # it, with grain, and a copy would only bring a patch of something else.
    near = (
        np.asarray(up(Image.fromarray(((grow(hole, 6) & ~grow(hole, 1)) * 255).astype(np.uint8))))
        > 127
    )
    levels = detail_level(crop.convert("L"), near, COPY_REACH * max(w, h))
    sharp = np.ones((size[1], size[0], 1), np.float32)
    if levels is not None:
        sharp = resize_weights(np.clip(np.sqrt(levels[1]) / (SHARP_DETAIL / 2) - 1, 0.0, 1.0), size)
        sharp = sharp[..., None]
    # Each part is colour-matched to everything known around it so far: the hole's edge and
    # the parts filled before it, so neither the outline nor the seams between parts show.
    picture, done = small.copy(), ~hole
    scratch = np.empty_like(filled)
    copied = False
    for covered, dx, dy in source_offsets(
        cells, cells_rgb, serve=_served(cells, levels, box, w, h)
    ):
        copied = True
        fx, fy = round(dx * w / cells.shape[1]), round(dy * h / cells.shape[0])
        cells_img = Image.fromarray((covered * 255).astype(np.uint8))
        # The shifted picture at the working size: the working copy rolled by the shift (a
        # whole number of working pixels, within a third of one of the true shift; the
        # correction it gives is smooth). It wraps round at the frame like the full-size
        # offset it replaces: a copied cell's source lies inside the frame (the search sees
        # to that), only ring pixels beside the frame may read the wrapped side.
        shifted_small = np.roll(small, (-round(fy * sh / h), -round(fx * sw / w)), axis=(0, 1))
        correction = membrane(picture - shifted_small, done.astype(np.float32))
        now = (np.asarray(cells_img.resize((sw, sh), Image.Resampling.NEAREST)) > 0) & ~done
        picture[now] = (shifted_small + correction)[now]
        done |= now
        # The search kept the pixels used (where ``part`` > 0) inside the frame.
        # Feathered over about two cells, so the seams between parts do not show as rectangles.
        feathered = cells_img.filter(ImageFilter.GaussianBlur(2.0))
        part = np.asarray(
            feathered.resize(size, Image.Resampling.BILINEAR, box=cells_box), np.float32
        )[..., None]
        part *= np.float32(1 / 255)
        # The feathered edge must not reach pixels whose source lies outside the frame (a crop
        # pads them with black).
        source_box = (box[0] + fx, box[1] + fy, box[2] + fx, box[3] + fy)
        if min(source_box[:2]) < 0 or source_box[2] > w or source_box[3] > h:
            cell = max(1.0, w / cells.shape[1])
            fade = _frame_fade(source_box, (w, h), 1.5 * cell)
            fade *= 2
            fade -= 1
            part *= np.clip(fade, 0.0, 1.0, out=fade)[..., None]  # 0 at the frame
        part *= sharp
        # The copy and its blend, only where this part reaches (elsewhere ``part`` is 0).
        rows, cols = np.nonzero(part.any((1, 2)))[0], np.nonzero(part.any((0, 2)))[0]
        if len(rows) == 0:
            continue
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        shifted = rgb.crop((source_box[0] + x0, source_box[1] + y0, source_box[0] + x1,
                            source_box[1] + y1))  # fmt: skip
        # filled + (piece - filled) * p, in a scratch buffer made once: the passes' full-size
        # arrays would each cost about as much in fresh memory as their arithmetic.
        piece = scratch[: y1 - y0, : x1 - x0]
        np.subtract(np.asarray(shifted), filled[y0:y1, x0:x1], out=piece)
        add_up(piece, correction, (x0, y0, x1, y1))
        piece *= part[y0:y1, x0:x1]
        filled[y0:y1, x0:x1] += piece
    if not copied:
        # No copy serves the hole (its surroundings are too smooth for one, see
        # ``source_offsets``): a band crossing it brings its own texture along the rows.
        band = _band_texture(
            rgb, filled, box, np.asarray(up(hole_img, Image.Resampling.NEAREST)) > 127
        )
        if band is not None:
            filled += band[..., None]
    if levels is not None:
        seed = int(w * 7919 + h * 104729 + box[0] * 31 + box[1]) % (2**32)
        filled = match_detail(filled, *levels, seed)
    filled = _to_uint8(filled)
    out = rgb.copy()
    out.paste(Image.composite(Image.fromarray(filled), crop, up(soft)), box[:2])
    return out
