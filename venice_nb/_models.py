"""Model facts from ``GET /models``: constraints for pre-flight checks and prices for estimates."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._constants import DEFAULT_MAX_INPUT_IMAGES, LOCAL_NAME_SUFFIX, MAX_PROMPT_CHARS
from ._exceptions import ValidationError
from ._html import NO_MATHS, escape

__all__ = ["ModelInfo", "check_model_arg", "find_model", "parse_models", "prompt_length"]


def prompt_length(prompt: str) -> int:
    """Length as Venice counts it against ``promptCharacterLimit``: UTF-16 code units (a
    JavaScript string's ``length``), so an emoji counts 2, as it will on the server."""
    return len(prompt.encode("utf-16-le", "surrogatepass")) // 2


def _usd(entry: Any) -> float | None:
    if isinstance(entry, dict) and isinstance(entry.get("usd"), (int, float)):
        return float(entry["usd"])
    return None


@dataclass(frozen=True)
class ModelInfo:
    """One edit model as ``GET /models`` describes it, with the defaults already resolved.

    Attributes:
        id: The id to pass as `model=`.
        name: The display name (ends in ` (venice_nb local)` on the local backend).
        type: The model type (`"inpaint"` for edit models).
        privacy: Venice's privacy class.
        price_usd: The listed price per edit.
        aspect_ratios: Accepted `aspect_ratio` values.
        default_aspect_ratio: The default aspect ratio.
        resolutions: Accepted `resolution` values.
        default_resolution: The default resolution.
        qualities: Accepted `quality` values (multi-edit).
        default_quality: The default quality.
        prompt_character_limit: The longest prompt accepted.
        combine_images: Whether it takes several images (multi-edit).
        max_input_images: How many images a request may send.
        offline: Venice lists it as offline.
        deprecation: The deprecation notice, if any.
        raw: The model's entry in `/models`, as sent.
    """

    id: str
    name: str
    type: str
    privacy: str | None = None
    price_usd: float | None = None
    aspect_ratios: tuple[str, ...] = ()
    default_aspect_ratio: str | None = None
    resolutions: tuple[str, ...] = ()
    default_resolution: str | None = None
    qualities: tuple[str, ...] = ()
    default_quality: str | None = None
    prompt_character_limit: int = MAX_PROMPT_CHARS
    combine_images: bool = True
    max_input_images: int = DEFAULT_MAX_INPUT_IMAGES
    offline: bool = False
    deprecation: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_local(self) -> bool:
        """True when the local venice_nb backend served this model."""
        return self.name.endswith(LOCAL_NAME_SUFFIX)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ModelInfo:
        spec = data.get("model_spec") or {}
        cons = spec.get("constraints") or {}
        pricing = spec.get("pricing") or {}
        combine = bool(cons.get("combineImages", True))
        max_images = cons.get("maxInputImages")
        if not isinstance(max_images, int) or max_images < 1:
            max_images = DEFAULT_MAX_INPUT_IMAGES if combine else 1
        base = _usd(pricing.get("inpaint")) or _usd(pricing.get("generation"))
        limit = cons.get("promptCharacterLimit")
        return cls(
            id=str(data["id"]),
            name=str(spec.get("name") or data["id"]),
            type=str(data.get("type") or ""),
            privacy=spec.get("privacy"),
            price_usd=base,
            aspect_ratios=tuple(cons.get("aspectRatios") or ()),
            default_aspect_ratio=cons.get("defaultAspectRatio"),
            resolutions=tuple(cons.get("resolutions") or ()),
            default_resolution=cons.get("defaultResolution"),
            qualities=tuple(cons.get("qualities") or ()),
            default_quality=cons.get("defaultQuality"),
            prompt_character_limit=int(limit)
            if isinstance(limit, (int, float))
            else MAX_PROMPT_CHARS,
            combine_images=combine,
            max_input_images=max_images,
            offline=bool(spec.get("offline", False)),
            deprecation=spec.get("deprecation"),
            raw=data,
        )

    def estimate_cost(
        self, *, resolution: str | None = None, quality: str | None = None, n_images: int = 1
    ) -> float | None:
        """USD for one request: the (resolution, quality) price plus extra input images.

        Follows the pricing object: per-quality beats per-resolution beats the flat price;
        ``inputImages.included`` images are free and each further one costs ``additional``.
        Returns None when the model lists no price.

        Args:
            resolution: The resolution asked for; None: the model's default.
            quality: The quality asked for; None: the default.
            n_images: How many images the request sends (extra images may cost more).
        """
        pricing = (self.raw.get("model_spec") or {}).get("pricing") or {}
        res = resolution or self.default_resolution or "1K"
        qual = quality or self.default_quality
        price = None
        if qual:
            price = _usd((pricing.get("quality") or {}).get(res, {}).get(qual))
        if price is None:
            price = _usd((pricing.get("resolutions") or {}).get(res))
        if price is None:
            price = self.price_usd
        if price is None:
            return None
        extra = pricing.get("inputImages") or {}
        included = extra.get("included", n_images)
        per_image = _usd(extra.get("additional")) or 0.0
        return round(price + max(0, n_images - int(included)) * per_image, 6)

    def _repr_html_(self) -> str:
        price = f"${self.price_usd:.3f}" if self.price_usd is not None else "n/a"
        # A model list can come from a shared recording (models.json): escape what it says.
        return (
            f"<span class='{NO_MATHS}'><b>{escape(self.name)}</b> <code>{escape(self.id)}</code> · "
            f"{price}/edit · "
            f"up to {escape(self.max_input_images)} images · prompt ≤ "
            f"{escape(self.prompt_character_limit)} chars</span>"
        )


def parse_models(payload: object) -> list[ModelInfo]:
    """Parse a ``GET /models`` body, skipping entries without an id."""
    items = payload.get("data", []) if isinstance(payload, dict) else []
    return [ModelInfo.from_api(item) for item in items if isinstance(item, dict) and "id" in item]


def check_model_arg(model: object) -> str | ModelInfo | None:
    """A model argument of a usable type: an id, a ``ModelInfo`` or None (the default)."""
    if model is None or isinstance(model, ModelInfo) or (isinstance(model, str) and model):
        return model
    raise ValidationError(
        f"model={model!r:.60} is not a model id",
        action="pass a model id str (see client.models(type='inpaint')), or leave it out",
        field="model",
    )


def find_model(models: Sequence[ModelInfo], model: object) -> ModelInfo | None:
    """The listed model named ``model`` (None and a ``ModelInfo`` pass through), refusing
    unknown and offline ones with the closest ids as advice."""
    model = check_model_arg(model)
    if model is None or isinstance(model, ModelInfo):
        return model
    for info in models:
        if info.id != model:
            continue
        if info.offline:
            raise ValidationError(
                f"{model} is offline right now",
                action="pick another model from client.models(type='inpaint')",
                field="model",
            )
        return info
    close = difflib.get_close_matches(model, [m.id for m in models], n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ValidationError(
        f"unknown edit model {model!r:.80}",
        action=f"{hint}see client.models(type='inpaint') for the ids",
        field="model",
    )
