"""Request validation exactly as the spec's schemas, then the chosen model's constraints.

Messages and ``details`` follow zod's format, which Venice's 400 bodies use:
``{"_errors": [...], "<field>": {"_errors": [...]}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._constants import (
    ASPECT_RATIOS,
    MAX_PROMPT_CHARS,
    OUTPUT_FORMAT_ALIASES,
    OUTPUT_FORMATS,
    QUALITIES,
)
from ._api_error import ApiError, bad_request, field_details
from ._catalog import DEFAULT_EDIT_MODEL, LEGACY_IDS, CatalogModel, inpaint_models
from ._wire import Part


@dataclass(frozen=True)
class Field:
    kind: str  # "string" | "enum" | "boolean" | "image" | "images" | "url"
    required: bool = False
    min_len: int | None = None
    max_len: int | None = None
    choices: tuple[str, ...] = ()


_BOOL = Field("boolean")
_COMMON = {
    "prompt": Field("string", True, 1, MAX_PROMPT_CHARS),
    "aspect_ratio": Field("enum", choices=ASPECT_RATIOS),
    "resolution": Field("string", min_len=1, max_len=10),
    "output_format": Field("enum", choices=OUTPUT_FORMATS),
    "safe_mode": _BOOL,
    "enhance_prompt": _BOOL,
    "disable_prompt_optimization_thinking": _BOOL,
}
EDIT_SCHEMA: dict[str, Field] = {
    "image": Field("image", True),
    "model": Field("string", min_len=1),
    "modelId": Field("string", min_len=1),
    **_COMMON,
}
MULTI_EDIT_SCHEMA: dict[str, Field] = {
    "images": Field("images", True),
    "modelId": Field("string", min_len=1),
    "quality": Field("enum", choices=QUALITIES),
    **_COMMON,
}
BACKGROUND_REMOVE_SCHEMA: dict[str, Field] = {"image": Field("image"), "image_url": Field("url")}

ImageValue = str | bytes


@dataclass(frozen=True)
class EditJob:
    """A validated edit or multi-edit request (images still undecoded)."""

    model: CatalogModel
    prompt: str
    images: tuple[ImageValue, ...]
    image_field: str
    aspect_ratio: str | None
    resolution: str | None
    quality: str | None
    output_format: str  # asked for, else by tier: PNG at 1K, JPEG at 2K / 4K
    safe_mode: bool
    enhance_prompt: bool
    legacy_id: str | None = None  # the legacy id the request named, answered with deprecation

    @property
    def tier(self) -> str:
        """The resolution tier served: the one asked for, else the model's default (1K)."""
        return self.resolution or self.model.default_resolution

    @property
    def price_usd(self) -> float:
        return self.model.price_usd(
            resolution=self.resolution, quality=self.quality, n_images=len(self.images)
        )


def prompt_length(prompt: str) -> int:
    """Length as Venice counts it against ``promptCharacterLimit``: UTF-16 code units."""
    return len(prompt.encode("utf-16-le", "surrogatepass")) // 2


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str | bytes):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _check(spec: Field, value: Any) -> str | None:
    """zod's message for a bad value, or None."""
    if spec.kind == "boolean":
        if isinstance(value, bool):
            return None
        hint = " (multipart booleans are 'true' or 'false')" if isinstance(value, str) else ""
        return f"Expected boolean, received {_type_name(value)}{hint}"
    if spec.kind == "images":
        if not isinstance(value, list):
            return f"Expected array, received {_type_name(value)}"
        if not value:
            return "Array must contain at least 1 element(s)"
        bad = [i for i, v in enumerate(value) if not isinstance(v, str | bytes)]
        if bad:
            return f"images[{bad[0]}]: Expected string, received {_type_name(value[bad[0]])}"
        return None
    if spec.kind == "image":
        return None if isinstance(value, str | bytes) else (
            f"Expected string or file, received {_type_name(value)}"
        )  # fmt: skip
    if not isinstance(value, str):
        return f"Expected string, received {_type_name(value)}"
    if not _is_valid_unicode(value):
        return "Invalid string: contains an unpaired surrogate"
    if spec.kind == "enum" and value not in spec.choices:
        if spec.choices == OUTPUT_FORMATS and value in OUTPUT_FORMAT_ALIASES:
            return None
        expected = " | ".join(f"'{c}'" for c in spec.choices)
        return f"Invalid enum value. Expected {expected}, received '{value}'"
    if spec.kind == "url" and not value.lower().startswith(("http://", "https://", "data:")):
        return "Invalid url"
    if spec.min_len is not None and len(value) < spec.min_len:
        return f"String must contain at least {spec.min_len} character(s)"
    if spec.max_len is not None and len(value) > spec.max_len:
        return f"String must contain at most {spec.max_len} character(s)"
    return None


def _is_valid_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_fields(
    values: Any, schema: Mapping[str, Field], *, strict: bool = True
) -> dict[str, Any]:
    """The schema check: object, unknown keys (if ``strict``), required, types, enums, lengths."""
    if not isinstance(values, dict):
        raise bad_request(f"Expected object, received {_type_name(values)}")
    top: list[str] = []
    unknown = [k for k in values if k not in schema]
    if unknown and strict:
        top.append("Unrecognized key(s) in object: " + ", ".join(f"'{k}'" for k in unknown))
    errors: dict[str, list[str]] = {}
    for name, spec in schema.items():
        if name not in values:
            if spec.required:
                errors[name] = ["Required"]
            continue
        msg = _check(spec, values[name])
        if msg:
            errors[name] = [msg]
    if top or errors:
        summary = "; ".join([*top, *(f"{k}: {v[0]}" for k, v in errors.items())])
        raise ApiError(
            400,
            "INVALID_REQUEST",
            f"Invalid request parameters: {summary}",
            details=field_details(errors, top),
        )
    return {k: v for k, v in values.items() if k in schema}


def multipart_values(
    parts: list[Part], schema: Mapping[str, Field], *, strict: bool = True
) -> dict[str, Any]:
    """Multipart parts as a JSON-like dict: files as bytes, "true"/"false" as booleans,
    repeated ``images`` files as a list."""
    values: dict[str, Any] = {}
    for part in parts:
        spec = schema.get(part.name)
        if spec is not None and spec.kind == "images":
            if not part.is_file:
                raise bad_request(
                    "multipart multi-edit accepts only file uploads; send base64 strings or "
                    "URLs as JSON instead",
                    field=part.name,
                )
            values.setdefault(part.name, []).append(part.data)
            continue
        if part.is_file and (spec is None or spec.kind != "image"):
            allowed = [k for k, f in schema.items() if f.kind in ("image", "images")]
            raise bad_request(
                f"unexpected file field {part.name!r}; file fields here: {', '.join(allowed)}",
                field=part.name,
            )
        if part.name in values:
            raise bad_request("field given more than once", field=part.name)
        if spec is None and not strict:
            continue
        value: Any = part.data if part.is_file else part.text()
        if spec is not None and spec.kind == "boolean" and value in ("true", "false"):
            value = value == "true"
        values[part.name] = value
    return values


def _resolve_model(model_id: str | None, field: str, *, multi: bool) -> CatalogModel:
    models = inpaint_models()
    chosen = model_id or DEFAULT_EDIT_MODEL
    model = models.get(LEGACY_IDS["inpaint"].get(chosen, chosen))
    if model is None:
        raise bad_request(
            f"unknown edit model {chosen!r}; use an id from GET /models?type=inpaint, "
            f"e.g. {DEFAULT_EDIT_MODEL}",
            field=field,
            code="INVALID_MODEL",
        )
    if multi and not model.combine_images:
        raise bad_request(
            f"{chosen} cannot combine images and is not available on /image/multi-edit; "
            "use /image/edit or a model whose constraints.combineImages is true",
            field=field,
            code="INVALID_MODEL",
        )
    return model


def _constraint_errors(
    model: CatalogModel, values: Mapping[str, Any], n_images: int, image_field: str
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    prompt = values["prompt"]
    if prompt_length(prompt) > model.prompt_limit:
        errors["prompt"] = [
            f"Prompt is {prompt_length(prompt)} characters; {model.id} accepts at most "
            f"{model.prompt_limit} (constraints.promptCharacterLimit)"
        ]
    ratio = values.get("aspect_ratio")
    if ratio is not None and ratio not in model.aspect_ratios:
        errors["aspect_ratio"] = [
            f"'{ratio}' is not supported by {model.id}; use one of: "
            + ", ".join(model.aspect_ratios)
        ]
    for name, allowed in (("resolution", model.resolutions), ("quality", model.qualities)):
        value = values.get(name)
        if value is None:
            continue
        if not allowed:
            errors[name] = [f"{model.id} does not support {name} selection; omit {name}"]
        elif value not in allowed:
            errors[name] = [
                f"'{value}' is not supported by {model.id}; use one of: " + ", ".join(allowed)
            ]
    if n_images > model.max_input_images:
        errors[image_field] = [
            f"{model.id} accepts at most {model.max_input_images} input images, got {n_images}"
        ]
    return errors


def edit_job(values: Mapping[str, Any], *, multi: bool) -> EditJob:
    """Model and constraint checks on schema-valid values; the edit to perform."""
    if multi:
        model_field, model_id = "modelId", values.get("modelId")
        images, image_field = tuple(values["images"]), "images"
    else:
        model_field = "model" if "model" in values or "modelId" not in values else "modelId"
        model_id = values.get("model") or values.get("modelId")
        images, image_field = (values["image"],), "image"
    model = _resolve_model(model_id, model_field, multi=multi)
    errors = _constraint_errors(model, values, len(images), image_field)
    if errors:
        summary = "; ".join(f"{k}: {v[0]}" for k, v in errors.items())
        raise ApiError(
            400,
            "INVALID_REQUEST",
            f"Invalid request parameters for {model.id}: {summary}",
            details=field_details(errors),
        )
    resolution = values.get("resolution")
    fmt = values.get("output_format")
    fmt = OUTPUT_FORMAT_ALIASES.get(fmt, fmt) if fmt else None
    tier = resolution or model.default_resolution
    return EditJob(
        model=model,
        prompt=values["prompt"],
        images=images,
        image_field=image_field,
        aspect_ratio=values.get("aspect_ratio"),
        resolution=resolution,
        quality=values.get("quality"),
        output_format=fmt or ("png" if tier == "1K" else "jpeg"),
        safe_mode=values.get("safe_mode", True),
        enhance_prompt=values.get("enhance_prompt", False),
        legacy_id=model_id if model_id in LEGACY_IDS["inpaint"] else None,
    )


def background_source(values: Mapping[str, Any]) -> tuple[str, ImageValue]:
    """(field, value) of the one image source; a URL in ``image`` is refused."""
    given = [k for k in ("image", "image_url") if k in values]
    if len(given) != 1:
        raise ApiError(
            400,
            "INVALID_REQUEST",
            "Invalid request parameters: provide exactly one of image (file or base64) "
            "or image_url",
            details=field_details({}, ["Provide exactly one of image or image_url"]),
        )
    field = given[0]
    value = values[field]
    if (
        field == "image"
        and isinstance(value, str)
        and value.lower().startswith(("http://", "https://"))
    ):
        raise bad_request("image takes a file or base64 string; send URLs in image_url",
                          field="image")  # fmt: skip
    return field, value
