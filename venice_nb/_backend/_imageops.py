"""Deterministic, prompt-driven image edits standing in for Venice's models.

``plan`` reads a prompt as a person means it: what to do (``EFFECTS``, "remove …", "restore …",
"replace the sky/background with …") and where (the mask, else the sky, subject, background or
damaged area its words name; see ``_regions``). Prompts without a known word get a seeded,
plausible colour grade. Randomness is seeded from sha256(prompt), so the same request always
yields the same bytes; work is done with Pillow's C operations and numpy on small arrays, so a
1 Mpx edit takes a few tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from . import _effects, _fill, _regions

Region = Image.Image  # mode "L": 255 = the edit applies fully, 0 = keep

# ----------------------------------------------------------------------------- geometry


def resolution_long_side(resolution: str) -> int:
    """Long side in pixels of a resolution tier: 1K -> 1024, 2K -> 2048, 4K -> 4096."""
    return 1024 * int(resolution[:-1])


def output_geometry(
    size: tuple[int, int], aspect_ratio: str | None, resolution: str | None
) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """(crop box in input pixels, output size): centre-crop to ``aspect_ratio`` unless it is
    None/"auto", then scale the long side to the resolution tier if one is given."""
    w, h = size
    box = (0, 0, w, h)
    if aspect_ratio and aspect_ratio != "auto":
        rw, rh = (int(v) for v in aspect_ratio.split(":"))
        if w * rh > h * rw:
            cw = max(1, round(h * rw / rh))
            box = ((w - cw) // 2, 0, (w - cw) // 2 + cw, h)
        else:
            ch = max(1, round(w * rh / rw))
            box = (0, (h - ch) // 2, w, (h - ch) // 2 + ch)
    cw, ch = box[2] - box[0], box[3] - box[1]
    if resolution:
        scale = resolution_long_side(resolution) / max(cw, ch)
        return box, (max(1, round(cw * scale)), max(1, round(ch * scale)))
    return box, (cw, ch)


def fit(
    img: Image.Image,
    base_size: tuple[int, int],
    box: tuple[int, int, int, int],
    out: tuple[int, int],
    resample: Image.Resampling = Image.Resampling.LANCZOS,
) -> Image.Image:
    """Bring ``img`` (any size; it stands for the base's full frame) to the output geometry."""
    if img.size == base_size and box == (0, 0, *base_size) and out == base_size:
        return img
    sx, sy = img.size[0] / base_size[0], img.size[1] / base_size[1]
    src = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    return img.resize(out, resample, box=src)


# ----------------------------------------------------------------------------- layers


# Share of pixels within 8 of black or white that makes a grayscale layer a mask. Measured:
# masks 1.0 (hard), 0.76 (40 px feather on 300x400), 0.53 (80 px); grayscale sample photos
# 0.00-0.16. A grayscale photo sent as a reference is therefore not mistaken for a mask.
MASK_EXTREME_SHARE = 0.4


def classify_layer(img: Image.Image) -> str:
    """How a multi-edit layer is read, per the package's layer conventions: "mask" (grayscale,
    or opaque RGB(A) with R==G==B, and mostly black or white: a soft edge is fine, a grayscale
    photo is not), "overlay" (RGBA with some alpha < 255) or "reference"."""
    if img.mode == "1":
        return "mask"
    if img.mode in ("L",) or img.mode.startswith(("I", "F")):
        gray = np.asarray(eight_bit(img))
    else:
        rgba = np.asarray(img.convert("RGBA"))
        if (rgba[..., 3] < 255).any():
            return "overlay"
        r, g, b = rgba[..., 0], rgba[..., 1], rgba[..., 2]
        if not bool((r == g).all() and (g == b).all()):
            return "reference"
        gray = r
    extreme = np.count_nonzero((gray <= 8) | (gray >= 247))
    return "mask" if extreme >= MASK_EXTREME_SHARE * gray.size else "reference"


def eight_bit(img: Image.Image) -> Image.Image:
    """16-bit / integer / float greyscale scaled to mode L (a plain convert would clip it)."""
    if not img.mode.startswith(("I", "F")):
        return img
    arr = np.asarray(img, dtype=np.float64)
    top = 255.0 if arr.max() <= 255 else 65535.0
    return Image.fromarray(np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8))


def as_mask(img: Image.Image) -> Region:
    img = eight_bit(img)
    if img.mode == "L":
        return img
    return img.convert("L") if img.mode == "1" else img.convert("RGB").getchannel("R")


def mean_colour(img: Image.Image) -> tuple[int, int, int]:
    small = img.convert("RGB").resize((1, 1), Image.Resampling.BOX)
    r, g, b = small.getpixel((0, 0))  # type: ignore[misc]
    return int(r), int(g), int(b)


def composite_overlays(rgb: Image.Image, overlays: Sequence[Image.Image]) -> Image.Image:
    """Alpha-composite RGBA overlays over the RGB base; where alpha == 0 the base is untouched."""
    for ov in overlays:
        rgb = Image.composite(ov.convert("RGB"), rgb, ov.getchannel("A"))
    return rgb


# ----------------------------------------------------------------------------- prompt -> plan


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


# (name, pattern, effect) in the order they are applied; patterns are matched on the prompt
# with "keep …"/"while preserving …" clauses removed.
EFFECTS: tuple[tuple[str, str, _effects.Effect], ...] = (
    ("snow", r"\bsnow|\bblizzard", _effects.snow),
    ("winter", r"\bwinter|\bwintry|\bfrost|\bicy\b", _effects.winter),
    ("rain", r"\brain(s|y|ing|fall|storm)?\b|\bdrizzl|\bdownpour|\bwet\b", _effects.rain),
    ("fog", r"\bfog|\bmist|\bhaz[ey]\b|\bhazy", _effects.fog),
    ("autumn", r"\bautumn|\bfall (colou?rs?|foliage|leaves)|\bfoliage", _effects.autumn),
    ("golden hour", r"\bgolden[- ]hour|\bgolden light|\bmagic hour", _effects.golden_hour),
    ("sunset", r"\bsunrise|\bsunset|\bdawn|\bdusk", _effects.sunset),
    ("night", r"\bnight|\bmidnight", _effects.night),
    ("greyscale", r"\bgr[ae]yscale|\bmonochrome|\bdesaturat|\bb\s*&\s*w\b", _effects.greyscale),
    ("sepia", r"\bsepia", _effects.sepia),
    ("vintage film",
     r"\bvintage|\bretro\b|\bold photo|\bfilm (look|grain|photo)|\banalog|\b(19)?70s",
     _effects.vintage_film),
    ("watercolour", r"\bwatercolou?r|\baquarelle", _effects.watercolour),
    ("oil painting", r"\boil\b|\bimpasto|\bpainterly|\bvan gogh", _effects.oil_painting),
    ("pencil sketch", r"\bsketch|\bpencil|\bcharcoal|\bdrawing\b|\bline art",
     _effects.pencil_sketch),
    ("cartoon", r"\bcartoon|\bcomic|\banime|\bposteri[sz]|\bcel[- ]shad", _effects.cartoon),
    ("pixel art", r"\bpixel|\b(8|16)[- ]bit\b", _effects.pixel_art),
    ("warm", r"\bwarm", _effects.warm),
    ("cool", r"\bcool|\bcold", _effects.cool),
    ("brighter", r"\bbrighter|\bbrighten|\blighter|\blighten", _effects.brighter),
    ("darker", r"\bdarker|\bdarken|\bdimmer", _effects.darker),
    ("blur", r"\bblur|\bbokeh", _effects.blur),
    ("sharpen", r"\bsharpen|\bsharper|\bcrisper", _effects.sharpen),
    ("invert", r"\binvert|\bnegative", _effects.invert),
)  # fmt: skip
_EFFECT_FNS = {name: fn for name, _, fn in EFFECTS}

_KEEP_CLAUSE = re.compile(
    r"(,?\s*\b(while|whilst)\b|\b(and\s+|but\s+)?(keep|keeping|preserv\w*|leave|leaving|without "
    r"changing)\b)[^.;]*"
)
_PHRASE = r"(?:(?!\s(?:and|then|so|but)\s)[^.;,])*"  # up to the end of the clause
_REPLACE_AREA = re.compile(
    r"\b(replace|change|turn|make|swap|transform|paint|set)\s+(the\s+)?(colou?r\s+of\s+(the\s+)?)?"
    r"(\w+\s+){0,2}?(?P<area>sky|background|backdrop)\s*(with|to|into|for|as|be)?\s+(?P<what>"
    + _PHRASE
    + r")"
)
_REMOVE = re.compile(
    rf"\b(remov\w*|eras\w*|delet\w*|get rid of|take out|clean up)\b\s*(?P<what>{_PHRASE})"
)
_RESTORE = re.compile(r"\b(restor\w*|repair\w*|mend\w*|fix\w*|heal\w*)\b")
_REPLACE_OBJECT = re.compile(rf"\breplac\w*\s+(?P<obj>[^.;,]*?)\s+with\s+(?P<what>{_PHRASE})")
_THE = re.compile(r"\bthe\s+(?:\w+\s+){0,2}?(?P<noun>\w+)\b")
WHOLE_WORDS = frozenset(
    ("photo", "image", "picture", "scene", "shot", "frame", "whole", "colors", "colours",
     "color", "colour", "lighting", "light", "mood", "style")
)  # fmt: skip

SKY_KINDS = (
    ("sunset", r"sunrise|sunset|dawn|dusk|golden|orange"),
    ("night", r"night|star|milky|galaxy|moon"),
    ("storm", r"storm|cloud|overcast|thunder|rain|grey sky|gray sky|dramatic"),
)
BACKDROP_KINDS = (
    ("studio", r"studio|backdrop|plain|seamless|neutral|solid|simple|clean|empty"),
    ("blur", r"blur|bokeh|out of focus|soft focus"),
    ("beach", r"beach|sea|ocean|coast|tropical"),
    ("forest", r"forest|jungle|trees|woods|park|garden|nature"),
    ("city", r"city|street|urban|neon|skyline|downtown"),
    ("night", r"night|space|stars|galaxy|cosmos"),
    ("sunset", r"sunset|sunrise|dawn|dusk"),
    ("sky", r"\bsky\b|clouds"),
)


def _kind(what: str, table: Sequence[tuple[str, str]], default: str) -> str:
    """A colour word wins ("a blue backdrop"), then the table's first matching kind."""
    colours: list[str] = [w for w in _WORD.findall(what) if w in _effects.COLOURS]
    if colours:
        return colours[0]
    for name, pattern in table:
        if re.search(pattern, what):
            return name
    return default


_WORD = re.compile(r"[a-z]+")
_BW = re.compile(r"black\s*(and|&|n)\s*white")  # a look, not two colour words


def _is_new_area(what: str, area: str) -> bool:
    """True when "change the sky/background to <what>" asks for new content, False when <what>
    is an effect to apply there ("… snowy", "… black and white")."""
    table = SKY_KINDS if area == "sky" else BACKDROP_KINDS
    return bool(_kind(what, table, "")) or not any(re.search(p, what) for _, p, _ in EFFECTS)


def _clean(prompt: str) -> str:
    """Lower case, "keep …"/"while …" clauses dropped, "black and white" read as one word."""
    return _BW.sub("greyscale", _KEEP_CLAUSE.sub(" ", prompt.lower()))


def _target(text: str) -> str | None:
    """The region a prompt's words point at: "sky", "background", "subject" or None (whole)."""
    if re.search(r"\bsky\b", text):
        return "sky"
    if re.search(r"\b(background|backdrop|behind)\b", text):
        return "background"
    match = _THE.search(text)
    if match and match.group("noun") not in WHOLE_WORDS:
        return "subject"
    if re.search(r"\b(subject|person|people|him|her|them)\b", text):
        return "subject"
    return None


def plan(prompt: str) -> list[str]:
    """Names of the steps ``prompt`` triggers, in application order (for tests/docs).

    Region-specific steps carry their kind: "sky:sunset", "background:studio", "replace:sign".
    """
    text = _clean(prompt)
    names: list[str] = []
    rest = text
    area = _REPLACE_AREA.search(text)
    if area and _is_new_area(area.group("what"), area.group("area")):
        what = area.group("what")
        if area.group("area") == "sky":
            names.append(f"sky:{_kind(what, SKY_KINDS, 'clear')}")
        else:
            names.append(f"background:{_kind(what, BACKDROP_KINDS, 'scene')}")
        rest = text[: area.start()] + text[area.end() :]
    elif area:
        pass  # "make the background black and white": an effect, applied to that area
    elif (obj := _REPLACE_OBJECT.search(text)) and _target(obj.group("obj")) != "sky":
        what = obj.group("what")
        if re.search(r"poster|billboard|advert|neon|screen|display", what):
            names.append("replace:poster")
        elif re.search(r"blank|plain|empty|clean", what) or re.search(r"sign|panel|label", what):
            names.append("replace:sign")
        rest = text[: obj.start()] + " " + what + text[obj.end() :] if names else text
    if removal := _REMOVE.search(rest):
        if re.search(r"\b(background|backdrop)\b", removal.group("what")):
            names.append("background:white")
        else:
            names.append("remove")
        rest = rest[: removal.start()] + rest[removal.end() :]
    if _RESTORE.search(rest):
        names.append("restore")
    for name, pattern, _ in EFFECTS:
        if re.search(pattern, rest) and not (name == "sunset" and names[:1] == ["sky:sunset"]):
            names.append(name)
    if re.search(r"\bstudio\b", rest) and not any(n.startswith("background:") for n in names):
        names.append("background:studio")
    colours = [w for w in _WORD.findall(rest) if w in _effects.COLOURS]
    if colours and not any(n.startswith(("sky:", "background:")) for n in names):
        names.append(f"tint:{colours[-1]}")
    return names or ["restyle"]


# ----------------------------------------------------------------------------- plan -> pixels


class _Regions:
    """Region estimates of one image, computed on first use."""

    def __init__(self, img: Image.Image) -> None:
        self.img = img
        self._cache: dict[str, Region | None] = {}

    def get(self, kind: str) -> Region | None:
        if kind not in self._cache:
            self._cache[kind] = {
                "sky": _regions.sky,
                "subject": _regions.subject,
                "background": _regions.background,
                "damage": _regions.damage,
            }[kind](self.img)
        return self._cache[kind]


def _removal_region(regions: _Regions, text: str) -> Region:
    """Where "remove …" acts without a mask: the named area, else the subject when it is a
    compact object, else the centre."""
    target = _target(text)
    if target == "sky" and (sky := regions.get("sky")) is not None:
        return sky
    subject = regions.get("subject")
    if subject is not None:
        share = np.asarray(subject.resize((64, 64), Image.Resampling.BOX)).mean() / 255
        if 0.01 < share < 0.45:
            # Its core only: faint edges of the estimate (a lamp's glow) are not the object.
            return subject.point(lambda v: 255 if v > 100 else 0)
    return _regions.central(regions.img.size)


def _sky_step(
    img: Image.Image, kind: str, region: Region | None, seed: int, masked: bool
) -> Image.Image:
    """A new sky in ``region``; without a mask the rest of the scene takes the sky's light."""
    if region is None:  # no sky in the photo: re-light the whole scene instead
        fn = {"sunset": _effects.sunset, "night": _effects.night}.get(kind, _effects.cool)
        return fn(img, seed)
    sky = _effects.sky_fill(img.size, kind, seed)
    # Keep the old sky's brightness texture faintly so edges against the scene stay natural.
    painted = Image.composite(sky, img, region)
    if masked:
        return painted
    light = {"sunset": (255, 196, 150), "night": (110, 120, 170), "storm": (190, 194, 200)}.get(
        kind
    )
    if light is None:
        return painted
    lit = ImageChops.multiply(img, Image.new("RGB", img.size, light)).point(
        _effects.lut((1.12,) * 3, (6,) * 3)
    )
    return Image.composite(sky, lit, region)


def apply_prompt(
    img: Image.Image, prompt: str, mask: Region | None, *, style_seed: str = ""
) -> Image.Image:
    """The prompt's steps on an RGB image. With a ``mask`` every step works in it (the caller
    blends by the mask); without one, each step finds its own region from the prompt's words
    (the sky, the subject, the background, a damaged corner) and blends by it. ``style_seed``
    (the model id) varies the free-form restyle, so a grid of models shows different answers."""
    text = _clean(prompt)
    seed = _seed(prompt)
    regions = _Regions(img)
    target = _target(text)
    out = img
    for name in plan(prompt):
        kind, _, arg = name.partition(":")
        region: Region | None = mask
        if kind == "sky":
            sky = mask if mask is not None else regions.get("sky")
            out = _sky_step(out, arg, sky, seed, mask is not None)
            continue
        if kind == "background":
            region = mask if mask is not None else regions.get("background")
            fill = (
                _effects.backdrop_fill(out, arg, seed)
                if arg != "white"
                else Image.new("RGB", out.size, (246, 246, 246))
            )
            out = Image.composite(fill, out, region) if region is not None else fill
            continue
        if kind in ("remove", "restore"):
            if mask is None:
                damaged = regions.get("damage") if kind == "restore" else None
                region = damaged or _removal_region(regions, text)
                if kind == "restore" and damaged is None:
                    out = _effects.restore_look(out, seed)
                    continue
            out = _fill.fill(out, region)  # type: ignore[arg-type]
            continue
        if kind == "replace":
            if region is None:
                region = _removal_region(regions, text)
            if arg == "poster":
                out = _effects.glowing_poster(out, region, seed)
            else:
                out = Image.composite(_effects.blank_sign(out, region), out, region)
            continue
        if mask is None and target is not None:
            region = regions.get(target)
        if kind == "restyle":
            edited = _effects.restyle(
                out, _seed(f"{style_seed}\n{prompt}" if style_seed else prompt)
            )
        elif kind == "tint":
            edited = _effects.tint(_effects.COLOURS[arg])(out)
        else:
            edited = _EFFECT_FNS[name](out, seed)
        out = edited if region is None or mask is not None else Image.composite(edited, out, region)
    return out


# ----------------------------------------------------------------------------- pipeline


def edit_image(
    base: Image.Image,
    prompt: str,
    *,
    layers: Sequence[Image.Image] = (),
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    violation_blur: bool = False,
    model: str = "",
) -> Image.Image:
    """The whole local "model": geometry, layers, prompt operations, mask blend.

    Pixels outside the mask keep the base's exact values (at an unchanged geometry).
    """
    base = eight_bit(base)
    base_size = base.size
    box, out_size = output_geometry(base_size, aspect_ratio, resolution)
    has_alpha = base.mode in ("RGBA", "LA", "PA") or (
        base.mode == "P" and "transparency" in base.info
    )
    work = fit(base.convert("RGBA" if has_alpha else "RGB"), base_size, box, out_size)
    alpha = work.getchannel("A") if has_alpha else None
    rgb = work.convert("RGB") if has_alpha else work

    masks, overlays, refs = [], [], []
    for layer in layers:
        kind = classify_layer(layer)
        if kind == "mask":
            # NEAREST: a hard mask stays hard, so nothing outside it changes
            masks.append(fit(as_mask(layer), base_size, box, out_size, Image.Resampling.NEAREST))
        elif kind == "overlay":
            overlays.append(fit(layer.convert("RGBA"), base_size, box, out_size))
        else:
            refs.append(layer)
    mask = None
    for m in masks:
        mask = m if mask is None else ImageChops.lighter(mask, m)

    rgb = composite_overlays(rgb, overlays)
    if alpha is not None:
        for ov in overlays:
            alpha = ImageChops.lighter(alpha, ov.getchannel("A"))
    edited = apply_prompt(rgb, prompt, mask, style_seed=model)
    if refs:
        ref = Image.new("RGB", out_size, mean_colour(refs[0]))
        edited = Image.blend(edited, ref, 0.15)
    out = edited if mask is None else Image.composite(edited, rgb, mask)
    if violation_blur:
        out = out.filter(ImageFilter.GaussianBlur(max(8.0, max(out_size) / 30)))
    if alpha is not None:
        out.putalpha(alpha)
    return out


def encode(img: Image.Image, fmt: str) -> bytes:
    """PNG (fast zlib level), JPEG (q92, alpha flattened on white) or WebP (q90)."""
    buf = io.BytesIO()
    if fmt == "jpeg":
        if img.mode == "RGBA":
            flat = Image.new("RGB", img.size, (255, 255, 255))
            flat.paste(img, mask=img.getchannel("A"))
            img = flat
        img.convert("RGB").save(buf, "JPEG", quality=92)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=90, method=0)
    else:
        img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()
