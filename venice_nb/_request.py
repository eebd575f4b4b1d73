"""Request building shared by the sync and async clients: pre-flight checks and wire format.

Pure functions: given inputs and the model's facts they return a ``PreparedRequest`` or raise
``ValidationError``. No I/O except reading local image files, so both clients stay thin.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from ._constants import (
    ASPECT_RATIOS,
    BACKGROUND_REMOVE_PATH,
    EDIT_PATH,
    MAX_PROMPT_CHARS,
    MULTI_EDIT_PATH,
    OUTPUT_FORMAT_ALIASES,
    OUTPUT_FORMATS,
    QUALITIES,
)
from ._errors import ValidationError
from ._images import ImagePayload, load_image
from ._models import ModelInfo, prompt_length

__all__ = [
    "PreparedRequest",
    "Upload",
    "prepare_background_remove",
    "prepare_edit",
    "prepare_multi_edit",
]

Upload = Literal["json", "multipart"]


@dataclass(frozen=True)
class PreparedRequest:
    """Everything needed to send one request, and to describe it in a result or the store."""

    path: str
    params: dict[str, Any]  # wire field -> value, only fields the user gave
    images: tuple[ImagePayload, ...]
    upload: Upload
    model: ModelInfo | None = None
    prompt: str | None = None
    estimated_cost: float | None = None
    fit_actions: tuple[str, ...] = field(default=())
    # Experiments' repeats: the n-th run of the same request is a request of its own for the
    # store (edit models are not deterministic), so it enters the fingerprint; never sent.
    repeat: int = 0

    @property
    def image_field(self) -> str:
        if self.path == MULTI_EDIT_PATH:
            return "images"
        if self.path == BACKGROUND_REMOVE_PATH and self.images[0].url is not None:
            return "image_url"
        return "image"

    def json_body(self) -> bytes:
        """The JSON body, assembled around the base64 text instead of re-scanning it.

        Base64 and http(s) URLs need no JSON escaping beyond what ``json.dumps`` gives a URL,
        so a 20 MB image costs one base64 pass and one copy, not a full ``json.dumps``.
        """
        parts = [b'{"', self.image_field.encode(), b'":']
        many = self.image_field == "images"
        if many:
            parts.append(b"[")
        for i, img in enumerate(self.images):
            if i:
                parts.append(b",")
            if img.url is None:
                parts += [b'"', img.base64(), b'"']
            else:
                parts.append(json.dumps(img.url).encode())
        if many:
            parts.append(b"]")
        rest = json.dumps(self.params, separators=(",", ":")).encode()[1:-1]
        parts += [b"," if rest else b"", rest, b"}"]
        return b"".join(parts)

    def multipart(
        self,
    ) -> tuple[dict[str, str], list[tuple[str, tuple[str | None, bytes, str | None]]]]:
        """Form fields (booleans as "true"/"false") and parts. A URL (background removal's
        ``image_url``) goes as a file-less part, so the body is multipart even without files."""
        form = {
            k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in self.params.items()
        }
        parts: list[tuple[str, tuple[str | None, bytes, str | None]]] = []
        for img in self.images:
            if img.url is not None:
                parts.append((self.image_field, (None, img.url.encode(), None)))
            else:
                parts.append((self.image_field, (img.filename, img.data or b"", img.mime)))
        return form, parts

    @cached_property
    def summary(self) -> dict[str, Any]:
        """What was asked, without image bytes: for results, the store and experiment tables."""
        params = {k: v for k, v in self.params.items() if k not in ("model", "modelId", "prompt")}
        return {
            "endpoint": self.path,
            "model": self.params.get("model") or self.params.get("modelId"),
            "prompt": self.prompt,
            "params": params,
            "images": [img.digest for img in self.images],
        }

    @cached_property
    def fingerprint(self) -> str:
        """Identifies the edit independent of upload form: same fingerprint, same answer."""
        keyed = {**self.summary, "repeat": self.repeat} if self.repeat else self.summary
        canonical = json.dumps(keyed, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _check_prompt(prompt: str, model: ModelInfo | None) -> None:
    if not isinstance(prompt, str):
        raise ValidationError(
            f"the prompt is a {type(prompt).__name__}, not text",
            action="pass the prompt as a str",
            field="prompt",
        )
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            "the prompt holds an unpaired surrogate, which cannot be sent as UTF-8",
            action="remove the broken character (often from a bad copy-paste)",
            field="prompt",
        ) from None
    if not prompt.strip():
        raise ValidationError(
            "the prompt is empty",
            action='describe the edit, e.g. "remove the tree"',
            field="prompt",
        )
    limit = model.prompt_character_limit if model else MAX_PROMPT_CHARS
    length = prompt_length(prompt)
    if length > limit:
        who = f"{model.id} accepts" if model else "Venice accepts"
        raise ValidationError(
            f"the prompt has {length:,} characters; {who} at most {limit:,}",
            action="shorten it: short, local instructions work best",
            field="prompt",
        )


def _check_choice(
    name: str,
    value: str | None,
    allowed: Sequence[str] | None,
    model: ModelInfo | None,
    listed: Sequence[str],
) -> None:
    """``allowed``: what the API takes at all (None: any); ``listed``: what the model takes."""
    if value is None:
        return
    if allowed is not None and value not in allowed:
        raise ValidationError(
            f"{name}={value!r} is not valid", action=f"use one of {', '.join(allowed)}", field=name
        )
    if model is None:
        return
    if not listed:
        raise ValidationError(
            f"{model.id} does not take {name}",
            action=f"leave {name} out, or pick a model that lists it in client.models()",
            field=name,
        )
    if value not in listed:
        raise ValidationError(
            f"{model.id} does not support {name}={value!r}",
            action=f"use one of {', '.join(listed)}",
            field=name,
        )


def _output_format(value: str | None) -> str | None:
    if value is None:
        return None
    value = OUTPUT_FORMAT_ALIASES.get(value.lower(), value.lower())
    if value not in OUTPUT_FORMATS:
        raise ValidationError(
            f"output_format={value!r} is not valid",
            action=f"use one of {', '.join(OUTPUT_FORMATS)}",
            field="output_format",
        )
    return value


def _check_upload(upload: str) -> None:
    if upload not in ("json", "multipart"):
        raise ValidationError(f"upload={upload!r} is not valid", action="use 'json' or 'multipart'")


def _edit_params(
    prompt: str,
    model: ModelInfo | None,
    *,
    aspect_ratio: str | None,
    resolution: str | None,
    output_format: str | None,
    safe_mode: bool | None,
    enhance_prompt: bool | None,
    quality: str | None = None,
) -> dict[str, Any]:
    _check_prompt(prompt, model)
    # "auto" (infer from the input) is always allowed, whatever the model lists.
    ratios = () if model is None else ("auto", *model.aspect_ratios)
    _check_choice("aspect_ratio", aspect_ratio, ASPECT_RATIOS, model, ratios)
    _check_choice("resolution", resolution, None, model, model.resolutions if model else ())
    _check_choice("quality", quality, QUALITIES, model, model.qualities if model else ())
    for name, flag in (("safe_mode", safe_mode), ("enhance_prompt", enhance_prompt)):
        if flag is not None and not isinstance(flag, bool):
            raise ValidationError(
                f"{name}={flag!r} is not a boolean", action="pass True or False", field=name
            )
    params: dict[str, Any] = {
        "prompt": prompt,
        "aspect_ratio": aspect_ratio,
        "resolution": resolution,
        "quality": quality,
        "output_format": _output_format(output_format),
        "safe_mode": safe_mode,
        "enhance_prompt": enhance_prompt,
    }
    return {k: v for k, v in params.items() if v is not None}


def _cost(model: ModelInfo | None, params: dict[str, Any], n_images: int) -> float | None:
    if model is None:
        return None
    return model.estimate_cost(
        resolution=params.get("resolution"), quality=params.get("quality"), n_images=n_images
    )


def prepare_edit(
    image: Any,
    prompt: str,
    *,
    model: ModelInfo | None = None,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    output_format: str | None = None,
    safe_mode: bool | None = None,
    enhance_prompt: bool | None = None,
    upload: Upload = "json",
    fit: bool = False,
) -> PreparedRequest:
    """``POST /image/edit``: sends ``model`` (never the deprecated ``modelId``)."""
    _check_upload(upload)
    params = _edit_params(
        prompt,
        model,
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        output_format=output_format,
        safe_mode=safe_mode,
        enhance_prompt=enhance_prompt,
    )
    payload = load_image(image, fit=fit)
    _check_multipart_file(payload, upload)
    if model is not None:
        params = {"model": model.id, **params}
    return PreparedRequest(
        path=EDIT_PATH,
        params=params,
        images=(payload,),
        upload=upload,
        model=model,
        prompt=prompt,
        estimated_cost=_cost(model, params, 1),
        fit_actions=payload.actions,
    )


def prepare_multi_edit(
    images: Any,
    prompt: str,
    *,
    model: ModelInfo | None = None,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    quality: str | None = None,
    output_format: str | None = None,
    safe_mode: bool | None = None,
    enhance_prompt: bool | None = None,
    upload: Upload = "json",
    fit: bool = False,
) -> PreparedRequest:
    """``POST /image/multi-edit``: base image first, then layers; sends ``modelId``."""
    _check_upload(upload)
    if hasattr(images, "images") and callable(images.images):  # a LayerStack
        if model is not None:
            images.validate(model)  # its message names the layers; the check below is generic
        images = images.images()
    if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
        images = [images]
    count = len(images)
    limit = model.max_input_images if model else None
    if count < 1 or (limit is not None and count > limit):
        who = f"{model.id} takes 1 to {limit}" if model else "multi-edit takes at least 1"
        raise ValidationError(
            f"{count} images given; {who} (the base image plus layers)",
            action="drop layers, or pick a model with a higher max_input_images in client.models()",
            field="images",
        )
    params = _edit_params(
        prompt,
        model,
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        quality=quality,
        output_format=output_format,
        safe_mode=safe_mode,
        enhance_prompt=enhance_prompt,
    )
    payloads = tuple(load_image(img, fit=fit) for img in images)
    for payload in payloads:
        _check_multipart_file(payload, upload)
    if model is not None:
        params = {"modelId": model.id, **params}
    actions = tuple(f"image {i}: {a}" for i, p in enumerate(payloads) for a in p.actions)
    return PreparedRequest(
        path=MULTI_EDIT_PATH,
        params=params,
        images=payloads,
        upload=upload,
        model=model,
        prompt=prompt,
        estimated_cost=_cost(model, params, count),
        fit_actions=actions,
    )


def prepare_background_remove(image: Any, *, upload: Upload = "json") -> PreparedRequest:
    """``POST /image/background-remove``: a URL goes in ``image_url``, else in ``image``."""
    _check_upload(upload)
    payload = load_image(image, check_pixels=False)
    return PreparedRequest(
        path=BACKGROUND_REMOVE_PATH,
        params={},
        images=(payload,),
        upload=upload,
        fit_actions=payload.actions,
    )


def _check_multipart_file(payload: ImagePayload, upload: Upload) -> None:
    if upload == "multipart" and payload.url is not None:
        raise ValidationError(
            "multipart uploads carry files only; a URL cannot be sent that way",
            action="use upload='json' for URLs",
            field="image",
        )
