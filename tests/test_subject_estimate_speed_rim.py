"""The subject estimate's faster building blocks give the answers of the plain ones they
replaced, bit for bit: the minimax competition (log-step sweeps), the flood (whole runs at a
time), the box blur (row-at-a-time running sums) and the channel sums."""

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
