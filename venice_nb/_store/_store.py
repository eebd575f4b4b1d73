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

A store folder can come from someone else (a shared recording ships one), so what it holds is
checked before use: the SQLite file's shape (``_schema``), every row's image path (only the
content-addressed name its hash gives, inside ``images/``), every image file (no links, regular,
bounded, hashed, header and pixel limit checked before decoding: ``_files``) and every JSON
column (a clear error naming the row, never a bare ``JSONDecodeError``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sqlite3
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union, cast

from .. import _arguments as guards
from .._constants import DEFAULT_STORE_DIR, STORE_ENV, STORE_MODE_ENV, STORE_MODES
from .._exceptions import ReplayMissError, ValidationError
from .._result import EditResult, build_result
from . import _records, _schema
from ._durable import remove_orphans, temp_files, touch, write_atomic
from ._files import check_image, checked_image, inside, real_dir
from ._records import RecordList, StoredRecord, compact_json

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
    "Target",
    "checked_marks",
    "default_store_path",
]

log = logging.getLogger("venice_nb")

StoreMode = Literal["off", "use", "refresh", "replay"]
_IMAGES_DIR = "images"
_TMP_DIR = "tmp"  # every temp part, so an opener finds a killed writer's with one listing
_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_ORPHAN_AGE = 3600.0  # seconds after which any temp file counts as abandoned
_COLUMNS, _KEY = _schema.COLUMNS, _schema.KEY
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
        return self.root / _schema.DB_NAME

    # What a client writes; the reads a client makes (``_lookup``, the model catalogue) are
    # plumbing and stay private.

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
            return self._write(prepared, dict(headers), content, elapsed, is_local)
        except (OSError, sqlite3.Error, ValidationError) as exc:  # also a folder it refuses
            warnings.warn(
                f"venice_nb: could not store a result in {self.root} ({type(exc).__name__}: "
                f"{exc}); the result is returned but not kept",
                StoreWarning,
                stacklevel=3,
            )
            return None

    def _write(
        self, prepared: PreparedRequest, headers: dict[str, str], content: bytes,
        elapsed: float, is_local: bool,
    ) -> str:
        # build_result decides which headers are kept and whether the answer was local (the
        # model name can say so even when the caller could not tell): that is the row's key.
        result = build_result(prepared, headers, content, elapsed=elapsed, is_local=is_local)
        digest = hashlib.sha256(content).hexdigest()
        relative = _image_name(digest, _EXTENSIONS[result.format])
        # Never through a link: the folders on the way are real folders inside the store.
        path = real_dir(self.root, relative.rsplit("/", 1)[0]) / relative.rsplit("/", 1)[1]
        temp_dir = real_dir(self.root, _TMP_DIR)
        # Content-addressed: an intact file of the same name needs no second write (a damaged
        # one is replaced). touch() also refreshes its mtime, so prune() sees it as in use.
        if not (self._holds(path, digest) and touch(path)):
            write_atomic(path, content, temp_dir=temp_dir)
        width: int | None
        height: int | None
        try:
            width, height = check_image(content, where="the answer")
        except ValidationError:  # the answer itself is kept as it came, size unknown
            width = height = None
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
                write_atomic(path, content, temp_dir=temp_dir)
            conn.execute(
                f"INSERT INTO results ({', '.join(_COLUMNS)}) VALUES ({placeholders}) "
                f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET {updates}",
                row,
            )
        return str(path)

    # Queries: one key (a result, record, request or fingerprint, and a backend) for all.
    def has(self, target: Target, *, is_local: bool | None = None) -> bool:
        """Whether a result for this result, record, request or fingerprint is indexed;
        ``is_local`` None: from either backend (a result or record: its own).

        Args:
            target: A result, record, prepared request or fingerprint.
            is_local: Which backend's answer: True local, False Venice, None the newest from
                either (a result or record: its own).
        """
        return self._row(*_key(target, is_local)) is not None

    __contains__ = has

    def _can_answer(self, prepared: PreparedRequest, *, is_local: bool) -> bool:
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
        if row is None or row["output_file"] != _canonical(row):
            return False
        try:  # lstat: a link is never an answer
            info = os.lstat(inside(self.root, row["output_file"]))
        except (OSError, ValidationError):
            return False
        return stat.S_ISREG(info.st_mode) and info.st_size == row["bytes"]

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT count(*) FROM results").fetchone()[0])

    def get(self, target: Target, *, is_local: bool | None = None) -> StoredRecord | None:
        """The record for a result, record, request or fingerprint, or None; ``is_local``
        None: the newest from either backend (a result or record: its own).

        Args:
            target: A result, record, prepared request or fingerprint.
            is_local: Which backend's answer: True local, False Venice, None the newest from
                either (a result or record: its own).
        """
        row = self._row(*_key(target, is_local))
        return self._to_record(row) if row else None

    def result(self, target: Target, *, is_local: bool | None = None) -> EditResult:
        """The stored ``EditResult`` for a result, record, request or fingerprint (KeyError
        when absent; ``ValidationError`` when its image is refused, ``FileNotFoundError``
        when it is missing or damaged).

        Args:
            target: A result, record, prepared request or fingerprint.
            is_local: Which backend's answer: True local, False Venice, None the newest from
                either (a result or record: its own).
        """
        fingerprint, backend = _key(target, is_local)
        row = self._row(fingerprint, backend)
        if row is None:
            raise KeyError(f"no stored result for fingerprint {fingerprint[:12]}…")
        data = self._image(row)
        if data is None:
            raise FileNotFoundError(
                f"stored image {self.root / row['output_file']} is missing or damaged; "
                "run the request again in store mode 'refresh' to re-record it")
        return _records.result_of(self._to_record(row), data)

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
        picked, rating, note = checked_marks(picked, rating, note)
        fingerprint, backend = _key(target, is_local)
        row = self._row(fingerprint, backend)
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

    def _marks(self, keys: list[tuple[str, bool]]) -> dict[tuple[str, bool], tuple[bool, int | None,
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

    def _label(self, rows: list[tuple[str, bool, Mapping[str, str]]]) -> None:
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

    # The model catalogue (client plumbing).
    def _save_models(self, type: str, payload: object, *, base_url: str) -> None:
        """Keep a ``GET /models`` answer, so a replay-only run needs no network at all."""
        if self._mode == "off":
            return
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO catalog (type, base_url, body, fetched_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (type, base_url) DO UPDATE SET body = excluded.body, "
                "fetched_at = excluded.fetched_at",
                (type, base_url, json.dumps(payload, ensure_ascii=False), time.time()),
            )

    def _load_models(self, type: str, *, base_url: str | None = None) -> object | None:
        """The kept ``GET /models`` body for ``type``: this base URL's, else the newest one."""
        with self._lock:
            row = self._connection().execute(
                "SELECT body FROM catalog WHERE type = ? "
                "ORDER BY base_url = ? DESC, fetched_at DESC LIMIT 1",
                (type, base_url or ""),
            ).fetchone()
        if row is None:
            return None
        try:
            body: object = json.loads(row["body"])
        except (TypeError, ValueError) as exc:
            raise self._corrupt(f"the kept model list {type!r}", "body", exc) from None
        return body

    # What a client asks before sending (plumbing: the key is the client's request).
    def _lookup(self, prepared: PreparedRequest, *, is_local: bool) -> EditResult | None:
        """The answer the same kind of backend gave to this request, or None (``"replay"``:
        ReplayMissError instead).

        ``is_local``: whether the caller talks to the local backend. It is part of the key, so
        a simulated edit never stands in for a paid one, nor the reverse. A row whose image is
        refused (outside the store, a link, not an image) raises ``ValidationError``.
        """
        if self._mode in ("off", "refresh"):
            return None
        row = self._row(prepared.fingerprint, is_local)
        data = self._image(row) if row is not None else None
        if row is None or data is None:
            if self._mode == "replay":
                raise ReplayMissError(self._miss_message(prepared, is_local, row is not None))
            return None
        return build_result(
            prepared, self._json(row, "headers", dict), data, elapsed=row["elapsed"],
            is_local=bool(row["is_local"]), from_store=True,
            stored_path=str(self.root / row["output_file"]),
        )

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
            try:
                intact = self._image(row) is not None
            except ValidationError as exc:
                problems.append(f"{row['fingerprint'][:12]}…: {exc}")
                continue
            if not intact:
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
        with self._transaction() as conn:
            referenced = {r[0] for r in conn.execute("SELECT output_file FROM results")}
            for path in _image_files(inside(self.root, _IMAGES_DIR)):
                if path.relative_to(self.root).as_posix() in referenced:
                    continue
                try:
                    if path.lstat().st_mtime > cutoff:
                        continue
                    path.unlink()  # a link (never made here) goes itself, never its target
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
        conn = _schema.connect(self.root, self.timeout)
        self._conn, self._pid = conn, os.getpid()
        self._remove_orphans()
        return conn

    def _remove_orphans(self) -> int:
        """Delete temp parts a killed writer left in ``tmp/`` (never a live writer's, never
        through a link)."""
        try:
            folder = inside(self.root, _TMP_DIR)
        except ValidationError:
            return 0  # a link: written through by no one (writes refuse it), left alone
        removed = remove_orphans(temp_files(folder), older_than=_ORPHAN_AGE)
        if removed:
            log.info("venice_nb: removed %d abandoned temp file(s) from %s", removed, folder)
        return removed

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
        """The row as a record; its ``output_file`` is always the content-addressed name inside
        this store (a row naming any other file is refused when its image is read)."""
        data = {key: row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row)
        data["output_file"] = str(self.root / _canonical(row))
        data["is_local"] = bool(row["is_local"])
        for column, kind in _JSON_COLUMNS.items():
            data[column] = self._json(row, column, kind)
        try:
            return StoredRecord.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise self._corrupt(f"row {str(row['fingerprint'])[:12]}…", "a", exc) from None

    def _json(self, row: sqlite3.Row, column: str, kind: type) -> Any:
        """A JSON column of a row, of the type it must have (a clear error if not)."""
        try:
            value = json.loads(row[column])
        except (TypeError, ValueError) as exc:
            raise self._corrupt(f"row {str(row['fingerprint'])[:12]}…", column, exc) from None
        members = value.values() if isinstance(value, dict) else value
        if not isinstance(value, kind) or (column != "params" and not all(
                isinstance(v, str) for v in members)):
            raise self._corrupt(f"row {str(row['fingerprint'])[:12]}…", column,
                                TypeError(f"not a JSON {kind.__name__} of text"))
        return value

    def _corrupt(self, what: str, column: str, exc: Exception) -> ValidationError:
        return ValidationError(
            f"store {self.database}: {what} has an unreadable {column} column "
            f"({type(exc).__name__}: {str(exc)[:120]})",
            action="the index is damaged or was edited by hand: run store.verify(), or move "
            "the store folder aside and record again",
        )

    def _image(self, row: sqlite3.Row) -> bytes | None:
        """The row's image bytes, checked (``_files.checked_image``); None when missing or
        damaged. A row naming any file but its content-addressed one is refused."""
        relative, fingerprint = row["output_file"], str(row["fingerprint"])[:12]
        where = f"store {self.database} row {fingerprint}…: image {str(relative)[:200]!r}"
        if relative != _canonical(row):
            raise ValidationError(
                f"{where} is not the name its hash gives ({_canonical(row)}); venice_nb reads "
                "only its own image files inside the store", action="the index was edited by "
                "hand or tampered with: move the store folder aside and record again")
        return checked_image(inside(self.root, relative, where=where), row["output_sha256"],
                             where=where)

    @staticmethod
    def _holds(path: Path, digest: str) -> bool:
        """Whether ``path`` already holds exactly these bytes (links and oddities: no)."""
        try:
            return checked_image(path, digest, where=str(path)) is not None
        except ValidationError:
            return False

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
                "params": self._json(row, "params", dict),
                "images": self._json(row, "input_images", list),
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


_JSON_COLUMNS: dict[str, type] = {"params": dict, "input_images": list, "headers": dict,
                                  "variables": dict}


def _image_name(digest: str, extension: str) -> str:
    """The content-addressed name of an image: ``images/ab/cd/<sha256>.<ext>``."""
    return f"{_IMAGES_DIR}/{digest[:2]}/{digest[2:4]}/{digest}.{extension}"


def _canonical(row: sqlite3.Row) -> str:
    """The only ``output_file`` a row may name: the one its hash and type give."""
    digest = str(row["output_sha256"]).lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        digest = "0" * 64  # a row with no usable hash names no real file
    suffix = str(row["output_file"]).rsplit(".", 1)[-1]
    return _image_name(digest, suffix if suffix in _EXTENSIONS.values() else "png")


def _image_files(images: Path) -> Iterator[Path]:
    """The entries two folders below ``images/`` (``ab/cd/<file>``), never entering a link."""
    def entries(folder: Path, depth: int) -> Iterator[Path]:
        try:
            listing = list(os.scandir(folder))
        except OSError:  # gone, or not a folder
            return
        for entry in listing:
            if depth == 0:
                yield Path(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                yield from entries(Path(entry.path), depth - 1)

    return entries(images, 2)


def checked_marks(picked: bool | None, rating: int | None, note: str | None,
                  ) -> tuple[bool | None, int | None, str | None]:
    """The marks ``mark`` takes, checked (before anything is written)."""
    picked = guards.flag(picked, "picked")
    if rating is not None:
        rating = guards.count(rating, "rating", minimum=0, maximum=5)  # 0 clears it
    if note is not None and len(guards.text(note, "note")) > _NOTE_LIMIT:
        raise ValidationError(f"note={_short(note)}", field="note",
                              action=f"use text of at most {_NOTE_LIMIT} characters")
    return picked, rating, note


Target = Union[EditResult, StoredRecord, "PreparedRequest", str]


def _key(target: Target, is_local: bool | None) -> tuple[str, bool | None]:
    """``(fingerprint, is_local)`` of a result, record, request or fingerprint; ``is_local``
    given wins over a result's or record's own."""
    if isinstance(target, (EditResult, StoredRecord)):
        return target.fingerprint or "", target.is_local if is_local is None else is_local
    if isinstance(target, str):
        return target, is_local
    if isinstance(getattr(target, "fingerprint", None), str):
        return target.fingerprint, is_local
    raise ValidationError(f"cannot look up a {type(target).__name__}", field="target",
                          action="pass an EditResult, a StoredRecord, a request or a fingerprint")


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
