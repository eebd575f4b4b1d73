"""Request building shared by the sync and async clients: pre-flight checks and wire format.

Pure functions: given inputs and the model's facts they return a ``PreparedRequest`` or raise
``ValidationError``. No I/O except reading local image files, so both clients stay thin.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

from .. import _arguments as guards
from .._constants import (
    ASPECT_RATIOS,
    BACKGROUND_REMOVE_PATH,
    EDIT_PATH,
    MAX_PROMPT_CHARS,
    MAX_RESOLUTION_CHARS,
    MULTI_EDIT_PATH,
    OUTPUT_FORMAT_ALIASES,
    OUTPUT_FORMATS,
    QUALITIES,
)
from .._exceptions import ValidationError
from .._images import ImagePayload, load_image
from .._models import ModelInfo, prompt_length
from .._params import Upload, edit_options

__all__ = [
    "PreparedRequest",
    "precheck",
    "prepare_background_remove",
    "prepare_edit",
    "prepare_multi_edit",
]


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
    # A region edit (``edit_region``): crop, context, feather, the original's digest and the
    # output format. Never sent; in the summary and so in the fingerprint, because the same
    # crop request stitched another way is another result.
    region: Mapping[str, Any] | None = None

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
            # Upscale sends no model field; the model it was priced from still names the result.
            "model": self.params.get("model") or self.params.get("modelId")
            or (self.model.id if self.model is not None else None),
            "prompt": self.prompt,
            "params": params,
            "images": [img.digest for img in self.images],
            **({"region": dict(self.region)} if self.region is not None else {}),
        }

    @cached_property
    def fingerprint(self) -> str:
        """Identifies the edit independent of upload form: same fingerprint, same answer."""
        keyed = {**self.summary, "repeat": self.repeat} if self.repeat else self.summary
        canonical = json.dumps(keyed, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _check_prompt(prompt: Any, model: ModelInfo | None) -> str:
    guards.text(prompt, "prompt")
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
    return prompt


def _check_choice(
    name: str,
    value: Any,
    allowed: Collection[str] | None,
    model: ModelInfo | None,
    listed: Sequence[str],
) -> None:
    """``allowed``: what the API takes at all (None: any short text); ``listed``: what the
    model takes."""
    if value is None:
        return
    if allowed is not None:
        guards.choice(value, name, allowed)
    elif not isinstance(value, str) or not 1 <= len(value) <= MAX_RESOLUTION_CHARS:
        raise ValidationError(
            f"{name}={value!r:.40} is not valid",
            action=f"pass {name} as text such as '1K' (see client.models() for a model's list)",
            field=name,
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
            action=f"use one of {', '.join(dict.fromkeys(listed))}",
            field=name,
        )


def _output_format(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = OUTPUT_FORMAT_ALIASES.get(value.lower(), value.lower())
    return guards.choice(value, "output_format", OUTPUT_FORMATS)


def _edit_params(
    prompt: Any, model: ModelInfo | None, options: Mapping[str, Any]
) -> dict[str, Any]:
    _check_prompt(prompt, model)
    # "auto" (infer from the input) is always allowed, whatever the model lists.
    ratios = () if model is None else ("auto", *model.aspect_ratios)
    _check_choice("aspect_ratio", options.get("aspect_ratio"), ASPECT_RATIOS, model, ratios)
    _check_choice(
        "resolution", options.get("resolution"), None, model, model.resolutions if model else ()
    )
    _check_choice(
        "quality", options.get("quality"), QUALITIES, model, model.qualities if model else ()
    )
    params: dict[str, Any] = {
        "prompt": prompt,
        "aspect_ratio": options.get("aspect_ratio"),
        "resolution": options.get("resolution"),
        "quality": options.get("quality"),
        "output_format": _output_format(options.get("output_format")),
        "safe_mode": guards.flag(options.get("safe_mode"), "safe_mode"),
        "enhance_prompt": guards.flag(options.get("enhance_prompt"), "enhance_prompt"),
    }
    return {k: v for k, v in params.items() if v is not None}


def _cost(model: ModelInfo | None, params: dict[str, Any], n_images: int) -> float | None:
    if model is None:
        return None
    return model.estimate_cost(
        resolution=params.get("resolution"), quality=params.get("quality"), n_images=n_images
    )


def _check_upload(upload: Any) -> Upload:
    guards.choice(upload, "upload", ("json", "multipart"))
    return cast(Upload, upload)


def _check_fit(fit: Any) -> bool:
    if not isinstance(fit, bool):
        raise ValidationError(
            f"fit={fit!r:.40} is not a boolean", action="pass fit=True or fit=False", field="fit"
        )
    return fit


def _check_model(model: Any) -> ModelInfo | None:
    if model is not None and not isinstance(model, ModelInfo):
        raise ValidationError(
            f"model must be a ModelInfo here; got a {type(model).__name__}",
            action="resolve ids with venice_nb's client (client.edit(..., model='id'))",
            field="model",
        )
    return model


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
    return _prepare(EDIT_PATH, [image], prompt, model, edit_options(locals()))


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
    return _prepare(MULTI_EDIT_PATH, images, prompt, model, edit_options(locals()))


def precheck(prompt: Any, options: Mapping[str, Any]) -> None:
    """The checks that need no model and no image: a client runs them before it fetches the
    model list, so a bad call sends nothing at all."""
    _check_upload(options.get("upload", "json"))
    _check_fit(options.get("fit", False))
    _edit_params(prompt, None, options)


def _image_list(images: Any, model: ModelInfo | None) -> list[Any]:
    """Multi-edit's images: a list, one image, or a ``LayerStack``, within the model's count."""
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
    return list(images)


def _prepare(
    path: str, images: Any, prompt: Any, model: Any, options: Mapping[str, Any]
) -> PreparedRequest:
    """The one body of both edit endpoints: cheap checks first, then the images."""
    multi = path == MULTI_EDIT_PATH
    model = _check_model(model)
    upload = _check_upload(options.get("upload", "json"))
    fit = _check_fit(options.get("fit", False))
    sources = _image_list(images, model) if multi else images
    params = _edit_params(prompt, model, options)
    field = "images" if multi else "image"
    payloads = tuple(load_image(img, fit=fit, field=field) for img in sources)
    for payload in payloads:
        _check_multipart_file(payload, upload)
    if model is not None:
        params = {("modelId" if multi else "model"): model.id, **params}
    actions = (
        tuple(f"image {i}: {a}" for i, p in enumerate(payloads) for a in p.actions)
        if multi
        else payloads[0].actions
    )
    return PreparedRequest(
        path=path,
        params=params,
        images=payloads,
        upload=upload,
        model=model,
        prompt=prompt,
        estimated_cost=_cost(model, params, len(payloads)),
        fit_actions=actions,
    )


def prepare_background_remove(
    image: Any, *, upload: Upload = "json", fit: bool = False
) -> PreparedRequest:
    """``POST /image/background-remove``: a URL goes in ``image_url``, else in ``image``.

    The endpoint states no minimum size, so only the upper pixel limit is checked."""
    upload = _check_upload(upload)
    payload = load_image(image, fit=_check_fit(fit), min_pixels=0)
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
