"""venice_nb.masks: properties checked against independent brute-force references."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from venice_nb import masks

FAST = settings(max_examples=60, deadline=None)

dims = st.integers(1, 24)
shapes = st.tuples(dims, dims)
binary_masks = shapes.flatmap(lambda s: arrays(np.bool_, s)).map(
    lambda a: a.view(np.uint8) * np.uint8(255)
)
soft_masks = shapes.flatmap(lambda s: arrays(np.uint8, s))
coords = st.floats(-40, 60, allow_nan=False)


same_shape_pairs = shapes.flatmap(lambda s: st.tuples(arrays(np.uint8, s), arrays(np.uint8, s)))


def centres(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) of an h x w grid."""
    ys, xs = np.mgrid[0:h, 0:w]
    return xs + 0.5, ys + 0.5


def window_extreme(
    mask: np.ndarray, px: int, fn: Callable[..., np.ndarray], pad_mode: str
) -> np.ndarray:
    """min/max over each pixel's (2px+1)^2 square, by brute force over shifted copies."""
    padded = np.pad(mask, px, mode=pad_mode)  # type: ignore[call-overload]
    h, w = mask.shape
    out = padded[px:px + h, px:px + w].copy()
    for dy in range(-px, px + 1):
        for dx in range(-px, px + 1):
            out = fn(out, padded[px + dy:px + dy + h, px + dx:px + dx + w])
    return np.asarray(out)


def distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance from each pixel to the nearest selected one (inf when none)."""
    h, w = mask.shape
    sel = np.argwhere(mask > 0)
    if not len(sel):
        return np.full((h, w), np.inf)
    ys, xs = np.mgrid[0:h, 0:w]
    d = np.hypot(ys[..., None] - sel[:, 0], xs[..., None] - sel[:, 1])
    nearest: np.ndarray = d.min(axis=-1)
    return nearest


# ---------------------------------------------------------------------------- conventions


@FAST
@given(soft_masks)
def test_invert_twice_is_identity(m: np.ndarray) -> None:
    once = masks.invert(m)
    assert once.dtype == np.uint8
    assert (once.astype(int) + m == 255).all()
    assert (masks.invert(once) == m).all()


@FAST
@given(same_shape_pairs)
def test_union_and_intersect_are_commutative_and_bounded(pair: tuple[np.ndarray, ...]) -> None:
    a, b = pair
    u, i = masks.union(a, b), masks.intersect(a, b)
    assert (u == masks.union(b, a)).all() and (i == masks.intersect(b, a)).all()
    assert (u >= a).all() and (u >= b).all() and (i <= a).all() and (i <= b).all()
    assert (u == np.maximum(a, b)).all() and (i == np.minimum(a, b)).all()
    s = masks.subtract(a, b)
    assert (s <= a).all()
    assert (s[b == 255] == 0).all() and (s[b == 0] == a[b == 0]).all()


def test_every_mask_dtype_gives_the_same_uint8_mask() -> None:
    as_bool = np.array([[True, False], [False, True]])
    expected = np.array([[255, 0], [0, 255]], np.uint8)
    for form in (as_bool, as_bool * np.uint8(255), as_bool.astype(np.float32),
                 as_bool.astype(np.float64), Image.fromarray(expected), Image.fromarray(as_bool),
                 as_bool[:, :, None]):
        got = masks.as_mask(form)
        assert got.dtype == np.uint8 and (got == expected).all(), type(form)
    assert masks.as_mask(np.array([[0.5]])).tolist() == [[128]]
    gray_rgb = Image.fromarray(np.stack([expected] * 3, axis=-1))
    assert (masks.as_mask(gray_rgb) == expected).all()


def test_functions_return_new_arrays_not_their_input() -> None:
    m = masks.rect((4, 4), (1, 1, 3, 3))
    for result in (masks.union(m), masks.grow(m, 0), masks.shrink(m, 0), masks.feather(m, 0),
                   masks.resize_to(m, (4, 4)), masks.subtract(m)):
        assert result is not m and not np.shares_memory(result, m)
        assert (result == m).all()


# ---------------------------------------------------------------------------- shapes


@FAST
@given(shapes, st.tuples(coords, coords, coords, coords))
def test_rect_selects_pixel_centres_inside_the_box(
    size: tuple[int, int], box: tuple[int, int, int, int]
) -> None:
    h, w = size
    m = masks.rect(size, box)
    x0, x1 = sorted(box[0::2])
    y0, y1 = sorted(box[1::2])
    cx, cy = centres(h, w)
    expected = (cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)
    assert m.shape == size and m.dtype == np.uint8
    assert set(np.unique(m)) <= {0, 255}
    assert ((m > 0) == expected).all()


def test_integer_rect_is_the_numpy_slice() -> None:
    m = masks.rect((10, 12), (2, 3, 5, 7))
    expected = np.zeros((10, 12), np.uint8)
    expected[3:7, 2:5] = 255
    assert (m == expected).all()
    assert masks.bbox(m) == (2, 3, 5, 7) and masks.area(m) == 12


@FAST
@given(shapes, st.tuples(coords, coords, coords, coords))
def test_ellipse_selects_pixel_centres_inside_the_ellipse(
    size: tuple[int, int], box: tuple[int, int, int, int]
) -> None:
    h, w = size
    m = masks.ellipse(size, box)
    x0, x1 = sorted(box[0::2])
    y0, y1 = sorted(box[1::2])
    a, b = (x1 - x0) / 2, (y1 - y0) / 2
    cx, cy = centres(h, w)
    if a <= 0 or b <= 0:
        assert not m.any()
        return
    with np.errstate(over="ignore"):  # hair-thin boxes: q overflows to inf, i.e. outside
        q = ((cx - (x0 + x1) / 2) / a) ** 2 + ((cy - (y0 + y1) / 2) / b) ** 2
    sure_in, sure_out = q < 1 - 1e-9, q > 1 + 1e-9  # ignore centres exactly on the edge
    assert (m[sure_in] == 255).all() and (m[sure_out] == 0).all()


def even_odd_reference(points: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Ray casting from every pixel centre against every edge (independent of the scanline).

    Also returns the centres lying on an edge (up to rounding), where either answer is right.
    """
    cx, cy = centres(h, w)
    inside = np.zeros((h, w), bool)
    on_edge = np.zeros((h, w), bool)
    n = len(points)
    for i in range(n):
        (xa, ya), (xb, yb) = points[i], points[(i + 1) % n]
        if ya == yb:
            continue
        crosses = (np.minimum(ya, yb) <= cy) & (cy < np.maximum(ya, yb))
        x_at = xa + (cy - ya) * (xb - xa) / (yb - ya)
        inside ^= crosses & (x_at < cx)
        on_edge |= crosses & (np.abs(x_at - cx) < 1e-9)
    return inside, on_edge


@FAST
@given(shapes, st.lists(st.tuples(st.integers(-10, 34), st.integers(-10, 34)), max_size=8))
def test_polygon_matches_even_odd_ray_casting(
    size: tuple[int, int], points: list[tuple[int, int]]
) -> None:
    h, w = size
    m = masks.polygon(size, points)
    if len(points) < 3:
        assert not m.any()
        return
    expected, on_edge = even_odd_reference(np.array(points, float), h, w)
    assert ((m > 0) == expected)[~on_edge].all()


def capsule_reference(points: np.ndarray, radius: float, h: int, w: int) -> np.ndarray:
    cx, cy = centres(h, w)
    best = np.full((h, w), np.inf)
    pairs = itertools.pairwise(points) if len(points) > 1 else [(points[0],) * 2]
    for (ax, ay), (bx, by) in pairs:
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = np.clip(((cx - ax) * dx + (cy - ay) * dy) / length2, 0, 1) if length2 else 0.0
        best = np.minimum(best, np.hypot(cx - ax - t * dx, cy - ay - t * dy))
    return best


@FAST
@given(shapes, st.lists(st.tuples(coords, coords), min_size=1, max_size=6),
       st.floats(0.1, 12))
def test_brush_selects_pixels_closer_than_radius_to_the_stroke(
    size: tuple[int, int], points: list[tuple[int, int]], radius: float
) -> None:
    h, w = size
    m = masks.brush(size, points, radius)
    dist = capsule_reference(np.array(points), radius, h, w)
    assert (m[dist < radius - 1e-4] == 255).all()
    assert (m[dist > radius + 1e-4] == 0).all()


@FAST
@given(soft_masks, st.lists(st.tuples(coords, coords), min_size=1, max_size=4),
       st.floats(0.5, 8), st.integers(0, 255))
def test_brush_into_out_touches_only_the_stroke(
    base: np.ndarray, points: list[tuple[int, int]], radius: float, value: int
) -> None:
    h, w = base.shape
    out = base.copy()
    result = masks.brush(None, points, radius, out=out, value=value)
    assert result is out
    painted = masks.brush(base.shape, points, radius) > 0
    assert (out[painted] == value).all()
    assert (out[~painted] == base[~painted]).all()
    box = masks.stroke_box(base.shape, points, radius)
    if painted.any():
        assert box is not None
        x0, y0, x1, y1 = box
        outside = np.ones((h, w), bool)
        outside[y0:y1, x0:x1] = False
        assert not painted[outside].any()


def test_shapes_draw_into_out_and_erase() -> None:
    m = np.full((8, 8), 255, np.uint8)
    masks.rect(m, (0, 0, 4, 8), value=0, out=m)
    masks.ellipse(None, (4, 0, 8, 4), value=0, out=m)
    masks.polygon(None, [(4, 4), (8, 4), (8, 8)], value=0, out=m)
    assert not m[:, :4].any() and m[7, 4] == 255 and m[5, 7] == 0


@pytest.mark.parametrize(
    ("build", "why"),
    [
        (lambda: masks.polygon((5, 5), []), "no points"),
        (lambda: masks.polygon((5, 5), [(1, 1), (4, 4)]), "two points"),
        (lambda: masks.polygon((5, 5), [(0, 0), (5, 5), (2, 2)]), "zero area"),
        (lambda: masks.brush((5, 5), [(2, 2), (3, 3)], 0), "zero radius"),
        (lambda: masks.brush((5, 5), [], 3), "no points"),
        (lambda: masks.brush((5, 5), [(-50, -50), (-20, -60)], 3), "outside"),
        (lambda: masks.rect((5, 5), (2, 2, 2, 4)), "zero width"),
        (lambda: masks.rect((5, 5), (10, 10, 20, 20)), "outside"),
        (lambda: masks.ellipse((5, 5), (-9, -9, -1, -1)), "outside"),
        (lambda: masks.ellipse((5, 5), (1, 1, 1, 4)), "flat"),
    ],
)
def test_degenerate_shapes_give_empty_masks(build: Callable[[], np.ndarray], why: str) -> None:
    m = build()
    assert m.shape == (5, 5) and m.dtype == np.uint8 and not m.any(), why
    assert masks.bbox(m) is None and masks.area(m) == 0


def test_shapes_crossing_the_edge_are_clipped() -> None:
    m = masks.brush((10, 10), [(-1e6, 5), (1e6, 5)], 1)  # a huge line: clipped, not slow
    assert (m[5] == 255).all() and (m[4] == 255).all() and not m[:3].any()
    assert masks.rect((4, 4), (-5, -5, 2, 2))[:2, :2].all()


def test_one_pixel_masks_work_everywhere() -> None:
    one = masks.rect((1, 1), (0, 0, 1, 1))
    assert one.tolist() == [[255]]
    assert masks.ellipse((1, 1), (0, 0, 1, 1)).tolist() == [[255]]
    assert masks.brush((1, 1), [(0.5, 0.5)], 0.5).tolist() == [[255]]
    assert masks.grow(one, 5).tolist() == [[255]] and masks.shrink(one, 5).tolist() == [[255]]
    assert masks.feather(one, 3).tolist() == [[255]]
    assert masks.bbox(one) == (0, 0, 1, 1)
    assert masks.from_color(np.zeros((1, 1, 3), np.uint8), seed=(0, 0)).tolist() == [[255]]
    crop, box = masks.crop_to_mask(np.zeros((1, 1, 3), np.uint8), one)
    assert box == (0, 0, 1, 1) and crop.shape == (1, 1, 3)


# ---------------------------------------------------------------------------- brush vs dense


def _dense_clip(a: np.ndarray, b: np.ndarray, lo: tuple[float, float],
                hi: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Liang-Barsky clipping, as the original dense brush did it."""
    d = b - a
    t0, t1 = np.zeros(len(a)), np.ones(len(a))
    keep = np.ones(len(a), bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for axis in (0, 1):
            for p, q in ((-d[:, axis], a[:, axis] - lo[axis]), (d[:, axis], hi[axis] - a[:, axis])):
                keep &= ~((p == 0) & (q < 0))
                r = q / p
                t0 = np.where(p < 0, np.maximum(t0, r), t0)
                t1 = np.where(p > 0, np.minimum(t1, r), t1)
    keep &= t0 <= t1
    return (a + t0[:, None] * d)[keep], (a + t1[:, None] * d)[keep]


def _dense_brush(
    size: tuple[int, int], points: Sequence[Sequence[float]], radius: float
) -> np.ndarray:
    """The original brush: every capsule piece's bounding box tested densely in float32."""
    h, w = size
    out = np.zeros(size, np.uint8)
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if radius == 0 or not len(pts):
        return out
    a = pts[:-1] if len(pts) > 1 else pts
    b = pts[1:] if len(pts) > 1 else pts
    a, b = _dense_clip(a, b, (-radius, -radius), (w + radius, h + radius))
    length = np.hypot(*(b - a).T)
    pieces = np.maximum(1, np.ceil(length / max(2 * radius, 32.0))).astype(int)
    for (ax0, ay0), (bx0, by0), n in zip(a, b, pieces, strict=True):
        for k in range(n):
            ax, ay = ax0 + k / n * (bx0 - ax0), ay0 + k / n * (by0 - ay0)
            bx, by = ax0 + (k + 1) / n * (bx0 - ax0), ay0 + (k + 1) / n * (by0 - ay0)
            x0 = max(0, math.floor(min(ax, bx) - radius))
            x1 = min(w, math.ceil(max(ax, bx) + radius) + 1)
            y0 = max(0, math.floor(min(ay, by) - radius))
            y1 = min(h, math.ceil(max(ay, by) + radius) + 1)
            if x1 <= x0 or y1 <= y0:
                continue
            dx, dy = np.float32(bx - ax), np.float32(by - ay)
            with np.errstate(under="ignore"):
                length2 = dx * dx + dy * dy
            xs = (np.arange(x0, x1, dtype=np.float32) + np.float32(0.5 - ax))[None, :]
            ys = (np.arange(y0, y1, dtype=np.float32) + np.float32(0.5 - ay))[:, None]
            if length2 > 0:
                t = np.clip((xs * dx + ys * dy) / length2, 0, 1)
                px, py = xs - t * dx, ys - t * dy
            else:
                px, py = xs, ys
            hit = px * px + py * py < np.float32(radius * radius)
            out[y0:y1, x0:x1][hit] = 255
    return out


def assert_same_but_boundary(
    got: np.ndarray, want: np.ndarray, points: Sequence[Sequence[float]], radius: float
) -> None:
    """Equal, except pixels whose centre is within 1e-3 px of the stroke's edge (float64)."""
    differ = got != want
    if differ.any():
        h, w = got.shape
        dist = capsule_reference(np.asarray(points, float).reshape(-1, 2), radius, h, w)
        worst = np.abs(dist[differ] - radius).max()
        assert worst < 1e-3, f"{differ.sum()} pixels differ, up to {worst} px from the edge"


# Any float, plus whole and half pixels, where centres land exactly on the edge.
stroke_coords = st.one_of(
    st.floats(-80, 280, allow_nan=False),
    st.integers(-80, 280).map(float),
    st.integers(-80, 280).map(lambda v: v + 0.5),
)
radii = st.one_of(st.floats(0, 60), st.integers(0, 60).map(float))


@FAST
@given(st.tuples(st.integers(1, 200), st.integers(1, 200)),
       st.lists(st.tuples(stroke_coords, stroke_coords), min_size=1, max_size=8), radii)
def test_brush_matches_the_dense_original(
    size: tuple[int, int], points: list[tuple[float, float]], radius: float
) -> None:
    assert_same_but_boundary(masks.brush(size, points, radius), _dense_brush(size, points, radius),
                             points, radius)


def test_brush_with_a_huge_radius_matches_the_dense_original() -> None:
    strokes = (
        [(130.3, 870.6)],  # one dab, cut by the edge
        [(-250.0, 300.5), (700.25, -120.0)],  # starts outside, grazes the top
        [(1200.0, 1100.0), (620.0, 1010.0), (480.7, 140.2), (100.0, 700.0)],  # a zigzag
    )
    for stroke in strokes:
        want = _dense_brush((1000, 1000), stroke, 400.0)
        got = masks.brush((1000, 1000), stroke, 400.0)
        assert want.any() and not want.all()
        assert_same_but_boundary(got, want, stroke, 400.0)


def test_brush_in_batches_paints_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long strokes are drawn a batch of segments at a time; batches must not show."""
    rng = np.random.default_rng(4)
    stroke = np.cumsum(rng.normal(0, 40, (60, 2)), axis=0) + 150
    whole = masks.brush((300, 300), stroke, 25.0)
    monkeypatch.setattr(masks, "_BLOCK_PIXELS", 64)
    assert whole.any() and (masks.brush((300, 300), stroke, 25.0) == whole).all()


def test_painter_segments_add_up_to_the_stroke() -> None:
    """The painter draws each mouse move as one segment, then the whole stroke at mouse-up."""
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (240, 320), dtype=np.uint8)
    stroke = np.cumsum(rng.normal(0, 12, (40, 2)), axis=0) + np.array([160, 120])
    stroke = np.clip(stroke, 0, (319, 239))
    for value in (255, 0, 77):
        live = base.copy()
        for p, q in itertools.pairwise(stroke):
            assert masks.brush(None, [p, q], 9.5, out=live, value=value) is live
        at_once = masks.brush(None, stroke, 9.5, out=base.copy(), value=value)
        painted = masks.brush(base.shape, stroke, 9.5)
        assert (live == at_once).all()
        assert (at_once == np.where(painted > 0, value, base)).all()
    assert_same_but_boundary(painted, _dense_brush(base.shape, stroke, 9.5), stroke, 9.5)


# ---------------------------------------------------------------------------- grow / shrink


@FAST
@given(binary_masks, st.integers(0, 9))
def test_grow_contains_and_shrink_is_contained(m: np.ndarray, px: int) -> None:
    g, s = masks.grow(m, px), masks.shrink(m, px)
    assert set(np.unique(g)) <= {0, 255} and set(np.unique(s)) <= {0, 255}
    assert (g >= m).all() and (s <= m).all()
    assert (masks.shrink(g, px) >= m).all()  # closing contains the original
    assert (masks.grow(s, px) <= m).all()  # opening is contained in it


@FAST
@given(binary_masks, st.integers(1, 9))
def test_grow_reaches_px_and_stays_within_the_square(m: np.ndarray, px: int) -> None:
    g = masks.grow(m, px) > 0
    dist = distance_to(m)
    assert g[dist <= px - 1].all()  # a near-disc of radius px (octagon, discretised)
    square = window_extreme(m, px, np.maximum, "constant") > 0
    assert not (g & ~square).any()


def test_grow_is_round_not_square() -> None:
    dot = masks.rect((101, 101), (50, 50, 51, 51))
    g = masks.grow(dot, 30) > 0
    assert g[50, 80] and g[80, 50] and g[71, 71]  # axes and diagonal reach ~30
    assert not g[80, 80]  # the square's corner (distance 42) is not reached
    assert abs(g.sum() / (np.pi * 30.5**2) - 1) < 0.1


def test_shrink_keeps_contact_with_the_image_border() -> None:
    m = masks.rect((20, 20), (0, 0, 10, 20))
    s = masks.shrink(m, 3)
    assert s[:, 0].all() and not s[:, 7:].any()


def test_grow_and_shrink_treat_soft_masks_as_selected_above_zero() -> None:
    soft = np.zeros((9, 9), np.uint8)
    soft[4, 4] = 1
    assert masks.grow(soft, 1)[3:6, 3:6].min() == 255
    assert masks.shrink(np.full((3, 3), 7, np.uint8), 1).min() == 255


# ---------------------------------------------------------------------------- feather


@FAST
@given(binary_masks, st.integers(0, 7))
def test_feather_keeps_interior_and_far_exterior(m: np.ndarray, px: int) -> None:
    f = masks.feather(m, px)
    assert f.dtype == np.uint8 and f.shape == m.shape
    interior = window_extreme(m, px, np.minimum, "edge") == 255
    exterior = window_extreme(m, px, np.maximum, "edge") == 0
    assert (f[interior] == 255).all()
    assert (f[exterior] == 0).all()
    # and the documented contract: the ramp lies between shrink(m, px) and grow(m, px)
    assert (f[masks.shrink(m, px) > 0] == 255).all()
    assert (f[masks.grow(m, px) == 0] == 0).all()


def test_feather_makes_a_monotonic_ramp() -> None:
    m = masks.rect((5, 60), (30, 0, 60, 5))
    row = masks.feather(m, 9)[2].astype(int)
    assert (np.diff(row) >= 0).all()
    assert row[20] == 0 and row[40] == 255 and 0 < row[30] < 255
    assert len(np.unique(row)) > 8  # soft, not a step


# ---------------------------------------------------------------------------- from images


def bfs_reference(match: np.ndarray, x: int, y: int, conn: int) -> np.ndarray:
    h, w = match.shape
    seen = np.zeros((h, w), bool)
    if not match[y, x]:
        return seen
    steps = [(1, 0), (-1, 0), (0, 1), (0, -1)]
    if conn == 8:
        steps += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    todo = [(y, x)]
    seen[y, x] = True
    while todo:
        cy, cx = todo.pop()
        for dx, dy in steps:
            ny, nx = cy + dy, cx + dx
            if 0 <= ny < h and 0 <= nx < w and match[ny, nx] and not seen[ny, nx]:
                seen[ny, nx] = True
                todo.append((ny, nx))
    return seen


few_levels = st.sampled_from([0, 9, 200, 255])  # few colours: big regions, ties, edges
small_rgb = shapes.flatmap(lambda s: arrays(np.uint8, (*s, 3), elements=few_levels))


@FAST
@given(small_rgb, st.integers(0, 60), st.data())
def test_from_color_matches_each_channel_within_tolerance(
    img: np.ndarray, tol: int, data: st.DataObject
) -> None:
    color = tuple(int(c) for c in data.draw(st.tuples(*[st.integers(0, 255)] * 3)))
    m = masks.from_color(img, color, tol)
    expected = (np.abs(img.astype(int) - np.array(color)) <= tol).all(axis=-1)
    assert ((m > 0) == expected).all()


@FAST
@given(small_rgb, st.integers(0, 30), st.sampled_from([4, 8]), st.data())
def test_bucket_fill_selects_the_connected_region(
    img: np.ndarray, tol: int, conn: Literal[4, 8], data: st.DataObject
) -> None:
    h, w = img.shape[:2]
    x, y = data.draw(st.integers(0, w - 1)), data.draw(st.integers(0, h - 1))
    m = masks.from_color(img, None, tol, seed=(x + 0.5, y + 0.5), connectivity=conn)
    match = (np.abs(img.astype(int) - img[y, x].astype(int)) <= tol).all(axis=-1)
    assert ((m > 0) == bfs_reference(match, x, y, conn)).all()


def test_bucket_fill_follows_a_long_winding_corridor() -> None:
    maze = np.zeros((41, 60), bool)
    maze[::4, :] = True  # horizontal corridors joined alternately at the ends
    for i, y in enumerate(range(0, 37, 4)):
        maze[y:y + 5, 59 if i % 2 == 0 else 0] = True
    img = np.where(maze[..., None], 200, 0).astype(np.uint8).repeat(3, axis=-1)
    img[40, 30:] = 0  # cut the last corridor halfway
    m = masks.from_color(img, seed=(0, 0))
    assert ((m > 0) == bfs_reference(maze & (img[..., 0] > 0), 0, 0, 4)).all()
    assert m[40, 29] == 255 and m[40, 31] == 0


def test_from_color_accepts_names_pil_and_gray() -> None:
    img = Image.new("RGB", (4, 3), "red")
    assert masks.from_color(img, "red").all()
    assert not masks.from_color(img, "#00ff00", 10).any()
    gray = np.array([[10, 200]], np.uint8)
    assert masks.from_color(gray, 200).tolist() == [[0, 255]]
    assert masks.from_color(gray, None, 0, seed=(5, 5)).tolist() == [[0, 0]]  # seed outside


def test_from_alpha_and_threshold() -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 3] = [[0, 127, 128], [255, 10, 200]]
    assert masks.from_alpha(rgba).tolist() == [[0, 0, 255], [255, 0, 255]]
    assert (masks.from_alpha(rgba, level=None) == rgba[..., 3]).all()
    assert (masks.from_alpha(Image.fromarray(rgba)) == masks.from_alpha(rgba)).all()
    gray = np.array([[0, 127, 128, 255]], np.uint8)
    assert masks.threshold(gray, 128).tolist() == [[0, 0, 255, 255]]
    rgb = Image.new("RGB", (2, 2), (255, 255, 255))
    assert masks.threshold(rgb, 250).all()
    with pytest.raises(ValueError, match="no alpha channel"):
        masks.from_alpha(Image.new("RGB", (2, 2)))


@FAST
@given(soft_masks, st.integers(1, 4))
def test_resize_to_is_nearest(m: np.ndarray, k: int) -> None:
    h, w = m.shape
    up = masks.resize_to(m, (h * k, w * k))
    assert (up == m.repeat(k, 0).repeat(k, 1)).all()
    assert set(np.unique(masks.resize_to(m, (h + 3, w + 1)))) <= set(np.unique(m))
    assert masks.resize_to(m, Image.new("RGB", (w * k, h * k))).shape == (h * k, w * k)


# ---------------------------------------------------------------------------- only-masked work


@st.composite
def image_and_mask(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    h, w = draw(shapes)
    img = draw(arrays(np.uint8, (h, w, 3)))
    m = draw(arrays(np.uint8, (h, w), elements=st.sampled_from([0, 0, 90, 255])))
    m[draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))] = 255
    return img, m


@FAST
@given(image_and_mask(), st.integers(0, 10), st.integers(0, 6), st.integers(0, 700))
def test_crop_then_paste_back_unedited_is_identity(
    pair: tuple[np.ndarray, np.ndarray], padding: int, px: int, min_pixels: int
) -> None:
    img, m = pair
    crop, box = masks.crop_to_mask(img, m, padding, min_pixels=min_pixels)
    x0, y0, x1, y1 = box
    h, w = m.shape
    sel = masks.bbox(m)
    assert sel is not None
    assert 0 <= x0 <= sel[0] and sel[2] <= x1 <= w and 0 <= y0 <= sel[1] and sel[3] <= y1 <= h
    assert (x1 - x0) * (y1 - y0) >= min(min_pixels, h * w)
    assert (crop == img[y0:y1, x0:x1]).all()
    assert (masks.paste_back(img, crop, box, m, px) == img).all()
    pil = Image.fromarray(img)
    pil_crop, pil_box = masks.crop_to_mask(pil, m, padding, min_pixels=min_pixels)
    assert pil_box == box
    back = masks.paste_back(pil, pil_crop, box, m, px)
    assert isinstance(back, Image.Image) and (np.asarray(back) == img).all()


@FAST
@given(image_and_mask(), st.integers(0, 4))
def test_paste_back_changes_only_inside_the_feathered_mask(
    pair: tuple[np.ndarray, np.ndarray], px: int
) -> None:
    img, m = pair
    crop, box = masks.crop_to_mask(img, m, 2, min_pixels=0)
    edited = 255 - crop
    out = masks.paste_back(img, edited, box, m, px)
    reach = window_extreme(m, px, np.maximum, "edge") > 0
    assert (out[~reach] == img[~reach]).all()
    x0, y0, x1, y1 = box
    full = m[y0:y1, x0:x1] == 255
    if px == 0:
        assert (out[y0:y1, x0:x1][full] == edited[full]).all()


def test_paste_back_resizes_the_model_output_to_the_box() -> None:
    img = np.zeros((40, 60, 3), np.uint8)
    m = masks.rect(img, (10, 10, 30, 20))
    crop, box = masks.crop_to_mask(img, m, 0, min_pixels=0)
    bigger = Image.new("RGB", (crop.shape[1] * 4, crop.shape[0] * 4), (250, 10, 10))
    out = masks.paste_back(img, bigger, box, m)
    assert (out[m > 0] == (250, 10, 10)).all() and not out[m == 0].any()
    crop_mask = m[box[1]:box[3], box[0]:box[2]]
    assert (masks.paste_back(img, bigger, box, crop_mask) == out).all()


def test_crop_grows_to_the_venice_minimum_when_it_can() -> None:
    img = Image.new("RGB", (1000, 600))
    m = masks.rect((600, 1000), (990, 10, 1000, 20))  # 10x10 in a corner
    crop, box = masks.crop_to_mask(img, m, 4)
    assert crop.size[0] * crop.size[1] >= 65_536
    assert box[2] == 1000 and box[0] <= 990 and box[1] == 0
    small = np.zeros((100, 100, 3), np.uint8)  # smaller than the minimum: the whole image
    assert masks.crop_to_mask(small, masks.rect(small, (5, 5, 6, 6)))[1] == (0, 0, 100, 100)


# ---------------------------------------------------------------------------- display


def test_overlay_tints_only_the_selection() -> None:
    img = np.full((4, 4, 3), 100, np.uint8)
    m = masks.rect((4, 4), (0, 0, 2, 4))
    full = np.asarray(masks.overlay(img, m, "blue", 1.0))
    assert (full[:, :2] == (0, 0, 255)).all() and (full[:, 2:] == 100).all()
    half = masks.overlay(Image.fromarray(img), m, (255, 0, 0), 0.5)
    assert half.mode == "RGB" and half.size == (4, 4)
    assert tuple(np.asarray(half)[0, 0]) == (178, 50, 50)


def test_to_image_is_an_L_image_of_the_mask() -> None:
    m = masks.ellipse((6, 9), (0, 0, 9, 6))
    img = masks.to_image(m)
    assert img.mode == "L" and img.size == (9, 6) and (np.asarray(img) == m).all()
    assert masks.to_image(m > 0).getextrema() == (0, 255)
    m[:] = 0  # the image is a snapshot, not a view of the array
    assert img.getextrema() == (0, 255)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: masks.invert(np.zeros((4, 4, 3), np.uint8)), ValueError, "2-D (height, width)"),
        (lambda: masks.invert(np.zeros(5, np.uint8)), ValueError, "2-D (height, width)"),
        (lambda: masks.invert(np.zeros((3, 3), np.int64)), TypeError, "uint8"),
        (lambda: masks.invert(np.zeros((3, 3), np.complex64)), TypeError, "bool, uint8"),
        (lambda: masks.invert(np.full((3, 3), 2.0)), ValueError, "[0.0, 1.0]"),
        (lambda: masks.invert(np.full((3, 3), np.nan)), ValueError, "[0.0, 1.0]"),
        (lambda: masks.invert([[0, 1]]), TypeError, "numpy array or a PIL image"),
        (lambda: masks.invert(Image.new("RGB", (3, 3), "red")), ValueError, "grayscale"),
        (lambda: masks.union(np.zeros((3, 3), bool), np.zeros((3, 4), bool)), ValueError,
         "resize_to"),
        (lambda: masks.rect((3.5, 4), (0, 0, 1, 1)), TypeError, "(height, width)"),
        (lambda: masks.rect((0, 4), (0, 0, 1, 1)), ValueError, "positive"),
        (lambda: masks.rect((4, 4), (0, 0, 1)), ValueError, "(x0, y0, x1, y1)"),
        (lambda: masks.rect((4, 4), (0, 0, 1, float("nan"))), ValueError, "finite"),
        (lambda: masks.rect((4, 4), (0, 0, 1, 1), value=300), ValueError, "0..255"),
        (lambda: masks.brush((4, 4), [(0, 0)], -1), ValueError, "radius"),
        (lambda: masks.brush((4, 4), [(0, 0, 1)], 1), ValueError, "(x, y) pairs"),
        (lambda: masks.brush(None, [(0, 0)], 1, out=np.zeros((4, 4), bool)), TypeError,
         "uint8 (height, width)"),
        (lambda: masks.brush((5, 5), [(0, 0)], 1, out=np.zeros((4, 4), np.uint8)), ValueError,
         "does not match"),
        (lambda: masks.grow(np.zeros((3, 3), bool), -1), ValueError, ">= 0"),
        (lambda: masks.from_color(np.zeros((3, 3, 3), np.uint8)), ValueError, "seed"),
        (lambda: masks.from_color(np.zeros((3, 3, 2), np.uint8), 0), ValueError, "HxWx3"),
        (lambda: masks.from_color(np.zeros((3, 3, 3), np.uint8), "nocolour"), ValueError,
         "unknown colour"),
        (lambda: masks.from_color(np.zeros((3, 3, 3), np.uint8), 0, connectivity=6),
         ValueError, "4 or 8"),
        (lambda: masks.crop_to_mask(np.zeros((3, 3, 3), np.uint8), np.zeros((3, 3), bool)),
         ValueError, "selects nothing"),
        (lambda: masks.paste_back(np.zeros((3, 3, 3), np.uint8), np.zeros((1, 1, 3), np.uint8),
                                  (2, 2, 9, 9)), ValueError, "inside"),
        (lambda: masks.overlay(np.zeros((3, 3, 3), np.uint8), np.zeros((2, 2), bool)),
         ValueError, "resize_to"),
        (lambda: masks.overlay(np.zeros((3, 3, 3), np.uint8), np.zeros((3, 3), bool), opacity=2),
         ValueError, "opacity"),
    ],
)
def test_bad_input_says_what_is_expected(
    call: Callable[[], object], error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_banded_work_matches_one_band(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large masks are processed in bands; tiny bands must give the same answers."""
    rng = np.random.default_rng(7)
    cases = []
    for _ in range(40):
        h, w = rng.integers(2, 30, 2)
        img = rng.choice(np.array([0, 200], np.uint8), size=(h, w, 3), p=[0.35, 0.65])
        img[..., 1:] = img[..., :1]
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        floats = rng.random((h, w))
        stroke = rng.uniform(-5, 35, (4, 2))
        cases.append((img, x, y, floats, stroke))
    monkeypatch.setattr(masks, "_BLOCK_PIXELS", 5)
    for img, x, y, floats, stroke in cases:
        h, w = img.shape[:2]
        match = img[..., 0] == img[y, x, 0]
        for conn in (4, 8):
            got = masks.from_color(img, seed=(x, y), connectivity=conn) > 0
            assert (got == bfs_reference(match, x, y, conn)).all()
        assert (masks.as_mask(floats) == np.floor(floats * 255 + 0.5)).all()
        dist = capsule_reference(stroke, 4.0, h, w)
        painted = masks.brush((h, w), stroke, 4.0) > 0
        assert (painted[dist < 4 - 1e-4]).all() and not painted[dist > 4 + 1e-4].any()


def test_shapes_far_larger_than_the_mask_cover_it_without_overflow() -> None:
    huge = (-1e300, -1e300, 1e300, 1e300)
    assert masks.rect((30, 40), huge).min() == 255
    assert masks.ellipse((30, 40), huge).min() == 255
    assert masks.brush((30, 40), [(1, 2)], 1e300).min() == 255
    assert masks.grow(masks.rect((30, 40), (5, 5, 6, 6)), 10**30).min() == 255
