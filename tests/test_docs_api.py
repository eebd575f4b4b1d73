"""The API reference has a parameter table for every public name.

mkdocstrings (Google style) renders a table only from an ``Args:`` section (``Attributes:`` for
result objects whose fields are read, not passed), so every public function, class and method
that takes parameters needs one, naming each parameter it takes.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

import venice_nb as vnb
from venice_nb import masks, widgets

ROOT = Path(__file__).resolve().parents[1]
WIDGETS = ("MaskPainter", "EditControls", "CompareView", "ResultGrid", "EditStudio",
           "ResultBrowser")
SKIPPED = {"self", "cls"}


def public() -> Iterator[tuple[str, object]]:
    for name in vnb.__all__:
        yield name, getattr(vnb, name)
    for name in WIDGETS:
        yield name, getattr(widgets, name)
    for name, fn in vars(masks).items():
        if not name.startswith("_") and inspect.isfunction(fn) and fn.__module__ == masks.__name__:
            yield f"masks.{name}", fn


def callables() -> Iterator[tuple[str, Callable[..., object], bool]]:
    """(label, callable, documented by the class docstring) for every public name."""
    for label, obj in public():
        if inspect.isclass(obj):
            if issubclass(obj, BaseException) or typing.is_typeddict(obj):
                continue  # errors are raised, typed dicts are shapes: neither is called
            yield label, obj, True
            for name, member in vars(obj).items():
                if not name.startswith("_") and inspect.isfunction(member):
                    yield f"{label}.{name}", member, False
        elif inspect.isfunction(obj):
            yield label, obj, False


def parameters(fn: Callable[..., object]) -> list[str]:
    out = []
    for p in inspect.signature(fn).parameters.values():
        if p.name in SKIPPED or p.name.startswith("_"):
            continue
        star = "*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else ""
        out.append(star + p.name)
    return out


def test_every_public_name_documents_each_parameter() -> None:
    missing = []
    checked = 0
    for label, fn, is_class in callables():
        names = parameters(fn)
        if not names:
            continue
        doc = inspect.getdoc(fn) or ""
        section = "Attributes" if is_class and dataclasses.is_dataclass(fn) and (
            "Attributes:" in doc) else "Args"
        body = doc.split(f"{section}:", 1)[1] if f"{section}:" in doc else ""
        absent = [n for n in names
                  if not re.search(rf"^\s+{re.escape(n)}( \([^)]*\))?:", body, re.M)]
        if absent:
            missing.append(f"{label}: {', '.join(absent)}")
        checked += 1
    assert checked > 100
    assert not missing, "no Args entry for:\n" + "\n".join(missing)


def test_the_reference_lists_the_browser_recordings_and_samples() -> None:
    page = (ROOT / "docs/api.md").read_text("utf-8")
    for name in ("widgets._browser.ResultBrowser", "_store._recording.open_recording",
                 "_store._recording.save_recording", "sample", "samples"):
        assert f"::: venice_nb.{name}\n" in page, name
