"""The local backend's effects: recognisable looks made with Pillow's C operations and numpy.

Every effect is a pure function of (RGB image, seed) -> RGB image of the same size; randomness
(snowflakes, grain, brush texture) comes from ``numpy.random.default_rng(seed)``, so identical
requests give identical bytes. Heavy neighbourhood work runs on a reduced copy and is upsampled,
which keeps a 1 Mpx edit within tens of milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from .._vision._pixels import box, flood, grow, luma, parts, selected_box, square_extreme

Effect = Callable[[Image.Image, int], Image.Image]

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "orange": (245, 130, 20), "yellow": (240, 210, 30),
    "gold": (212, 175, 55), "green": (40, 170, 60), "teal": (0, 140, 140),
    "cyan": (0, 200, 220), "blue": (30, 80, 220), "purple": (130, 50, 180),
    "violet": (140, 80, 220), "magenta": (220, 40, 170), "pink": (245, 130, 180),
    "brown": (130, 80, 40), "white": (245, 245, 245), "black": (25, 25, 25),
    "gray": (128, 128, 128), "grey": (128, 128, 128), "silver": (192, 192, 200),
}  # fmt: skip

_WORK_SIDE = 256


# ----------------------------------------------------------------------------- helpers


def lut(scale: Sequence[float], offset: Sequence[float]) -> list[int]:
    """Per-channel linear point table ``v * scale + offset`` for Image.point."""
    return [
        min(255, max(0, round(v * s + o)))
        for s, o in zip(scale, offset, strict=True)
        for v in range(256)
    ]


def _curve(fn: Callable[[float], Sequence[float]]) -> list[int]:
    """Point table from a function of v in [0, 1] returning (r, g, b) in [0, 1]."""
    rows = [fn(v / 255) for v in range(256)]
    return [min(255, max(0, round(rows[v][c] * 255))) for c in range(3) for v in range(256)]


def matrix(m: np.ndarray, offset: Sequence[float] = (0.0, 0.0, 0.0)) -> tuple[float, ...]:
    rows = [(*m[i].tolist(), float(offset[i])) for i in range(3)]
    return tuple(v for row in rows for v in row)


def _small_size(size: tuple[int, int], side: int = _WORK_SIDE) -> tuple[int, int]:
    w, h = size
    scale = min(1.0, side / max(w, h))
    return max(2, round(w * scale)), max(2, round(h * scale))


def vertical_gradient(
    size: tuple[int, int], stops: Sequence[tuple[float, Sequence[int]]]
) -> Image.Image:
    """RGB gradient from top (0) to bottom (1) through colour stops."""
    n = min(size[1], _WORK_SIDE)
    t = np.linspace(0.0, 1.0, n, dtype=np.float32)
    pos = np.array([p for p, _ in stops], np.float32)
    cols = np.array([c for _, c in stops], np.float32)
    strip = np.stack([np.interp(t, pos, cols[:, i]) for i in range(3)], axis=-1)
    img = Image.fromarray(np.round(strip[:, None, :]).astype(np.uint8))
    return img.resize(size, Image.Resampling.BILINEAR)


def radial(size: tuple[int, int], centre: tuple[float, float], radius: float) -> Image.Image:
    """Mode L: 255 at ``centre`` (fractions of width/height) falling to 0 at ``radius``
    (fraction of the long side)."""
    sw, sh = _small_size(size)
    y, x = np.mgrid[0:sh, 0:sw].astype(np.float32)
    d = np.hypot((x / sw - centre[0]) * sw, (y / sh - centre[1]) * sh) / max(sw, sh)
    a = np.clip(1.0 - d / radius, 0.0, 1.0) ** 2
    return Image.fromarray(np.round(a * 255).astype(np.uint8)).resize(
        size, Image.Resampling.BILINEAR
    )


def vignette(img: Image.Image, strength: float) -> Image.Image:
    sw, sh = _small_size(img.size)
    y, x = np.ogrid[-1 : 1 : sh * 1j, -1 : 1 : sw * 1j]
    r2 = np.clip((x * x + y * y) / 2.0, 0.0, 1.0)
    mult = Image.fromarray(np.round(255 * (1 - strength * r2**1.3)).astype(np.uint8))
    return ImageChops.multiply(img, mult.resize(img.size, Image.Resampling.BILINEAR).convert("RGB"))


def noise(size: tuple[int, int], seed: int, scale: int = 1, sigma: float = 1.0) -> Image.Image:
    """Mode L grain centred on 128; ``scale`` > 1 makes it blotchier (upsampled)."""
    w, h = size
    sw, sh = max(1, -(-w // scale)), max(1, -(-h // scale))
    rng = np.random.default_rng(seed)
    a = np.clip(128 + rng.standard_normal((sh, sw), np.float32) * 40 * sigma, 0, 255)
    small = Image.fromarray(a.astype(np.uint8))
    if scale == 1:
        return small
    return small.resize((w, h), Image.Resampling.BICUBIC)


def _add_signed(img: Image.Image, g3: Image.Image) -> Image.Image:
    """img + (g3 - 128), clipped: two saturating Pillow ops."""
    plus = g3.point([max(0, v - 128) for v in range(256)] * 3)
    minus = g3.point([max(0, 128 - v) for v in range(256)] * 3)
    return ImageChops.subtract(ImageChops.add(img, plus), minus)


def _luma(img: Image.Image) -> Image.Image:
    return img.convert("L")


def _blur_small(img: Image.Image, radius_frac: float) -> Image.Image:
    """A wide Gaussian blur done on a reduced copy (fast), upsampled."""
    small = img.resize(_small_size(img.size), Image.Resampling.BOX)
    r = max(0.5, radius_frac * max(small.size))
    return small.filter(ImageFilter.GaussianBlur(r)).resize(img.size, Image.Resampling.BILINEAR)


# ----------------------------------------------------------------------------- classic grades


def tint(colour: tuple[int, int, int]) -> Callable[[Image.Image], Image.Image]:
    def run(img: Image.Image) -> Image.Image:
        # out = 0.3 * C + 0.7 * colour * (0.3 + 0.9 * luma): an affine colour matrix.
        weights = np.array([0.299, 0.587, 0.114])  # of the luma
        col = np.asarray(colour, np.float64) / 255.0
        m = 0.3 * np.eye(3) + 0.7 * 0.9 * np.outer(col, weights)
        return img.convert("RGB", matrix(m, (0.7 * 0.3 * 255 * col).tolist()))

    return run


def sunset(img: Image.Image, seed: int = 0) -> Image.Image:
    grade = vertical_gradient(img.size, [(0, (255, 120, 45)), (1, (255, 190, 125))])
    return ImageChops.multiply(img, grade).point(lut((1.3, 1.25, 1.2), (12, 6, 0)))


def night(img: Image.Image, seed: int = 0) -> Image.Image:
    return img.point(lut((0.25, 0.32, 0.55), (0, 4, 20)))


def greyscale(img: Image.Image, seed: int = 0) -> Image.Image:
    return img.convert("L").convert("RGB")


def sepia(img: Image.Image, seed: int = 0) -> Image.Image:
    m = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
    return img.convert("RGB", matrix(m))


def warm(img: Image.Image, seed: int = 0) -> Image.Image:
    return img.point(lut((1.08, 1.0, 0.82), (12, 4, 0)))


def cool(img: Image.Image, seed: int = 0) -> Image.Image:
    return img.point(lut((0.85, 0.98, 1.1), (0, 4, 14)))


def blur(img: Image.Image, seed: int = 0) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur(max(2.0, max(img.size) / 120)))


def brighter(img: Image.Image, seed: int = 0) -> Image.Image:
    return img.point(lut((1.3,) * 3, (18,) * 3))


def darker(img: Image.Image, seed: int = 0) -> Image.Image:
    return img.point(lut((0.6,) * 3, (0,) * 3))


def sharpen(img: Image.Image, seed: int = 0) -> Image.Image:
    return img.filter(ImageFilter.UnsharpMask(radius=2, percent=180, threshold=1))


def vivid(img: Image.Image, seed: int = 0) -> Image.Image:
    """"More vibrant": richer colour and a little more contrast, as a photo editor's vibrance
    and clarity sliders do (not a colour cast)."""
    return ImageEnhance.Contrast(ImageEnhance.Color(img).enhance(1.4)).enhance(1.08)


def invert(img: Image.Image, seed: int = 0) -> Image.Image:
    return ImageOps.invert(img)


# ----------------------------------------------------------------------------- weather, season


def _flakes(size: tuple[int, int], seed: int, density: float, big: float) -> Image.Image:
    """Mode L layer of soft snowflakes (two depths: small sharp, large blurred)."""
    w, h = size
    rng = np.random.default_rng(seed)
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    unit = max(w, h) / 1000
    n = int(w * h * density / 1000)
    xs, ys = rng.random(n) * w, rng.random(n) * h
    rs = (0.8 + rng.random(n) * 1.6) * unit
    vs = 150 + (rng.random(n) * 105).astype(int)
    for x, y, r, v in zip(xs, ys, rs, vs, strict=True):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=int(v))
    near = Image.new("L", size, 0)
    draw = ImageDraw.Draw(near)
    m = int(n * big)
    for x, y, r in zip(rng.random(m) * w, rng.random(m) * h, rng.random(m) * 3 + 3, strict=True):
        draw.ellipse((x - r * unit, y - r * unit, x + r * unit, y + r * unit), fill=230)
    near = near.filter(ImageFilter.GaussianBlur(1.5 * unit))
    return ImageChops.lighter(layer.filter(ImageFilter.GaussianBlur(0.6 * unit)), near)


def _snow_cover(img: Image.Image, amount: float) -> Image.Image:
    """Whiten surfaces that face up (brighter than the pixels just above them) and highlights."""
    g = _luma(img)
    small = g.resize(_small_size(img.size, 512), Image.Resampling.BOX)
    a = np.asarray(small, np.int16)
    up = np.zeros_like(a)
    up[2:] = np.clip(a[2:] - a[:-2], 0, 255)
    cover = np.clip(up * 4 + np.clip(a - 150, 0, 255) * 2, 0, 255) * amount
    m = Image.fromarray(cover.astype(np.uint8)).filter(ImageFilter.MaxFilter(3))
    m = m.filter(ImageFilter.GaussianBlur(1)).resize(img.size, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", img.size, (244, 248, 255)), img, m)


def snow(img: Image.Image, seed: int) -> Image.Image:
    cold = img.convert("RGB", matrix(0.55 * np.eye(3) + 0.45 * np.ones((3, 3)) / 3, (6, 12, 26)))
    cold = _snow_cover(cold, 0.7)
    veil = vertical_gradient(img.size, [(0, (230, 236, 245)), (1, (200, 208, 220))])
    haze = Image.blend(cold, veil, 0.22)
    flakes = _flakes(img.size, seed, 2.2, 0.08)
    return Image.composite(Image.new("RGB", img.size, (255, 255, 255)), haze, flakes)


def winter(img: Image.Image, seed: int) -> Image.Image:
    cold = img.convert("RGB", matrix(0.5 * np.eye(3) + 0.5 * np.ones((3, 3)) / 3, (10, 18, 34)))
    cold = _snow_cover(cold, 1.0)
    frost = Image.blend(cold, Image.new("RGB", img.size, (225, 235, 248)), 0.18)
    flakes = _flakes(img.size, seed, 0.6, 0.05)
    return Image.composite(Image.new("RGB", img.size, (255, 255, 255)), frost, flakes)


def rain(img: Image.Image, seed: int) -> Image.Image:
    wet = img.point(lut((0.7, 0.75, 0.85), (8, 12, 22)))
    wet = ImageEnhance.Color(wet).enhance(0.75)
    w, h = img.size
    rng = np.random.default_rng(seed)
    layer = Image.new("L", img.size, 0)
    draw = ImageDraw.Draw(layer)
    unit = max(w, h) / 1000
    n = int(w * h / 700)
    xs, ys = rng.random(n) * (w + h * 0.3) - h * 0.3 * 0.5, rng.random(n) * h
    ls = (14 + rng.random(n) * 22) * unit
    vs = 90 + (rng.random(n) * 120).astype(int)
    for x, y, length, v in zip(xs, ys, ls, vs, strict=True):
        draw.line((x, y, x + 0.22 * length, y + length), fill=int(v), width=max(1, round(unit)))
    layer = layer.filter(ImageFilter.GaussianBlur(0.5 * unit))
    mist = Image.blend(wet, Image.new("RGB", img.size, (150, 160, 175)), 0.15)
    return Image.composite(Image.new("RGB", img.size, (215, 225, 240)), mist, layer)


def fog(img: Image.Image, seed: int) -> Image.Image:
    """Haze thickening with distance (up the frame), patchy, with contrast washed out."""
    depth = vertical_gradient(img.size, [(0, (150,) * 3), (0.6, (115,) * 3), (1, (70,) * 3)])
    clouds = noise(_small_size(img.size, 12), seed).resize(img.size, Image.Resampling.BICUBIC)
    density = ImageChops.add(depth.convert("L"), clouds.point(lambda v: max(0, v - 128) // 3))
    soft = _blur_small(img, 0.006)
    grey = Image.new("RGB", img.size, (214, 218, 222))
    flat = ImageEnhance.Contrast(soft).enhance(0.75)
    return Image.composite(grey, flat, density)


def autumn(img: Image.Image, seed: int) -> Image.Image:
    """Greens and yellows turn to orange and red; a warm, rich grade."""
    h, s, v = img.convert("HSV").split()

    def hue(x: int) -> int:
        deg = x * 360 / 256
        if 45 <= deg <= 170:  # yellow-green to green-cyan -> orange/red
            t = (deg - 45) / 125
            deg = 38 - 30 * math.sin(t * math.pi / 2) if t < 1 else deg
        return round(deg * 256 / 360) % 256

    h = h.point([hue(x) for x in range(256)])
    s = s.point([min(255, round(x * 1.25)) for x in range(256)])
    out = Image.merge("HSV", (h, s, v)).convert("RGB")
    return out.point(lut((1.06, 1.0, 0.86), (8, 2, 0)))


# ----------------------------------------------------------------------------- light


def golden_hour(img: Image.Image, seed: int = 0) -> Image.Image:
    graded = img.point(_curve(lambda v: (min(1, 0.06 + v * 1.1), 0.03 + v * 0.95, 0.02 + v * 0.72)))
    glow = radial(img.size, (0.82, 0.12), 1.1)
    light = Image.composite(
        Image.new("RGB", img.size, (255, 170, 70)), Image.new("RGB", img.size, (0, 0, 0)), glow
    )
    lit = ImageChops.screen(graded, light.point(lut((0.55,) * 3, (0,) * 3)))
    bloom = _blur_small(lit, 0.02)
    return Image.blend(
        ImageEnhance.Contrast(lit).enhance(1.08), ImageChops.screen(lit, bloom), 0.25
    )


def studio_backdrop(img: Image.Image, seed: int = 0) -> Image.Image:
    """A seamless light-grey studio sweep: brighter behind the subject, darker at the edges."""
    base = vertical_gradient(
        img.size, [(0, (200, 202, 206)), (0.7, (228, 229, 231)), (1, (206, 207, 210))]
    )
    spot = radial(img.size, (0.5, 0.45), 0.75)
    lit = Image.composite(Image.new("RGB", img.size, (244, 244, 245)), base, spot)
    return vignette(lit, 0.25)


# ----------------------------------------------------------------------------- styles


def _edges(grey: Image.Image) -> Image.Image:
    """Edge strength (mode L) without the frame line FIND_EDGES draws along the border."""
    inner = ImageOps.crop(grey.filter(ImageFilter.FIND_EDGES), 1)
    return ImageOps.expand(inner, 1, fill=0)


WASH_BLUR = 1 / 300  # of the work size's long side: how far a wash's pigment spreads
EDGE_POOL = 1.6  # how much darker pigment dries along a wash's edge (relative to its contrast)
GRANULATION = 0.14  # how much darker pigment is in the paper's hollows, at full density
GLAZE_RAMP = 0.1  # the width (in density) of a glaze's soft edge: no flat steps
MARGIN = 0.05  # of the short side: the bare paper round the painting, its edge wandering
PENCIL = 50  # the darkest pencil line, in levels


def watercolour(img: Image.Image, seed: int) -> Image.Image:
    """Transparent washes on textured paper. The photo's colours are simplified (a median)
    and laid down as continuous, soft washes whose outlines wander and bleed (a noise-warped,
    blurred copy); pigment pools darker along each wash's edge (the density's own unsharp
    mask, so the rims follow the picture and nothing is cut into flat steps); the washes are
    uneven; light areas stay bare paper; the paper's cold-press bumps show through everything,
    and the pigment settles in their hollows (granulation), darker where the wash is dense."""
    work = _small_size(img.size, 260)
    w, h = work
    # One reduction of the photo serves the pencil lines and, reduced again, the washes.
    sketch = img.resize(_small_size(img.size, 360), Image.Resampling.BOX)
    # Washes: a median at a smaller size (a wide median is the costly part), brought back up.
    half = sketch.resize(_small_size(img.size, 170), Image.Resampling.BOX)
    soft = half.filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.MedianFilter(3))
    soft = ImageEnhance.Color(soft.resize(work, Image.Resampling.BICUBIC)).enhance(1.35)
    rgb = np.asarray(soft, np.float32) / 255
    # Bleeding edges: sample each pixel from a place nudged by smooth noise, so outlines
    # wander like paint spreading in wet paper, then let the pigment spread a little.
    dx = (_fbm(work, seed + 11, 4) - 0.5) * (w / 24)
    dy = (_fbm(work, seed + 23, 4) - 0.5) * (w / 24)
    ys, xs = np.mgrid[0:h, 0:w]
    sx = np.clip(np.round(xs + dx), 0, w - 1).astype(np.intp)
    sy = np.clip(np.round(ys + dy), 0, h - 1).astype(np.intp)
    bled = Image.fromarray(np.round(rgb[sy, sx] * 255).astype(np.uint8))
    bled = bled.filter(ImageFilter.GaussianBlur(max(1.0, WASH_BLUR * w)))
    paint = np.asarray(bled, np.float32) / 255
    # Tone changes below scale the reflectance of all three channels alike, so a wash keeps
    # its hue (a per-channel change leaves coloured fringes).
    dark = 1.0 - paint.mean(-1)
    # Glazes: half of the tone is laid down as overlapping washes, each with a soft ramp at
    # its edge (wide enough that no flat step shows), half follows the photo's tone.
    glazes = sum(np.clip((dark - t) / GLAZE_RAMP + 0.5, 0.0, 1.0) for t in (0.2, 0.4, 0.6))
    stepped = 0.5 * dark + 0.5 * 0.27 * glazes
    # Pigment pooling along the washes' edges: where a wash is denser than its surroundings,
    # more so (only the dense side darkens: a dried rim, not a halo of light).
    around = np.asarray(
        Image.fromarray(np.round(dark * 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(max(1.5, w / 70))
        ),
        np.float32,
    ) / 255
    pooled = stepped + EDGE_POOL * np.clip(dark - around, 0.0, None)
    paint = paint * ((1 - np.clip(pooled, 0.0, 0.95)) / np.maximum(1 - dark, 0.05))[..., None]
    density = 1.0 - np.clip(paint, 0.0, 1.0)
    # Uneven washes: more and less pigment over wide areas.
    field = _fbm(work, seed + 5, 4)
    density *= (0.62 + 0.45 * field)[..., None] * 0.8
    # Bare paper where the photo is light.
    lum = luma(np.asarray(bled, np.float32)) / 255
    density *= 1.0 - 0.85 * np.clip((lum - 0.74) / 0.14, 0.0, 1.0)[..., None]
    # The painting stops short of the paper's edge, along a wandering line.
    edge = np.minimum(np.minimum(xs, w - 1 - xs), np.minimum(ys, h - 1 - ys)) / min(w, h)
    reach = MARGIN * np.clip(1 + 4 * (field[::-1, ::-1] - 0.5), 0.5, 1.6)  # the same noise
    inside = np.clip((edge - reach) / (0.5 * MARGIN), 0.0, 1.0)
    density *= inside[..., None]
    paint = np.clip(1.0 - density, 0.0, 1.0) * np.array([1.0, 1.0, 0.97], np.float32)  # warm
    out = Image.fromarray(np.round(paint * 255).astype(np.uint8)).resize(
        img.size, Image.Resampling.BILINEAR
    )
    # Paper: bumps a few pixels across (blurred noise), lit from the top left; pigment
    # settles in the hollows, in proportion to how much of it there is. One grey factor
    # made at half size (the bumps are soft anyway), brought up and multiplied in.
    half_size = (max(1, img.width // 2), max(1, img.height // 2))
    bumps = noise(half_size, seed, 2, 0.9).filter(ImageFilter.GaussianBlur(0.6))
    relief = np.asarray(bumps.filter(ImageFilter.EMBOSS), np.float32)
    shade = (249 + np.clip((relief - 128) / 3, -6, 6)) / 255
    hollow = np.clip((150 - np.asarray(bumps, np.float32)) / 60, 0.0, 1.0)
    dense = Image.fromarray(np.round(density.mean(-1).clip(0, 1) * 255).astype(np.uint8))
    dense_half = np.asarray(dense.resize(half_size, Image.Resampling.BILINEAR), np.float32) / 255
    factor = shade * (1 - GRANULATION * hollow * dense_half)
    paper = Image.fromarray(np.round(factor * 255).astype(np.uint8))
    # A light pencil under-drawing from the photo's main edges, inside the painting: thin
    # things a wash cannot hold (a tower's lattice, whiskers) stay drawn.
    grey = _luma(sketch).filter(ImageFilter.GaussianBlur(1))
    lines = _edges(grey).point([min(PENCIL, max(0, v - 10)) for v in range(256)])
    drawn = Image.fromarray(np.round(inside * 255).astype(np.uint8)).resize(sketch.size)
    pencil = ImageOps.invert(ImageChops.multiply(lines, drawn))
    paper = ImageChops.multiply(paper, pencil.resize(half_size, Image.Resampling.BILINEAR))
    paper = paper.resize(img.size, Image.Resampling.BILINEAR)
    return ImageChops.multiply(out, paper.convert("RGB"))


def oil_painting(img: Image.Image, seed: int) -> Image.Image:
    small = img.resize(_small_size(img.size, 360), Image.Resampling.BOX)
    blobs = (
        small.filter(ImageFilter.MedianFilter(3))
        .quantize(64, Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        .convert("RGB")
        .filter(ImageFilter.MedianFilter(3))
    )
    big = blobs.resize(img.size, Image.Resampling.BICUBIC)
    rich = ImageEnhance.Contrast(ImageEnhance.Color(big).enhance(1.35)).enhance(1.1)
    strokes = noise(_small_size(img.size, 360), seed, 1, 1.0).resize(
        (max(2, img.size[0] // 3), img.size[1]), Image.Resampling.BILINEAR
    )
    strokes = strokes.resize(img.size, Image.Resampling.BILINEAR).filter(ImageFilter.EMBOSS)
    relief = strokes.point(lambda v: 128 + (v - 128) // 2).convert("RGB")
    return ImageChops.overlay(rich, relief)


def pencil_sketch(img: Image.Image, seed: int) -> Image.Image:
    grey = _luma(img)
    inv_blur = ImageOps.invert(_blur_small(grey, 0.008))
    g = np.asarray(grey, np.uint32)
    b = np.asarray(inv_blur, np.uint32)
    dodge = np.minimum(255, g * 255 // np.maximum(1, 255 - b)).astype(np.uint8)
    sketch = Image.fromarray(dodge).point(lambda v: round(255 * (v / 255) ** 2.2))
    paper = noise(img.size, seed, 2, 0.25).point(lambda v: 215 + v // 8)
    toned = ImageChops.multiply(sketch, paper)
    return Image.merge("RGB", (toned, toned, toned.point(lambda v: max(0, v - 6))))


def cartoon(img: Image.Image, seed: int = 0) -> Image.Image:
    """Flat, saturated colour regions with dark ink outlines."""
    small = img.resize(_small_size(img.size, 320), Image.Resampling.BOX)
    flat = small.filter(ImageFilter.SMOOTH_MORE).filter(ImageFilter.SMOOTH_MORE)
    flat = ImageOps.posterize(ImageEnhance.Color(flat).enhance(1.4), 3)
    grey = _luma(small).filter(ImageFilter.GaussianBlur(1.4))
    ink = _edges(grey).point(lambda v: 0 if v > 26 else 255)
    big = flat.convert("RGB").resize(img.size, Image.Resampling.BILINEAR)
    lines = ink.resize(img.size, Image.Resampling.BILINEAR).point(lambda v: 255 if v > 110 else 25)
    return ImageChops.multiply(big, lines.convert("RGB"))


def pixel_art(img: Image.Image, seed: int = 0) -> Image.Image:
    w, h = img.size
    cell = max(2, round(max(w, h) / 72))
    small = img.resize((max(1, w // cell), max(1, h // cell)), Image.Resampling.BOX)
    small = ImageEnhance.Color(small).enhance(1.3)
    pal = small.quantize(16, Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).convert("RGB")
    return pal.resize((pal.width * cell, pal.height * cell), Image.Resampling.NEAREST).resize(
        img.size, Image.Resampling.NEAREST
    )


def vintage_film(img: Image.Image, seed: int) -> Image.Image:
    faded = img.point(
        _curve(lambda v: (0.14 + 0.82 * v, 0.12 + 0.8 * v**1.05, 0.15 + 0.66 * v**1.1))
    )
    faded = ImageEnhance.Color(faded).enhance(0.7)
    leak = radial(img.size, (0.02, 0.1), 0.5)
    warm_leak = Image.composite(
        Image.new("RGB", img.size, (255, 120, 40)), Image.new("RGB", img.size, (0, 0, 0)), leak
    )
    leaked = ImageChops.screen(faded, warm_leak.point(lut((0.45,) * 3, (0,) * 3)))
    grain = noise(img.size, seed, 1, 0.45)
    return vignette(_add_signed(leaked, Image.merge("RGB", (grain,) * 3)), 0.35)


# ----------------------------------------------------------------------------- generated fills


def sky_fill(size: tuple[int, int], kind: str, seed: int) -> Image.Image:
    """A sky to paint behind the horizon: sunrise/sunset, night, storm, clear, or a colour."""
    w, h = size
    if kind in ("sunrise", "sunset", "golden"):
        grad = vertical_gradient(
            size,
            [
                (0, (58, 62, 130)),
                (0.35, (190, 90, 110)),
                (0.7, (250, 150, 70)),
                (1, (255, 205, 120)),
            ],
        )
        sun = radial(size, (0.62, 0.95), 0.35)
        out = Image.composite(Image.new("RGB", size, (255, 236, 180)), grad, sun)
        return ImageChops.screen(out, _clouds(size, seed, (255, 150, 110), 0.35))
    if kind == "night":
        grad = vertical_gradient(size, [(0, (6, 8, 28)), (1, (24, 36, 82))])
        rng = np.random.default_rng(seed)
        stars = Image.new("L", size, 0)
        draw = ImageDraw.Draw(stars)
        n = int(w * h / 1500)
        for x, y, v in zip(rng.random(n) * w, rng.random(n) * h, rng.random(n), strict=True):
            r = 0.6 + 1.2 * v**4 * max(w, h) / 1000
            draw.ellipse((x - r, y - r, x + r, y + r), fill=int(120 + 135 * v))
        return Image.composite(Image.new("RGB", size, (255, 255, 240)), grad, stars)
    if kind == "storm":
        return storm_sky(size, seed)
    if kind in COLOURS:
        c = np.asarray(COLOURS[kind], np.float32)
        top = np.clip(c * 0.7, 0, 255).astype(int).tolist()
        bottom = np.clip(c * 0.6 + 100, 0, 255).astype(int).tolist()
        return vertical_gradient(size, [(0, top), (1, bottom)])
    grad = vertical_gradient(size, [(0, (60, 120, 210)), (1, (175, 210, 240))])
    return ImageChops.screen(grad, _clouds(size, seed, (255, 255, 255), 0.5))


def _fbm(size: tuple[int, int], seed: int, octaves: int = 5) -> np.ndarray:
    """Fractal noise in [0, 1] of ``size`` (w, h), at most 256 long: each octave twice as fine
    and half as strong, so shapes have structure at every scale (billows within banks)."""
    total = np.zeros(size[::-1], np.float32)
    weight = 0.0
    for i in range(octaves):
        amp = 0.5**i
        grid = _small_size(size, 4 * 2**i)
        cell = max(size) / max(grid)
        layer = noise(grid, seed + i, 1, 1.0).filter(ImageFilter.GaussianBlur(0.7))
        layer = layer.resize(size, Image.Resampling.BICUBIC)
        layer = layer.filter(ImageFilter.GaussianBlur(cell * 0.35))  # no grid pattern
        a = np.asarray(layer, np.float32)
        total += (a - a.mean()) / max(1e-3, float(a.std())) * amp
        weight += amp
    return np.clip(0.5 + total / weight * 0.22, 0.0, 1.0)


STORM_DARK = np.array([30, 33, 40], np.float32)  # a storm cloud's belly
STORM_LIT = np.array([150, 154, 162], np.float32)  # its top, lit from above
STORM_STRETCH = 2.2  # a cloud this many times wider than tall
STORM_PERSPECTIVE = 2.0  # rows read as y ** this (averaged with y): flatter towards the horizon


def storm_sky(size: tuple[int, int], seed: int) -> Image.Image:
    """Dark, heavy storm clouds: banks of billows, wide and flat as clouds are, shrinking
    towards the horizon (perspective), lit from above (pale tops, near-black bellies), over a
    slate sky with a pale, yellowish break low down where the clouds part."""
    work = _small_size(size, 256)
    w, h = work
    # Cloud density: fractal noise stretched sideways (a cloud bank is wider than tall) and
    # read with rows squeezed towards the horizon, so billows are big overhead and small and
    # flat far away (perspective).
    flat = _fbm((max(2, round(w / STORM_STRETCH)), h), seed)
    wide = np.asarray(Image.fromarray(flat).resize((w, h), Image.Resampling.BILINEAR))
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    rows = np.round((y[:, 0] ** STORM_PERSPECTIVE + y[:, 0]) / 2 * (h - 1)).astype(np.intp)
    dens = wide[rows]
    # Defined shapes: most of the sky covered, thicker towards the horizon, with gaps.
    cover = np.clip((dens - 0.46 + 0.12 * y) * 6.0, 0.0, 1.0)
    # Light from above: where the cloud thins going up, its top catches the light.
    soft = np.asarray(
        Image.fromarray(np.round(cover * 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(max(1.0, h / 90))
        ),
        np.float32,
    ) / 255
    shift = max(1, h // 60)
    above = np.concatenate([soft[:shift], soft[:-shift]], axis=0)
    rim = np.clip((soft - above) * 5.0, 0.0, 1.0)  # the cloud's upper edge
    depth = np.clip((dens - 0.5) * 4.0, 0.0, 1.0)  # the thick middle is darkest
    shade = np.clip(0.25 + 0.75 * rim - 0.35 * depth, 0.0, 1.0)[..., None]
    cloud = STORM_DARK + (STORM_LIT - STORM_DARK) * shade
    # Behind the clouds: a slate sky, darker overhead, with a pale break near the horizon.
    sky = np.stack(
        [np.interp(y[:, 0], [0, 0.7, 1], [a, b, c]) for a, b, c in
         ((34, 70, 150), (37, 76, 148), (46, 86, 132))], -1
    )[:, None, :] * np.ones((1, w, 1), np.float32)  # fmt: skip
    out = sky * (1 - cover[..., None]) + cloud * cover[..., None]
    img = Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))
    return img.resize(size, Image.Resampling.BICUBIC)


def _clouds(size: tuple[int, int], seed: int, colour: Sequence[int], amount: float) -> Image.Image:
    """Soft cloud banks: blotchy noise at two scales, thresholded, coloured."""
    a = noise(_small_size(size, 24), seed, 1, 1.0).resize(
        _small_size(size, 96), Image.Resampling.BICUBIC
    )
    b = noise(_small_size(size, 96), seed + 1, 1, 0.6)
    mix = ImageChops.add(a, b, scale=2.0).point(
        lambda v: round(255 * amount * min(1.0, max(0.0, (v - 135) / 60)))
    )
    m = mix.filter(ImageFilter.GaussianBlur(1.5)).resize(size, Image.Resampling.BICUBIC)
    return Image.composite(Image.new("RGB", size, tuple(colour)), Image.new("RGB", size, 0), m)


def backdrop_fill(img: Image.Image, kind: str, seed: int) -> Image.Image:
    """A new background: a studio sweep, a colour gradient, a blurred version, or a scene."""
    size = img.size
    if kind == "studio":
        return studio_backdrop(img)
    if kind == "blur":
        return _blur_small(img, 0.03)
    if kind in COLOURS:
        c = np.asarray(COLOURS[kind], np.float32)
        light = np.clip(c * 0.75 + 70, 0, 255).astype(int).tolist()
        dark = np.clip(c * 0.55, 0, 255).astype(int).tolist()
        grad = vertical_gradient(size, [(0, dark), (0.6, light), (1, dark)])
        return vignette(grad, 0.2)
    if kind == "beach":
        return vertical_gradient(
            size,
            [
                (0, (110, 170, 230)),
                (0.5, (190, 225, 245)),
                (0.52, (40, 130, 170)),
                (0.62, (90, 180, 200)),
                (0.66, (230, 210, 170)),
                (1, (215, 190, 145)),
            ],
        )
    if kind == "forest":
        base = vertical_gradient(
            size, [(0, (150, 190, 150)), (0.5, (50, 100, 50)), (1, (30, 60, 30))]
        )
        return _blur_small(ImageChops.screen(base, _clouds(size, seed, (90, 140, 60), 0.6)), 0.01)
    if kind == "city":
        base = vertical_gradient(size, [(0, (30, 35, 60)), (1, (70, 60, 80))])
        return ImageChops.screen(base, _bokeh(size, seed))
    if kind in ("night", "space", "stars"):
        return sky_fill(size, "night", seed)
    if kind in ("sunset", "sunrise", "storm", "sky"):
        return sky_fill(size, kind if kind != "sky" else "clear", seed)
    rng = np.random.default_rng(seed)
    hue = rng.integers(0, 6)
    pastel = [
        (226, 214, 240),
        (210, 230, 238),
        (240, 222, 206),
        (216, 236, 214),
        (238, 216, 222),
        (222, 226, 236),
    ][int(hue)]
    return (
        backdrop_fill(img, "studio", seed)
        if seed % 2
        else vignette(Image.new("RGB", size, pastel), 0.3)
    )


def _bokeh(size: tuple[int, int], seed: int) -> Image.Image:
    w, h = size
    rng = np.random.default_rng(seed)
    layer = Image.new("RGB", size, (0, 0, 0))
    draw = ImageDraw.Draw(layer)
    unit = max(w, h) / 1000
    for _ in range(60):
        x, y = rng.random() * w, rng.random() * h * 0.8
        r = (10 + rng.random() * 30) * unit
        col = [(255, 200, 120), (255, 160, 90), (150, 190, 255), (255, 240, 200)][
            int(rng.integers(0, 4))
        ]
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(c * 0.5) for c in col))
    return layer.filter(ImageFilter.GaussianBlur(4 * unit))


def blank_sign(img: Image.Image, region: Image.Image) -> Image.Image:
    """A plain panel over the region (what "a blank sign" looks like), lit the way the photo is
    lit there: its shading follows the photo's broad light and shade under it (a sign on a
    jacket takes the folds' shadows, one on a wall the wall's gradient; a flat grey card
    looked pasted on), with a thin soft rim."""
    bbox = selected_box(region)
    out = img.copy()
    if bbox is None:
        return out
    _, y0, _, y1 = bbox
    light = _light_from_around(img, bbox)
    shade = np.clip(1 + SIGN_SHADING * (light / max(1.0, float(light.mean())) - 1), 0.8, 1.12)
    ramp = np.linspace(1.02, 0.95, y1 - y0, dtype=np.float32)[:, None]  # lit from above
    panel = np.asarray(SIGN_COLOUR, np.float32) * (shade * ramp)[..., None]
    sign = Image.fromarray(np.clip(panel + 0.5, 0, 255).astype(np.uint8))
    rim = region.crop(bbox).filter(ImageFilter.FIND_EDGES).filter(ImageFilter.MaxFilter(3))
    rim = rim.filter(ImageFilter.GaussianBlur(0.6))
    sign = Image.composite(ImageEnhance.Brightness(sign).enhance(0.72), sign, rim)
    out.paste(sign, bbox[:2])
    return out


def _light_from_around(img: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    """The photo's broad brightness over ``box`` as its surroundings predict it (float HxW):
    the blurred brightness of a band round the box, carried across by a Coons patch (each
    side's profile, blended by distance). What is inside (the logo being replaced) does not
    count: its own bright and dark parts are not the scene's light."""
    x0, y0, x1, y1 = box
    m = max(2, min(x1 - x0, y1 - y0) // 8)
    ex = (max(0, x0 - m), max(0, y0 - m), min(img.width, x1 + m), min(img.height, y1 + m))
    grey = img.crop(ex).convert("L").filter(ImageFilter.BoxBlur(m))
    lum = np.asarray(grey, np.float32)
    ix0, iy0 = x0 - ex[0], y0 - ex[1]
    w, h = x1 - x0, y1 - y0
    # Each side's profile: the band just outside it, or the box's own edge at the frame.
    top = lum[max(0, iy0 - m // 2), ix0 : ix0 + w]
    bottom = lum[min(lum.shape[0] - 1, iy0 + h + m // 2), ix0 : ix0 + w]
    left = lum[iy0 : iy0 + h, max(0, ix0 - m // 2)]
    right = lum[iy0 : iy0 + h, min(lum.shape[1] - 1, ix0 + w + m // 2)]
    u = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    v = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    corners = (
        (1 - u) * (1 - v) * top[0] + u * (1 - v) * top[-1]
        + (1 - u) * v * bottom[0] + u * v * bottom[-1]
    )  # fmt: skip
    patch: np.ndarray = (
        (1 - v) * top[None, :] + v * bottom[None, :] + (1 - u) * left[:, None]
        + u * right[:, None] - corners
    )  # fmt: skip
    out: np.ndarray = np.clip(patch, 1.0, 255.0)
    return out


SIGN_COLOUR = (238, 236, 230)
SIGN_SHADING = 0.6  # share of the photo's light and shade under the sign that it takes on


def glowing_poster(img: Image.Image, region: Image.Image, seed: int) -> Image.Image:
    """A lit poster filling the region's bounding box: a gradient, a sun and title bars, drawn
    at POSTER_SS times the size and reduced (a circle drawn at 1x has a stepped edge), its
    bright parts blooming, and the light it gives tinting the wall round it (a screen of its
    colour barely shows on a light wall, so the halo is mixed in instead)."""
    bbox = selected_box(region)
    out = img.copy()
    if bbox is None:
        return out
    x0, y0, x1, y1 = bbox
    bw, bh = x1 - x0, y1 - y0
    rng = np.random.default_rng(seed)
    palettes = [
        ((255, 80, 160), (90, 40, 200)),
        ((255, 170, 40), (220, 40, 90)),
        ((60, 220, 255), (40, 60, 200)),
    ]
    top, bottom = palettes[int(rng.integers(0, len(palettes)))]
    k = POSTER_SS
    poster = vertical_gradient((bw * k, bh * k), [(0, top), (1, bottom)])
    draw = ImageDraw.Draw(poster)
    cx, cy, r = bw * k * 0.5, bh * k * 0.42, min(bw, bh) * k * 0.22
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 240, 200))
    for i, frac in enumerate((0.72, 0.8, 0.86)):
        bar_w = bw * k * (0.7 - 0.15 * i)
        y = bh * k * frac
        draw.rectangle((cx - bar_w / 2, y, cx + bar_w / 2, y + max(2 * k, bh * k * 0.035)),
                       fill=(255, 255, 255))  # fmt: skip
    poster = poster.resize((bw, bh), Image.Resampling.LANCZOS)
    # Bloom: the sun and the titles spill light over the gradient round them.
    bright = poster.point(lut((1.0,) * 3, (-170,) * 3))
    poster = ImageChops.add(poster, bright.filter(ImageFilter.GaussianBlur(max(2, r / k / 3))))
    glow = Image.new("L", img.size, 0)
    ImageDraw.Draw(glow).rectangle(bbox, fill=150)
    glow = glow.filter(ImageFilter.GaussianBlur(max(4, min(bw, bh) / 6)))
    out = Image.composite(Image.new("RGB", img.size, top), out, glow)
    out.paste(poster, (x0, y0))
    return out


POSTER_SS = 3


# ----------------------------------------------------------------------------- fallback


_LOOKS: tuple[Callable[[Image.Image, float], Image.Image], ...] = (
    lambda im, k: im.point(  # teal and orange
        _curve(lambda v: (min(1, v * (1 + 0.15 * k)), v, max(0, v * (1 - 0.1 * k) + 0.06 * k)))
    ),
    lambda im, k: ImageEnhance.Color(
        im.point(  # matte fade
            _curve(lambda v: (0.08 * k + v * (1 - 0.12 * k),) * 3)
        )
    ).enhance(0.8),
    lambda im, k: ImageEnhance.Contrast(ImageEnhance.Color(im).enhance(1 + 0.4 * k)).enhance(
        1 + 0.15 * k
    ),  # vivid
    lambda im, k: im.point(lut((0.9, 1.0, 1.0 + 0.12 * k), (0, 6, 16 * k))),  # cool cinematic
    lambda im, k: im.point(lut((1.0 + 0.08 * k, 1.0, 0.85), (14 * k, 6, 0))),  # warm film
    lambda im, k: Image.blend(im, _blur_small(im, 0.01), 0.35 * k).point(  # soft dreamy
        lut((0.9,) * 3, (30 * k,) * 3)
    ),
)


def restyle(img: Image.Image, seed: int) -> Image.Image:
    """The look for prompts without a known word: a seeded, plausible colour grade (not a hue
    rotation), with a mild vignette, so a grid of models shows different but sane answers."""
    look = _LOOKS[seed % len(_LOOKS)]
    strength = 0.7 + (seed >> 8) % 30 / 100
    return vignette(look(img, strength), 0.2 + (seed >> 16) % 20 / 100)


def restore_look(img: Image.Image, seed: int = 0) -> Image.Image:
    """ "Restore" with nothing missing: lift fading and grain (denoise, full tonal range)."""
    clean = img.filter(ImageFilter.MedianFilter(3))
    return ImageEnhance.Color(ImageOps.autocontrast(clean, cutoff=1)).enhance(1.1)


# ----------------------------------------------------------------------------- recolour


def recolour(img: Image.Image, colour: tuple[int, int, int], where: Image.Image) -> Image.Image:
    """``img`` with the colour of ``where`` (mode L weights) changed to ``colour``, keeping its
    shading: each pixel's luminance moves by the same amount relative to the area's mean, so
    stripes, fur and highlights stay; the mean luminance becomes the new colour's. The new
    colour is a function of luminance only, so it is three point tables. The caller blends by
    ``where`` (narrowed by ``colour_weights`` for a chromatic colour, so a red cup turns blue
    while the coffee in it stays coffee).

    A dark colour (black) is not a lifted mid grey: a black cat's fur is near-black, its sheen
    and stripes only faintly lighter or darker. There each tone is the old one relative to the
    mean, squared, times the new colour's luminance (a highlight at twice the mean becomes
    four times the dark base, a stripe at half of it a quarter), so the fur lands near black
    and its light tones still read; and fine light lines brighter than the pixels round them
    (whiskers, glints: not the fur's colour) keep most of the lift they have over them."""
    grey = img.convert("L")
    small = _small_size(img.size, 160)
    lum_s = np.asarray(box_shrink(grey, small), np.float32) / 255
    w_s = np.asarray(box_shrink(where, small), np.float32) / 255
    total = float(w_s.sum())
    mean = float((lum_s * w_s).sum() / total) if total > 0 else float(lum_s.mean())
    target = np.asarray(colour, np.float32) / 255
    t_lum = float(target @ np.array([0.299, 0.587, 0.114], np.float32))
    v = np.arange(256, dtype=np.float32) / 255
    dark = t_lum < _DARK_COLOUR
    if dark:
        new_lum = np.clip(t_lum * (v / max(mean, 1e-3)) ** 2, 0.015, 0.98)
    else:
        new_lum = np.clip(min(0.85, t_lum) + (v - mean) * 0.9, 0.02, 0.98)
    base = (target / max(t_lum, 1e-3))[None, :] * new_lum[:, None]  # 256 x 3
    # Where that exceeds 1 (bright tones of a saturated colour), blend towards white instead.
    over = np.clip(base.max(-1, keepdims=True) - 1, 0, None)
    table = np.round(np.clip(base / (1 + over) + over / (1 + over), 0, 1) * 255).astype(int)
    # A neutral colour has one table for all three channels: one band, merged three times.
    tables = [table[:, 0]] if (table == table[:, :1]).all() else list(table.T)
    channels = [grey.point(t.tolist()) for t in tables]
    if dark:
        # What a pixel has over the mean of its 4 x 4 block (interpolated), past the fur's
        # own fine texture: (difference - 10) x 1.3.
        around = grey.reduce(4).resize(grey.size, Image.Resampling.BILINEAR)
        lift = ImageChops.subtract(grey, around, 1 / 1.3, -13)
        channels = [ImageChops.add(c, lift) for c in channels]
    return Image.merge("RGB", channels * 3 if len(channels) == 1 else channels)


def box_shrink(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``img`` box-averaged down to ``size``: an integer reduce first (the same average,
    several times cheaper on a large photo), then the exact size."""
    k = max(1, min(img.size[0] // size[0], img.size[1] // size[1]))
    return (img.reduce(k) if k > 1 else img).resize(size, Image.Resampling.BOX)


_DARK_COLOUR = 0.16  # a new colour darker than this (black) takes the dark tone curve


def colour_weights(img: Image.Image, where: Image.Image) -> Image.Image:
    """``where`` narrowed to the pixels of the area's dominant hue (saturated, within about
    16 degrees of it): what "make the cup blue" changes."""
    h, s, _ = img.convert("HSV").split()
    small = _small_size(img.size, 160)
    hs = np.asarray(h.resize(small, Image.Resampling.NEAREST), np.float32) * (2 * np.pi / 256)
    ss = np.asarray(s.resize(small, Image.Resampling.NEAREST), np.float32) / 255
    ws = np.asarray(where.resize(small, Image.Resampling.BOX), np.float32) / 255 * ss
    # The most common hue (a histogram's peak, not the mean: the coffee and the table in the
    # estimate must not pull the cup's red towards orange).
    hist = np.bincount((hs * 64 / (2 * np.pi)).astype(int).ravel() % 64, ws.ravel(), 64)
    hist = hist + np.roll(hist, 1) + np.roll(hist, -1)
    centre = (int(np.argmax(hist)) * 4 + 2) % 256

    def near(x: int) -> int:
        d = min(abs(x - centre), 256 - abs(x - centre)) * 360 / 256
        return round(255 * min(1.0, max(0.0, 1 - (d - 10) / 12)))

    hue_ok = h.point([near(x) for x in range(256)])
    sat_ok = s.point([round(255 * min(1.0, max(0.0, (x / 255 - 0.12) / 0.15))) for x in range(256)])
    # A little blur: single pixels of the cup's colour elsewhere do not turn into specks.
    weights = ImageChops.multiply(hue_ok, sat_ok).filter(ImageFilter.BoxBlur(1))
    return ImageChops.multiply(weights, where)


def distinct_parts(small: Image.Image, weight: np.ndarray) -> np.ndarray:
    """The small parts of a distinct colour in a whole subject to recolour (``weight``, in
    [0, 1], on the small RGB copy ``small``) with their holes: a black cat keeps its
    yellow-green eyes. A part is distinct when its hue is further from the subject's
    dominant hue than three times the subject's own mean spread of hues (and eight
    degrees: well outside the fur's variation, so a nose a shade redder than ginger fur is
    fur-like) and it is at least as saturated as the subject's typical pixel (a pale muzzle
    or a pink ear in a ginger cat is not); it is kept when it is compact (a third of its
    box or more), small (0.1 % to 3 % of the subject), mostly distinct by that strict
    margin, and lies well inside the subject and the frame: a patch at the outline or cut
    by the frame is the subject's own colour against something else, not a part of it
    seen whole."""
    hsv = np.asarray(small.convert("HSV"), np.float32)
    hue = hsv[..., 0] * (360 / 256)
    sat, val = hsv[..., 1] / 255, hsv[..., 2] / 255
    inner = weight > 0.9
    keep = np.zeros(inner.shape, bool)
    if inner.sum() < 100:
        return keep
    # The dominant hue: the peak of a saturation-weighted histogram (as colour_weights).
    hist = np.bincount((hue * 64 / 360).astype(int).ravel() % 64, (weight * sat).ravel(), 64)
    hist = hist + np.roll(hist, 1) + np.roll(hist, -1)
    centre = (int(np.argmax(hist)) + 0.5) * 360 / 64
    signed = (hue - centre + 180) % 360 - 180
    off = np.abs(signed)
    spread = float(np.average(np.minimum(off, 45)[inner], weights=sat[inner] + 1e-6))
    limit, typical = max(8.0, 3.0 * spread), float(np.median(sat[inner]))
    distinct = (off > limit) & (sat > typical) & (val > 0.12) & inner
    # Hysteresis: a part takes in the pixels round it that are distinct the same way by a
    # looser margin (an iris's shaded upper half), as far as three pixels.
    loose = (off > 0.6 * limit) & (sat > 0.8 * typical) & (val > 0.08) & inner
    frame = np.zeros_like(distinct)
    frame[0], frame[-1], frame[:, 0], frame[:, -1] = True, True, True, True
    edge = square_extreme(~inner | frame, 2, np.maximum)
    total = int(inner.sum())
    for side in (signed > 0, signed < 0):  # warmer and cooler than the subject: apart
        seeds = distinct & side
        if not seeds.any():
            continue
        grown = flood(seeds, (seeds | loose & side) & grow(seeds, 3))
        # Only what holds a dense core (5 of 9 distinct) can pass the tests below: the
        # specks and streaks are left before the parts are separated one by one.
        dense = seeds & (box(seeds.astype(np.float32), 1) > 0.5)
        for part in parts(flood(dense, grown)):
            n, strong = int(part.sum()), int((part & distinct).sum())
            if not 0.001 * total <= strong <= n <= 0.03 * total or (part & edge).any():
                continue  # specks, large areas, what touches the outline or the frame
            if strong < n / 2:
                continue  # mostly the loose margin: a tinge of the fur, not a part
            ys, xs = np.nonzero(part)
            y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 2, int(xs.min()), int(xs.max()) + 2
            if n < (y1 - y0 - 1) * (x1 - x0 - 1) / 3:
                continue  # not compact: a streak or a ring of the colour
            # With its holes (a pupil, a glint): what its box's border cannot reach.
            y0, x0 = max(0, y0 - 1), max(0, x0 - 1)
            inset = part[y0:y1, x0:x1]
            border = np.zeros_like(inset)
            border[0], border[-1], border[:, 0], border[:, -1] = True, True, True, True
            keep[y0:y1, x0:x1] |= ~flood(border & ~inset, ~inset)
    return keep
