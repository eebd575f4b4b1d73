"""Regenerate the backend's data files: ``_data/models.json`` and ``_data/samples/product.png``.

Run ``python scripts/build_catalog.py /path/to/models-snapshot.json``. models.json copies the
public Venice snapshot (ids, names, prices, created, privacy) and adds realistic inpaint
constraints per the spec's "Inpaint Model Constraints"; product.png is a synthetic mug on a plain
light-grey background for background-removal demos. A development script, outside the package:
nothing imports it at run time.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from venice_nb._backend._catalog import MODELS_JSON
from venice_nb._constants import ASPECT_RATIOS, QUALITIES, RESOLUTIONS

PRODUCT_PNG = MODELS_JSON.parent / "samples" / "product.png"
PRODUCT_SIZE = (640, 480)
PRODUCT_BACKGROUND = (232, 232, 230)

_ALL = list(ASPECT_RATIOS)
_GPT = ["auto", "1:1", "3:2", "2:3"]
_GROK = ["auto", "1:1", "3:2", "2:3", "16:9", "9:16", "3:4"]

# id -> (description, constraints that are not derived from pricing)
_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "firered-image-edit": (
        "Fast general-purpose instruction editing; Venice's default edit model.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 2048, "combineImages": True},
    ),
    "flux-2-max-edit": (
        "Highest-fidelity FLUX.2 editing with multi-reference composition.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 4096, "combineImages": True,
         "maxInputImages": 8},
    ),
    "gpt-image-1-5-edit": (
        "OpenAI GPT Image 1.5: strong instruction following and text rendering.",
        {"aspectRatios": _GPT, "promptCharacterLimit": 32000, "combineImages": True,
         "maxInputImages": 16},
    ),
    "gpt-image-2-edit": (
        "OpenAI GPT Image 2 with resolution tiers and low/medium/high quality.",
        {"aspectRatios": _GPT, "promptCharacterLimit": 32000, "combineImages": True,
         "maxInputImages": 16},
    ),
    "grok-imagine-edit": (
        "xAI Grok Imagine editing, fast and inexpensive.",
        {"aspectRatios": _GROK, "promptCharacterLimit": 8000, "combineImages": True,
         "maxInputImages": 5},
    ),
    "grok-imagine-image-2-0-edit": (
        "xAI Grok Imagine 2.0 editing with quality tiers.",
        {"aspectRatios": _GROK, "promptCharacterLimit": 8000, "combineImages": True,
         "maxInputImages": 5},
    ),
    "grok-imagine-quality-edit": (
        "xAI Grok Imagine editing tuned for detail.",
        {"aspectRatios": _GROK, "promptCharacterLimit": 8000, "combineImages": True,
         "maxInputImages": 5},
    ),
    "luma-uni-1-edit": (
        "Luma Uni-1 single-image editing; keeps the input's dimensions.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 4000, "combineImages": False,
         "singleImageAspectRatio": False},
    ),
    "luma-uni-1-max-edit": (
        "Luma Uni-1 Max single-image editing at higher fidelity; keeps the input's dimensions.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 4000, "combineImages": False,
         "singleImageAspectRatio": False},
    ),
    "nano-banana-2-edit": (
        "Google Nano Banana 2: conversational edits and up to 14 reference images.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 8192, "combineImages": True,
         "maxInputImages": 14},
    ),
    "nano-banana-2-lite-edit": (
        "Google Nano Banana 2 Lite: quick, inexpensive edits.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 8192, "combineImages": True,
         "maxInputImages": 14},
    ),
    "nano-banana-pro-edit": (
        "Google Nano Banana Pro: high-fidelity edits up to 4K with 14 reference images.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 8192, "combineImages": True,
         "maxInputImages": 14},
    ),
    "qwen-edit-uncensored": (
        "Qwen Image Edit without content filtering; keeps the input's dimensions.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 1500, "combineImages": True,
         "singleImageAspectRatio": False},
    ),
    "qwen-image-2-edit": (
        "Qwen Image 2 editing with precise text and object edits.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 2048, "combineImages": True},
    ),
    "qwen-image-2-pro-edit": (
        "Qwen Image 2 Pro editing at higher fidelity.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 2048, "combineImages": True},
    ),
    "qwen-image-3-edit": (
        "Qwen Image 3 editing with 1K/2K output.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 4096, "combineImages": True,
         "maxInputImages": 4},
    ),
    "qwen-image-3-pro-edit": (
        "Qwen Image 3 Pro editing with 1K/2K output.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 4096, "combineImages": True,
         "maxInputImages": 4},
    ),
    "seedream-v4-edit": (
        "ByteDance Seedream 4.5 editing with up to 10 reference images.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 4000, "combineImages": True,
         "maxInputImages": 10},
    ),
    "seedream-v5-lite-edit": (
        "ByteDance Seedream 5 Lite editing with up to 10 reference images.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 4000, "combineImages": True,
         "maxInputImages": 10},
    ),
    "seedream-v5-pro-edit": (
        "ByteDance Seedream 5 Pro editing with 1K/2K output and up to 10 reference images.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 4000, "combineImages": True,
         "maxInputImages": 10},
    ),
    "wan-2-7-pro-edit": (
        "Alibaba Wan 2.7 Pro image editing.",
        {"aspectRatios": _ALL, "promptCharacterLimit": 2000, "combineImages": True},
    ),
    "upscaler": ("Image upscaler: 2x or 4x, with optional enhancement.", {}),
}  # fmt: skip


def _tier_constraints(pricing: dict[str, Any]) -> dict[str, Any]:
    """resolutions/qualities are the keys of the price tables; defaults are the tiers whose
    price equals the base ``inpaint`` price (what an omitted field costs)."""
    out: dict[str, Any] = {}
    base = pricing["inpaint"]["usd"]
    resolutions = [r for r in RESOLUTIONS if r in pricing.get("resolutions", {})]
    if resolutions:
        out["resolutions"] = resolutions
        out["defaultResolution"] = next(
            r for r in resolutions if pricing["resolutions"][r]["usd"] == base
        )
    tiers = pricing.get("quality", {})
    if tiers:
        at_default = tiers[out["defaultResolution"]]
        out["qualities"] = [q for q in QUALITIES if any(q in t for t in tiers.values())]
        out["defaultQuality"] = next(q for q in out["qualities"] if at_default[q]["usd"] == base)
    return out


def build_models(snapshot: dict[str, Any]) -> dict[str, Any]:
    """models.json content: the snapshot's entries plus description, offline and constraints."""
    data = []
    for entry in snapshot["data"]:
        description, constraints = _MODELS[entry["id"]]
        spec = dict(entry["model_spec"])
        spec["description"] = description
        spec["offline"] = False
        if entry["type"] == "inpaint":
            spec["constraints"] = {**constraints, **_tier_constraints(spec["pricing"])}
        data.append(
            {
                "id": entry["id"],
                "object": "model",
                "owned_by": "venice.ai",
                "type": entry["type"],
                "created": entry["created"],
                "model_spec": spec,
            }
        )
    return {"object": "list", "source": snapshot.get("source", ""), "data": data}


def dump_models(models: dict[str, Any]) -> str:
    """Indented JSON with lists of scalars kept on one line, so each model reads at a glance."""
    text = json.dumps(models, indent=2, ensure_ascii=False)
    flat = re.sub(
        r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m[1]) + "]", text
    )
    return flat + "\n"


def draw_product(scale: int = 4) -> tuple[Image.Image, np.ndarray]:
    """A shaded two-tone mug on a plain background, and its exact coverage (float HxW 0..1).

    Shapes are drawn ``scale`` times larger and box-reduced to coverage, so edges are
    anti-aliased; colours are computed at the final size.
    """
    w, h = PRODUCT_SIZE

    def shape(draw_fn: Any) -> np.ndarray:
        layer = Image.new("L", (w * scale, h * scale), 0)
        draw_fn(ImageDraw.Draw(layer), lambda *v: [round(c * scale) for c in v])
        return np.asarray(layer.reduce(scale), dtype=np.float32)[..., None] / 255.0

    cx, rx, top, bottom, ry = 300, 95, 150, 380, 22
    body = shape(
        lambda d, s: (
            d.rectangle(s(cx - rx, top, cx + rx, bottom), fill=255),
            d.ellipse(s(cx - rx, bottom - ry, cx + rx, bottom + ry), fill=255),
            d.ellipse(s(cx - rx, top - ry, cx + rx, top + ry), fill=255),
        )
    )
    opening = shape(
        lambda d, s: d.ellipse(s(cx - rx + 8, top - ry + 5, cx + rx - 8, top + ry - 5), fill=255)
    )
    hx, hy = cx + rx - 6, 262
    handle = shape(
        lambda d, s: (
            d.ellipse(s(hx - 62, hy - 80, hx + 62, hy + 80), fill=255),
            d.ellipse(s(hx - 36, hy - 54, hx + 36, hy + 54), fill=0),
            d.rectangle(s(0, 0, cx, h), fill=0),
        )
    )
    band = shape(lambda d, s: d.rectangle(s(0, 255, w, 285), fill=255))

    u = np.clip((np.arange(w, dtype=np.float32) + 0.5 - cx) / rx, -1.0, 1.0)
    lambert = np.clip(-0.45 * u + 0.9 * np.sqrt(1.0 - u**2), 0.0, 1.0)
    shade = (0.35 + 0.65 * lambert)[None, :, None]
    gloss = (0.28 * np.exp(-(((u + 0.5) / 0.1) ** 2)))[None, :, None]
    teal = np.array([28, 118, 150], np.float32)
    orange = np.array([222, 118, 40], np.float32)
    ring = band * body
    colour = (teal * (1 - ring) + orange * ring) * shade + 255 * gloss
    inside = teal * 0.3 * (0.6 + 0.4 * np.linspace(1, 0, w, dtype=np.float32))[None, :, None]
    colour = colour * (1 - opening) + inside * opening
    cover = np.maximum(body, handle)
    mix = colour * body + teal * 0.8 * handle * (1 - body)
    rgb = np.asarray(PRODUCT_BACKGROUND, np.float32) * (1 - cover) + mix
    return Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8)), cover[..., 0]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python scripts/build_catalog.py MODELS_SNAPSHOT_JSON")
    snapshot = json.loads(Path(args[0]).read_text("utf-8"))
    MODELS_JSON.write_text(dump_models(build_models(snapshot)), "utf-8")
    image, _cover = draw_product()
    image.save(PRODUCT_PNG, optimize=True)
    print(f"wrote {MODELS_JSON} and {PRODUCT_PNG}")


if __name__ == "__main__":
    main()
