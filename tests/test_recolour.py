"""The black cat: "make the cat black" on the cat sample, checked where a person looks:
the fur is near black (not a dark grey), the yellow-green eyes keep their hue, the whiskers
stay light, the black stays off the blurred room past the cheek and off the ear's pink rim.
Boxes are in fractions of the sample's size, found by eye on a 3x enlargement (the sample
is 451 x 300)."""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image, ImageFilter

from venice_nb._backend._imageops import edit_image

from ._pictures import arr, load, luma
from .test_effects_subjects import box_of, reference_mask

LEFT_IRIS = (0.317, 0.393, 0.355, 0.45)  # the lower half of the cat's left iris (our left)
RIGHT_IRIS = (0.665, 0.473, 0.698, 0.517)  # the lower left of the other iris
# The blurred, cat-coloured room just right of the right cheek, at the height of the eye's
# top (checked by eye: shelf edges and a wall, no fur); the estimate took it in.
ROOM_BY_CHEEK = (0.809, 0.3, 0.854, 0.4)
EAR_RIM = (0.82, 0.083, 0.847, 0.133)  # the right ear's light pink rim, against the room


@cache
def black_cat() -> tuple[np.ndarray, np.ndarray]:
    cat = load("cat")
    return arr(cat), arr(edit_image(cat, "make the cat black"))


def hsv(rgb: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.asarray(
        Image.fromarray(rgb.astype(np.uint8)).convert("HSV"), np.float64
    ) / [256 / 360, 255, 255]
    return out


def test_the_black_cat_is_near_black_not_dark_grey() -> None:
    """Half the cat below luminance 35 of 255 (was 43: a mid-dark grey)."""
    before, after = black_cat()
    subject, _ = reference_mask("cat", (before.shape[1], before.shape[0]))
    assert np.median(luma(after)[subject]) < 35


def test_the_black_cat_keeps_its_eyes_hue() -> None:
    """The irises keep their yellow-green hue and most of their saturation (were grey)."""
    before, after = black_cat()
    size = (before.shape[1], before.shape[0])
    fur = np.median(luma(after)[reference_mask("cat", size)[0]])
    for frac in (LEFT_IRIS, RIGHT_IRIS):
        iris = box_of(frac, size)
        old, new = hsv(before)[iris], hsv(after)[iris]
        assert abs(np.median(new[:, 0]) - np.median(old[:, 0])) < 6  # hue, degrees
        assert np.median(new[:, 1]) > 0.6 * np.median(old[:, 1])  # saturation
        # and brighter than the black fur round them (a coloured eye in a black face)
        assert luma(after[iris]).mean() > 1.2 * fur


def test_the_black_stays_off_the_room_past_the_cheek() -> None:
    """The blurred room right of the cheek is the cat's colour and was taken in by the
    subject estimate (black there, changed by 83 of 255 on average): it stays the room."""
    before, after = black_cat()
    room = box_of(ROOM_BY_CHEEK, (before.shape[1], before.shape[0]))
    assert np.abs(after[room] - before[room]).mean() < 10


def test_the_whiskers_stay_light_on_the_black_cat() -> None:
    """Fine light lines in the cat (whiskers: brighter than their 5 x 5 mean) stay light:
    more than two and a half times the fur's median luminance (were less than twice)."""
    _, after = black_cat()
    cat = load("cat")
    subject, _ = reference_mask("cat", cat.size)
    grey = np.asarray(cat.convert("L"), np.float64)
    around = np.asarray(cat.convert("L").filter(ImageFilter.BoxBlur(2)), np.float64)
    whiskers = subject & (grey - around > 25) & (grey > 150)
    assert whiskers.sum() > 30
    assert luma(after)[whiskers].mean() > 2.5 * np.median(luma(after)[subject & ~whiskers])


def test_the_ear_s_pink_rim_goes_dark_with_the_cat() -> None:
    """The right ear's light pink rim was left outside the black (a pink line along the
    ear; 47 of 255 between its channels): now it is mostly dark and grey."""
    before, after = black_cat()
    rim = box_of(EAR_RIM, (before.shape[1], before.shape[0]))
    spread = after.max(-1) - after.min(-1)
    assert spread[rim].mean() < 35
    assert luma(after[rim]).mean() < 0.6 * luma(before[rim]).mean()
