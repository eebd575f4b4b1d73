"""The edit options, defined once: the clients' ``edit``/``multi_edit``, the request builders,
experiments and the CLI all take exactly these (a test holds every public signature to it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict

__all__ = ["DEFAULTS", "EDIT_OPTIONS", "MULTI_EDIT_ONLY", "EditOptions", "Upload", "edit_options"]

Upload = Literal["json", "multipart"]


class EditOptions(TypedDict, total=False):
    """Keyword options of an edit, with the defaults in ``DEFAULTS``."""

    aspect_ratio: str | None
    resolution: str | None
    quality: str | None  # multi-edit only
    output_format: str | None
    safe_mode: bool | None
    enhance_prompt: bool | None
    upload: Upload
    fit: bool


EDIT_OPTIONS: tuple[str, ...] = tuple(EditOptions.__annotations__)
MULTI_EDIT_ONLY = frozenset({"quality"})
DEFAULTS: dict[str, Any] = {**dict.fromkeys(EDIT_OPTIONS), "upload": "json", "fit": False}


def edit_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """The edit options among a call's arguments (``locals()``), so a forwarding body need not
    spell them out again."""
    return {name: values[name] for name in EDIT_OPTIONS if name in values}
