"""The local backend's subject estimate and the edits built on it, measured on the bundled
samples against reference mattes drawn by hand (shapes in fractions of width and height,
checked by eye over each sample): background removal keeps the whole subject and drops the
background; objects land on the subject's head; recolouring changes the hue and keeps the
shading; every edit is deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from venice_nb import masks
from venice_nb._backend._imageops import edit_image, plan
from venice_nb._backend._matte import remove_background
from venice_nb._vision._subject import subject_matte

from ._pictures import arr, load, luma

Shape = tuple[str, tuple[float, ...]]  # ("ellipse", (cx, cy, rx, ry)) or ("poly", (x, y, ...))

# (inside the subject, surely background), as shapes in fractions of the image size. Each is
# drawn a little inside the true outline, so it holds whatever a fair matte does at the edge.
REFERENCE: dict[str, tuple[list[Shape], list[Shape]]] = {
    "astronaut": (
        [("ellipse", (0.44, 0.15, 0.07, 0.08)),  # head and hair
         ("poly", (0.1, 0.98, 0.12, 0.6, 0.26, 0.38, 0.54, 0.38, 0.64, 0.6, 0.55, 0.98)),  # suit
         ("ellipse", (0.73, 0.88, 0.12, 0.09))],  # helmet
        [("poly", (0.0, 0.0, 0.08, 0.0, 0.08, 0.45, 0.0, 0.45)),  # flag
         ("poly", (0.2, 0.02, 0.32, 0.02, 0.32, 0.12, 0.2, 0.12)),  # wall
         ("poly", (0.79, 0.08, 0.86, 0.08, 0.86, 0.35, 0.79, 0.35))],  # model shuttle
    ),
    "cat": (
        [("ellipse", (0.42, 0.55, 0.28, 0.3)),  # face, eyes to chin
         ("poly", (0.02, 0.5, 0.15, 0.3, 0.25, 0.95, 0.02, 0.95)),  # left cheek and chest
         ("ellipse", (0.35, 0.12, 0.12, 0.08)),  # forehead
         ("ellipse", (0.56, 0.1, 0.07, 0.08)),  # the dark tuft on top of the head
         ("ellipse", (0.78, 0.1, 0.03, 0.05))],  # the right ear
        [("poly", (0.9, 0.35, 0.99, 0.35, 0.99, 0.62, 0.9, 0.62)),  # blurred room, right
         ("poly", (0.82, 0.75, 0.99, 0.75, 0.99, 0.98, 0.86, 0.98))],
    ),
    "coffee": (
        [("ellipse", (0.46, 0.3, 0.16, 0.19)),  # cup
         ("ellipse", (0.47, 0.6, 0.3, 0.3))],  # saucer
        [("poly", (0.0, 0.7, 0.08, 0.7, 0.08, 0.98, 0.0, 0.98)),  # wood, left
         ("poly", (0.88, 0.05, 0.99, 0.05, 0.99, 0.5, 0.88, 0.5)),  # wood, right
         # the shaded, scratched wood just right of and below the saucer's rim (issue 24:
         # it was taken as subject, a wedge in backdrops, removals and "make the cup blue")
         ("poly", (0.75, 0.78, 0.8, 0.74, 0.84, 0.8, 0.8, 0.93, 0.74, 0.93))],
    ),
    "rocket": (
        [("poly", (0.493, 0.42, 0.505, 0.42, 0.505, 0.8, 0.493, 0.8))],  # the rocket's body
        [("poly", (0.6, 0.05, 0.85, 0.05, 0.85, 0.3, 0.6, 0.3))],  # sky
    ),
    "product": (
        [("poly", (0.33, 0.3, 0.6, 0.3, 0.6, 0.75, 0.33, 0.75))],  # the mug's body
        [("poly", (0.02, 0.02, 0.2, 0.02, 0.2, 0.98, 0.02, 0.98))],  # backdrop
    ),
}  # fmt: skip


def _draw(shapes: list[Shape], size: tuple[int, int]) -> np.ndarray:
    w, h = size
    img = Image.new("L", size, 0)
    d = ImageDraw.Draw(img)
    for kind, v in shapes:
        if kind == "ellipse":
            cx, cy, rx, ry = v
            d.ellipse(((cx - rx) * w, (cy - ry) * h, (cx + rx) * w, (cy + ry) * h), fill=255)
        else:
            d.polygon([(v[i] * w, v[i + 1] * h) for i in range(0, len(v), 2)], fill=255)
    return np.asarray(img) > 0


def reference_mask(name: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(subject, background) boolean masks of a sample's reference matte."""
    fg, bg = REFERENCE[name]
    return _draw(fg, size), _draw(bg, size)


def changed(before: Image.Image, after: Image.Image) -> np.ndarray:
    """Pixels an edit visibly changed (any channel by more than 40 of 255)."""
    diff: np.ndarray = (np.abs(arr(after) - arr(before)) > 40).any(-1)
    return diff


def box_of(frac: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
    w, h = size
    out = np.zeros((h, w), bool)
    out[round(frac[1] * h) : round(frac[3] * h), round(frac[0] * w) : round(frac[2] * w)] = True
    return out


@pytest.mark.parametrize("name", list(REFERENCE))
def test_background_removal_keeps_the_whole_subject(name: str) -> None:
    img = load(name)
    alpha = np.asarray(remove_background(img).getchannel("A")) / 255
    subject, background = reference_mask(name, img.size)
    assert (alpha[subject] > 0.5).mean() >= 0.98  # frame-filling subjects included
    assert (alpha[background] < 0.5).mean() >= 0.97  # the cat's room: no bright streak


def test_no_specks_of_the_table_are_kept_round_the_saucer() -> None:
    """Lit grain between the dark pixels of the saucer's shadow was kept as specks of wood,
    a ragged rim on white (issue 24): almost nothing more than 4 px outside the hand-drawn
    outline of cup, saucer and spoon (tests/data/selection_references.json) stays (was 356
    pixels)."""
    img = load("coffee")
    refs = json.loads((Path(__file__).parent / "data" / "selection_references.json").read_text())
    outline = np.zeros((img.height, img.width), np.uint8)
    for poly in refs["references"]["coffee"]["polygons"]:
        masks.polygon(None, poly, out=outline)
    near = Image.fromarray(outline * 255).filter(ImageFilter.MaxFilter(9))
    alpha = np.asarray(remove_background(img).getchannel("A"))
    assert ((alpha > 64) & (np.asarray(near) == 0)).sum() < 250


def _rim_roughness(alpha: np.ndarray) -> tuple[float, float, float]:
    """(left, top, ramp) of a coffee matte: the mean distance in pixels of the saucer's left
    rim (its first pixel over one half, per row from 0.35 to 0.83 of the height) and of its
    upper-left rim (per column from 0.16 to 0.27 of the width, left of the cup) from a smooth
    curve fitted through them (a quartic), and the mean number of pixels per row on the left
    rim where alpha is between 0.1 and 0.9."""
    h, w = alpha.shape
    rows = np.arange(round(0.35 * h), round(0.83 * h))
    cols = np.arange(round(0.16 * w), round(0.27 * w))
    left = np.array([np.argmax(alpha[y, : w // 2] > 0.5) for y in rows], np.float64)
    top = np.array([np.argmax(alpha[: round(0.62 * h), x] > 0.5) for x in cols], np.float64)

    def rough(t: np.ndarray, v: np.ndarray) -> float:
        return float(np.abs(v - np.polyval(np.polyfit(t, v, 4), t)).mean())

    ramp = ((alpha > 0.1) & (alpha < 0.9))[rows, : round(0.27 * w)].sum(1).mean()
    return rough(rows, left), rough(cols, top), float(ramp)


def test_the_saucers_lit_rim_is_a_clean_curve() -> None:
    """Where the saucer's lit red rim and the lit wood are too alike for the colour models
    (issue 24) its edge was the upsampled coarse estimate: a soft ramp 9 px wide that wobbled
    1.7 px about the rim's curve (left) and 0.8 px (upper left). The smoothed outline of the
    estimate is a clean ellipse-like edge there (0.55, 0.35 px; a 6 px ramp)."""
    img = load("coffee")
    alpha = np.asarray(remove_background(img).getchannel("A")) / 255
    left, top, ramp = _rim_roughness(alpha)
    assert left < 1.0 and top < 0.6
    assert ramp < 7.5


def test_the_shadow_under_the_saucer_is_not_subject() -> None:
    """The saucer's cast shadow on the table (dark wood below its rim, checked by eye) is
    background: it is neither kept by background removal nor recoloured with the cup."""
    img = load("coffee")
    shadow = box_of((0.25, 0.95, 0.33, 0.995), img.size)
    assert luma(arr(img))[shadow].mean() < 20  # the shadow is there
    alpha = np.asarray(remove_background(img).getchannel("A")) / 255
    assert (alpha[shadow] > 0.5).mean() < 0.05
    assert not changed(img, edit_image(img, "make the cup blue"))[shadow].any()


# The rocket's body is a few pixels wide: its soft edge is most of it, so it is left out here.
@pytest.mark.parametrize("name", ["astronaut", "cat", "coffee", "product"])
def test_subject_prompts_use_the_same_matte(name: str) -> None:
    img = load(name)
    subject, background = reference_mask(name, img.size)
    matte = subject_matte(img)
    assert matte.dtype == np.float32 and matte.shape == subject.shape
    out = arr(edit_image(img, "replace the background with a studio backdrop"))
    # The subject stays as it was, the background becomes the grey studio sweep.
    kept = (np.abs(out - arr(img)) < 12).all(-1)
    assert kept[subject].mean() > 0.95
    spread = out.max(-1) - out.min(-1)
    assert (spread[background] < 20).mean() > 0.85 and luma(out)[background].mean() > 170


# (sample, prompt, asked colour, where it belongs): boxes (x0, y0, x1, y1) in fractions drawn
# by eye over each sample: the top of the head for hats, the eyes for glasses, the chin and
# the bottom edge for a scarf on the cat's close-up (its neck is out of frame).
OBJECT_PROMPTS = [
    ("cat", "a red hat", (255, 0, 0), (0.1, 0.0, 0.85, 0.4)),
    ("cat", "give the cat a small red party hat", (255, 0, 0), (0.1, 0.0, 0.85, 0.4)),
    ("astronaut", "give the astronaut glasses", (0, 0, 0), (0.28, 0.06, 0.6, 0.26)),
    ("astronaut", "put a yellow crown on her head", (255, 215, 0), (0.32, 0.0, 0.58, 0.16)),
    ("cat", "add a blue scarf to the cat", (0, 0, 255), (0.0, 0.75, 1.0, 1.0)),
    ("cat", "give the cat a pink flower", (255, 105, 180), (0.2, 0.0, 0.9, 0.45)),
]


@pytest.mark.parametrize(("name", "prompt", "colour", "place"), OBJECT_PROMPTS)
def test_an_object_is_drawn_on_the_head_in_the_asked_colour(
    name: str, prompt: str, colour: tuple[int, int, int], place: tuple[float, ...]
) -> None:
    img = load(name)
    assert plan(prompt)[0].startswith("object:"), plan(prompt)
    out = edit_image(img, prompt)
    diff = changed(img, out)
    # Something the size of an object (not a tint of the photo, not a speck) ...
    assert 0.002 < diff.mean() < 0.25
    # ... where it belongs on the subject ...
    assert (diff & box_of(place, img.size)).sum() >= 0.9 * diff.sum()
    # ... in the asked colour: its typical changed pixel is nearer that colour than the photo.
    drawn = arr(out)[diff]
    target = np.asarray(colour, np.float64)
    near = np.linalg.norm(drawn - target, axis=1) < np.linalg.norm(arr(img)[diff] - target, axis=1)
    assert near.mean() > 0.6


def test_a_scarf_on_a_close_up_wraps_round_the_neck_below_the_mouth() -> None:
    """The cat's close-up has its neck out of frame: the scarf is a roll whose top edge climbs
    at the sides (it goes round the neck, not a straight band along the bottom), shaded
    across like fabric, and leaves the nose and mouth free."""
    cat = load("cat")
    h = cat.height
    out = arr(edit_image(cat, "add a blue scarf to the cat"))
    blue = (out[..., 2] > out[..., 0] + 60) & (out[..., 2] > out[..., 1] + 30)
    cols = np.nonzero(blue.any(0))[0]
    mid = (cols[0] + cols[-1]) // 2
    side = (cols[-1] - cols[0]) * 4 // 10

    def top(x: int) -> int:
        return int(np.argmax(blue[:, x]))

    assert top(mid) - max(top(mid - side), top(mid + side)) > 0.06 * h  # sides climb
    # The nose and the mouth (the dark line under the nose, down to 0.88 h) stay free: the
    # scarf's top covered the mouth at 0.85 h.
    assert not (blue & box_of((0.53, 0.75, 0.63, 0.88), cat.size)).any()
    # Lit above, dark underneath: the roll's span of luminance down its typical column near
    # the middle (one column may fall in a gap between the knot's ends).
    lum = luma(out)
    spans = [np.ptp(lum[blue[:, x], x]) for x in range(mid - 10, mid + 11) if blue[:, x].any()]
    assert np.median(spans) > 60


def test_a_scarf_ends_where_the_cat_does() -> None:
    """A scarf goes behind the neck where the body ends. Drawn to its full width, its end
    hung in the blurred room beside the cat's jaw (464 pixels of it)."""
    cat = load("cat")
    diff = changed(cat, edit_image(cat, "add a blue scarf to the cat"))
    room = box_of((0.8, 0.7, 1.0, 0.95), cat.size)  # right of the jaw, read off the sample
    assert diff.sum() > 2000  # a scarf was drawn
    assert (diff & room).sum() < 10


# The astronaut's pupils: the darkest spot of each iris in the sample (pixels).
ASTRONAUT_EYES = ((203, 101), (246, 103))


def test_glasses_sit_on_the_eyes() -> None:
    """Each lens is round a pupil, the pupil near its middle. The eye line was a fixed share
    of the head width below the top of the hair: the lenses sat 10 px low and 8 px too far
    apart, the eyes at their top inner corners and the rims on the cheeks."""
    img = load("astronaut")
    diff = changed(img, edit_image(img, "give the astronaut glasses"))
    for x, y in ASTRONAUT_EYES:
        row, col = diff[y], diff[:, x]
        # The frame on both sides of the pupil, along its row and its column ...
        lx = x - int(np.argmax(row[x::-1]))
        rx = x + int(np.argmax(row[x:]))
        ty = y - int(np.argmax(col[y::-1]))
        by = y + int(np.argmax(col[y:]))
        assert row[:x].any() and row[x:].any() and col[:y].any() and col[y:].any()
        # ... at about the same distance: the pupil is near the lens's middle.
        assert abs((x - lx) - (rx - x)) <= 0.3 * (rx - lx), (x, lx, rx)
        assert abs((y - ty) - (by - y)) <= 0.3 * (by - ty), (y, ty, by)
        assert not diff[y - 2 : y + 3, x - 2 : x + 3].any()  # the pupil itself is seen


def test_an_object_asked_for_in_a_mask_fills_the_mask_and_stays_in_it() -> None:
    cat = load("cat")
    mask = Image.new("L", cat.size, 0)
    ImageDraw.Draw(mask).ellipse((150, 0, 330, 90), fill=255)
    out = edit_image(cat, "give the cat a small red party hat", layers=[mask])
    diff = changed(cat, out)
    inside = np.asarray(mask) > 0
    assert not (diff & ~inside).any()
    assert diff[inside].mean() > 0.15  # a hat, not a dot
    red = arr(out)[diff]
    assert ((red[:, 0] > red[:, 1] + 60) & (red[:, 0] > red[:, 2] + 60)).mean() > 0.5


def test_a_flower_put_in_the_cup_stands_in_the_cup() -> None:
    coffee = load("coffee")
    out = edit_image(coffee, "put a pink flower in the cup")
    diff = changed(coffee, out)
    ys, xs = np.nonzero(diff)
    w, h = coffee.size
    # Centred over the cup (x 0.3-0.62 of the width) and rising above the saucer's middle.
    assert 0.3 * w < xs.mean() < 0.62 * w and ys.mean() < 0.5 * h


def _hue_deg(a: np.ndarray) -> np.ndarray:
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    hue: np.ndarray = np.degrees(np.arctan2(np.sqrt(3) * (g - b), 2 * r - g - b)) % 360
    return hue


def test_make_the_cat_black_darkens_the_whole_cat_and_keeps_its_fur() -> None:
    cat = load("cat")
    subject, background = reference_mask("cat", cat.size)
    before, after = arr(cat), arr(edit_image(cat, "make the cat black"))
    assert plan("make the cat black") == ["recolour:black"]
    assert luma(after)[subject].mean() < 0.5 * luma(before)[subject].mean()
    assert (luma(after)[subject] < 110).mean() > 0.95  # the whole cat, not a patch
    spread = after.max(-1) - after.min(-1)
    assert spread[subject].mean() < 25  # black, not a dark ginger
    # The stripes and fur stay: luminance structure correlates with the photo's.
    assert np.corrcoef(luma(after)[subject], luma(before)[subject])[0, 1] > 0.8
    # Most of the room is untouched (the estimate takes one bright streak of it for whiskers).
    assert (np.abs(after[background] - before[background]) < 10).all(-1).mean() > 0.7


def test_make_the_cup_blue_changes_the_cup_not_the_coffee() -> None:
    coffee = load("coffee")
    before, after = arr(coffee), arr(edit_image(coffee, "make the cup blue"))
    saucer = _draw([("ellipse", (0.47, 0.75, 0.22, 0.12))], coffee.size)
    crema = _draw([("ellipse", (0.47, 0.38, 0.06, 0.04))], coffee.size)  # the coffee's middle
    hue = _hue_deg(after[saucer])
    assert ((hue > 200) & (hue < 250)).mean() > 0.9
    assert np.corrcoef(luma(after)[saucer], luma(before)[saucer])[0, 1] > 0.8
    assert np.abs(after[crema] - before[crema]).mean() < 25  # the coffee stays coffee


def test_a_stormy_sky_is_dark_and_has_clouds() -> None:
    rocket = load("rocket")
    sky = box_of((0.55, 0.02, 0.85, 0.4), rocket.size)
    before, after = arr(rocket), arr(edit_image(rocket, "make the sky stormy"))
    spread_before = (before.max(-1) - before.min(-1))[sky].mean()
    spread_after = (after.max(-1) - after.min(-1))[sky].mean()
    assert spread_after < 0.5 * spread_before  # grey, not blue
    assert luma(after)[sky].mean() < 110  # dark
    # Structure: the cloud banks vary over tens of pixels, not a flat grey.
    small = np.asarray(Image.fromarray(after.astype(np.uint8)).resize((64, 43)), np.float64)
    assert luma(small)[box_of((0.55, 0.02, 0.85, 0.4), (64, 43))].std() > 8


def test_removing_the_subject_copies_no_new_object_in() -> None:
    rocket = load("rocket")
    out = arr(edit_image(rocket, "Remove the tourist crowd from the square"))
    body = box_of((0.493, 0.42, 0.505, 0.8), rocket.size)
    sky = box_of((0.6, 0.3, 0.66, 0.8), rocket.size)

    def detail(mask: np.ndarray) -> float:
        g = luma(out)
        return float(np.abs(np.diff(g, axis=1))[mask[:, 1:]].mean())

    assert luma(out)[body].mean() < luma(arr(rocket))[body].mean() - 60  # the white rocket left
    assert detail(body) < 2 * detail(sky) + 1  # and no tower came in its place


@pytest.mark.parametrize(
    ("name", "prompt"),
    [(n, p) for n, p, _, _ in OBJECT_PROMPTS]
    + [("cat", "make the cat black"), ("coffee", "make the cup blue"),
       ("coffee", "put a pink flower in the cup"), ("rocket", "make the sky stormy"),
       ("cat", "paint it as a watercolour"), ("astronaut", "remove the background")],
)  # fmt: skip
def test_every_edit_is_deterministic(name: str, prompt: str) -> None:
    img = load(name)
    assert edit_image(img, prompt).tobytes() == edit_image(img.copy(), prompt).tobytes()


def test_a_restored_corner_has_no_straight_seams() -> None:
    cat = load("cat")
    w, h = cat.size
    torn = cat.copy()
    points = [(w * 0.55, 0.0)]
    for i in range(1, 12):  # a ragged tear from the top edge to the right edge
        t, wobble = i / 12, (-1) ** i * 0.025 * (1 + (i * 7) % 3)
        points.append((w * (0.55 + 0.45 * t + wobble), h * (0.5 * t - wobble)))
    points += [(w, h * 0.5), (w, 0.0)]
    ImageDraw.Draw(torn).polygon(points, fill=(250, 250, 247))
    restored = arr(edit_image(torn, "restore the torn corner of the photo"))
    region = luma(restored)[: h // 2, w // 2 :]
    # A straight seam is a row or column whose step between neighbours, averaged along it,
    # stands out from the rows or columns beside it (the photo's own edges are curved).
    for steps in (np.abs(np.diff(region, axis=1)).mean(0), np.abs(np.diff(region, axis=0)).mean(1)):
        beside = (np.convolve(steps, np.ones(7), "same") - steps) / 6
        assert (steps / (beside + 1)).max() < 2.5
    paper = (np.abs(arr(torn) - 248).max(-1) < 8).mean()
    assert paper > 0.05 and (np.abs(restored - 248).max(-1) < 8).mean() < 0.005  # filled


def _column_on_a_base() -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """A white column standing on a wider, lit slab cut by the frame's bottom, under a dusk
    sky: (image, column, slab)."""
    h, w = 300, 450
    rng = np.random.default_rng(3)
    yy = np.mgrid[0:h, 0:w][0].astype(np.float32)
    img = np.stack([20 + 30 * yy / h, 40 + 40 * yy / h, 90 + 30 * yy / h], -1)
    column, slab = np.zeros((h, w), bool), np.zeros((h, w), bool)
    column[60:270, 215:235] = True
    slab[270:, 165:285] = True
    img[column], img[slab] = (225, 220, 210), (200, 150, 100)
    img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(img), column, slab


def test_a_column_is_the_subject_and_the_base_it_stands_on_is_not() -> None:
    """A tall, narrow figure on a wide base cut by the bottom edge stands on ground (a rocket
    on its pad, a statue on its plinth): the base was taken whole with it (99.8 %)."""
    img, column, slab = _column_on_a_base()
    matte = subject_matte(img)
    assert (matte[column] > 0.5).mean() > 0.85
    assert (matte[slab] > 0.5).mean() < 0.05


def test_the_rockets_launch_platform_and_gantry_are_not_subject() -> None:
    """The lit platform under the rocket and the gantry around its lower body (checked by eye;
    the body is x 0.487-0.522) were most of what the estimate took beyond the rocket."""
    img = load("rocket")
    matte = subject_matte(img)
    platform = box_of((0.42, 0.96, 0.48, 1.0), img.size) | box_of((0.53, 0.96, 0.58, 1.0), img.size)
    gantry = box_of((0.42, 0.82, 0.475, 0.93), img.size) | box_of((0.535, 0.82, 0.57, 0.93),
                                                                  img.size)
    assert (matte[platform] > 0.5).mean() < 0.02
    assert (matte[gantry] > 0.5).mean() < 0.05
    body, _ = reference_mask("rocket", img.size)
    assert (matte[body] > 0.5).mean() > 0.98


def test_the_close_ups_ear_cut_by_the_top_edge_is_subject() -> None:
    """The cat's ear at the top left (checked by eye: pink inside, out of focus against the
    out-of-focus room) was background (3 %), so "make the cat black" left its tip ginger; the
    wall of the cat's colour in the top-right corner stays background."""
    img = load("cat")
    matte = subject_matte(img)
    assert (matte[box_of((0.1, 0.0, 0.19, 0.08), img.size)] > 0.5).mean() > 0.95
    assert (matte[box_of((0.92, 0.0, 0.99, 0.1), img.size)] > 0.5).mean() < 0.05


def test_the_rockets_nose_cone_is_subject() -> None:
    """The rocket is five pixels across at the estimate's scale; its shaded fairing (checked
    by eye, x 0.49-0.52, y 0.3-0.41) lost its outline pixels to the sky (67 % kept)."""
    img = load("rocket")
    matte = subject_matte(img)
    assert (matte[box_of((0.492, 0.32, 0.515, 0.40), img.size)] > 0.5).mean() > 0.9
