"""``ResultStore``: an SQLite index of results and their image files, on disk before use.

Every answer Venice was paid for lands on disk before the caller sees it.

Layout of a store folder::

    index.sqlite (+ -wal, -shm)   one row per request fingerprint and backend (SQLite, WAL)
    images/ab/cd/<sha256>.<ext>    each distinct returned image once, named by its content hash
    tmp/.tmp-<pid>-*.part          images being written (renamed into images/ when complete)

Image files are written to a temp file in ``tmp/``, fsynced and renamed into place, and
only then is the row committed (``synchronous=FULL``), so a crash at any point leaves either the
complete result or none of it, never a half file or a row pointing at nothing. The API key is
never written: rows hold the request summary (no auth), response facts and timings.

The backend is part of the key: a free answer from the local backend and a paid one from Venice
for the same request are two rows, and neither ever answers for the other. An experiment's
repeats are distinct requests (the repeat index is in the fingerprint, never sent). A row also
keeps what people decide about it (``mark``: picked, rating, note) and the prompt variables
that made it (``label``); a refresh replaces the image but keeps those.

Image files are written through ``tmp/`` (same file system, one folder to list): opening a store
removes the temp parts killed writers left there (``_durable``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from .. import _arguments as guards
from .._constants import DEFAULT_STORE_DIR, STORE_ENV, STORE_MODE_ENV, STORE_MODES
from .._exceptions import ReplayMissError, ValidationError
from .._result import EditResult, build_result
from . import _records
from ._durable import holds, read_checked, remove_orphans, temp_files, touch, write_atomic
from ._records import RecordList, StoredRecord, compact_json, image_size

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._client._request import PreparedRequest
    from .._types import HistoryFilters, StoreStats

__all__ = [
    "DEFAULT_STORE_DIR",
    "STORE_ENV",
    "STORE_MODES",
    "STORE_MODE_ENV",
    "RecordList",
    "ResultStore",
    "StoreWarning",
    "StoredRecord",
    "default_store_path",
]

log = logging.getLogger("venice_nb")

StoreMode = Literal["off", "use", "refresh", "replay"]
_SCHEMA_VERSION = 3  # 2: the backend (is_local) joined the primary key; 3: repeats and marks
_DB_NAME = "index.sqlite"
_IMAGES_DIR = "images"
_TMP_DIR = "tmp"  # every temp part, so an opener finds a killed writer's with one listing
_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_ORPHAN_AGE = 3600.0  # seconds after which any temp file counts as abandoned

_RESULTS_TABLE = """
CREATE TABLE IF NOT EXISTS results (
    fingerprint    TEXT NOT NULL,     -- PreparedRequest.fingerprint: sha256 of the request summary
    endpoint       TEXT NOT NULL,     -- /image/edit, /image/multi-edit, /image/background-remove
    model          TEXT,              -- model asked for; NULL = the server's default
    prompt         TEXT,
    params         TEXT NOT NULL,     -- JSON: every other parameter sent
    input_images   TEXT NOT NULL,     -- JSON list of input digests ("sha256:...", URL text hashed)
    output_sha256  TEXT NOT NULL,
    output_file    TEXT NOT NULL,     -- relative to the store folder
    content_type   TEXT NOT NULL,
    bytes          INTEGER NOT NULL,
    width          INTEGER,
    height         INTEGER,
    model_id       TEXT,              -- x-venice-model-id of the answer
    model_name     TEXT,              -- x-venice-model-name (local: "… (venice_nb local)")
    headers        TEXT NOT NULL,     -- JSON: the kept response headers (never request headers)
    elapsed        REAL NOT NULL,     -- seconds the request took
    estimated_cost REAL,              -- USD, from the model's pricing
    is_local       INTEGER NOT NULL,  -- 1 when the local backend answered (cost 0)
    created_at     REAL NOT NULL,     -- Unix time it was (last) recorded
    repeat         INTEGER NOT NULL DEFAULT 0,  -- an experiment's n-th run of the same request
    variables      TEXT NOT NULL DEFAULT '{}',  -- JSON: the prompt template's values
    picked         INTEGER NOT NULL DEFAULT 0,  -- marks a person set (``mark``): kept on refresh
    rating         INTEGER,                     -- 1..5
    note           TEXT,
    PRIMARY KEY (fingerprint, is_local)
)"""
_V3_COLUMNS = (  # added by schema 3 (ALTER TABLE on older stores)
    ("repeat", "INTEGER NOT NULL DEFAULT 0"), ("variables", "TEXT NOT NULL DEFAULT '{}'"),
    ("picked", "INTEGER NOT NULL DEFAULT 0"), ("rating", "INTEGER"), ("note", "TEXT"),
)
_CATALOG_TABLE = """
CREATE TABLE IF NOT EXISTS catalog (  -- GET /models answers, so replay can run with no network
    type       TEXT NOT NULL,
    base_url   TEXT NOT NULL,
    body       TEXT NOT NULL,          -- the JSON body as received
    fetched_at REAL NOT NULL,
    PRIMARY KEY (type, base_url)
)"""
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS results_created ON results (created_at)",
    "CREATE INDEX IF NOT EXISTS results_model ON results (model)",
    "CREATE INDEX IF NOT EXISTS results_output ON results (output_sha256)",
)
_V2_COLUMNS = (
    "fingerprint", "endpoint", "model", "prompt", "params", "input_images", "output_sha256",
    "output_file", "content_type", "bytes", "width", "height", "model_id", "model_name", "headers",
    "elapsed", "estimated_cost", "is_local", "created_at",
)  # fmt: skip
_COLUMNS = (*_V2_COLUMNS, "repeat")  # what ``record`` writes; variables and marks are kept
_KEY = ("fingerprint", "is_local")
_NOTE_LIMIT = 500  # "short" notes: a reason, not an essay


class StoreWarning(RuntimeWarning):
    """The store could not write a result; the result itself is still returned."""


class ResultStore:
    """A folder of paid results with an SQLite index, shared safely by threads and processes.

    ``path``: the folder (created when first used); ``None`` or ``True`` means ``$VENICE_NB_STORE``
    or else ``./.venice_nb/store``. ``mode`` (``None``: ``$VENICE_NB_STORE_MODE`` or ``"use"``):

    * ``"use"``: answer repeated requests from the store, record new ones;
    * ``"refresh"``: always send, then overwrite what was stored;
    * ``"replay"``: never send; a request that is not stored raises ``ReplayMissError``;
    * ``"off"``: neither read nor write.

    Args:
        path: The store folder; None or True: `$VENICE_NB_STORE`, else `./.venice_nb/store`.
        mode: `"use"` (answer from disk, record the rest), `"refresh"` (always send, keep the
            answer), `"replay"` (never send: a miss raises `ReplayMissError`) or `"off"`; None:
            `$VENICE_NB_STORE_MODE` or `"use"`.
        timeout: Seconds to wait for another process's lock on the index.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | bool | None = None,
        *,
        mode: StoreMode | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.root = _resolve_root(path)
        self.mode = mode if mode is not None else os.environ.get(STORE_MODE_ENV) or "use"
        self.timeout = guards.positive(timeout, "timeout")
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None

    # Configuration.
    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._mode = guards.choice(value, "mode", STORE_MODES)

    @contextmanager
    def using_mode(self, mode: StoreMode) -> Iterator[ResultStore]:
        """Switch mode inside a ``with`` block, e.g. ``with store.using_mode("replay"):``.

        Args:
            mode: The mode for the `with` block; the previous one comes back after it.
        """
        previous, self.mode = self.mode, mode
        try:
            yield self
        finally:
            self._mode = previous

    @property
    def database(self) -> Path:
        return self.root / _DB_NAME

    # The two calls the clients make.
    def lookup(self, prepared: PreparedRequest, *, is_local: bool) -> EditResult | None:
        """The answer the same kind of backend gave to this request, or None (``"replay"``:
        ReplayMissError instead).

        ``is_local``: whether the caller talks to the local backend. It is part of the key, so
        a simulated edit never stands in for a paid one, nor the reverse.

        Args:
            prepared: The request about to be sent.
            is_local: Which backend's answer: True local, False Venice, None the newest from
                either.
        """
        if self._mode in ("off", "refresh"):
            return None
        row = self._row(prepared.fingerprint, is_local)
        data = None
        if row is not None:
            data = read_checked(self.root / row["output_file"], row["output_sha256"])
        if row is None or data is None:
            if self._mode == "replay":
                raise ReplayMissError(self._miss_message(prepared, is_local, row is not None))
            return None
        return build_result(
            prepared, json.loads(row["headers"]), data, elapsed=row["elapsed"],
            is_local=bool(row["is_local"]), from_store=True,
            stored_path=str(self.root / row["output_file"]),
        )

    def record(
        self,
        prepared: PreparedRequest,
        headers: Mapping[str, str],
        content: bytes,
        elapsed: float,
        is_local: bool,
    ) -> str | None:
        """Write one answer (image file first, then its row); the image path, or None when off.

        A failing disk must not cost the caller a paid result: errors become a ``StoreWarning``
        and None, and the client still returns the image.

        Args:
            prepared: The request that was sent.
            headers: The response headers.
            content: The returned image bytes.
            elapsed: Seconds the request took.
            is_local: Whether the local backend answered.
        """
        if self._mode == "off":
            return None
        try:
            return self._record(prepared, dict(headers), content, elapsed, is_local)
        except (OSError, sqlite3.Error) as exc:
            warnings.warn(
                f"venice_nb: could not store a result in {self.root} ({type(exc).__name__}: "
                f"{exc}); the result is returned but not kept",
                StoreWarning,
                stacklevel=3,
            )
            return None

    def _record(
        self, prepared: PreparedRequest, headers: dict[str, str], content: bytes,
        elapsed: float, is_local: bool,
    ) -> str:
        # build_result decides which headers are kept and whether the answer was local (the
        # model name can say so even when the caller could not tell): that is the row's key.
        result = build_result(prepared, headers, content, elapsed=elapsed, is_local=is_local)
        digest = hashlib.sha256(content).hexdigest()
        relative = f"{_IMAGES_DIR}/{digest[:2]}/{digest[2:4]}/{digest}.{_EXTENSIONS[result.format]}"
        path = self.root / relative
        # Content-addressed: an intact file of the same name needs no second write (a damaged
        # one is replaced). holds() also refreshes its mtime, so prune() sees it as in use.
        if not holds(path, digest):
            write_atomic(path, content, temp_dir=self.root / _TMP_DIR)
        width, height = image_size(content)
        summary = prepared.summary
        row = (
            prepared.fingerprint, summary["endpoint"], summary["model"], summary["prompt"],
            compact_json(summary["params"]), compact_json(summary["images"]), digest, relative,
            result.content_type, len(content), width, height, result.model_id,
            result.model_name, compact_json(result.headers), float(elapsed),
            prepared.estimated_cost, int(result.is_local), time.time(), prepared.repeat,
        )
        placeholders = ", ".join("?" * len(_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in _KEY)
        with self._transaction() as conn:
            # prune() deletes only while holding this same write lock: a file still here now
            # stays until the row referring to it is committed. If one pruned it meanwhile,
            # write it again before the row goes in.
            if not touch(path):
                write_atomic(path, content, temp_dir=self.root / _TMP_DIR)
            conn.execute(
                f"INSERT INTO results ({', '.join(_COLUMNS)}) VALUES ({placeholders}) "
                f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET {updates}",
                row,
            )
        return str(path)

    # Queries.
    def has(self, request: PreparedRequest | str, *, is_local: bool | None = None) -> bool:
        """Whether a result for this request (or fingerprint) is indexed; ``is_local`` None:
        from either backend.

        Args:
            request: A prepared request or its fingerprint.
            is_local: Which backend's answer: True local, False Venice, None the newest from
                either.
        """
        return self._row(_fingerprint(request), is_local) is not None

    __contains__ = has

    def can_answer(self, prepared: PreparedRequest, *, is_local: bool) -> bool:
        """Whether ``lookup`` would answer this request now (checks the file's size, not hash:
        cheap enough to ask for every job of an experiment).

        Args:
            prepared: The request about to be sent.
            is_local: Which backend's answer: True local, False Venice, None the newest from
                either.
        """
        if self._mode not in ("use", "replay"):
            return False
        row = self._row(prepared.fingerprint, is_local)
        if row is None:
            return False
        try:
            return bool((self.root / row["output_file"]).stat().st_size == row["bytes"])
        except OSError:
            return False

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT count(*) FROM results").fetchone()[0])

    def get(
        self, request: PreparedRequest | str, *, is_local: bool | None = None
    ) -> StoredRecord | None:
        """The record for a request or fingerprint, or None; ``is_local`` None: the newest
        from either backend.

        Args:
            request: A prepared request or its fingerprint.
            is_local: Which backend's answer: True local, False Venice, None the newest from
                either.
        """
        row = self._row(_fingerprint(request), is_local)
        return self._to_record(row) if row else None

    def result(
        self, request: PreparedRequest | str, *, is_local: bool | None = None
    ) -> EditResult:
        """The stored ``EditResult`` for a request or fingerprint (KeyError when absent).

        Args:
            request: A prepared request or its fingerprint.
            is_local: Which backend's answer: True local, False Venice, None the newest from
                either.
        """
        record = self.get(request, is_local=is_local)
        if record is None:
            raise KeyError(f"no stored result for fingerprint {_fingerprint(request)[:12]}…")
        return record.to_result()

    # Marks a person sets on a result: kept with it, also when a refresh replaces its image.
    def mark(
        self,
        target: EditResult | StoredRecord | PreparedRequest | str,
        *,
        picked: bool | None = None,
        rating: int | None = None,
        note: str | None = None,
        is_local: bool | None = None,
    ) -> StoredRecord:
        """Pick a stored result, rate it 1-5 and note why; returns the updated record.

        ``None`` leaves a mark as it is; ``rating=0`` and ``note=""`` clear them. ``target``: a
        result or record (their backend is known), or a request or fingerprint (``is_local``
        None: the newest stored answer from either backend).

        Args:
            target: An `EditResult` or `StoredRecord`, or a request or fingerprint.
            picked: Pick (True) or unpick (False); None leaves it.
            rating: 1-5; 0 clears it; None leaves it.
            note: Why; `""` clears it; None leaves it.
            is_local: Which backend's answer: True local, False Venice, None the newest from
                either.
        """
        picked = guards.flag(picked, "picked")
        if rating is not None:
            rating = guards.count(rating, "rating", minimum=0, maximum=5)  # 0 clears it
        if note is not None and len(guards.text(note, "note")) > _NOTE_LIMIT:
            raise ValidationError(f"note={_short(note)}", field="note",
                                  action=f"use text of at most {_NOTE_LIMIT} characters")
        fingerprint, is_local = _key(target, is_local)
        row = self._row(fingerprint, is_local)
        if row is None:
            raise KeyError(f"no stored result for fingerprint {fingerprint[:12]}…")
        changes: dict[str, Any] = {}  # only the marks given; 0 and "" clear (NULL)
        if picked is not None:
            changes["picked"] = int(picked)
        if rating is not None:
            changes["rating"] = rating or None
        if note is not None:
            changes["note"] = note or None
        if changes:
            with self._transaction() as conn:
                conn.execute(
                    f"UPDATE results SET {', '.join(f'{k} = ?' for k in changes)} "
                    "WHERE fingerprint = ? AND is_local = ?",
                    [*changes.values(), fingerprint, row["is_local"]],
                )
        record = self.get(fingerprint, is_local=bool(row["is_local"]))
        assert record is not None  # rows are never deleted
        return record

    def marks(self, keys: list[tuple[str, bool]]) -> dict[tuple[str, bool], tuple[bool, int | None,
                                                                                  str | None]]:
        """``(picked, rating, note)`` of each stored ``(fingerprint, is_local)`` among ``keys``.

        Args:
            keys: `(fingerprint, is_local)` pairs.
        """
        out = {}
        with self._lock:
            conn = self._connection()
            for fingerprint, is_local in keys:
                row = conn.execute(
                    "SELECT picked, rating, note FROM results WHERE fingerprint = ? AND "
                    "is_local = ?", (fingerprint, int(is_local))).fetchone()
                if row is not None:
                    out[fingerprint, is_local] = (bool(row[0]), row[1], row[2])
        return out

    def label(self, rows: list[tuple[str, bool, Mapping[str, str]]]) -> None:
        """Keep the prompt-template values of stored results (``history(variables=...)``).

        Args:
            rows: `(fingerprint, is_local, variables)` triples.
        """
        if self._mode == "off" or not rows:
            return
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE results SET variables = ? WHERE fingerprint = ? AND is_local = ?",
                [(compact_json(dict(v)), fp, int(local)) for fp, local, v in rows],
            )

    def history(
        self,
        *,
        model: str | None = None,
        prompt: str | None = None,
        since: datetime | date | timedelta | float | str | None = None,
        until: datetime | date | timedelta | float | str | None = None,
        endpoint: str | None = None,
        picked: bool | None = None,
        min_rating: int | None = None,
        variables: Mapping[str, str] | None = None,
        is_local: bool | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> RecordList[StoredRecord]:
        """Stored results, newest first.

        ``model`` matches the model asked for or the one that answered; ``prompt`` is a
        case-insensitive substring; ``since``/``until`` take a datetime (naive = local time), a
        date, an ISO string, a Unix timestamp or a timedelta (that long ago). ``picked``,
        ``min_rating`` and ``variables`` (``{"color": "red"}``: prompt-template values) select
        by the marks and labels experiments leave; ``is_local`` by backend. ``limit`` and
        ``offset`` page through the answer.

        Args:
            model: Only this model id (or a part of it).
            prompt: Only prompts containing this text.
            since: Only results from this moment on: a datetime, a timedelta back from now, an ISO
                string or Unix time.
            until: Only results before this moment (same forms as `since`).
            endpoint: Only this endpoint, e.g. `"/image/edit"`.
            picked: Only picked (True) or unpicked (False) results.
            min_rating: Only results rated at least this (1-5).
            variables: Only results whose prompt-template values include these.
            is_local: Only local (True) or Venice (False) results.
            limit: At most this many records.
            offset: Skip this many first (for paging).
        """
        where, args = _where(dict(model=model, prompt=prompt, since=since, until=until,
                                  endpoint=endpoint, picked=picked, min_rating=min_rating,
                                  variables=variables, is_local=is_local))
        sql = f"SELECT * FROM results{where} ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            sql += f" LIMIT {guards.count(limit, 'limit')}"
        offset = guards.count(offset, "offset", minimum=0)
        if offset:
            sql += f" {'' if limit is not None else 'LIMIT -1 '}OFFSET {offset}"
        with self._lock:
            rows = self._connection().execute(sql, args).fetchall()
        return RecordList(self._to_record(row) for row in rows)

    def stats(self, **filters: Unpack[HistoryFilters]) -> StoreStats:
        """Counts, bytes on disk and money of what is stored (of what ``history(**filters)``
        selects, when filters are given): ``cost_at_venice_usd`` what every stored answer costs
        at Venice prices, ``cost_here_usd`` what was charged (local answers: nothing).

        Args:
            **filters: The filters of `history()`; none: the whole store.
        """
        where, args = _where(filters)
        with self._lock:
            row = self._connection().execute(
                "SELECT count(*), count(DISTINCT output_sha256), "
                "coalesce(sum(CASE WHEN is_local THEN 0 ELSE estimated_cost END), 0), "
                "coalesce(sum(is_local), 0), coalesce(sum(estimated_cost), 0) "
                f"FROM results{where}", args
            ).fetchone()
            size = self._connection().execute(
                "SELECT coalesce(sum(bytes), 0) FROM "
                f"(SELECT DISTINCT output_sha256, bytes FROM results{where})", args
            ).fetchone()[0]
        return {
            "results": row[0], "images": row[1], "image_bytes": size,
            "cost_at_venice_usd": round(float(row[4]), 6),
            "cost_here_usd": round(float(row[2]), 6), "local_results": row[3],
        }

    def models_used(self) -> list[str]:
        """The models stored results were asked of (or, for the server default, answered by)."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT DISTINCT coalesce(model, model_id) AS m FROM results "
                "WHERE m IS NOT NULL ORDER BY m").fetchall()
        return [row[0] for row in rows]

    # The model catalogue.
    def save_models(self, type: str, payload: object, *, base_url: str) -> None:
        """Keep a ``GET /models`` answer, so a replay-only run needs no network at all.

        Args:
            type: The model type listed.
            payload: The `/models` response body.
            base_url: The API it came from.
        """
        if self._mode == "off":
            return
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO catalog (type, base_url, body, fetched_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (type, base_url) DO UPDATE SET body = excluded.body, "
                "fetched_at = excluded.fetched_at",
                (type, base_url, json.dumps(payload, ensure_ascii=False), time.time()),
            )

    def load_models(self, type: str, *, base_url: str | None = None) -> object | None:
        """The kept ``GET /models`` body for ``type``: this base URL's, else the newest one.

        Args:
            type: The model type listed.
            base_url: The API it came from; None: any.
        """
        with self._lock:
            row = self._connection().execute(
                "SELECT body FROM catalog WHERE type = ? "
                "ORDER BY base_url = ? DESC, fetched_at DESC LIMIT 1",
                (type, base_url or ""),
            ).fetchone()
        return json.loads(row["body"]) if row else None

    # Export.
    def export(self, path: str | os.PathLike[str], *, format: str | None = None,
               **filters: Unpack[HistoryFilters]) -> Path:
        """Write ``history(**filters)`` to JSON or CSV (``format`` or the file suffix).

        JSON is a list of ``StoredRecord.to_dict()``; CSV has the same columns, with params,
        headers and input_images as JSON text. ``ResultStore.read_export`` reads either back.

        Args:
            path: A `.json` or `.csv` file, written atomically.
            format: `"json"` or `"csv"`; None: from the suffix.
            **filters: The filters of `history()`.
        """
        return self.history(**filters).export(path, format=format,
                                              columns=_records.stored_columns())

    @staticmethod
    def read_export(
        path: str | os.PathLike[str], *, format: str | None = None
    ) -> RecordList[StoredRecord]:
        """Read a file written by ``export`` back into ``StoredRecord`` objects.

        Args:
            path: A file `export()` wrote.
            format: `"json"` or `"csv"`; None: from the suffix.
        """
        path = Path(path).expanduser()
        rows = _records.read_export(path, _records.export_format(path, format))
        return RecordList(StoredRecord.from_dict(row) for row in rows)

    # Maintenance.
    def verify(self) -> list[str]:
        """Problems found (empty list: healthy): SQLite integrity and every image's hash."""
        problems: list[str] = []
        with self._lock:
            conn = self._connection()
            check = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            rows = conn.execute(
                "SELECT fingerprint, output_file, output_sha256 FROM results"
            ).fetchall()
        if check != ["ok"]:
            problems += [f"sqlite: {line}" for line in check]
        for row in rows:
            if read_checked(self.root / row["output_file"], row["output_sha256"]) is None:
                problems.append(
                    f"{row['fingerprint'][:12]}…: image {row['output_file']} missing or damaged"
                )
        return problems

    def prune(self, *, older_than: float = 3600.0) -> int:
        """Delete image files no row refers to (left by ``refresh`` or a crash); returns count.

        References are read and files deleted inside one write transaction, and writers commit
        their rows (after checking their file is still there) under the same lock: a row never
        points at a deleted file. Only files older than ``older_than`` seconds go, so a file
        just written for a row not yet committed stays; a writer whose image is already on disk
        refreshes its mtime for the same reason. Writers wait while a prune runs.

        Args:
            older_than: Delete results older than this (a timedelta, datetime, ISO string or Unix
                time).
        """
        cutoff = time.time() - older_than
        removed = 0
        images = self.root / _IMAGES_DIR
        with self._transaction() as conn:
            referenced = {r[0] for r in conn.execute("SELECT output_file FROM results")}
            for path in images.glob("*/*/*") if images.is_dir() else ():
                if path.relative_to(self.root).as_posix() in referenced:
                    continue
                try:
                    if path.stat().st_mtime > cutoff:
                        continue
                    path.unlink()
                except FileNotFoundError:  # another pruner got there first
                    continue
                removed += 1
        return removed

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        # getattr: safe on a half-built store (e.g. __init__ refused its mode).
        root, mode = getattr(self, "root", None), getattr(self, "_mode", None)
        return f"ResultStore({str(root) if root else None!r}, mode={mode!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable for multiprocessing: a copy is a new store on the same folder, which opens
        # its own connection in its own process.
        mode = cast(StoreMode, self._mode)  # the setter let only these through
        return partial(type(self), mode=mode, timeout=self.timeout), (self.root,)

    # SQLite plumbing.
    def _connection(self) -> sqlite3.Connection:
        """This process's connection (reopened after fork), schema in place. Hold ``_lock``."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self.root.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.database, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        # Switching to WAL needs a moment of exclusive access; another process creating the same
        # store at the same instant can make it report "locked" without waiting.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                self._create_schema(conn)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    conn.close()
                    raise
                time.sleep(0.01)  # brief backoff before retrying the lock, not synchronisation
        self._conn, self._pid = conn, os.getpid()
        self._remove_orphans()
        return conn

    def _remove_orphans(self) -> int:
        """Delete temp parts a killed writer left in ``tmp/`` (never a live writer's)."""
        folder = self.root / _TMP_DIR
        removed = remove_orphans(temp_files(folder), older_than=_ORPHAN_AGE)
        if removed:
            log.info("venice_nb: removed %d abandoned temp file(s) from %s", removed, folder)
        return removed

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        """Create the tables, or bring an older store up to date, in one write transaction.

        A second process doing the same waits on BEGIN IMMEDIATE, then reads the version again
        and finds the work done.
        """
        if self._schema_version(conn) == _SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._schema_version(conn)
            if version < _SCHEMA_VERSION:
                if version == 1:  # keyed on the fingerprint alone: move the rows to the new key
                    conn.execute("ALTER TABLE results RENAME TO results_v1")
                if version == 2:  # only new columns, with defaults
                    for name, kind in _V3_COLUMNS:
                        conn.execute(f"ALTER TABLE results ADD COLUMN {name} {kind}")
                conn.execute(_RESULTS_TABLE)
                conn.execute(_CATALOG_TABLE)
                if version == 1:
                    columns = ", ".join(_V2_COLUMNS)
                    conn.execute(f"INSERT INTO results ({columns}) SELECT {columns} "
                                 "FROM results_v1")
                    conn.execute("DROP TABLE results_v1")  # and its indexes, recreated below
                for statement in _INDEXES:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _schema_version(self, conn: sqlite3.Connection) -> int:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > _SCHEMA_VERSION:
            raise RuntimeError(
                f"the store at {self.root} was written by a newer venice_nb (schema {version}); "
                "upgrade venice_nb or use another store folder"
            )
        return version

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (no upgrade deadlocks)."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _row(self, fingerprint: str, is_local: bool | None = None) -> sqlite3.Row | None:
        """The row from that backend (None: the newest from either)."""
        sql = "SELECT * FROM results WHERE fingerprint = ?"
        args: list[Any] = [fingerprint]
        if is_local is not None:
            sql += " AND is_local = ?"
            args.append(int(is_local))
        with self._lock:
            row: sqlite3.Row | None = self._connection().execute(
                sql + " ORDER BY created_at DESC LIMIT 1", args
            ).fetchone()
        return row

    def _to_record(self, row: sqlite3.Row) -> StoredRecord:
        data = {key: row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row)
        data["output_file"] = str(self.root / row["output_file"])
        data["is_local"] = bool(row["is_local"])
        return StoredRecord.from_dict(data)

    def _miss_message(self, prepared: PreparedRequest, is_local: bool, damaged: bool) -> str:
        summary = prepared.summary
        what = (
            f"POST {summary['endpoint']} (model {summary['model'] or 'server default'}, "
            f"prompt {_short(summary['prompt'])}, fingerprint {prepared.fingerprint[:12]})"
        )
        if damaged:
            return f"replay-only store {self.root}: the image for {what} is missing or damaged"
        if self._row(prepared.fingerprint, not is_local) is not None:
            stored = "Venice API" if is_local else "local backend"
            return (
                f"replay-only store {self.root} holds {what} from the {stored} only, not from "
                "the backend this client talks to; nothing was sent"
            )
        message = f"replay-only store {self.root} has no result for {what}; nothing was sent"
        nearest = self._nearest(summary)
        if nearest:
            message += f"; the closest stored request differs in {nearest}"
        return message

    def _nearest(self, summary: dict[str, Any]) -> str | None:
        """Which fields set the closest stored request apart, to explain a replay miss."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT model, prompt, params, input_images FROM results "
                "WHERE endpoint = ? AND (prompt = ? OR model IS ?) LIMIT 200",
                (summary["endpoint"], summary["prompt"], summary["model"]),
            ).fetchall()
        best: list[str] | None = None
        for row in rows:
            stored = {
                "model": row["model"], "prompt": row["prompt"],
                "params": json.loads(row["params"]), "images": json.loads(row["input_images"]),
            }
            diff = _differences(stored, summary)
            if best is None or len(diff) < len(best):
                best = diff
        return ", ".join(best) if best else None


# Helpers (pure, or touching only the file they are given).
def default_store_path() -> Path:
    """``$VENICE_NB_STORE``, else ``.venice_nb/store`` under the current directory."""
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE_DIR).expanduser().resolve()


def _resolve_root(path: str | os.PathLike[str] | bool | None) -> Path:
    if path is False:
        raise ValidationError("store=False", action="use store=None for no store")
    if path is None or path is True:
        return default_store_path()
    return Path(path).expanduser().resolve()


def _fingerprint(request: PreparedRequest | str) -> str:
    return request if isinstance(request, str) else request.fingerprint


def _key(target: Any, is_local: bool | None) -> tuple[str, bool | None]:
    """``(fingerprint, is_local)`` of a result, record, request or fingerprint."""
    if isinstance(target, (EditResult, StoredRecord)):
        return target.fingerprint or "", target.is_local
    if isinstance(target, str) or hasattr(target, "fingerprint"):
        return _fingerprint(target), is_local
    raise ValidationError(f"cannot mark a {type(target).__name__}", field="target",
                          action="pass an EditResult, a StoredRecord, or a fingerprint")


def _short(text: str | None, limit: int = 60) -> str:
    if text is None:
        return "none"
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    diff = [k for k in ("model", "prompt") if stored[k] != wanted[k]]
    keys = sorted(set(stored["params"]) | set(wanted["params"]))
    diff += [f"{k} ({stored['params'].get(k)!r} vs {wanted['params'].get(k)!r})"
             for k in keys if stored["params"].get(k) != wanted["params"].get(k)]
    if stored["images"] != wanted["images"]:
        diff.append("input images")
    return diff


def _where(filters: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (with its leading space, or empty) and arguments of ``history``'s
    filters (``stats`` takes the same); a filter set to None selects everything."""
    unknown = sorted(set(filters) - set(_FILTERS))
    if unknown:
        raise ValidationError(f"unknown filter(s): {', '.join(unknown)}", field="filters",
                              action=f"use the filters history() takes: {', '.join(_FILTERS)}")
    where: list[str] = []
    args: list[Any] = []
    for name, value in filters.items():
        if value is not None:
            clause, values = _FILTERS[name](value)
            where.append(clause)
            args += values
    return (" WHERE " + " AND ".join(where) if where else ""), args


def _variables_filter(variables: Mapping[str, str]) -> tuple[str, list[Any]]:
    clauses, args = [], []
    for name, value in variables.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValidationError(f"variables: {name!r}", field="variables",
                                  action="name prompt variables as in variables=, e.g. 'color'")
        clauses.append("json_extract(variables, ?) = ?")
        args += [f'$."{name}"', str(value)]
    return " AND ".join(clauses) or "1", args


# Each filter of ``history``: its SQL condition and arguments, given a value that is not None.
_FILTERS: dict[str, Callable[[Any], tuple[str, list[Any]]]] = {
    "model": lambda v: ("(model = ? OR model_id = ?)", [v, v]),
    "prompt": lambda v: ("instr(lower(prompt), lower(?)) > 0", [v]),
    "since": lambda v: ("created_at >= ?", [_timestamp(v, "since")]),
    "until": lambda v: ("created_at <= ?", [_timestamp(v, "until")]),
    "endpoint": lambda v: ("endpoint = ?", [v]),
    "picked": lambda v: ("picked = ?", [int(bool(v))]),
    "min_rating": lambda v: ("rating >= ?", [int(v)]),
    "variables": _variables_filter,
    "is_local": lambda v: ("is_local = ?", [int(bool(v))]),
}


def _timestamp(value: Any, name: str) -> float:
    if isinstance(value, timedelta):
        return time.time() - value.total_seconds()
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                f"{name}={value!r} is not an ISO date", action="use e.g. '2026-11-21T09:30'"
            ) from None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ValidationError(
        f"{name}={value!r}", action="use a datetime, date, ISO string, Unix time or timedelta"
    )
