"""The model catalogue served by GET /models, and per-model constraints and prices.

``_data/models.json`` holds Venice's public model snapshot plus realistic constraints; names are
kept identical to Venice's there and get ``LOCAL_NAME_SUFFIX`` appended when served, which is how
a client can tell the local backend from Venice.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._constants import DEFAULT_MAX_INPUT_IMAGES, LOCAL_NAME_SUFFIX

# The spec's default for both `model` (/image/edit) and `modelId` (/image/multi-edit).
DEFAULT_EDIT_MODEL = "firered-image-edit"
# GET /models without `type` lists text models on Venice; the local backend serves none.
DEFAULT_LIST_TYPE = "text"
LIST_TYPES = (
    "asr", "embedding", "image", "music", "text", "tts", "upscale", "inpaint", "video", "all",
    "code",
)  # fmt: skip
# Legacy ids the pages still use (GET /models/compatibility_mapping?type=inpaint): accepted,
# served by the current model, answered with the deprecation headers. qwen-edit, the pages'
# censored $0.04 default, maps to the censored Qwen edit model of the current list.
LEGACY_IDS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"inpaint": MappingProxyType({"qwen-edit": "qwen-image-2-edit"})}
)
# Price the local backend charges for one background removal (the snapshot lists none).
BACKGROUND_REMOVE_USD = 0.02
MODELS_JSON = Path(__file__).resolve().parent.parent / "_data" / "models.json"


@dataclass(frozen=True)
class CatalogModel:
    """One inpaint model as the validator and the price estimate need it."""

    id: str
    name: str
    raw: Mapping[str, Any]

    @property
    def constraints(self) -> Mapping[str, Any]:
        constraints: Mapping[str, Any] = self.raw["model_spec"].get("constraints", {})
        return constraints

    @property
    def pricing(self) -> Mapping[str, Any]:
        pricing: Mapping[str, Any] = self.raw["model_spec"]["pricing"]
        return pricing

    @property
    def served_name(self) -> str:
        return self.name + LOCAL_NAME_SUFFIX

    @property
    def aspect_ratios(self) -> tuple[str, ...]:
        return tuple(self.constraints.get("aspectRatios", ()))

    @property
    def resolutions(self) -> tuple[str, ...]:
        return tuple(self.constraints.get("resolutions", ()))

    @property
    def qualities(self) -> tuple[str, ...]:
        return tuple(self.constraints.get("qualities", ()))

    @property
    def prompt_limit(self) -> int:
        return int(self.constraints["promptCharacterLimit"])

    @property
    def combine_images(self) -> bool:
        return bool(self.constraints.get("combineImages", True))

    @property
    def default_resolution(self) -> str:
        return str(self.constraints.get("defaultResolution") or "1K")

    @property
    def max_input_images(self) -> int:
        limit = self.constraints.get("maxInputImages")
        if isinstance(limit, int) and limit >= 1:
            return limit
        return DEFAULT_MAX_INPUT_IMAGES if self.combine_images else 1

    @property
    def single_image_aspect_ratio(self) -> bool:
        return bool(self.constraints.get("singleImageAspectRatio", True))

    @property
    def uncensored(self) -> bool:
        return bool(self.raw["model_spec"].get("uncensored", False))

    def price_usd(
        self, *, resolution: str | None = None, quality: str | None = None, n_images: int = 1
    ) -> float:
        """USD charged for one request: the (resolution, quality) price, else the resolution's,
        else the flat one, plus each input image beyond ``inputImages.included``."""
        pricing = self.pricing
        tier = resolution or self.default_resolution
        qual = quality or self.constraints.get("defaultQuality")
        price = _usd((pricing.get("quality") or {}).get(tier, {}).get(qual)) if qual else None
        if price is None:
            price = _usd((pricing.get("resolutions") or {}).get(tier))
        if price is None:
            price = _usd(pricing.get("inpaint")) or _usd(pricing.get("generation")) or 0.0
        extra = pricing.get("inputImages") or {}
        paid = max(0, n_images - int(extra.get("included", n_images)))
        return round(price + paid * (_usd(extra.get("additional")) or 0.0), 6)


def _usd(entry: Any) -> float | None:
    if isinstance(entry, Mapping) and isinstance(entry.get("usd"), int | float):
        return float(entry["usd"])
    return None


@cache
def load_models() -> tuple[dict[str, Any], ...]:
    """The raw entries of ``_data/models.json`` (read once)."""
    text = MODELS_JSON.read_text("utf-8")
    return tuple(json.loads(text)["data"])


@cache
def inpaint_models() -> dict[str, CatalogModel]:
    return {
        m["id"]: CatalogModel(m["id"], m["model_spec"]["name"], m)
        for m in load_models()
        if m["type"] == "inpaint"
    }


def served_models(
    list_type: str, deprecated: Mapping[str, tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """The ``data`` of GET /models for ``list_type``: local names, deprecation info added."""
    out = []
    for model in load_models():
        if list_type != "all" and model["type"] != list_type:
            continue
        entry = copy.deepcopy(model)
        spec = entry["model_spec"]
        spec["name"] += LOCAL_NAME_SUFFIX
        if model["id"] in deprecated:
            _warning, date, replacement = deprecated[model["id"]]
            spec["deprecation"] = {
                "autoRemap": False,
                "date": date,
                "removesAt": date,
                "replacementModelId": replacement,
            }
        out.append(entry)
    return out


def compatibility_mapping(list_type: str) -> dict[str, str]:
    """The ``data`` of GET /models/compatibility_mapping: legacy id -> current id."""
    if list_type == "all":
        return {k: v for table in LEGACY_IDS.values() for k, v in table.items()}
    return dict(LEGACY_IDS.get(list_type, {}))
