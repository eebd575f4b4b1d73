"""What each image endpoint does with a request body, independent of HTTP plumbing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from PIL import Image

from .._constants import (
    H_CONTENT_VIOLATION,
    H_DEPRECATED,
    H_DEPRECATED_REPLACEMENT,
    H_DEPRECATION_DATE,
    H_DEPRECATION_WARNING,
    H_ENHANCED_PROMPT,
    H_MODEL_ID,
    H_MODEL_NAME,
)
from . import _imageops, _matte, _realism
from ._api_error import ApiError
from ._inputs import LOCAL_CALLER, FetchPolicy, image_bytes, open_image
from ._validate import (
    BACKGROUND_REMOVE_SCHEMA,
    EDIT_SCHEMA,
    MULTI_EDIT_SCHEMA,
    EditJob,
    Field,
    background_source,
    edit_job,
    multipart_values,
    validate_fields,
)
from ._wire import media_type, parse_json, parse_multipart, unsupported_media

MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass
class Rendered:
    """A finished image response."""

    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def request_values(
    content_type: str | None,
    body: bytes,
    schema: Mapping[str, Field],
    *,
    strict_multipart: bool,
) -> dict[str, Any]:
    """Schema-checked values from a JSON or multipart body (415 for anything else)."""
    kind, _ = media_type(content_type)
    if kind == "application/json":
        return validate_fields(parse_json(body), schema)
    if kind == "multipart/form-data":
        parts = parse_multipart(content_type or "", body)
        values = multipart_values(parts, schema, strict=strict_multipart)
        return validate_fields(values, schema, strict=strict_multipart)
    raise unsupported_media(content_type)


def prepare_edit(
    content_type: str | None, body: bytes, *, multi: bool, fetch: FetchPolicy = LOCAL_CALLER
) -> tuple[EditJob, list[Image.Image]]:
    """Validate an edit / multi-edit request and decode its images."""
    schema = MULTI_EDIT_SCHEMA if multi else EDIT_SCHEMA
    values = request_values(content_type, body, schema, strict_multipart=not multi)
    job = edit_job(values, multi=multi)
    images = []
    for i, value in enumerate(job.images):
        label = f"images[{i}]" if multi else None
        data = image_bytes(value, job.image_field, label, fetch)
        images.append(open_image(data, job.image_field, label=label))
    return job, images


def prepare_background_remove(
    content_type: str | None, body: bytes, fetch: FetchPolicy = LOCAL_CALLER
) -> Image.Image:
    values = request_values(content_type, body, BACKGROUND_REMOVE_SCHEMA, strict_multipart=True)
    name, value = background_source(values)
    return open_image(image_bytes(value, name, policy=fetch), name, check_min=False)


def policy_violation(job: EditJob, words: Sequence[str]) -> bool:
    """True when the prompt trips the policy on an uncensored model (served, but flagged);
    a 422 CONTENT_POLICY_VIOLATION on any other model."""
    text = job.prompt.lower()
    hits = [w for w in words if re.search(rf"\b{re.escape(w.lower())}\b", text)]
    if not hits:
        return False
    if job.model.uncensored:
        return True
    raise ApiError(
        422,
        "CONTENT_POLICY_VIOLATION",
        f"The prompt violates the content policy of {job.model.id} (flagged: "
        f"{', '.join(repr(h) for h in hits)}); rephrase it.",
    )


def enhance(prompt: str) -> str:
    """The deterministic stand-in for Venice's prompt rewrite."""
    core = prompt.strip().rstrip(".")
    return (
        f"{core}. Keep everything not mentioned unchanged, preserving the composition, "
        "perspective and lighting, with clean, natural, photorealistic detail."
    )


def render_edit(
    job: EditJob,
    images: Sequence[Image.Image],
    *,
    violation: bool,
    deprecated: Mapping[str, tuple[str, str, str]],
    realism: _realism.Realism = "exact",
) -> Rendered:
    """Run the local model and build the success headers Venice sends with an edit."""
    prompt = enhance(job.prompt) if job.enhance_prompt else job.prompt
    # Venice's geometry: the tier asked for, else the model's default (1K); but models whose
    # singleImageAspectRatio is false keep a single input's dimensions.
    ratio: str | None = job.aspect_ratio
    tier: str | None = job.tier
    if len(images) == 1 and not job.model.single_image_aspect_ratio:
        ratio = tier = None
    edit = _realism.venice_edit if realism == "venice" else _imageops.edit_image
    out = edit(
        images[0],
        prompt,
        layers=images[1:],
        aspect_ratio=ratio,
        resolution=tier,
        violation_blur=violation and job.safe_mode,
        model=job.model.id,
    )
    headers = {
        H_MODEL_ID: job.model.id,
        H_MODEL_NAME: job.model.served_name,
        H_CONTENT_VIOLATION: "true" if violation else "false",
    }
    if job.model.id in deprecated:
        warning, date, replacement = deprecated[job.model.id]
        headers[H_DEPRECATION_WARNING] = warning
        headers[H_DEPRECATION_DATE] = date
        headers[H_DEPRECATED] = "true"
        if replacement:
            headers[H_DEPRECATED_REPLACEMENT] = replacement
    elif job.legacy_id is not None:
        headers[H_DEPRECATION_WARNING] = (
            f"{job.legacy_id} is a legacy model id, served by {job.model.id}; "
            f"use {job.model.id} instead."
        )
        headers[H_DEPRECATED] = "true"
        headers[H_DEPRECATED_REPLACEMENT] = job.model.id
    if job.enhance_prompt:
        headers[H_ENHANCED_PROMPT] = quote(prompt, safe="")
    return Rendered(_imageops.encode(out, job.output_format), MIME[job.output_format], headers)


def render_background_remove(image: Image.Image) -> Rendered:
    return Rendered(_imageops.encode(_matte.remove_background(image), "png"), MIME["png"])
