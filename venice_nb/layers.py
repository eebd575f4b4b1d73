"""Layer stacks for ``multi_edit``: a base image plus mask, overlay and reference layers.

Multi-edit reads ``images[0]`` as the base and the rest as layers. How a layer is prepared is
what tells it apart, so :class:`LayerStack` prepares each one the way the endpoint (and the local
backend) reads it:

* a **mask** is a grayscale ``"L"`` image the size of the base: white = change, black = keep;
* an **overlay** is an ``"RGBA"`` image the size of the base, transparent except where the
  overlay was placed, to be composited over the base;
* a **reference** is an ``"RGB"`` image kept at its own size (content to borrow, not geometry).

``client.multi_edit(stack, prompt)`` sends ``stack.images()``; ``stack.validate(model)`` checks
the count against the model's limit before any money is spent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import _arguments as guards
from . import masks as _masks
from ._exceptions import ValidationError
from ._images import to_pil
from ._probe import DECODE_LIMIT_PIXELS
from ._types import ImageInput, MaskInput

if TYPE_CHECKING:
    from ._models import ModelInfo

__all__ = ["Layer", "LayerKind", "LayerStack"]

LayerKind = Literal["mask", "overlay", "reference"]

_ASPECT_TOLERANCE = 0.01  # a mask whose aspect ratio differs more than this would be distorted
_PREVIEW_HEIGHT = 192
_LABEL_HEIGHT = 22


@dataclass(frozen=True)
class Layer:
    """One prepared layer: ``image`` is exactly what is sent."""

    kind: LayerKind
    image: Image.Image
    position: tuple[int, int] | None = None  # overlays: top-left (x, y) on the base
    opacity: float | None = None  # overlays
    source_size: tuple[int, int] | None = None  # (width, height) of what was added

    def describe(self) -> str:
        """A short human description, as used in ``repr`` and previews."""
        w, h = self.image.size
        if self.kind == "mask":
            share = np.count_nonzero(np.asarray(self.image)) / (w * h)
            return f"mask {share:.1%} selected"
        if self.kind == "overlay":
            sw, sh = self.source_size or (w, h)
            return f"overlay {sw}x{sh} at {self.position} opacity {self.opacity:g}"
        return f"reference {w}x{h}"


def _has_alpha(img: Image.Image) -> bool:
    return "A" in img.getbands() or "transparency" in img.info


class LayerStack:
    """A base image and the layers to send with it to ``client.multi_edit``.

    Every ``add_*`` method returns the stack, so calls chain::

        stack = LayerStack("street.jpg").add_mask(masks.rect(base, box)).add_reference(logo)
        client.multi_edit(stack, "put the logo on the billboard", model=model)

    Args:
        base: The image to edit (any image input); layers are added with the `add_*` methods.
    """

    def __init__(self, base: ImageInput) -> None:
        img = to_pil(base)
        self._base = img.convert("RGBA" if _has_alpha(img) else "RGB")
        self._layers: list[Layer] = []

    # ---- reading ---------------------------------------------------------------------------

    @property
    def base(self) -> Image.Image:
        """The base image (``"RGB"``, or ``"RGBA"`` when it has transparency)."""
        return self._base

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the base, as ``venice_nb.masks`` takes sizes."""
        return self._base.height, self._base.width

    @property
    def layers(self) -> tuple[Layer, ...]:
        return tuple(self._layers)

    def images(self) -> list[Image.Image]:
        """What multi-edit sends: the base first, then each layer (do not modify them)."""
        return [self._base, *(layer.image for layer in self._layers)]

    def __len__(self) -> int:
        """Number of images sent: the base plus the layers."""
        return 1 + len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self._layers)

    def __repr__(self) -> str:
        base = getattr(self, "_base", None)  # None: the constructor raised half-way
        if base is None:
            return "LayerStack(no base)"
        parts = ", ".join(layer.describe() for layer in getattr(self, "_layers", ()))
        return f"LayerStack(base {base.width}x{base.height} {base.mode}, layers=[{parts}])"

    # ---- building --------------------------------------------------------------------------

    def add_mask(self, mask: MaskInput) -> LayerStack:
        """Add a mask layer: white (255) is what the model may change, black what stays.

        Takes anything ``venice_nb.masks`` accepts (bool/uint8/float arrays, PIL ``"L"``,
        a path). A mask of another size with the same aspect ratio is resized (nearest); soft
        values are kept as blend weights.

        Args:
            mask: Anything `venice_nb.masks` accepts; white is what may change.
        """
        m = _masks.as_mask(mask)
        h, w = self.shape
        mh, mw = m.shape
        if not m.any():  # also an empty (0-pixel) mask
            raise ValidationError(
                "the mask selects nothing (all black), so the edit could change nothing",
                action="paint white (255) where the model should change the image",
                field="mask",
            )
        if abs((mw / mh) / (w / h) - 1) > _ASPECT_TOLERANCE:
            raise ValidationError(
                f"the mask is {mw}x{mh} but the base is {w}x{h}: their aspect ratios differ, "
                "so resizing would distort it",
                action="build the mask at the base size, e.g. masks.rect(stack.shape, box)",
                field="mask",
            )
        m = _masks.resize_to(m, (h, w))
        self._layers.append(Layer("mask", _masks.to_image(m), source_size=(mw, mh)))
        return self

    def add_overlay(self, image: ImageInput, position: tuple[float, float] = (0, 0),
                    opacity: float = 1.0, *, scale: float = 1.0) -> LayerStack:
        """Add an overlay: ``image`` placed with its top-left corner at ``position=(x, y)``.

        The layer is a transparent canvas the size of the base with the image pasted in, its
        alpha multiplied by ``opacity``; the parts outside the base are clipped. ``scale``
        resizes the image first. Some transparency must remain: that is what marks the layer
        as an overlay.

        Args:
            image: The image to place (its alpha is kept).
            position: `(x, y)` of its top-left corner on the base.
            opacity: 0..1, multiplied into its alpha.
            scale: Resize factor before placing.
        """
        img = to_pil(image).convert("RGBA")
        op = guards.fraction(opacity, "opacity")
        if op == 0:
            raise ValidationError(
                "opacity 0 makes the overlay invisible", action="use a value in (0, 1]",
                field="opacity",
            )
        factor = guards.positive(scale, "scale")
        if factor != 1:
            size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
            if size[0] * size[1] > DECODE_LIMIT_PIXELS:
                raise ValidationError(
                    f"scale={scale!r} makes the overlay {size[0]}x{size[1]} pixels",
                    action="use a scale that keeps it near the base's size", field="scale",
                )
            img = img.resize(size, Image.Resampling.LANCZOS)
        x, y = (round(guards.number(v, "position")) for v in _pair(position))
        if op < 1:
            img.putalpha(img.getchannel("A").point([round(v * op) for v in range(256)]))
        canvas = Image.new("RGBA", self._base.size, (0, 0, 0, 0))
        w, h = self._base.size
        if -img.width < x < w and -img.height < y < h:  # else entirely outside the base
            canvas.paste(img, (x, y))
        low, high = canvas.getchannel("A").getextrema()
        if high == 0:
            raise ValidationError(
                f"the {img.width}x{img.height} overlay at {(x, y)} is not visible on the "
                f"{w}x{h} base (outside it, or fully transparent)",
                action="position is its top-left corner (x, y) in base pixels: move it inside",
                field="position",
            )
        if low == 255:
            raise ValidationError(
                f"the overlay covers the whole {w}x{h} base with no transparency, so it cannot "
                "be told apart from a reference image",
                action="make it the base instead, or use opacity < 1",
                field="image",
            )
        self._layers.append(
            Layer("overlay", canvas, position=(x, y), opacity=op, source_size=img.size)
        )
        return self

    def add_reference(self, image: ImageInput) -> LayerStack:
        """Add a reference image (style, object or colour to borrow), sent as RGB at its size.

        Like any input, it must have at least 65,536 pixels, or be sent with ``fit=True``.

        Args:
            image: A style, object or colour reference (any image input).
        """
        img = to_pil(image).convert("RGB")
        self._layers.append(Layer("reference", img, source_size=img.size))
        return self

    def pop(self, index: int = -1) -> Layer:
        """Remove and return a layer (the last by default); the base stays.

        Args:
            index: Which layer (the last by default).
        """
        if not self._layers:
            raise IndexError("the stack has no layers to remove (the base always stays)")
        return self._layers.pop(index)

    # ---- checking and showing --------------------------------------------------------------

    def validate(self, model: ModelInfo) -> LayerStack:
        """Check the image count against ``model.max_input_images``; return the stack.

        Raises ``ValidationError`` naming the model, its limit, this stack's count and what to
        do, before any request (and any charge) is made.

        Args:
            model: The model the stack is meant for.
        """
        limit, count = model.max_input_images, len(self)
        if count <= limit:
            return self
        layers = count - 1
        why = " (it cannot combine images)" if not model.combine_images else ""
        message = (
            f"model {model.id!r} ({model.name}) takes at most {limit} "
            f"image{'s' if limit != 1 else ''} per multi-edit{why}; this stack has {count}: "
            f"the base plus {layers} layer{'s' if layers != 1 else ''}"
        )
        if limit == 1:
            action = (
                "send the base alone with client.edit(...), or pick a model that combines "
                "images (max_input_images > 1) from client.models(type='inpaint')"
            )
        else:
            extra = count - limit
            action = (
                f"remove {extra} layer{'s' if extra != 1 else ''} with stack.pop(), or pick a "
                f"model with max_input_images >= {count} from client.models(type='inpaint')"
            )
        raise ValidationError(message, action=action, field="images")

    def preview(self, height: int = _PREVIEW_HEIGHT) -> Image.Image:
        """The base and each layer side by side, labelled (a PIL image: shows in notebooks).

        Masks are shown tinted red over the base and overlays composited over it, which is
        how the edit will read them; references are shown as they are.

        Args:
            height: Height of each panel, in pixels.
        """
        base_rgb = self._thumb(self._base, height).convert("RGB")
        tiles = [(base_rgb, f"base {self._base.width}x{self._base.height}")]
        for i, layer in enumerate(self._layers, start=1):
            thumb = self._thumb(layer.image, height)
            if layer.kind == "mask":
                thumb = _masks.overlay(base_rgb, np.asarray(thumb), opacity=0.55)
            elif layer.kind == "overlay":
                thumb = Image.alpha_composite(base_rgb.convert("RGBA"), thumb).convert("RGB")
            tiles.append((thumb.convert("RGB"), f"{i}: {layer.describe()}"))
        gap = 8
        font = _label_font()
        widths = [max(t.width, int(font.getlength(label)) + 4) for t, label in tiles]
        sheet = Image.new(
            "RGB", (sum(widths) + gap * (len(tiles) + 1), height + _LABEL_HEIGHT + 2 * gap),
            "white",
        )
        draw = ImageDraw.Draw(sheet)
        x = gap
        for (thumb, label), width in zip(tiles, widths, strict=True):
            sheet.paste(thumb, (x, gap))
            draw.text((x, gap + height + 4), label, fill="black", font=font)
            x += width + gap
        return sheet

    @staticmethod
    def _thumb(img: Image.Image, height: int) -> Image.Image:
        width = max(1, round(img.width * height / img.height))
        resample = Image.Resampling.NEAREST if img.mode == "L" else Image.Resampling.BILINEAR
        return img.resize((width, height), resample)


def _label_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=13)  # FreeType: readable spacing
    except (ImportError, OSError, TypeError):
        return ImageFont.load_default()


def _pair(v: object) -> tuple[object, object]:
    if not isinstance(v, (tuple, list)) or len(v) != 2:
        raise ValidationError(
            f"position must be (x, y), the overlay's top-left corner; got {v!r:.60}",
            action="pass two numbers in base pixels, e.g. (40, 120)", field="position",
        )
    return v[0], v[1]
