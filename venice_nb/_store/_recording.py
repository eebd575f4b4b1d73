"""Tutorial recordings: paid results kept beside a notebook in a form git handles well.

Record a notebook's results once with a key, commit the folder, and CI replays them with no key
and no cost, byte for byte. The folder holds plain files, not the store's SQLite database (a
binary file git can neither diff nor merge)::

    results.jsonl          one result per line, sorted by fingerprint: what was asked and what
                           came back (never the key: the store never holds it)
    models.json            the model lists the client read (replay answers ``models()`` from it)
    images/<sha256>.<ext>  each returned image once, named by its content
    .store/                a working ResultStore rebuilt from the files above (git-ignored)

Two people who record different cells get different lines and different image files: their
recordings merge like text.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._constants import H_BALANCE_REMAINING
from .._exceptions import ValidationError
from ._store import ResultStore, StoreMode

__all__ = ["open_recording", "save_recording"]

_INDEX = "results.jsonl"
_MODELS = "models.json"
_IMAGES = "images"
_WORKING_STORE = ".store"
_MODEL_TYPES = ("inpaint",)  # the model lists an edit notebook reads
# Machine- or moment-specific: a line changes only when its result changes, so re-recording
# unchanged results leaves git nothing to commit (replay shows no time: elapsed reads as 0).
_DROPPED = ("output_file", "created_at", "created", "bytes", "elapsed")
_MOMENT_HEADERS = ("date", "x-ratelimit-remaining", "x-ratelimit-reset", H_BALANCE_REMAINING)


@dataclass(frozen=True)
class _Recorded:
    """A recorded request, shaped as ``ResultStore.record`` reads a prepared request."""

    fingerprint: str
    summary: dict[str, Any]
    estimated_cost: float | None
    fit_actions: tuple[str, ...] = ()
    repeat: int = 0


def open_recording(folder: str | os.PathLike[str], *, mode: StoreMode | None = None,
                   ) -> ResultStore:
    """The ResultStore for the recording in ``folder`` (made if missing), loaded from its files.

    ``mode`` as for ``ResultStore`` (default ``$VENICE_NB_STORE_MODE`` or ``"use"``): ``"use"``
    to record what is missing, ``"replay"`` in CI so that nothing is ever sent.

    Args:
        folder: The recording folder (made if missing), kept beside the notebook.
        mode: The store mode: `"use"` to record what is missing, `"replay"` in CI; None:
            `$VENICE_NB_STORE_MODE` or `"use"`.
    """
    root = Path(folder)
    store = ResultStore(root / _WORKING_STORE, mode=mode)
    root.joinpath(_WORKING_STORE).mkdir(parents=True, exist_ok=True)
    root.joinpath(_WORKING_STORE, ".gitignore").write_text("*\n")
    index = root / _INDEX
    for number, line in enumerate(index.read_text().splitlines() if index.exists() else (), 1):
        entry = json.loads(line)
        if store.has(entry["fingerprint"], is_local=entry["is_local"]):
            continue
        content = (root / entry["image"]).read_bytes()
        if hashlib.sha256(content).hexdigest() != entry["output_sha256"]:
            raise ValidationError(
                f"recording {index} line {number}: {entry['image']} does not match its hash",
                action="restore the image from git, or record it again",
            )
        summary = {"endpoint": entry["endpoint"], "model": entry["model"],
                   "prompt": entry["prompt"], "params": entry["params"],
                   "images": entry["input_images"]}
        request = _Recorded(entry["fingerprint"], summary, entry["estimated_cost"],
                            repeat=entry.get("repeat", 0))
        # A _Recorded carries every field record() reads from a PreparedRequest.
        store.record(request, entry["headers"], content,  # type: ignore[arg-type]
                     entry.get("elapsed", 0.0), entry["is_local"])
        if entry.get("variables"):
            store.label([(entry["fingerprint"], entry["is_local"], entry["variables"])])
        if entry.get("picked") or entry.get("rating") or entry.get("note"):
            store.mark(entry["fingerprint"], is_local=entry["is_local"],
                       picked=entry.get("picked"), rating=entry.get("rating"),
                       note=entry.get("note"))
    models = root / _MODELS
    if models.exists():
        for type, body in json.loads(models.read_text()).items():
            store.save_models(type, body, base_url="recording")
    return store


def save_recording(store: ResultStore, folder: str | os.PathLike[str]) -> Path:
    """Write every result in ``store`` (and its model lists) to ``folder``; returns the index.

    The same results always give the same bytes, so re-saving an unchanged recording leaves
    git with nothing to commit.

    Args:
        store: The store to write (usually the one `open_recording` gave).
        folder: The recording folder.
    """
    root = Path(folder)
    (root / _IMAGES).mkdir(parents=True, exist_ok=True)
    lines: dict[tuple[str, bool], str] = {}
    for record in store.history():
        fields = record.to_dict()
        # The fingerprint leads each line, so the sorted file reads in the order of its keys.
        entry = {"fingerprint": fields.pop("fingerprint"), "is_local": fields.pop("is_local")}
        entry.update(sorted((k, v) for k, v in fields.items() if k not in _DROPPED))
        name = f"{_IMAGES}/{record.output_sha256}{Path(record.output_file).suffix}"  # as stored
        target = root / name
        if not target.exists():
            target.write_bytes(record.to_result().data)  # to_result checks the hash
        entry["image"] = name
        entry["headers"] = {k: v for k, v in entry["headers"].items()
                            if not k.startswith(_MOMENT_HEADERS)}
        key = (record.fingerprint, record.is_local)
        lines[key] = json.dumps(entry, ensure_ascii=False)
    index = root / _INDEX
    index.write_text("".join(lines[k] + "\n" for k in sorted(lines)))
    models = {t: body for t in _MODEL_TYPES if (body := store.load_models(t)) is not None}
    if models:
        (root / _MODELS).write_text(json.dumps(models, sort_keys=True, indent=1) + "\n")
    return index
