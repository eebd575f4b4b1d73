"""Selection by meaning: masks.select_color / select_object / select_subject and the Selector.

Quality is measured against answers known in advance: synthetic scenes the tests build (exact
masks) and hand-drawn reference masks of the bundled samples (tests/data/
selection_references.json, polygons checked by eye against the photos).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

import venice_nb as vnb
from venice_nb import ValidationError, masks
from venice_nb._selection import Selector

from ._scenes import background, iou, scene

REFERENCES = json.loads(
    (Path(__file__).parent / "data" / "selection_references.json").read_text()
)["references"]


def _sample(name: str) -> np.ndarray:
    return np.asarray(Image.open(vnb.sample(name)).convert("RGB"))


def _reference(name: str) -> np.ndarray:
    """The hand-drawn mask (bool); the product shot's flat backdrop is exact by colour."""
    if name == "product":
        px = _sample("product").astype(np.int16)
        backdrop: np.ndarray = np.abs(px - px[5, 5]).sum(-1) > 12
        return backdrop
    ref = REFERENCES[name]
    img = Image.open(vnb.sample(ref["sample"]))
    m = np.zeros((img.height, img.width), np.uint8)
    for poly in ref["polygons"]:
        masks.polygon(None, poly, out=m)
    return m > 0


# --------------------------------------------------------------------------------------------
# synthetic scenes: one include click
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("background", ["noise", "stripes", "gradient"])
@pytest.mark.parametrize("obj", ["disc", "star", "blob", "thin", "touching"])
def test_one_click_selects_a_colour_distinct_object_on_texture(background: str, obj: str) -> None:
    img, truth, point = scene(background, obj)
    assert iou(masks.select_object(img, [point]), truth) >= 0.90


@pytest.mark.parametrize("obj", ["disc", "star", "blob", "thin"])
def test_subject_of_a_synthetic_scene(obj: str) -> None:
    img, truth, _ = scene("stripes", obj)
    assert iou(masks.select_subject(img), truth) >= 0.90


def test_one_click_takes_a_whole_plain_rod_where_the_subject_estimate_stops() -> None:
    """A 22 px blue rod standing in the frame: the subject estimate (centre prior) fades
    before its top, but the rod is one plain colour from the click up, so all of it is the
    object (the estimate's "surely not subject" does not cut through the clicked colour)."""
    h, w = 480, 640
    truth = np.zeros((h, w), bool)
    truth[60:420, 309:331] = True
    img = background("noise", h, w)
    img[truth] = np.random.default_rng(1).normal((40, 90, 210), 6, (int(truth.sum()), 3))
    m = masks.select_object(np.clip(img, 0, 255).astype(np.uint8), [(320, 240)])
    assert iou(m, truth) >= 0.95


def test_object_select_at_full_resolution_of_a_large_image() -> None:
    """Above the working level (~0.3 Mpx) the edge is recomputed from full-res pixels."""
    img, truth, point = scene("noise", "star", h=1500, w=2000)
    m = masks.select_object(img, [point])
    assert m.shape == truth.shape
    assert iou(m, truth) >= 0.95


def test_the_object_under_the_click_not_a_lookalike_elsewhere() -> None:
    img, truth, _ = scene("gradient", "disc")
    twin = np.roll(img, 200, axis=1)  # a second disc of the same colour, apart from the first
    both = np.where(np.roll(truth, 200, axis=1)[..., None], twin, img)
    m = masks.select_object(both, [(240, 180)])
    assert iou(m, truth) >= 0.90


# --------------------------------------------------------------------------------------------
# samples: hand-checked references
# --------------------------------------------------------------------------------------------

# include, exclude, and the IoU asked for (issue 20: 0.80 with one more click): the second
# click is the one a person makes after seeing the first click's selection. On the rocket one
# click on the body takes the body without its launch pad but leaves the fairing's shaded tip
# out (grey a few OKLab units from the sky's blue, and a path into it from the body crosses
# stronger edges, the logo and the shading, than one from the sky), so the second click is on
# the tip (0.81; 19 of 22 tip positions on a 4 px grid reach 0.80, none below 0.77, see
# test_every_click_on_the_rocket_tip_takes_the_tip_never_the_sky).
OBJECT_CASES: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]], float]] = {
    "product": ([(300, 330), (438, 262)], [], 0.80),
    "coffee": ([(150, 250), (290, 60)], [], 0.80),
    "astronaut": ([(100, 400), (225, 110)], [], 0.80),
    "cat": ([(200, 60), (150, 220)], [], 0.80),
    "rocket": ([(322, 250), (322, 135)], [], 0.80),
}
# a click on the rocket's body and one excluding the lit pad at its foot: the tip stays out
ROCKET_BODY = ([(322, 250)], [(320, 418)])


@pytest.mark.parametrize("name", list(OBJECT_CASES))
def test_object_on_the_samples_with_two_clicks(name: str) -> None:
    include, exclude, floor = OBJECT_CASES[name]
    got = iou(masks.select_object(_sample(name), include, exclude), _reference(name))
    assert got >= floor


def _rocket_tip() -> np.ndarray:
    """The rocket's reference above row 150: the fairing's tip, shaded grey against a blue
    sky (a few OKLab units apart), and the top of its logo."""
    tip = _reference("rocket")
    tip[150:] = False
    return tip


def test_a_further_include_click_on_a_missed_part_adds_that_part() -> None:
    """The two clicks leave most of the rocket's shaded tip out; a person clicks on it next,
    and expects it to join. That click teaches the object's colours its own spot (as tight
    as the spot's colours vary), so the tip comes in, and nothing else does."""
    sel = Selector(_sample("rocket"))
    ref, tip = _reference("rocket"), _rocket_tip()
    include, exclude = ROCKET_BODY
    before = sel.object(include, exclude) >= 128
    after = sel.object([*include, (322, 135)], exclude) >= 128
    assert (after & tip).sum() >= 0.6 * tip.sum() > 2 * (before & tip).sum()
    assert (after & ~ref).sum() <= (before & ~ref).sum() + 0.02 * ref.sum()


def test_a_click_on_the_dark_side_of_an_object_does_not_take_the_sky() -> None:
    """The tip's shaded side is about as dark as the night sky along the frame. Looking like
    that click must not free the frame from being background where the subject estimate is
    sure there is no subject: the selection stays the rocket, not the sky around it."""
    sel = Selector(_sample("rocket"))
    ref = _reference("rocket")
    include, exclude = ROCKET_BODY
    m = sel.object([*include, (324, 132)], exclude) >= 128
    assert not (m[0].any() or m[:, 0].any() or m[:, -1].any())
    assert (m & ~ref).sum() < 0.5 * ref.sum()
    assert (m & _rocket_tip()).sum() >= 0.6 * _rocket_tip().sum()


def test_every_click_on_the_rocket_tip_takes_the_tip_never_the_sky() -> None:
    """A person who clicks anywhere on the tip that a body click left out expects the tip.
    The superpixels (about 10 px across) cannot follow its top, a few pixels wide: there the
    click lands in one that is mostly sky. The click's own colour decides, not the sky's, so
    no click on a 4 px grid over the tip takes the sky (it used to, at the very top)."""
    sel = Selector(_sample("rocket"))
    ref = _reference("rocket")
    body = sel.object([(322, 250)]) >= 128
    tip = _rocket_tip() & ~body
    grid = [(x, y) for y in range(0, 150, 4) for x in range(0, ref.shape[1], 4) if tip[y, x]]
    assert len(grid) >= 20
    for x, y in grid:
        m = sel.object([(322, 250), (x, y)])
        on = m >= 128
        assert not (on[0].any() or on[-1].any() or on[:, 0].any() or on[:, -1].any()), (x, y)
        assert iou(m, ref) >= 0.6, (x, y)


@pytest.mark.parametrize(("name", "first", "click"), [
    ("rocket", (322, 250), (313, 224)),  # the body's edge column, in a sky superpixel
    ("product", (300, 330), (263, 129)),  # a speck of the mug's rim, in a backdrop one
])
def test_a_click_on_an_edge_takes_the_object_not_the_superpixel_beside_it(
        name: str, first: tuple[int, int], click: tuple[int, int]) -> None:
    """A click right on an object's edge lands in a superpixel mostly of what lies beyond it.
    A sliver of a neighbouring superpixel's colour seeds that neighbour (the rocket took the
    whole sky before); a speck too small for that seeds its superpixel as before, but does
    not make it subject (the mug must not take the backdrop)."""
    m = Selector(_sample(name)).object([first, click])
    assert iou(m, _reference(name)) >= 0.7


def test_a_further_click_away_from_the_subject_still_adds_what_it_is_on() -> None:
    """A click beside the subject extends it (the tip above); a click far from it, on the sky,
    is about the sky, and a person who makes it wants the sky with the rocket."""
    sel = Selector(_sample("rocket"))
    m = sel.object([(322, 250), (100, 100)]) >= 128
    assert m[:100].mean() >= 0.9
    assert (m & _reference("rocket")).sum() >= 0.95 * _reference("rocket").sum()


def test_a_click_on_part_of_the_subject_takes_that_part_not_the_whole_subject() -> None:
    """The subject estimate helps clicks on the subject; it must not swallow what they say:
    one click on the mission patch is the patch, and the suit and face leave the helmet."""
    sel = Selector(_sample("astronaut"))
    person = _reference("astronaut")
    helmet = _reference("astronaut_subject") & ~person
    patch = sel.object([(170, 410)]) >= 128
    assert 0 < patch.sum() < 0.1 * person.sum() and (patch <= person).all()
    both = sel.object([(100, 400), (225, 110)]) >= 128
    assert (both & helmet).sum() < 0.05 * helmet.sum()


# the subject's IoU (the issue asks for 0.85). The rocket reaches 0.851, at the bar: the
# estimate leaves out the pad it stands on, and the margin round the estimate no longer adds a
# band of sky and a strut beside its thin body (see the synthetic rod below); what is left is
# a strip of the lit tower on its right and the grey tip above the estimate
SUBJECT_CASES = {
    "product": ("product", 0.85),
    "coffee": ("coffee", 0.85),
    "astronaut": ("astronaut_subject", 0.85),
    "cat": ("cat", 0.85),
    "rocket": ("rocket", 0.85),
}


@pytest.mark.parametrize("name", list(SUBJECT_CASES))
def test_subject_of_the_samples(name: str) -> None:
    ref, floor = SUBJECT_CASES[name]
    assert iou(masks.select_subject(_sample(name)), _reference(ref)) >= floor


@pytest.mark.parametrize("name", ["rocket", "astronaut", "coffee"])
def test_the_subject_adds_no_piece_beyond_its_estimate(name: str) -> None:
    """The split refines the estimate along the photo's outlines; a superpixel straddling
    the outline (beside the rocket's 22 px body, the astronaut's shoulder) is trimmed to the
    estimate, not taken whole: nothing is selected more than 6 px from it."""
    from venice_nb._vision._subject import subject_matte

    img = _sample(name)
    estimate = Image.fromarray(((subject_matte(Image.fromarray(img)) >= 0.5) * 255)
                               .astype(np.uint8))
    near = np.asarray(estimate.filter(ImageFilter.MaxFilter(13))) > 0
    chosen = masks.select_subject(img) >= 128
    assert chosen.sum() > 0.5 * (np.asarray(estimate) > 0).sum()
    assert not (chosen & ~near).any()


def test_the_margin_beside_a_thin_subject_takes_no_sky_or_strut() -> None:
    """A bright rod 21 px wide (two superpixels) on a night sky, a dark strut and a lit
    lattice a pixel from its sides: every superpixel across it straddles its outline, so the
    split cannot say where the rod ends, and the few pixels the subject may keep beyond its
    estimate went to the strut and the lattice. Beside a part this thin they join only when
    they look like the estimate rather than what lies beyond them."""
    h, w = 480, 640
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.float32) + (35, 50, 90) + (yy / h)[..., None] * (20, 20, 30)
    img += rng.normal(0, 4, img.shape)
    rod = (np.abs(xx - 320) <= 10) & (yy > 70) & (yy < 430)
    img[(xx >= 305) & (xx < 309) & (yy > 150)] = (20, 20, 24)  # the strut
    img[(xx > 331) & (xx <= 335) & (yy > 150) & ((yy // 6) % 2 == 0)] = (120, 110, 100)
    shade = 1 - 0.3 * np.abs(xx - 320) / 10
    img[rod] = (np.array([225, 215, 190]) * shade[..., None])[rod]
    chosen = masks.select_subject(np.clip(img, 0, 255).astype(np.uint8)) >= 128
    assert (chosen & rod).sum() >= 0.97 * rod.sum()
    assert (chosen & ~rod).sum() <= 0.01 * rod.sum()


def test_subject_inverted_is_the_background() -> None:
    img = _sample("product")
    background = masks.invert(masks.select_subject(img))
    assert iou(background, ~_reference("product")) >= 0.95


# --------------------------------------------------------------------------------------------
# edges: soft where the image is soft, hard where it is hard
# --------------------------------------------------------------------------------------------


def _halves(blur: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.zeros((1200, 1600, 3), np.float32)
    img[:, :800] = (200, 60, 40)
    img[:, 800:] = (40, 150, 70)
    out = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    if blur:
        out = np.asarray(Image.fromarray(out).filter(ImageFilter.GaussianBlur(blur)))
    return out


def _ramp(row: np.ndarray) -> np.ndarray:
    return np.flatnonzero((row > 12) & (row < 243))


def test_a_hard_edge_gives_a_step_at_the_edge() -> None:
    m = masks.select_object(_halves(0), [(300, 600)])
    for y in (100, 600, 1100):
        assert _ramp(m[y]).size <= 2
        assert m[y, 797] >= 200 and m[y, 802] <= 50


def test_a_blurred_edge_gives_a_ramp_that_falls_across_it() -> None:
    m = masks.select_object(_halves(10), [(300, 600)])
    for y in (100, 600, 1100):
        row = m[y].astype(int)
        assert _ramp(row).size >= 10
        assert row[784] > row[800] > row[816]
        assert row[:760].min() >= 200 and row[840:].max() == 0


# --------------------------------------------------------------------------------------------
# colour select: tolerance and contiguity
# --------------------------------------------------------------------------------------------


def _two_discs() -> np.ndarray:
    img = np.full((200, 300, 3), (230, 225, 210), np.uint8)
    left = masks.ellipse((200, 300), (20, 50, 120, 150)) > 0
    right = masks.ellipse((200, 300), (180, 50, 280, 150)) > 0
    img[left] = (30, 60, 200)
    img[right] = (40, 70, 190)  # nearly the same blue
    ring = masks.subtract(masks.ellipse((200, 300), (0, 30, 140, 170)), left) > 0
    img[ring] = (60, 90, 180)  # a lighter blue halo around the left disc
    return img


def test_contiguous_selects_the_connected_region_and_global_the_lookalikes() -> None:
    img = _two_discs()
    left = masks.ellipse((200, 300), (20, 50, 120, 150)) >= 128
    right = masks.ellipse((200, 300), (180, 50, 280, 150)) >= 128
    near = masks.select_color(img, (70, 100), tolerance=5)
    assert iou(near, left) >= 0.97
    everywhere = masks.select_color(img, (70, 100), tolerance=5, contiguous=False)
    assert iou(everywhere, left | right) >= 0.97


@pytest.mark.parametrize("contiguous", [True, False])
def test_more_tolerance_selects_at_least_as_much(contiguous: bool) -> None:
    img, _, point = scene("gradient", "blob")
    sel = Selector(img)
    previous = None
    for tol in (0, 2, 5, 10, 20, 40, 80):
        m = sel.color(point, tol, contiguous=contiguous)
        if previous is not None:
            assert (m >= previous).all()
        previous = m
    assert previous is not None and previous.min() == 255  # 80 takes in everything here


def test_colour_tolerance_is_an_oklab_distance_times_100() -> None:
    """Published OKLab values (Ottosson): white is L=1 from black, sRGB red is at
    (0.62796, 0.22486, 0.12585), 67.9 from black; the tolerance is that distance x100."""
    img = np.zeros((10, 30, 3), np.uint8)
    img[:, 10:20] = (255, 255, 255)
    img[:, 20:] = (255, 0, 0)
    red = math.hypot(0.62796, 0.22486, 0.12585) * 100

    def takes(tol: float) -> tuple[bool, bool]:
        m = masks.select_color(img, (5, 5), tol, contiguous=False, softness=0)
        return bool(m[:, 10:20].min() == 255), bool(m[:, 20:].min() == 255)

    assert takes(red - 1.5) == (False, False)
    assert takes(red + 1.5) == (False, True)
    assert takes(98.5) == (False, True)
    assert takes(101.5) == (True, True)


# --------------------------------------------------------------------------------------------
# include / exclude / box
# --------------------------------------------------------------------------------------------


def _three_bands() -> tuple[np.ndarray, list[np.ndarray]]:
    """Three touching vertical bands on noise: red, orange, yellow."""
    img, _, _ = scene("noise", "disc")
    h, w = img.shape[:2]
    colours = [(200, 40, 40), (230, 120, 30), (230, 210, 40)]
    bands = []
    for k, c in enumerate(colours):
        m = np.zeros((h, w), bool)
        m[60:300, 100 + 90 * k:190 + 90 * k] = True
        img[m] = c
        bands.append(m)
    return img, bands


def test_include_adds_a_region_and_exclude_takes_one_away() -> None:
    img, (red, orange, yellow) = _three_bands()
    sel = Selector(img)
    one = sel.object([(140, 180)], [(320, 180)]) >= 128
    assert not (one & yellow).any()
    two = sel.object([(140, 180), (320, 180)]) >= 128
    assert (two & yellow).sum() > 0.9 * yellow.sum()
    three = sel.object([(140, 180), (320, 180)], [(230, 180)]) >= 128
    assert (three & orange).sum() < 0.1 * orange.sum()
    assert (three & red).sum() > 0.9 * red.sum()


def test_box_limits_the_selection_to_the_object_inside() -> None:
    img, truth, point = scene("stripes", "disc")
    twin = np.roll(truth, 200, axis=1) & ~truth  # a lookalike, joined to the first by a bar
    img = img.copy()
    img[twin] = img[truth].mean(0).astype(np.uint8)
    bar = np.zeros_like(truth)
    bar[175:185, int(point[0]):int(point[0]) + 200] = True
    img[bar] = img[truth].mean(0).astype(np.uint8)
    around = masks.bbox(truth)
    assert around is not None
    x0, y0, x1, y1 = around
    box = (x0 - 4, y0 - 4, x1 + 4, y1 + 4)
    m = masks.select_object(img, [point], box=box)
    assert m[:, box[2]:].max() == 0
    assert iou(m, truth | (bar & (np.arange(img.shape[1]) < box[2])[None, :])) >= 0.9
    assert iou(masks.select_object(img, [point]), truth | twin | bar) >= 0.9


# --------------------------------------------------------------------------------------------
# the Selector: preparation in the background, refinement previews
# --------------------------------------------------------------------------------------------


def test_preparation_runs_in_a_background_thread_and_answers_the_same() -> None:
    img, _, point = scene("noise", "star")
    sel = Selector(img)
    assert not sel.ready
    thread = sel.prepare_async()
    assert sel.prepare_async() is thread  # one preparation per image
    thread.join()
    assert sel.ready
    assert np.array_equal(sel.object([point]), Selector(img).object([point]))


def test_the_kept_solve_answers_only_the_same_clicks_and_is_never_handed_out() -> None:
    """A preview and the full mask of the same clicks share one solve; other clicks solve
    again, and changing a returned mask does not change the next answer."""
    img, truth, point = scene("noise", "star")
    fresh = Selector(img).object([point])
    sel = Selector(img)
    preview = sel.object([point], size=(90, 120))
    assert preview.shape == (90, 120)
    full = sel.object([point])
    assert np.array_equal(full, fresh)
    full[:] = 0
    assert np.array_equal(sel.object([point]), fresh)
    far = (5.0, 5.0)  # the background in a corner: another object
    other = sel.object([far])
    assert iou(other, truth) < 0.1
    assert np.array_equal(sel.object([point]), fresh)
    assert np.array_equal(sel.subject(), Selector(img).subject())  # not the object's solve


def test_refine_grows_shrinks_feathers_and_smooths() -> None:
    img, _, point = scene("gradient", "star")
    sel = Selector(img)
    m = sel.object([point])
    hard = m >= 128
    grown = sel.refine(m, grow=6) > 0
    shrunk = sel.refine(m, shrink=6) > 0
    assert (grown >= hard).all() and grown.sum() > hard.sum()
    assert (shrunk <= hard).all() and shrunk.sum() < hard.sum()
    feathered = sel.refine(m, feather=8)
    assert ((feathered > 0) & (feathered < 255)).sum() > ((m > 0) & (m < 255)).sum()
    smooth = sel.refine(m, smooth=6) >= 128
    assert smooth.sum() < hard.sum()  # the star's sharp points are rounded off
    preview = sel.refine(m, grow=6, size=(90, 120))
    assert preview.shape == (90, 120)
    full = masks.resize_to(preview, m)
    assert iou(full, grown) >= 0.85


def test_previews_at_screen_size_agree_with_the_full_mask() -> None:
    img, _, point = scene("noise", "star", h=1500, w=2000)
    sel = Selector(img)
    screen = (300, 400)
    for preview, full in (
        (sel.object([point], size=screen), sel.object([point])),
        (sel.subject(size=screen), sel.subject()),
        (sel.color(point, 15, size=screen), sel.color(point, 15)),
        (sel.color(point, 15, contiguous=False, size=screen),
         sel.color(point, 15, contiguous=False)),
    ):
        assert preview.shape == screen and preview.dtype == np.uint8
        assert iou(preview, masks.resize_to(full, screen) >= 128) >= 0.95


def test_queries_from_two_threads_while_preparing_give_the_same_answers() -> None:
    import threading

    img, _, point = scene("stripes", "blob")
    expected = Selector(img).object([point])
    sel = Selector(img)
    sel.prepare_async()
    results: list[np.ndarray] = []

    def ask() -> None:
        results.append(sel.object([point]))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    assert all(np.array_equal(r, expected) for r in results)


def test_selections_are_uint8_masks_of_the_image_size_for_every_input_kind(tmp_path: Path) -> None:
    img, truth, point = scene("noise", "disc", h=120, w=160)
    path = tmp_path / "scene.png"
    Image.fromarray(img).save(path)
    rgba = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    for source in (img, Image.fromarray(img), path, str(path), path.read_bytes(), rgba):
        m = masks.select_object(source, [point])
        assert m.dtype == np.uint8 and m.shape == (120, 160)
        assert iou(m, truth) >= 0.9
    gray = masks.select_color(img[..., 0], point, 5)
    assert gray.shape == (120, 160)


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------

IMG = np.zeros((40, 60, 3), np.uint8)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: masks.select_color(IMG, (60, 5)), "point"),
        (lambda: masks.select_color(IMG, (-1, 5)), "point"),
        (lambda: masks.select_color(IMG, (5, 40)), "point"),
        (lambda: masks.select_color(IMG, (5, math.nan)), "point"),
        (lambda: masks.select_color(IMG, "5,5"), "point"),
        (lambda: masks.select_color(IMG, (5, 5, 5)), "point"),
        (lambda: masks.select_color(IMG, (True, 5)), "point"),
        (lambda: masks.select_color(IMG, (5, 5), tolerance=math.nan), "tolerance"),
        (lambda: masks.select_color(IMG, (5, 5), tolerance=-1), "tolerance"),
        (lambda: masks.select_color(IMG, (5, 5), tolerance="10"), "tolerance"),
        (lambda: masks.select_color(IMG, (5, 5), contiguous="yes"), "contiguous"),
        (lambda: masks.select_object(IMG, []), "include"),
        (lambda: masks.select_object(IMG, (5, 5)), "include"),
        (lambda: masks.select_object(IMG, [(5, 5)], exclude=[(99, 5)]), "exclude"),
        (lambda: masks.select_object(IMG, [(70, 5)]), "include"),
        (lambda: masks.select_object(IMG, None), "include"),
        (lambda: masks.select_object(IMG, [(5, 5)], box=(100, 100, 200, 200)), "box"),
        (lambda: masks.select_object(IMG, [(5, 5)], box=(10, 10, 5, 20)), "box"),
        (lambda: masks.select_object(IMG, [(5, 5)], box=(0, 0, 10)), "box"),
        (lambda: masks.select_object(IMG, [(5, 5)], box=(20, 0, 40, 30)), "include"),
        (lambda: masks.select_subject(np.zeros((40, 60, 2), np.uint8)), "image"),
        (lambda: masks.select_subject(np.zeros((40, 60), np.int64)), "image"),
        (lambda: masks.select_subject(42), "image"),
        (lambda: Selector(IMG).object([(5, 5)], size=(0, 10)), "size"),
        (lambda: Selector(IMG).color((5, 5), size=(10.5, 10)), "size"),
        (lambda: Selector(IMG).refine(np.zeros((40, 60), np.uint8), grow=2, size=(4,)), "size"),
        (lambda: Selector(IMG).refine(np.zeros((40, 60), np.int64), grow=2), "mask"),
        (lambda: Selector([[1, 2]]), "image"),
    ],
)
def test_bad_input_is_refused_with_a_named_field_and_an_action(
    call: Callable[[], object], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.field == field
    assert info.value.action
