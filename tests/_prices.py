"""Venice's prices from its public model snapshot (not from the package's own copy of them)."""

from __future__ import annotations

import json
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parents[2] / "shared" / "venice" / "models-snapshot.json"


def venice_price(model_id: str, *path: str) -> float:
    """USD for ``model_id`` at ``model_spec.pricing.<path>.usd`` in the snapshot."""
    node = {m["id"]: m for m in json.loads(SNAPSHOT.read_text())["data"]}[model_id]
    for key in ("model_spec", "pricing", *path):
        node = node[key]
    return float(node["usd"])


FIRERED = venice_price("firered-image-edit", "inpaint")
QWEN = venice_price("qwen-image-2-edit", "inpaint")
