"""The subject estimate's faster building blocks give the answers of the plain ones they
replaced, bit for bit: the minimax competition (log-step sweeps), the flood (whole runs at a
time), the box blur (row-at-a-time running sums) and the channel sums. And the cut-out's
outline where a subject meets its cast shadow is a smooth curve (the coffee saucer's rim)."""

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
