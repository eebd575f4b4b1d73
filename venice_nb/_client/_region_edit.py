"""``edit_region``'s request building and finishing, shared by ``Client`` and ``AsyncClient``.

A region edit is one ordinary request (an edit, or a multi-edit with the mask as a layer) for a
crop of the photo, wrapped in the pure steps of ``venice_nb._region``: ``read_region`` checks
the inputs (before any request, even the model list), ``prepare_region`` plans the crop and
builds the request, ``finish_region`` stitches the answer into the full-resolution original.
The store keeps the raw answer under a fingerprint that also covers the crop, the context, the
feather and the original, so a replay recomposes the same bytes without paying again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .. import _arguments as guards
from .. import _region
from .._exceptions import ValidationError
from .._images import _read_source, is_url, to_pil
from .._models import ModelInfo
from .._probe import open_header, sniff_mime
from .._result import EditResult, with_lazy_data
from . import _request
from ._request import PreparedRequest

__all__ = [
    "DecodedPhoto", "RegionInputs", "RegionJob", "finish_region", "prepare_region", "read_region",
]

_FORMAT_OF_MIME = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp"}
_EDIT_TYPES = ("inpaint", "edit")


@dataclass(frozen=True)
class DecodedPhoto:
    """A JPEG's file bytes with its pixels, already decoded by whoever holds both (the studio's
    painter): ``edit_region`` identifies the photo by the bytes, as it would from the file (the
    same fingerprint), and composites into the pixels without decoding the file again (a
    33 Mpx JPEG: 0.2-0.5 s). The pixels must be the bytes' upright RGB decode."""

    data: bytes
    pixels: np.ndarray  # (height, width, 3) uint8


@dataclass(frozen=True)
class RegionInputs:
    """The checked inputs: the upright original, its mask at full size, and its file format."""

    original: Image.Image
    mask: np.ndarray
    source: str  # digest of the original
    input_format: str  # "jpeg", "png" or "webp": what the output follows by default
    context: float
    feather: int | None
    owned: bool  # decoded here: the stitch may paste into it


@dataclass(frozen=True)
class RegionJob:
    """One region edit in flight: the request to send and what the stitch needs."""

    prepared: PreparedRequest
    inputs: RegionInputs
    plan: _region.RegionPlan
    sent: Image.Image  # the pixels the model sees
    sent_mask: bytes
    output_format: str


def read_region(image: Any, mask: Any, *, context: Any, feather: Any) -> RegionInputs:
    """Decode the original and check the mask: every refusal here happens before any request."""
    if is_url(image):
        raise ValidationError(
            "edit_region needs the photo's pixels to put the answer back; it got a URL",
            action="download the photo and pass its path or bytes",
            field="image",
        )
    ctx = guards.number(context, "context")
    if not 0 <= ctx <= 4:
        raise ValidationError(
            f"context={context!r} is out of range",
            action="pass 0 to 4: the share of the mask's size added around it (default 0.5)",
            field="context",
        )
    fth = None if feather is None else guards.pixels(feather, "feather")
    if isinstance(image, DecodedPhoto):
        return _read_decoded(image, mask, float(ctx), fth)
    src = _read_source(image, "image")
    owned = not isinstance(src, Image.Image)
    if isinstance(src, Image.Image):
        original, data = src, None
        fmt = _FORMAT_OF_MIME.get(Image.MIME.get(src.format or "", ""), "png")
    else:
        data = src
        fmt = _FORMAT_OF_MIME.get(sniff_mime(src) or "", "png")
        original = to_pil(src, "image")
    if original.mode not in ("RGB", "RGBA"):
        has_alpha = "A" in original.getbands() or "transparency" in original.info
        original = original.convert("RGBA" if has_alpha else "RGB")
        owned = True
    checked = _region.read_mask(mask, original.size)
    return RegionInputs(
        original, checked, _region.source_digest(original, data), fmt, float(ctx), fth, owned
    )


def _read_decoded(photo: DecodedPhoto, mask: Any, context: float,
                  feather: int | None) -> RegionInputs:
    pixels = photo.pixels
    if not (isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and pixels.ndim == 3
            and pixels.shape[2] == 3 and sniff_mime(photo.data) == "image/jpeg"
            and _header_size(photo.data) == (pixels.shape[1], pixels.shape[0])):
        raise ValidationError(
            "DecodedPhoto takes a JPEG's bytes and their decoded RGB pixels",
            action="pass the photo's bytes or its pixels alone", field="image",
        )
    original = Image.fromarray(pixels)
    owned = not original.readonly  # fromarray copied the pixels: the stitch may paste in them
    checked = _region.read_mask(mask, original.size)
    digest = _region.source_digest(original, photo.data)
    return RegionInputs(original, checked, digest, "jpeg", context, feather, owned)


def _header_size(data: bytes) -> tuple[int, int]:
    with open_header(data, "image") as img:  # the header only; unreadable bytes said clearly
        size: tuple[int, int] = img.size  # (Pillow's context manager is untyped)
    return size


def _tier_side(resolution: str | None, model: ModelInfo | None) -> int:
    tier = resolution or (model.default_resolution if model else None) or "1K"
    try:
        return 1024 * max(1, int(tier.upper().rstrip("K")))
    except ValueError:
        return 1024


def _check_model(model: ModelInfo | None) -> None:
    if model is not None and model.type and model.type not in _EDIT_TYPES:
        raise ValidationError(
            f"{model.id} is a {model.type!r} model: it takes no image to edit",
            action="pick an edit model from client.models(type='inpaint')",
            field="model",
        )


def prepare_region(
    inputs: RegionInputs, prompt: str, model: ModelInfo | None, options: Mapping[str, Any]
) -> RegionJob:
    """Plan the crop and build the one request that sends it (a multi-edit with the mask as a
    layer for models that take layers, else an edit)."""
    _check_model(model)
    plan = _region.plan_region(
        inputs.original.size,
        inputs.mask,
        ratios=model.aspect_ratios if model else (),
        tier_side=_tier_side(options.get("resolution"), model),
        context=inputs.context,
        feather=inputs.feather,
    )
    crop, sent = _region.crop_for_send(inputs.original, plan)
    sent_mask = _region.mask_for_send(inputs.mask, plan)
    common = {
        "model": model,
        "aspect_ratio": plan.aspect_ratio,
        "resolution": options.get("resolution"),
        "safe_mode": options.get("safe_mode"),
        "enhance_prompt": options.get("enhance_prompt"),
        "upload": options.get("upload", "json"),
    }
    layered = model is not None and model.combine_images and model.max_input_images >= 2
    if layered:
        prepared = _request.prepare_multi_edit(
            [crop, sent_mask], prompt, quality=options.get("quality"), **common
        )
    else:
        if options.get("quality") is not None:
            raise ValidationError(
                "quality applies to models that take layers (multi-edit)",
                action="leave quality out for this model",
                field="quality",
            )
        prepared = _request.prepare_edit(crop, prompt, **common)
    asked = _request._output_format(options.get("output_format"))
    fmt = asked or inputs.input_format
    note = plan.note
    prepared = dataclasses.replace(
        prepared,
        region={**plan.key(), "source": inputs.source, "output_format": fmt},
        fit_actions=(*prepared.fit_actions, note) if note else prepared.fit_actions,
    )
    return RegionJob(prepared, inputs, plan, sent, sent_mask, fmt)


def finish_region(job: RegionJob, raw: EditResult) -> EditResult:
    """The full-resolution result: the answer stitched into the original. ``.image`` holds the
    composited pixels, ``.raw`` the answer as sent back (already in the store, when there is
    one: ``send`` writes a paid answer before any of this runs).

    ``.data`` (the composite in the output format) is encoded on first read: at 33 Mpx the
    JPEG encode costs more than the rest of the stitch, and the studio shows the pixels
    without it. The encode is deterministic, so a replay's bytes equal the first run's.
    """
    answer = raw.image.convert("RGB")
    measured = _region.measure(job.sent, answer, job.sent_mask, job.plan)
    image = _region.stitch(job.inputs.original, job.inputs.mask, answer, job.plan, measured,
                           in_place=job.inputs.owned)
    fmt = job.output_format
    content_type = _region.output_content_type(fmt)
    # The exact composite is ``.image``: a JPEG's decode differs from it by the encoding's
    # rounding.
    return with_lazy_data(
        raw,
        lambda: _region.encode_output(image, fmt)[0],
        image,
        content_type=content_type,
        headers={**raw.headers, "content-type": content_type},
        stored_path=None,
        raw=raw,
        spill=measured.spill,
        region=job.plan,
    )
