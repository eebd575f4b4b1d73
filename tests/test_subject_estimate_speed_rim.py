"""The subject estimate's faster building blocks give the answers of the plain ones they
replaced, bit for bit: the minimax competition (log-step sweeps), the flood (whole runs at a
time), the box blur (row-at-a-time running sums) and the channel sums. And the coffee
saucer's cut-out follows its rim: a smooth curve where it meets its cast shadow, its far rim
kept between the cup and the spoon, its upper-left rim not eaten."""

from __future__ import annotations

import numpy as np
import pytest

from venice_nb._vision import _pixels
from venice_nb._vision._subject import _minimax


def _minimax_reference(seed: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """One-pixel relaxation until stable: the definition, slowly."""
    reach: np.ndarray = np.where(seed, np.float32(0), np.float32(np.inf))
    while True:
        near = reach.copy()
        np.minimum(near[1:], reach[:-1], out=near[1:])
        np.minimum(near[:-1], reach[1:], out=near[:-1])
        np.minimum(near[:, 1:], reach[:, :-1], out=near[:, 1:])
        np.minimum(near[:, :-1], reach[:, 1:], out=near[:, :-1])
        nxt = np.minimum(reach, np.maximum(near, cost))
        if np.array_equal(nxt, reach):
            return reach
        reach = nxt


def _flood_reference(seed: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    reached: np.ndarray = seed & allowed
    while True:
        grown = _pixels.grow(reached, 1) & allowed
        if np.array_equal(grown, reached):
            return reached
        reached = grown


def _maze(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """High walls with one gap each, alternating sides: paths that wind the whole way."""
    cost = rng.random((h, w)).astype(np.float32)
    for i, y in enumerate(range(3, h - 1, 4)):
        cost[y] = 50.0 + rng.random(w).astype(np.float32)
        cost[y, 1 if i % 2 else w - 2] = 0.5
    return cost


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (17, 23), (85, 128), (128, 40)])
@pytest.mark.parametrize("kind", ["random", "maze", "ties"])
def test_minimax_is_the_one_pixel_relaxation(shape: tuple[int, int], kind: str) -> None:
    h, w = shape
    rng = np.random.default_rng([h, w, ["random", "maze", "ties"].index(kind)])
    if kind == "maze" and min(h, w) > 8:
        cost = _maze(h, w, rng)
    elif kind == "ties":
        cost = rng.integers(0, 4, shape).astype(np.float32)  # many equal costs
    else:
        cost = (rng.random(shape) * 100).astype(np.float32)
    first = np.zeros(shape, bool)
    first[0, 0] = True
    second = rng.random(shape) < 0.02
    got = _minimax((first, second), cost)
    for seed, reach in zip((first, second), got, strict=True):
        assert np.array_equal(reach, _minimax_reference(seed, cost))


@pytest.mark.parametrize("density", [0.3, 0.55, 0.7, 1.0])
def test_flood_is_the_dilation_until_stable(density: float) -> None:
    rng = np.random.default_rng(int(density * 100))
    for shape in [(1, 7), (7, 1), (40, 60), (85, 128)]:
        allowed = rng.random(shape) < density
        seed = rng.random(shape) < 0.01
        seed.flat[0] = True
        got = _pixels.flood(seed, allowed)
        assert np.array_equal(got, _flood_reference(seed, allowed))
        assert got is not seed and not np.shares_memory(got, allowed)
    # the parts of a mask are its components, in raster order of their first pixel
    mask = rng.random((30, 40)) < 0.5
    found = list(_pixels.parts(mask))
    assert np.array_equal(np.logical_or.reduce(found), mask)
    firsts = [int(np.argmax(p)) for p in found]
    assert firsts == sorted(firsts)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint8, bool])
def test_fast_sums_are_numpys_sums(dtype: type) -> None:
    rng = np.random.default_rng(7)
    for shape in [(50, 300), (40, 200, 3), (30, 20), (10, 129), (3, 200, 2)]:
        a: np.ndarray = (rng.random(shape) * 1000).astype(dtype)
        assert np.array_equal(_pixels.cumsum_rows(a), np.cumsum(a, axis=0, dtype=np.float32))
    rgb = (rng.random((60, 70, 3)) * 255).astype(np.float32)
    assert np.array_equal(_pixels.channel_sum(rgb * rgb), (rgb * rgb).sum(-1))
    ints = rng.integers(-300, 300, (20, 30, 3)).astype(np.int32) ** 2
    assert np.array_equal(_pixels.channel_sum(ints), ints.sum(-1, dtype=np.int32))


def test_box_blur_matches_padded_running_sums() -> None:
    rng = np.random.default_rng(3)
    for shape, r in [((171, 256, 3), 6), ((85, 128), 1), ((9, 300), 2), ((5, 4), 3)]:
        a = (rng.random(shape) * 255).astype(np.float32)
        want = a
        n = 2 * r + 1
        for axis in (0, 1):
            pad = [(0, 0)] * a.ndim
            pad[axis] = (r + 1, r)
            c = np.cumsum(np.pad(want, pad, mode="edge"), axis=axis, dtype=np.float32)
            lo = [slice(None)] * a.ndim
            hi = [slice(None)] * a.ndim
            lo[axis], hi[axis] = slice(n, None), slice(None, -n)
            want = (c[tuple(lo)] - c[tuple(hi)]) * np.float32(1 / n)
        assert np.array_equal(_pixels.box(a, r), want)


def _lower_right_rim(alpha: np.ndarray) -> np.ndarray:
    """The coffee saucer's outline along its lower-right arc, where it sits on its own cast
    shadow: per ray from the saucer's middle (0.47, 0.6 of the size) every half degree from
    5 degrees (its right side) to 80 (its bottom), the sub-pixel distance at which alpha
    last crosses one half."""
    h, w = alpha.shape
    cx, cy = 0.47 * w, 0.6 * h
    steps = np.arange(0.0, 0.5 * w, 0.25)
    out = []
    for angle in np.deg2rad(np.arange(5.0, 80.0, 0.5)):
        xs, ys = cx + steps * np.cos(angle), cy + steps * np.sin(angle)
        on = (xs <= w - 1) & (ys <= h - 1)
        xs, ys = xs[on], ys[on]
        x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
        fx, fy = xs - x0, ys - y0
        v = (alpha[y0, x0] * (1 - fx) + alpha[y0, x1] * fx) * (1 - fy) + (
            alpha[y1, x0] * (1 - fx) + alpha[y1, x1] * fx
        ) * fy
        i = int(np.nonzero(v >= 0.5)[0][-1])
        after = v[i + 1] if i + 1 < len(v) else v[i]
        out.append(steps[i] + 0.25 * (v[i] - 0.5) / max(v[i] - after, 1e-6))
    return np.array(out)


def test_the_saucers_rim_on_its_shadow_is_a_smooth_curve() -> None:
    """Issue 24: where the saucer meets its cast shadow, the cut-out's edge was the shadow
    test's pixel boundary at the refinement's scale, a staircase of teeth (with a speck of
    wood beside it) along a rim that is a smooth ellipse. Against a smooth curve through it
    (a quartic in the angle), the outline wandered 0.95 px on average and up to 10 (the
    speck), and its second difference (the teeth) was 0.58 px per step; the smoothed cut
    leaves 0.43, 1.4 and 0.14."""
    from venice_nb._backend._matte import remove_background

    from ._pictures import load

    alpha = np.asarray(remove_background(load("coffee")).getchannel("A")) / 255
    radius = _lower_right_rim(alpha)
    angles = np.arange(5.0, 80.0, 0.5)
    off = radius - np.polyval(np.polyfit(angles, radius, 4), angles)
    assert np.abs(off).mean() < 0.65
    assert np.abs(off).max() < 3.0  # no speck or notch
    assert np.abs(np.diff(off, 2)).mean() < 0.3  # no teeth


def _coffee_cut_out() -> tuple[np.ndarray, np.ndarray]:
    """The coffee sample (int RGB) and its cut-out's alpha in [0, 1]."""
    from venice_nb._backend._matte import remove_background

    from ._pictures import load

    photo = load("coffee")
    alpha = np.asarray(remove_background(photo).getchannel("A")) / 255
    return np.asarray(photo.convert("RGB")).astype(int), alpha


def _along(a: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``a`` at the points (``xs``, ``ys``), bilinear."""
    x0 = np.clip(np.floor(xs).astype(int), 0, a.shape[1] - 2)
    y0 = np.clip(np.floor(ys).astype(int), 0, a.shape[0] - 2)
    fx, fy = xs - x0, ys - y0
    top = a[y0, x0] * (1 - fx) + a[y0, x0 + 1] * fx
    out: np.ndarray = top * (1 - fy) + (a[y0 + 1, x0] * (1 - fx) + a[y0 + 1, x0 + 1] * fx) * fy
    return out


def test_the_saucers_far_rim_between_cup_and_spoon_is_kept() -> None:
    """Issue 24: behind the cup, between it and the spoon's handle, a thin strip of the red
    saucer shows (the photo's x 400-430, y 110-130 of 600 x 400). The segmentation lost it (all
    of it is outline: the background reaches it as cheaply as the subject), so the cut-out's
    round outline had a notch there: 17 % of its red glaze pixels half opaque or more, alpha
    0.22 on average. Filling subject-coloured notches keeps 75 %, alpha 0.71 (the rest is
    the strip's tip, a few pixels wide, where it vanishes behind the cup)."""
    px, alpha = _coffee_cut_out()
    glaze = (px[..., 1] < 60) & (px[..., 0] > 120)  # the saucer's red, not the orange wood
    strip = np.zeros_like(glaze)
    strip[110:130, 400:430] = True
    strip &= glaze
    assert strip.sum() > 100
    assert (alpha[strip] >= 0.5).mean() > 0.55
    assert alpha[strip].mean() > 0.5


def test_the_saucers_upper_left_rim_is_not_eaten() -> None:
    """Issue 24: on the saucer's upper-left arc (rows about 110-205) the red rim meets orange
    wood; the colour models could not tell them apart well enough to be trusted there, so
    the half-opaque line stayed where the coarse outline put it, 4-6 px inside the rim: a
    faint halo, the saucer looked eaten. Per ray from the saucer's middle every degree from
    190 to 220 degrees, the rim's true edge is where the redness (R - G) drops fastest within
    10 px of the half-alpha line; that line was 4.3 px inside it on average (6.0 at most),
    and is 0.6 (2.0) now that the outline moves to where the colours change."""
    px, alpha = _coffee_cut_out()
    from PIL import Image, ImageFilter

    soft = Image.fromarray(px.astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))
    rgb = np.asarray(soft, np.float32)
    redness = rgb[..., 0] - rgb[..., 1]
    h, w = alpha.shape
    steps = np.arange(150.0, 240.0, 0.25)
    gaps = []
    for angle in np.deg2rad(np.arange(190.0, 221.0, 1.0)):
        xs, ys = 0.47 * w + steps * np.cos(angle), 0.6 * h + steps * np.sin(angle)
        v = _along(alpha, xs, ys)
        i = int(np.nonzero(v >= 0.5)[0][-1])
        half = steps[i] + 0.25 * (v[i] - 0.5) / max(v[i] - v[i + 1], 1e-6)
        drop = -np.gradient(_along(redness, xs, ys))
        edge = steps[np.argmax(np.where(np.abs(steps - half) <= 10, drop, -np.inf))]
        gaps.append(edge - half)
    assert np.mean(gaps) < 1.5
    assert np.max(gaps) < 3.0
