"""Things a prompt asks to add ("give the cat a red hat", "put a pink flower in the cup"):
simple, recognisable shapes drawn where they belong on the subject, shaded to the scene.

Placement comes from the subject matte (``_subject``) or, with a mask, from the mask's box:

- the *head* is the top of the subject: its width is the subject's width just below its top
  (capped, so a frame-filling subject still gets a head-sized box), its eye line a fixed share
  of that width below the top (for glasses, the row where a pupil shows on each side of the
  face, when one does: ``with_eyes``); a subject cut by the top edge of the frame (a close-up)
  has its eye line a third of the way down;
- hats and crowns sit on the head, their brim at the forehead; glasses on the eye line; a scarf
  wrapped twice round the neck (in a close-up, under the chin at the bottom edge, its sides
  climbing round the neck); a flower by the ear,
  or standing in the subject's opening when the prompt says "in".

Shapes are drawn at twice the size and reduced (anti-aliased), lit from the top left, given a
soft contact shadow, and multiplied by the scene's own light at that place, so a hat in a dim
room is dim. Everything is deterministic: no randomness at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from .._vision._pixels import Region, luma, selected_box, square_extreme

Colour = tuple[int, int, int]

KINDS = ("party hat", "hat", "crown", "sunglasses", "glasses", "scarf", "flower", "bow")
DEFAULT_COLOURS: dict[str, Colour] = {
    "party hat": (220, 30, 30), "hat": (35, 35, 40), "crown": (212, 175, 55),
    "sunglasses": (20, 20, 24), "glasses": (30, 30, 34), "scarf": (200, 30, 40),
    "flower": (240, 110, 170), "bow": (220, 30, 60),
}  # fmt: skip
SS = 2  # supersampling factor
STITCH_PX = 7.0  # a knitted column of stitches is drawn at least this wide, then scaled


@dataclass(frozen=True)
class Head:
    """Where the subject's head is, in pixels: centre x, top y, width, eye line y."""

    cx: float
    top: float
    width: float
    eyes: float
    close_up: bool = False
    eye_gap: float | None = None  # half the distance between the eyes, where it was seen


def head_of(matte: np.ndarray) -> Head:
    """The head box of a subject matte (float HxW in [0, 1]); see the module docstring."""
    h, w = matte.shape
    solid = matte > 0.5
    rows = np.nonzero(solid.any(axis=1))[0]
    if len(rows) == 0:
        return Head(w / 2, h * 0.1, min(w, h) * 0.4, h * 0.35)
    top = int(rows[0])
    height = int(rows[-1]) - top + 1
    band = solid[top : top + max(2, round(height * 0.15))]
    cols = np.nonzero(band.any(axis=0))[0]
    cx = float(cols.mean()) if len(cols) else w / 2
    widths = band.sum(axis=1)
    width = float(np.median(widths)) if len(widths) else w * 0.3
    width = float(np.clip(width, min(w, h) * 0.18, min(w, h) * 0.6))
    if top <= h * 0.02:  # a close-up: the top of the head is out of frame, the head is large
        width = max(width, min(w, h) * 0.6)
        below = solid[round(h * 0.35)]
        xs = np.nonzero(below)[0]
        if len(xs):
            cx = float((xs[0] + xs[-1]) / 2)
        return Head(cx, -0.15 * width, width, h * 0.36, close_up=True)
    return Head(cx, float(top), width, top + 0.72 * width)


def with_eyes(grey: np.ndarray, hd: Head) -> Head:
    """``hd`` with its eye line and eye spacing taken from the photo where they can be seen:
    the row, in the band where eyes can be, at which each half of the face has its darkest
    spot most below that half's mean (a pupil on skin; hair is dark all along its row, a brow
    is less dark). The fixed share of the head width puts the eyes of a face under a tall
    hairdo too low, and glasses then sat on the cheeks. Nothing convincing (a spot on each
    side at least EYE_CONTRAST below its row), and ``hd`` stays as it was."""
    h, w = grey.shape
    y0, y1 = max(0, round(hd.top + 0.45 * hd.width)), min(h, round(hd.top + 0.9 * hd.width))
    sides = [
        (max(0, round(hd.cx + a * hd.width)), min(w, round(hd.cx + b * hd.width)))
        for a, b in ((-0.3, -0.08), (0.08, 0.3))
    ]
    if y1 - y0 < 3 or any(x1 - x0 < 2 for x0, x1 in sides):
        return hd
    depth, spots = [], []
    for x0, x1 in sides:
        band = grey[y0:y1, x0:x1].astype(np.float32)
        depth.append(band.mean(axis=1) - band.min(axis=1))
        spots.append(x0 + band.argmin(axis=1))
    score = np.minimum(depth[0], depth[1])
    score = np.convolve(score, np.ones(3, np.float32) / 3, mode="same")  # a pupil spans rows
    row = int(np.argmax(score))
    if score[row] < EYE_CONTRAST:
        return hd
    left, right = float(spots[0][row]), float(spots[1][row])
    gap = float(np.clip((right - left) / 2, 0.14 * hd.width, 0.26 * hd.width))
    return Head((left + right) / 2, hd.top, hd.width, float(y0 + row), hd.close_up, gap)


EYE_CONTRAST = 40.0  # grey levels an eye's darkest spot lies below its half-row's mean


# Per kind: (height, width) of the drawn object in head widths, to fit it into a mask's box.
_EXTENT = {"party hat": (1.0, 0.66), "hat": (0.75, 1.46), "crown": (0.5, 0.85),
           "glasses": (0.3, 1.0), "sunglasses": (0.3, 1.0), "scarf": (0.9, 1.3),
           "bow": (0.3, 0.45), "flower": (0.45, 0.45)}  # fmt: skip


def _brimmed(cx: float, brim: float, width: float, kind: str) -> Head:
    """The head on which the drawers put a hat of ``kind`` with its brim at ``brim``."""
    return Head(cx, brim - 0.3 * width, width, brim + (0.42 if kind == "hat" else 0.45) * width)


def head_in_box(box: tuple[int, int, int, int], kind: str) -> Head:
    """The head for which ``kind`` exactly fills a mask's box: the object fits the box the
    user painted (a hat stands on the box's bottom edge, glasses sit in its middle)."""
    x0, y0, x1, y1 = box
    tall, wide = _EXTENT[kind]
    width = min((y1 - y0) / tall, (x1 - x0) / wide)
    cx = (x0 + x1) / 2
    if kind in ("party hat", "hat", "crown"):
        return _brimmed(cx, y1 - 0.04 * width, width, kind)
    if kind == "scarf":
        return Head(cx, y0 - 0.9 * width, width, (y0 + y1) / 2 - 0.95 * width)
    return Head(cx, y0 - 0.1 * width, width, (y0 + y1) / 2)


def _shade(colour: Colour, light: float) -> Colour:
    """``colour`` lit: light > 1 brightens towards white, < 1 darkens."""
    if light >= 1:
        t = min(1.0, light - 1)
        return tuple(round(c + (255 - c) * t) for c in colour)  # type: ignore[return-value]
    return tuple(round(c * light) for c in colour)  # type: ignore[return-value]


def _party_hat(d: ImageDraw.ImageDraw, hd: Head, colour: Colour, s: float) -> None:
    base_y = max(hd.top + 0.3 * hd.width, hd.eyes - 0.5 * hd.width)
    half, tall = 0.3 * hd.width, 0.85 * hd.width
    apex = (hd.cx + 0.08 * hd.width, base_y - tall)
    left, right = (hd.cx - half, base_y), (hd.cx + half, base_y)
    pts = [apex, right, left]
    d.polygon([(x * s, y * s) for x, y in pts], fill=colour)
    # Lit left half, shaded right edge: reads as a cone.
    mid = (hd.cx - 0.1 * half, base_y)
    d.polygon([(x * s, y * s) for x, y in (apex, mid, left)], fill=_shade(colour, 1.18))
    d.polygon(
        [(x * s, y * s) for x, y in (apex, right, (hd.cx + 0.55 * half, base_y))],
        fill=_shade(colour, 0.72),
    )
    # Stripes and a pompom.
    stripe = _shade(colour, 1.6)
    for t in (0.35, 0.65):
        y = apex[1] + (base_y - apex[1]) * t
        hw = half * t
        x = apex[0] + (hd.cx - apex[0]) * t
        d.line([((x - hw) * s, y * s), ((x + hw) * s, (y - 0.04 * hd.width) * s)],
               fill=stripe, width=max(1, round(0.04 * hd.width * s)))  # fmt: skip
    r = 0.09 * hd.width
    d.ellipse([(apex[0] - r) * s, (apex[1] - r) * s, (apex[0] + r) * s, (apex[1] + r) * s],
              fill=(250, 248, 240))  # fmt: skip
    d.ellipse([(hd.cx - half * 1.05) * s, (base_y - 0.06 * hd.width) * s,
               (hd.cx + half * 1.05) * s, (base_y + 0.06 * hd.width) * s],
              fill=(250, 248, 240))  # fmt: skip


def _hat(d: ImageDraw.ImageDraw, hd: Head, colour: Colour, s: float) -> None:
    """A brimmed hat (a fedora-like crown on a wide elliptical brim) with a band."""
    brim_y = max(hd.top + 0.32 * hd.width, hd.eyes - 0.42 * hd.width)
    bw, bh = 0.72 * hd.width, 0.13 * hd.width
    cw, ch = 0.42 * hd.width, 0.55 * hd.width
    d.ellipse([(hd.cx - bw) * s, (brim_y - bh) * s, (hd.cx + bw) * s, (brim_y + bh) * s],
              fill=_shade(colour, 0.8))  # fmt: skip
    d.rounded_rectangle(
        [(hd.cx - cw) * s, (brim_y - ch) * s, (hd.cx + cw) * s, brim_y * s],
        radius=round(0.14 * hd.width * s), fill=colour,
    )  # fmt: skip
    d.rectangle([(hd.cx - cw) * s, (brim_y - ch) * s, (hd.cx - 0.55 * cw) * s, brim_y * s],
                fill=_shade(colour, 1.15))  # fmt: skip
    band = _shade(colour, 0.45) if sum(colour) > 150 else (200, 200, 200)
    d.rectangle([(hd.cx - cw) * s, (brim_y - 0.22 * ch) * s, (hd.cx + cw) * s, brim_y * s],
                fill=band)  # fmt: skip
    d.ellipse([(hd.cx - cw) * s, (brim_y - 0.05 * hd.width) * s, (hd.cx + cw) * s,
               (brim_y + 0.05 * hd.width) * s], fill=_shade(colour, 0.6))  # fmt: skip


def _crown(d: ImageDraw.ImageDraw, hd: Head, colour: Colour, s: float) -> None:
    base_y = max(hd.top + 0.3 * hd.width, hd.eyes - 0.45 * hd.width)
    half, tall = 0.4 * hd.width, 0.4 * hd.width
    pts = [(hd.cx - half, base_y), (hd.cx - half, base_y - tall)]
    for i in range(1, 9):
        x = hd.cx - half + i * half / 4
        pts.append((x, base_y - (0.45 if i % 2 else 1.0) * tall))
    pts.append((hd.cx + half, base_y))
    d.polygon([(x * s, y * s) for x, y in pts], fill=colour)
    d.rectangle([(hd.cx - half) * s, (base_y - 0.25 * tall) * s, (hd.cx + half) * s, base_y * s],
                fill=_shade(colour, 0.75))  # fmt: skip
    for i, gem in enumerate(((200, 30, 40), (30, 80, 200), (30, 160, 70))):
        x, r = hd.cx + (i - 1) * half * 0.6, 0.05 * hd.width
        y = base_y - 0.12 * tall
        d.ellipse([(x - r) * s, (y - r) * s, (x + r) * s, (y + r) * s], fill=gem)


def _glasses(d: ImageDraw.ImageDraw, hd: Head, colour: Colour, s: float, dark: bool) -> None:
    gap = hd.eye_gap if hd.eye_gap is not None else 0.24 * hd.width
    r = 0.62 * gap
    line = max(1, round(0.2 * r * s))
    lens = (25, 28, 35) if dark else None
    for sign in (-1, 1):
        x = hd.cx + sign * gap
        box = [(x - r) * s, (hd.eyes - 0.8 * r) * s, (x + r) * s, (hd.eyes + 0.8 * r) * s]
        d.rounded_rectangle(box, radius=round(0.5 * r * s), outline=colour, width=line,
                            fill=lens)  # fmt: skip
        # Temples running back towards the ears.
        end = hd.cx + sign * (gap + 1.9 * r)
        d.line([((x + sign * r) * s, (hd.eyes - 0.4 * r) * s), (end * s, (hd.eyes - 0.55 * r) * s)],
               fill=colour, width=line)  # fmt: skip
    d.arc([(hd.cx - gap + r) * s, (hd.eyes - 0.6 * r) * s, (hd.cx + gap - r) * s,
           (hd.eyes + 0.2 * r) * s], 180, 360, fill=colour, width=line)  # fmt: skip


# ----------------------------------------------------------------------------- the scarf
# Knitted fabric is drawn per pixel with numpy rather than as polygons: its look is a texture
# (stitches, fuzz, soft edges), which polygons could only draw as a flat, plastic-looking
# shape, and a texture over the window costs a few milliseconds.


def _knit(u: np.ndarray, v: np.ndarray, thick: float) -> np.ndarray:
    """Brightness of stockinette at fabric coordinates ``u`` (along the scarf) and ``v``
    (across it), in pixels: columns of V-shaped stitches running along the scarf, a dark gap
    between columns and a fine fuzz, so the band reads as knitted yarn."""
    q = max(3.0, thick / 3.4)  # a column of stitches, across
    p = 0.8 * q  # one stitch, along
    w = (v / q) % 1.0 - 0.5  # -0.5 .. 0.5 across a column
    loop = 0.5 + 0.5 * np.cos(2 * np.pi * (u / p + 1.3 * np.abs(w)))  # the two legs of a V
    gap = 1 - 0.4 * (2 * np.abs(w)) ** 6
    knit: np.ndarray = (0.8 + 0.28 * loop) * gap
    return knit


def _fuzz(shape: tuple[int, int], seed: int, coarse: int = 1) -> np.ndarray:
    """Deterministic noise in -1..1: yarn fuzz at ``coarse`` 1, tufts of fur over the fabric
    when made at a ``coarse``-times smaller size and enlarged."""
    h, w = shape
    small = (max(1, -(-w // coarse)), max(1, -(-h // coarse)))
    noise = np.random.default_rng(seed).integers(0, 256, small[::-1], dtype=np.uint8)
    img = Image.fromarray(noise).filter(ImageFilter.BoxBlur(0.6))
    if coarse > 1:
        img = img.resize((w, h), Image.Resampling.BILINEAR)
    out: np.ndarray = np.clip((np.asarray(img, np.float32) - 128) * np.float32(1 / 40), -1, 1)
    return out


def _soft(distance: np.ndarray) -> np.ndarray:
    """Alpha from a signed distance inside a shape (pixels, > 0 inside): a one-pixel ramp."""
    alpha: np.ndarray = np.clip(distance + 0.5, 0.0, 1.0)
    return alpha


Box = tuple[slice, slice]


class _Fabric:
    """Layers of knitted fabric laid over each other in a window: premultiplied colour and
    alpha, each piece shaded by its own light (form) times the knit texture. Each piece works
    only on its own box, and the texture only on the pixels it covers."""

    def __init__(self, size: tuple[int, int], colour: Colour, thick: float) -> None:
        w, h = size
        self.w, self.h = w, h
        self.shade = np.zeros((h, w), np.float32)
        self.alpha = np.zeros((h, w), np.float32)
        self.colour = np.asarray(colour, np.float32)
        self.thick = thick
        self.fuzz = _fuzz((h, w), 7)
        self.tufts = _fuzz((h, w), 11, max(1, round(0.5 * thick)))

    def box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[Box, np.ndarray, np.ndarray]:
        """The window's part round (x0, y0, x1, y1) and its pixel coordinates (a row and a
        column, for broadcasting)."""
        ix0, iy0 = max(0, int(x0) - 2), max(0, int(y0) - 2)
        ix1, iy1 = min(self.w, int(x1) + 3), min(self.h, int(y1) + 3)
        ix1, iy1 = max(ix0, ix1), max(iy0, iy1)
        xs = np.arange(ix0, ix1, dtype=np.float32)[None, :]
        ys = np.arange(iy0, iy1, dtype=np.float32)[:, None]
        return (slice(iy0, iy1), slice(ix0, ix1)), xs, ys

    def lay(self, sl: Box, alpha: np.ndarray, light: np.ndarray, u: np.ndarray,
            v: np.ndarray, fade: np.ndarray | float = 1.0) -> None:  # fmt: skip
        """Lay a piece of coverage ``alpha`` (its outline) lit by ``light`` over what is
        there, faded by ``fade`` (where it goes out of sight). One colour throughout: only
        the shade is kept (premultiplied), coloured once in ``image``."""
        fuzz = self.fuzz[sl]
        # Fuzzy edges: stray fibres along the outline only (a wide fade with fibres all over
        # it reads as speckle, not yarn).
        a = np.clip(alpha + 0.35 * fuzz * ((alpha > 0) & (alpha < 1)), 0.0, 1.0) * fade
        shade = light * _knit(u, v, self.thick) * (1 + 0.07 * fuzz)
        keep = 1 - a
        self.shade[sl] = self.shade[sl] * keep + shade * a
        self.alpha[sl] = self.alpha[sl] * keep + a

    def _occlude(self, sl: Box, alpha: np.ndarray, thick: float) -> None:
        """Darken what lies under a new piece just below its edge: the soft shadow one wrap
        casts on the one beneath (fabric is thick; without it the wraps look flat)."""
        if not self.alpha[sl].any():
            return
        img = Image.fromarray(np.clip(alpha * 255, 0, 255).astype(np.uint8))
        shift = max(1, round(0.3 * thick))
        moved = Image.new("L", img.size, 0)
        moved.paste(img, (0, shift))
        soft = np.asarray(moved.filter(ImageFilter.BoxBlur(max(1.0, 0.25 * thick))), np.float32)
        self.shade[sl] *= 1 - 0.55 * soft / 255

    def tube(self, cx: float, half: float, y: float, rise: float, thick: float,
             light: float) -> None:  # fmt: skip
        """One wrap round a neck seen from the front: a roll whose middle hangs lowest and
        whose sides rise as it goes round, lit above its middle, dark underneath, darker where
        it turns away at the sides, with soft slanting folds."""
        sl, xs, ys = self.box(cx - half, y - rise - thick, cx + half, y + thick)
        t = (xs - cx) / half
        th = thick * (1 - 0.3 * t * t)
        off = (ys - (y - rise * t * t)) / th  # -1 top edge .. 1 bottom edge
        alpha = _soft((1 - np.abs(off)) * th)
        # At the sides it goes behind the neck: it fades under the fur along a soft, wavy
        # line (tufts as wide as the yarn is thick, not single-pixel specks).
        fade = np.clip((1 - np.abs(t)) / 0.18 + 0.35 * self.tufts[sl], 0.0, 1.0) ** 1.5
        self._occlude(sl, alpha * fade, thick)
        form = 0.42 + 0.78 * np.maximum(0.0, 1 - ((off + 0.3) / 1.25) ** 2)
        turn = 0.6 + 0.4 * (1 - t**4)
        folds = 1 + 0.12 * np.sin(2 * np.pi * (t * half / (2.2 * thick) + 0.35 * off))
        self.lay(sl, alpha, light * form * turn * folds, t * half, off * th, fade)

    def end(self, x: float, y: float, length: float, thick: float, slant: float,
            light: float) -> None:  # fmt: skip
        """A loose end falling from the knot: a tapered strip, rounded across, with a
        fringe of yarn at its foot."""
        x2 = x + slant * length
        foot = y + length + 0.45 * thick
        sl, xs, ys = self.box(min(x, x2) - thick, y, max(x, x2) + thick, foot)
        s = (ys - y) / length  # 0 at the knot .. 1 at the foot
        half = thick * (0.95 - 0.15 * np.clip(s, 0, 1))
        a = (xs - (x + slant * length * s)) / half  # -1 .. 1 across
        body = _soft(np.minimum((1 - np.abs(a)) * half, np.minimum(s, 1 - s) * length))
        strands = (np.cos(2 * np.pi * 3.5 * a) > 0.1) & (s > 1) & (s < 1 + 0.45 * thick / length)
        fringe = _soft((1 - np.abs(a)) * half) * strands
        form = 0.62 + 0.4 * np.maximum(0.0, 1 - ((a + 0.2) / 1.1) ** 2)
        self.lay(sl, np.maximum(body, fringe), light * form, ys - y, a * half)

    def knot(self, kx: float, ky: float, r: float, light: float) -> None:
        """The knot: a rounded bundle lit from the top left, with two creases across."""
        sl, xs, ys = self.box(kx - r, ky - 0.9 * r, kx + r, ky + 0.9 * r)
        dx, dy = xs - kx, (ys - ky) / 0.9
        d = np.sqrt(dx * dx + dy * dy) / r
        alpha = _soft((1 - d) * r)
        self._occlude(sl, alpha, 0.6 * r)
        dome = np.sqrt(np.clip(1 - d * d, 0.0, 1.0))
        form = 0.45 + 0.5 * dome + 0.2 * np.clip(-(dx + dy) / r, -1, 1) * dome
        creases = 1 - 0.22 * np.exp(-(((((dx - 0.5 * dy) / r) % 0.7 - 0.35) / 0.08) ** 2))
        self.lay(sl, alpha, light * form * creases, dx + 0.5 * dy, dy - 0.3 * dx)

    def image(self) -> Image.Image:
        """The fabric as RGBA: the colour lit by the shade (above 1 towards white)."""
        shade = (self.shade / np.maximum(self.alpha, 1e-6))[..., None]
        c = self.colour
        lit = c * np.minimum(shade, 1.0) + (255 - c) * np.clip(shade - 1, 0.0, 1.0)
        out = Image.fromarray(np.clip(lit + 0.5, 0, 255).astype(np.uint8))
        out.putalpha(Image.fromarray(np.clip(self.alpha * 255 + 0.5, 0, 255).astype(np.uint8)))
        return out


def _scarf(hd: Head, colour: Colour, size: tuple[int, int], bottom: float
           ) -> tuple[Image.Image, tuple[int, int]]:  # fmt: skip
    """A knitted scarf wrapped twice round the neck, as an RGBA image and its place in a
    window of ``size``: two rolls whose sides rise round the neck, a knot to one side and two
    ends falling from it. In a close-up, where the neck is below the frame, the wraps sit just
    under the chin and run out of the bottom edge the way a photographed scarf does."""
    if hd.close_up:  # under the chin, at the bottom edge; the sides climb round the neck
        thick, half = 0.1 * hd.width, 0.9 * hd.width
        rise = 2.6 * thick
        # The top roll's middle half a roll above the frame's edge: a close-up's chin is
        # near the bottom, and a roll higher up covered the mouth like a muzzle.
        upper = bottom - 0.5 * thick
    else:
        thick, half = 0.11 * hd.width, 0.5 * hd.width
        rise = 1.6 * thick
        upper = min(hd.eyes + 0.95 * hd.width + 0.6 * thick, bottom - 2.2 * thick)
    lower = upper + 1.45 * thick
    kt = 0.42
    kx = hd.cx + kt * half
    ky = upper - rise * kt * kt + 0.3 * thick
    length = max(2.6 * thick, bottom - ky + thick) if hd.close_up else 3.0 * thick
    # Only the scarf's own box is worked on.
    x0 = max(0, int(hd.cx - 1.04 * half) - 2)
    y0 = max(0, int(upper - rise - thick) - 2)
    x1 = min(size[0], int(hd.cx + 1.04 * half) + 3)
    y1 = min(size[1], int(max(lower + thick, ky + length + 0.5 * thick)) + 3)
    if x1 <= x0 or y1 <= y0:
        return Image.new("RGBA", (1, 1), (0, 0, 0, 0)), (0, 0)
    # Knitted at a scale where a column of stitches is about STITCH_PX wide (a big scarf on a
    # big photo is knitted smaller and enlarged: the texture keeps its look at a quarter of
    # the work).
    k = float(np.clip(STITCH_PX / max(3.0, thick / 3.4), 0.5, 1.0))
    size_k = (max(1, round((x1 - x0) * k)), max(1, round((y1 - y0) * k)))
    fabric = _Fabric(size_k, colour, thick * k)
    cx, t = (hd.cx - x0) * k, thick * k
    fabric.tube(cx, 1.04 * half * k, (lower - y0) * k, 1.1 * rise * k, t, 0.88)
    fabric.tube(cx, half * k, (upper - y0) * k, rise * k, t, 1.0)
    fabric.end((kx - x0) * k - 0.45 * t, (ky - y0) * k, length * k, t, -0.12, 0.9)
    fabric.end((kx - x0) * k + 0.55 * t, (ky - y0) * k, 0.85 * length * k, t, 0.16, 1.0)
    fabric.knot((kx - x0) * k, (ky - y0) * k, 1.2 * t, 1.0)
    out = fabric.image()
    if size_k != (x1 - x0, y1 - y0):
        out = out.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR)
    return out, (x0, y0)


def _flower(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, colour: Colour, s: float,
            stem: float) -> None:  # fmt: skip
    if stem > 0:
        d.line([(cx * s, cy * s), ((cx - 0.15 * r) * s, (cy + stem) * s)], fill=(50, 130, 50),
               width=max(1, round(0.18 * r * s)))  # fmt: skip
        d.ellipse([(cx - 0.9 * r) * s, (cy + 0.9 * r) * s, (cx - 0.1 * r) * s,
                   (cy + 1.3 * r) * s], fill=(60, 150, 60))  # fmt: skip
    for i in range(6):
        a = i * np.pi / 3
        px, py = cx + 0.55 * r * np.cos(a), cy + 0.55 * r * np.sin(a)
        pr = 0.45 * r
        fill = _shade(colour, 1.12 if i < 3 else 0.9)
        d.ellipse([(px - pr) * s, (py - pr) * s, (px + pr) * s, (py + pr) * s], fill=fill)
    cr = 0.3 * r
    d.ellipse([(cx - cr) * s, (cy - cr) * s, (cx + cr) * s, (cy + cr) * s], fill=(245, 200, 40))


def _bow(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, colour: Colour, s: float) -> None:
    for sign in (-1, 1):
        pts = [(cx, cy), (cx + sign * r, cy - 0.6 * r), (cx + sign * r, cy + 0.6 * r)]
        d.polygon([(x * s, y * s) for x, y in pts], fill=_shade(colour, 1.1 if sign < 0 else 0.85))
    k = 0.22 * r
    d.ellipse([(cx - k) * s, (cy - k) * s, (cx + k) * s, (cy + k) * s], fill=_shade(colour, 0.7))


def draw(
    img: Image.Image,
    kind: str,
    colour: Colour | None,
    *,
    matte: np.ndarray | None = None,
    mask: Region | None = None,
    inside: bool = False,
) -> Image.Image:
    """``img`` with the object ``kind`` (one of ``KINDS``) drawn on its subject: placed by the
    ``mask``'s box when there is one, else by the subject ``matte``. ``inside`` puts a flower
    standing in the subject's opening ("put a flower in the cup")."""
    w, h = img.size
    colour = colour or DEFAULT_COLOURS[kind]
    box = selected_box(mask) if mask is not None else None
    if box is not None:
        hd = head_in_box(box, kind)
    elif matte is not None:
        hd = head_of(matte)
        if kind in ("glasses", "sunglasses") and not hd.close_up:
            hd = with_eyes(np.asarray(img.convert("L")), hd)
        if hd.close_up and kind in ("party hat", "hat", "crown"):
            # The top of the head is out of frame: a smaller hat pulled down to the forehead
            # shows whole instead of being cut off by the frame.
            brim = hd.eyes - 0.22 * hd.width
            hd = _brimmed(hd.cx, brim, 0.7 * hd.width, kind)
    else:
        hd = Head(w / 2, h * 0.15, min(w, h) * 0.4, h * 0.15 + 0.29 * min(w, h))
    # Draw only in a window round the head (at SS times the size, then reduced): a full-size
    # supersampled layer would cost more than the rest of the edit.
    if inside and box is None and matte is not None:
        ox, oy, ox1, oy1 = 0, 0, w, h
    else:
        ox = max(0, int(hd.cx - 1.7 * hd.width))
        oy = max(0, int(hd.top - 1.3 * hd.width))
        ox1 = min(w, int(hd.cx + 1.7 * hd.width) + 1)
        oy1 = min(h, int(hd.eyes + 2.0 * hd.width) + 1)
    if ox1 <= ox or oy1 <= oy:
        return img
    hd = Head(hd.cx - ox, hd.top - oy, hd.width, hd.eyes - oy, hd.close_up, hd.eye_gap)
    if kind == "scarf":  # a texture, drawn per pixel at the final size
        bottom = (float(box[3]) if box else h) - oy
        scarf, (sx, sy) = _scarf(hd, colour, (ox1 - ox, oy1 - oy), bottom)
        at = (ox + sx, oy + sy)
        if matte is not None and box is None:
            scarf = _worn_on(scarf, matte, at)
        worn = _composite(img, scarf, at)
        return _hairs_over(img, worn, (*at, at[0] + scarf.width, at[1] + scarf.height))
    layer = Image.new("RGBA", ((ox1 - ox) * SS, (oy1 - oy) * SS), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    if kind == "party hat":
        _party_hat(d, hd, colour, SS)
    elif kind == "hat":
        _hat(d, hd, colour, SS)
    elif kind == "crown":
        _crown(d, hd, colour, SS)
    elif kind in ("glasses", "sunglasses"):
        _glasses(d, hd, colour, SS, kind == "sunglasses")
    elif kind == "bow":
        _bow(d, hd.cx + 0.35 * hd.width, hd.top + 0.25 * hd.width, 0.2 * hd.width, colour, SS)
    elif box is not None:
        x0, y0, x1, y1 = box
        r = 0.4 * min(x1 - x0, y1 - y0)
        _flower(d, (x0 + x1) / 2 - ox, (y0 + y1) / 2 - oy, r, colour, SS, 0.0)
    elif inside and matte is not None:
        solid = matte > 0.5
        rows = np.nonzero(solid.any(axis=1))[0]
        cols = np.nonzero(solid.any(axis=0))[0]
        top = int(rows[0]) if len(rows) else h // 4
        sub_w = float(cols[-1] - cols[0]) if len(cols) else w / 2
        # Standing in the opening: the flower's head at the rim, its stem going down inside.
        r = 0.15 * sub_w
        _flower(d, hd.cx, top + 0.02 * sub_w, r, colour, SS, 0.2 * sub_w)
    else:
        r = 0.2 * hd.width
        _flower(d, hd.cx + 0.45 * hd.width, max(r, hd.top + 0.2 * hd.width), r, colour, SS, 0.0)
    big = layer.getchannel("A").getbbox()
    if big is None:
        return img
    # Reduce only the part drawn on: cheap for a small object.
    x0, y0 = big[0] // SS, big[1] // SS
    x1, y1 = min(ox1 - ox, -(-big[2] // SS)), min(oy1 - oy, -(-big[3] // SS))
    part = layer.crop((x0 * SS, y0 * SS, x1 * SS, y1 * SS))
    return _composite(img, part.resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS),
                      (x0 + ox, y0 + oy))  # fmt: skip


HAIR_LEVELS = 18  # a hair is this much brighter than the photo round it (and more: solid)


def _hairs_over(
    before: Image.Image, after: Image.Image, box: tuple[int, int, int, int]
) -> Image.Image:
    """``after`` (changed in place) with the photo's thin bright hairs (whiskers, stray fur)
    inside ``box`` laid back over what was drawn there: a scarf is worn under the whiskers,
    not painted over them. A hair is a pixel brighter than the photo blurred round it."""
    box = (box[0], box[1], min(before.width, box[2]), min(before.height, box[3]))
    if box[2] <= box[0] or box[3] <= box[1]:
        return after
    part = before.crop(box)
    grey = part.convert("L")
    blurred = grey.filter(ImageFilter.BoxBlur(2))
    # (lift - HAIR_LEVELS) * 255 / HAIR_LEVELS, clipped: 0 below a hair's lift, 255 at twice it.
    hair = ImageChops.subtract(grey, blurred, HAIR_LEVELS / 255, -255)
    if hair.getbbox() is not None:
        after.paste(part, box[:2], hair)
    return after


def _worn_on(obj: Image.Image, matte: np.ndarray, at: tuple[int, int]) -> Image.Image:
    """``obj`` (RGBA at ``at``) only where the subject is, with a soft edge a little outside
    its outline: a scarf goes round the neck and behind it where the body ends; drawn to its
    full width on a narrow subject, its end hung in the air beside it."""
    x, y = at
    part = matte[y : y + obj.height, x : x + obj.width]
    if part.shape != (obj.height, obj.width):
        return obj
    reach = max(1, round(0.01 * max(matte.shape)))
    grown = square_extreme(np.clip(part * 255 + 0.5, 0, 255).astype(np.uint8), reach, np.maximum)
    body = Image.fromarray(grown).filter(ImageFilter.GaussianBlur(reach))
    out = obj.copy()
    out.putalpha(ImageChops.multiply(obj.getchannel("A"), body))
    return out


def _light_colour(mean: np.ndarray) -> np.ndarray:
    """Per-channel factors (about 0.85-1.15) for the colour of the scene's light from the
    picture's ``mean`` colour: over its grey, at half strength. An object lit by a warm room
    takes some of its warmth; one drawn in its pure colour looks pasted on."""
    grey = max(1.0, float(luma(mean)))
    factors: np.ndarray = np.clip(np.sqrt(np.maximum(mean, 1.0) / grey), 0.85, 1.15)
    return factors


def _composite(img: Image.Image, obj: Image.Image, at: tuple[int, int]) -> Image.Image:
    """Lay ``obj`` (RGBA, its top left at ``at`` in ``img``) on ``img`` with a soft contact
    shadow and the scene's light; the work is confined to the object's box (plus its
    shadow), with no layer the size of the picture."""
    own = obj.getchannel("A").getbbox()
    if own is None:
        return img
    bbox = (own[0] + at[0], own[1] + at[1], own[2] + at[0], own[3] + at[1])
    size = max(bbox[2] - bbox[0], bbox[3] - bbox[1])
    pad = max(4, size // 8)
    box = (max(0, bbox[0] - pad), max(0, bbox[1] - pad),
           min(img.width, bbox[2] + pad), min(img.height, bbox[3] + pad))  # fmt: skip
    part = img.crop(box).convert("RGB")
    obj = obj.crop((box[0] - at[0], box[1] - at[1], box[2] - at[0], box[3] - at[1]))
    alpha = obj.getchannel("A")
    # The shadow is soft: blurred at half size, which costs a quarter.
    half = alpha.reduce(2) if min(alpha.size) >= 8 else alpha
    shadow = half.filter(ImageFilter.GaussianBlur(max(0.5, size / 30 * half.width / alpha.width)))
    shadow = shadow.resize(alpha.size, Image.Resampling.BILINEAR)
    moved = Image.new("L", shadow.size, 0)
    moved.paste(shadow, (max(1, size // 60), max(1, size // 40)))  # shifted, not wrapped
    shadow = moved
    shadow = shadow.point(lambda v: v * 90 // 255)
    out = Image.composite(Image.new("RGB", part.size, 0), part, shadow)
    # The scene's light where the object sits (a blurred luminance relative to the picture's
    # mean), and a top-left to bottom-right fall-off that gives flat shapes some volume.
    overall = np.asarray(img.resize((16, 16), Image.Resampling.BOX).convert("RGB"), np.float32)
    mean_colour = overall.mean((0, 1))
    mean = max(1.0, float(luma(mean_colour)))
    local = part.convert("L").resize((8, 8), Image.Resampling.BOX).filter(ImageFilter.BLUR)
    light = np.asarray(local.resize(part.size, Image.Resampling.BILINEAR), np.float32) / mean
    h, w = light.shape
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    fall = 1.08 - 0.16 * (x / max(1, w - 1) + y / max(1, h - 1)) / 2
    gain = np.clip((0.65 + 0.35 * light) * fall, 0.35, 1.25)
    lit = np.asarray(obj.convert("RGB"), np.float32) * gain[..., None] * _light_colour(mean_colour)
    lit_img = Image.fromarray(np.clip(lit + 0.5, 0, 255).astype(np.uint8))
    result = img.copy() if img.mode == "RGB" else img.convert("RGB")
    result.paste(Image.composite(lit_img, out, alpha), box[:2])
    return result
