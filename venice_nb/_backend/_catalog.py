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
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from .._constants import LOCAL_NAME_SUFFIX
from .._models import ModelInfo

# The spec's default for both `model` (/image/edit) and `modelId` (/image/multi-edit).
DEFAULT_EDIT_MODEL = "firered-image-edit"
# GET /models without `type` lists text models on Venice; the local backend serves none.
DEFAULT_LIST_TYPE = "text"
LIST_TYPES = (
    "asr", "embedding", "image", "music", "text", "tts", "upscale", "inpaint", "video", "all",
    "code",
)  # fmt: skip
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
        return self.raw["model_spec"].get("constraints", {})

    @property
    def pricing(self) -> Mapping[str, Any]:
        return self.raw["model_spec"]["pricing"]

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

    @cached_property
    def info(self) -> ModelInfo:
        """The client's reading of this entry: one resolution of defaults and prices for both."""
        return ModelInfo.from_api(dict(self.raw))

    @property
    def max_input_images(self) -> int:
        return self.info.max_input_images

    @property
    def single_image_aspect_ratio(self) -> bool:
        return bool(self.constraints.get("singleImageAspectRatio", True))

    @property
    def uncensored(self) -> bool:
        return bool(self.raw["model_spec"].get("uncensored", False))

    def price_usd(
        self, *, resolution: str | None = None, quality: str | None = None, n_images: int = 1
    ) -> float:
        """Estimated USD charge, computed exactly as the client estimates it."""
        cost = self.info.estimate_cost(resolution=resolution, quality=quality, n_images=n_images)
        return cost or 0.0


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
