"""Things a prompt asks to add ("give the cat a red hat", "put a pink flower in the cup"):
simple, recognisable shapes drawn where they belong on the subject, shaded to the scene.

Placement comes from the subject matte (``_subject``) or, with a mask, from the mask's box:

- the *head* is the top of the subject: its width is the subject's width just below its top
  (capped, so a frame-filling subject still gets a head-sized box), its eye line a fixed share
  of that width below the top; a subject cut by the top edge of the frame (a close-up) has its
  eye line a third of the way down;
- hats and crowns sit on the head, their brim at the forehead; glasses on the eye line; a scarf
  round the neck (or along the bottom edge when the neck is out of frame); a flower by the ear,
  or standing in the subject's opening when the prompt says "in".

Shapes are drawn at twice the size and reduced (anti-aliased), lit from the top left, given a
soft contact shadow, and multiplied by the scene's own light at that place, so a hat in a dim
room is dim. Everything is deterministic: no randomness at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ._pixels import Region

Colour = tuple[int, int, int]

KINDS = ("party hat", "hat", "crown", "sunglasses", "glasses", "scarf", "flower", "bow")
DEFAULT_COLOURS: dict[str, Colour] = {
    "party hat": (220, 30, 30), "hat": (35, 35, 40), "crown": (212, 175, 55),
    "sunglasses": (20, 20, 24), "glasses": (30, 30, 34), "scarf": (200, 30, 40),
    "flower": (240, 110, 170), "bow": (220, 30, 60),
}  # fmt: skip
SS = 2  # supersampling factor


@dataclass(frozen=True)
class Head:
    """Where the subject's head is, in pixels: centre x, top y, width, eye line y."""

    cx: float
    top: float
    width: float
    eyes: float
    close_up: bool = False


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
    r = 0.15 * hd.width
    gap = 0.24 * hd.width
    line = max(1, round(0.035 * hd.width * s))
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


def _scarf(d: ImageDraw.ImageDraw, hd: Head, colour: Colour, s: float, bottom: float) -> None:
    """A knitted scarf: a band sagging round the neck with ribs, a knot and two hanging ends
    (in a close-up, where the neck is below the frame, along the bottom edge)."""
    y = min(hd.eyes + 0.95 * hd.width, bottom - 0.12 * hd.width)
    close_up = y < hd.eyes + 0.95 * hd.width
    half = (1.05 if close_up else 0.62) * hd.width
    thick = (0.16 if close_up else 0.2) * hd.width
    if close_up:
        y = bottom - 1.0 * thick
    sag = 0.25 * thick

    def curve(x: float, off: float) -> float:
        t = (x - hd.cx) / half
        return y + off + sag * (1 - t * t)

    n = 24
    xs = [hd.cx - half + 2 * half * i / n for i in range(n + 1)]
    top = [(x, curve(x, -thick)) for x in xs]
    low = [(x, curve(x, thick)) for x in reversed(xs)]
    d.polygon([(x * s, yy * s) for x, yy in top + low], fill=colour)
    rib_dark, rib_light = _shade(colour, 0.78), _shade(colour, 1.22)
    for i in range(n):
        x0, x1 = xs[i], xs[i + 1]
        if i % 2:
            d.polygon([(x0 * s, curve(x0, -thick) * s), (x1 * s, curve(x1, -thick) * s),
                       (x1 * s, curve(x1, thick) * s), (x0 * s, curve(x0, thick) * s)],
                      fill=rib_dark)  # fmt: skip
    d.line([(x * s, (yy + 0.15 * thick) * s) for x, yy in top], fill=rib_light,
           width=max(1, round(0.12 * thick * s)))  # fmt: skip
    # Knot and hanging ends, a little right of the middle (in a close-up, high on the band
    # and to the side, so they show above the frame's edge).
    kx = hd.cx + (0.55 if close_up else 0.35) * half
    ky = curve(kx, (-1.0 if close_up else 0.2) * thick)
    for dx, length in ((-0.9, 3.2), (0.5, 2.6)) if close_up else ((-0.35, 3.2), (0.45, 2.6)):
        end = [(kx + dx * thick - 0.5 * thick, ky), (kx + dx * thick + 0.5 * thick, ky),
               (kx + dx * 1.6 * thick + 0.55 * thick, ky + length * thick),
               (kx + dx * 1.6 * thick - 0.55 * thick, ky + length * thick)]  # fmt: skip
        d.polygon([(x * s, yy * s) for x, yy in end], fill=_shade(colour, 0.88))
        fy = ky + length * thick
        for j in range(5):
            fx = kx + dx * 1.6 * thick - 0.5 * thick + j * 0.25 * thick
            d.line([(fx * s, fy * s), (fx * s, (fy + 0.35 * thick) * s)], fill=rib_dark,
                   width=max(1, round(0.08 * thick * s)))  # fmt: skip
    d.ellipse([(kx - 0.7 * thick) * s, (ky - 0.75 * thick) * s, (kx + 0.7 * thick) * s,
               (ky + 0.75 * thick) * s], fill=rib_dark)  # fmt: skip


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
    box = mask.point(lambda v: 255 if v > 127 else 0).getbbox() if mask is not None else None
    if box is not None:
        hd = head_in_box(box, kind)
    elif matte is not None:
        hd = head_of(matte)
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
    hd = Head(hd.cx - ox, hd.top - oy, hd.width, hd.eyes - oy, hd.close_up)
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
    elif kind == "scarf":
        _scarf(d, hd, colour, SS, (float(box[3]) if box else h) - oy)
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
    drawn = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    big = layer.getchannel("A").getbbox()
    if big is not None:  # reduce only the part drawn on: cheap for a small object
        x0, y0 = big[0] // SS, big[1] // SS
        x1, y1 = min(ox1 - ox, -(-big[2] // SS)), min(oy1 - oy, -(-big[3] // SS))
        part = layer.crop((x0 * SS, y0 * SS, x1 * SS, y1 * SS))
        drawn.paste(part.resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS), (x0 + ox, y0 + oy))
    return _composite(img, drawn)


def _composite(img: Image.Image, drawn: Image.Image) -> Image.Image:
    """Lay ``drawn`` (RGBA) on ``img`` with a soft contact shadow and the scene's light; the
    work is confined to the object's box (plus its shadow)."""
    bbox = drawn.getchannel("A").getbbox()
    if bbox is None:
        return img
    size = max(bbox[2] - bbox[0], bbox[3] - bbox[1])
    pad = max(4, size // 8)
    box = (max(0, bbox[0] - pad), max(0, bbox[1] - pad),
           min(img.width, bbox[2] + pad), min(img.height, bbox[3] + pad))  # fmt: skip
    part, obj = img.crop(box).convert("RGB"), drawn.crop(box)
    alpha = obj.getchannel("A")
    shadow = alpha.filter(ImageFilter.GaussianBlur(max(1.0, size / 30)))
    moved = Image.new("L", shadow.size, 0)
    moved.paste(shadow, (max(1, size // 60), max(1, size // 40)))  # shifted, not wrapped
    shadow = moved
    shadow = shadow.point(lambda v: v * 90 // 255)
    out = Image.composite(Image.new("RGB", part.size, 0), part, shadow)
    # The scene's light where the object sits (a blurred luminance relative to the picture's
    # mean), and a top-left to bottom-right fall-off that gives flat shapes some volume.
    overall = img.convert("L").resize((16, 16), Image.Resampling.BOX)
    mean = max(1.0, float(np.asarray(overall, np.float32).mean()))
    local = part.convert("L").resize((8, 8), Image.Resampling.BOX).filter(ImageFilter.BLUR)
    light = np.asarray(local.resize(part.size, Image.Resampling.BILINEAR), np.float32) / mean
    h, w = light.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    fall = 1.08 - 0.16 * (x / max(1, w - 1) + y / max(1, h - 1)) / 2
    gain = np.clip((0.65 + 0.35 * light) * fall, 0.35, 1.25)
    lit = np.asarray(obj.convert("RGB"), np.float32) * gain[..., None]
    lit_img = Image.fromarray(np.clip(lit + 0.5, 0, 255).astype(np.uint8))
    result = img.convert("RGB").copy()
    result.paste(Image.composite(lit_img, out, alpha), box[:2])
    return result
