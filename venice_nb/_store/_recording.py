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

A recording is shared, so it is read as someone else's: every line is checked (JSON, the fields
and their types, an image name of the form ``images/<its sha256>.<ext>``, no duplicate key with
other bytes) and every image read as a regular file inside the folder (never through a link,
bounded) and checked (hash, header, pixel limit) before anything is imported; a refused line is
a ``ValidationError`` naming the file, the line and what to do, and nothing of it is imported.
The working store in ``.store/`` is verified against ``results.jsonl`` on every open: a row the
file also holds is replaced by the file's line when they differ (what replays is what the
reviewed file says); rows it does not hold are results recorded since the last save. Writing
never goes through a link either.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._constants import H_BALANCE_REMAINING, H_MODEL_NAME, LOCAL_NAME_SUFFIX, RESULT_HEADERS
from .._exceptions import ValidationError
from .._models import parse_models
from . import _files
from ._durable import write_atomic
from ._files import MAX_IMAGE_FILE_BYTES, check_image, inside, read_regular, real_dir, writable
from ._records import StoredRecord
from ._schema import DB_NAME
from ._store import ResultStore, StoreMode, checked_marks

__all__ = ["open_recording", "save_recording"]

_INDEX = "results.jsonl"
_MODELS = "models.json"
_IMAGES = "images"
_WORKING_STORE = ".store"
_MODEL_TYPES = ("inpaint",)  # the model lists an edit notebook reads
# Machine- or moment-specific: a line changes only when its result changes, so re-recording
# unchanged results leaves git nothing to commit (replay shows no time: elapsed reads as 0).
_DROPPED = ("output_file", "created_at", "created", "bytes", "elapsed")
# Headers that say when, not what: a line leaves them out (its result is the same).
_MOMENT_HEADERS = ("date", "x-ratelimit-", H_BALANCE_REMAINING)
_MAX_INDEX_BYTES = 64 * 1024 * 1024  # ~60,000 results
_MAX_MODELS_BYTES = 16 * 1024 * 1024
_IMAGE_NAME = re.compile(r"images/([0-9a-f]{64})\.(png|jpg|webp)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_RESTORE = "restore the file from git (or record the result again with a key)"


@dataclass(frozen=True)
class _Recorded:
    """A recorded request, shaped as ``ResultStore.record`` reads a prepared request."""

    fingerprint: str
    summary: dict[str, Any]
    estimated_cost: float | None
    fit_actions: tuple[str, ...] = ()
    repeat: int = 0


@dataclass(frozen=True)
class _Line:
    """One checked line of ``results.jsonl``."""

    number: int
    entry: dict[str, Any]

    @property
    def key(self) -> tuple[str, bool]:
        return self.entry["fingerprint"], self.entry["is_local"]


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
    root = Path(folder).expanduser().resolve()
    lines = _read_index(root)  # every line checked before anything is written
    models = _read_models(root)
    root.mkdir(parents=True, exist_ok=True)
    working = real_dir(root, _WORKING_STORE)
    write_atomic(writable(working, ".gitignore"), b"*\n")
    store = _working_store(working, mode)
    for line in lines:
        _import(store, root, line)
    for type, body in models.items():
        store._save_models(type, body, base_url="recording")
    return store


def save_recording(store: ResultStore, folder: str | os.PathLike[str]) -> Path:
    """Write every result in ``store`` (and its model lists) to ``folder``; returns the index.

    The same results always give the same bytes, so re-saving an unchanged recording leaves
    git with nothing to commit. Nothing is written through a link.

    Args:
        store: The store to write (usually the one `open_recording` gave).
        folder: The recording folder.
    """
    root = Path(folder).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    real_dir(root, _IMAGES)
    index, models_file = writable(root, _INDEX), writable(root, _MODELS)
    lines: dict[tuple[str, bool], str] = {}
    for record in store.history():
        fields = record.to_dict()
        # The fingerprint leads each line, so the sorted file reads in the order of its keys.
        entry = {"fingerprint": fields.pop("fingerprint"), "is_local": fields.pop("is_local")}
        entry.update(sorted((k, v) for k, v in fields.items() if k not in _DROPPED))
        name = f"{_IMAGES}/{record.output_sha256}{Path(record.output_file).suffix}"  # as stored
        target = writable(root, name)
        if not _holds(target, record.output_sha256):
            write_atomic(target, record.to_result().data)  # to_result checks the image
        entry["image"] = name
        entry["headers"] = {k: v for k, v in entry["headers"].items()
                            if not k.startswith(_MOMENT_HEADERS)}
        key = (record.fingerprint, record.is_local)
        lines[key] = json.dumps(entry, ensure_ascii=False)
    write_atomic(index, "".join(lines[k] + "\n" for k in sorted(lines)).encode("utf-8"))
    models = {t: body for t in _MODEL_TYPES if (body := store._load_models(t)) is not None}
    if models:
        write_atomic(models_file, (json.dumps(models, sort_keys=True, indent=1) + "\n").encode())
    return index


# Reading a recording: everything checked, with the file and line named.
def _read_index(root: Path) -> list[_Line]:
    path = inside(root, _INDEX)
    try:
        raw = read_regular(path, limit=_MAX_INDEX_BYTES)
    except FileNotFoundError:
        return []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"recording {path}: not UTF-8 text ({exc.reason} at byte "
                              f"{exc.start})", action=_RESTORE) from None
    lines: list[_Line] = []
    seen: dict[tuple[str, bool], tuple[int, str]] = {}
    for number, text_line in enumerate(text.splitlines(), 1):
        if not text_line.strip():
            continue
        where = f"recording {path} line {number}"
        try:
            entry = json.loads(text_line)
        except ValueError as exc:
            raise ValidationError(f"{where}: not JSON ({exc})", action=_RESTORE) from None
        line = _Line(number, _checked_entry(entry, where))
        first = seen.get(line.key)
        if first is not None:
            if first[1] != line.entry["output_sha256"]:
                backend = "local" if line.key[1] else "Venice"
                raise ValidationError(
                    f"{where}: fingerprint {line.key[0][:12]}… ({backend}) is also on line "
                    f"{first[0]}, with another image",
                    action="keep the line of the result you want and delete the other "
                    "(e.g. after a merge)")
            continue  # the same result twice (a merge): once is enough
        seen[line.key] = (number, line.entry["output_sha256"])
        lines.append(line)
    return lines


def _checked_entry(entry: Any, where: str) -> dict[str, Any]:
    """The line's fields, each of the type ``save_recording`` writes (unknown keys ignored)."""
    if not isinstance(entry, dict):
        raise ValidationError(f"{where}: not a JSON object", action=_RESTORE)

    def field(name: str, ok: Any, kind: str, *, required: bool = False, default: Any = None
              ) -> Any:
        if name not in entry:
            if required:
                raise ValidationError(f"{where}: the {name!r} field is missing", action=_RESTORE)
            return default
        value = entry[name]
        if not ok(value):
            raise ValidationError(f"{where}: {name!r} is {type(value).__name__} "
                                  f"{_shown(value)}, not {kind}", action=_RESTORE)
        return value

    text = lambda v: isinstance(v, str)  # noqa: E731
    optional_text = lambda v: v is None or isinstance(v, str)  # noqa: E731
    def number(v: object) -> bool:
        return (isinstance(v, (int, float)) and not isinstance(v, bool)
                and math.isfinite(v) and v >= 0)

    texts = lambda v: isinstance(v, Mapping) and all(  # noqa: E731
        isinstance(k, str) and isinstance(x, str) for k, x in v.items())
    count = lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0  # noqa: E731
    checked = {
        "fingerprint": field("fingerprint", lambda v: isinstance(v, str) and 0 < len(v) <= 128,
                             "a fingerprint", required=True),
        "is_local": field("is_local", lambda v: isinstance(v, bool), "true or false",
                          required=True),
        "endpoint": field("endpoint", lambda v: isinstance(v, str) and v.startswith("/"),
                          "an endpoint path", required=True),
        "output_sha256": field("output_sha256", lambda v: isinstance(v, str) and bool(
            _SHA256.fullmatch(v)), "a sha256 in hex", required=True),
        "image": field("image", text, "a file name", required=True),
        "model": field("model", optional_text, "text or null"),
        "prompt": field("prompt", optional_text, "text or null"),
        "params": dict(field("params", lambda v: isinstance(v, Mapping), "an object",
                             default={})),
        "input_images": list(field("input_images", lambda v: isinstance(v, list) and all(
            isinstance(x, str) for x in v), "a list of digests", default=[])),
        "headers": dict(field("headers", texts, "an object of text", default={})),
        "elapsed": float(field("elapsed", number, "a number of seconds", default=0.0)),
        "timed": "elapsed" in entry,  # a line may leave the time out (it is no result)
        "estimated_cost": field("estimated_cost", lambda v: v is None or number(v),
                                "a price or null"),
        "repeat": field("repeat", count, "a whole number", default=0),
        "variables": dict(field("variables", texts, "an object of text", default={})),
    }
    if not checked["is_local"] and checked["headers"].get(H_MODEL_NAME, "").endswith(
            LOCAL_NAME_SUFFIX):  # the store would key it as local: the line contradicts itself
        raise ValidationError(f"{where}: is_local is false but the model name says the local "
                              "backend answered", action=_RESTORE)
    match = _IMAGE_NAME.fullmatch(checked["image"])
    if match is None or match.group(1) != checked["output_sha256"]:
        raise ValidationError(
            f"{where}: image {_shown(checked['image'])} is not images/<its output_sha256>"
            ".png/.jpg/.webp; venice_nb reads nothing else from a recording", action=_RESTORE)
    try:  # the marks, checked as mark() checks them, before the line is imported
        marks = checked_marks(entry.get("picked"), entry.get("rating"), entry.get("note"))
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc.message}", action=_RESTORE) from None
    checked["picked"], checked["rating"], checked["note"] = marks
    return checked


def _shown(value: Any) -> str:
    return f"{json.dumps(value, ensure_ascii=True)[:80]}"


def _read_models(root: Path) -> dict[str, Any]:
    path = inside(root, _MODELS)
    try:
        raw = read_regular(path, limit=_MAX_MODELS_BYTES)
    except FileNotFoundError:
        return {}
    try:
        models = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise ValidationError(f"recording {path}: not JSON ({exc})", action=_RESTORE) from None
    if not isinstance(models, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("data", []), list)
            for k, v in models.items()):
        raise ValidationError(f"recording {path}: not an object of model lists "
                              '({"inpaint": {"data": [...]}})', action=_RESTORE)
    for kind, body in models.items():  # every model readable as the client will read it
        try:
            for info in parse_models(body):
                info.estimate_cost()
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValidationError(
                f"recording {path}: a {kind!r} model is not shaped as GET /models answers "
                f"({type(exc).__name__}: {str(exc)[:120]})", action=_RESTORE) from None
    return models


def _working_store(working: Path, mode: StoreMode | None) -> ResultStore:
    """The ``.store`` ResultStore; an index venice_nb would refuse (a link, a trigger, not
    SQLite) is derived data here, so it is removed and rebuilt from ``results.jsonl``."""
    store = ResultStore(working, mode=mode)
    try:
        len(store)  # opens and checks the index
    except ValidationError:
        store.close()
        for name in (DB_NAME, *(DB_NAME + s for s in ("-wal", "-shm", "-journal"))):
            path = working / name
            if path.is_symlink() or path.is_file():
                path.unlink()
        store = ResultStore(working, mode=mode)
    return store


def _import(store: ResultStore, root: Path, line: _Line) -> None:
    """Bring the working store's row for this line in line with it (the line wins)."""
    entry = line.entry
    fingerprint, is_local = line.key
    try:
        record = store.get(fingerprint, is_local=is_local)
    except ValidationError:
        record = None  # a row it cannot read: replaced by the line
    if record is None or not _same_result(record, entry):
        where = f"recording {root / _INDEX} line {line.number}: {entry['image']}"
        try:
            data = read_regular(inside(root, entry["image"], where=where),
                                limit=MAX_IMAGE_FILE_BYTES, where=where)
        except FileNotFoundError:
            raise ValidationError(f"{where} is missing", action=_RESTORE) from None
        if hashlib.sha256(data).hexdigest() != entry["output_sha256"]:
            raise ValidationError(f"{where} does not match its hash",
                                  action="restore the image from git, or record it again")
        check_image(data, where=where)
        summary = {"endpoint": entry["endpoint"], "model": entry["model"],
                   "prompt": entry["prompt"], "params": entry["params"],
                   "images": entry["input_images"]}
        request = _Recorded(fingerprint, summary, entry["estimated_cost"], repeat=entry["repeat"])
        # A _Recorded carries every field record() reads from a PreparedRequest. _write, not
        # record(): a recording that cannot be loaded must say so, not warn.
        store._write(request, entry["headers"], data, entry["elapsed"],  # type: ignore[arg-type]
                     is_local)
        record = None
    if record is None or record.variables != entry["variables"]:
        store._label([(fingerprint, is_local, entry["variables"])])
    if record is None or (record.picked, record.rating, record.note) != (
            bool(entry["picked"]), entry["rating"] or None, entry["note"] or None):
        store.mark(fingerprint, is_local=is_local, picked=bool(entry["picked"]),
                   rating=entry["rating"] or 0, note=entry["note"] or "")


def _same_result(record: StoredRecord, entry: Mapping[str, Any]) -> bool:
    """Whether a stored row says what the line says about the request and its answer."""
    return (record.output_sha256 == entry["output_sha256"]
            and record.endpoint == entry["endpoint"] and record.model == entry["model"]
            and record.prompt == entry["prompt"] and record.params == entry["params"]
            and list(record.input_images) == entry["input_images"]
            and _same_headers(record.headers, _kept(entry["headers"]))
            and record.estimated_cost == entry["estimated_cost"]
            and record.repeat == entry["repeat"]
            and (not entry["timed"] or round(record.elapsed, 3) == round(entry["elapsed"], 3)))


def _same_headers(stored: Mapping[str, str], line: Mapping[str, str]) -> bool:
    """The line's headers are the row's, give or take headers that only say when."""
    return all(stored.get(k) == v for k, v in line.items()) and all(
        k.startswith(_MOMENT_HEADERS) for k in stored.keys() - line.keys())


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers a store keeps of these (``build_result``'s choice)."""
    return {k: v for k, v in headers.items() if k in RESULT_HEADERS or k.startswith("x-venice-")}


def _holds(path: Path, sha256: str) -> bool:
    """Whether the recording's image file already holds these bytes."""
    try:
        return _files.checked_image(path, sha256, where=str(path)) is not None
    except ValidationError:
        return False
