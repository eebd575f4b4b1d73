"""``ResultStore``: every answer Venice was paid for lands on disk before the caller sees it.

Layout of a store folder::

    index.sqlite (+ -wal, -shm)   one row per request fingerprint and backend (SQLite, WAL)
    images/ab/cd/<sha256>.<ext>    each distinct returned image once, named by its content hash

Image files are written to a temp file in their own folder, fsynced and renamed into place, and
only then is the row committed (``synchronous=FULL``), so a crash at any point leaves either the
complete result or none of it, never a half file or a row pointing at nothing. The API key is
never written: rows hold the request summary (no auth), response facts and timings.

The backend is part of the key: a free answer from the local backend and a paid one from Venice
for the same request are two rows, and neither ever answers for the other.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
import sqlite3
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._constants import DEFAULT_STORE_DIR, STORE_ENV, STORE_MODE_ENV, STORE_MODES
from ._errors import ReplayMissError, ValidationError
from ._result import EditResult, build_result

if TYPE_CHECKING:
    import pandas as pd

    from ._request import PreparedRequest

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
_SCHEMA_VERSION = 2  # 2: the backend (is_local) joined the primary key
_DB_NAME = "index.sqlite"
_IMAGES_DIR = "images"
_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_TMP_PREFIX = ".tmp-"

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
    PRIMARY KEY (fingerprint, is_local)
)"""
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
_COLUMNS = (
    "fingerprint", "endpoint", "model", "prompt", "params", "input_images", "output_sha256",
    "output_file", "content_type", "bytes", "width", "height", "model_id", "model_name", "headers",
    "elapsed", "estimated_cost", "is_local", "created_at",
)  # fmt: skip
_KEY = ("fingerprint", "is_local")


class StoreWarning(RuntimeWarning):
    """The store could not write a result; the result itself is still returned."""


@dataclass(frozen=True)
class StoredRecord:
    """One stored result as ``history()`` and exports describe it (no image bytes)."""

    fingerprint: str
    endpoint: str
    model: str | None
    prompt: str | None
    params: dict[str, Any]
    input_images: tuple[str, ...]
    output_sha256: str
    output_file: str  # absolute path of the image file
    content_type: str
    bytes: int
    width: int | None
    height: int | None
    model_id: str | None
    model_name: str | None
    headers: dict[str, str] = field(repr=False)
    elapsed: float
    estimated_cost: float | None
    is_local: bool
    created_at: float

    @property
    def created(self) -> datetime:
        """When it was recorded, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.created_at, timezone.utc)

    @property
    def request(self) -> dict[str, Any]:
        """The request summary, shaped like ``EditResult.request``."""
        return {
            "endpoint": self.endpoint, "model": self.model, "prompt": self.prompt,
            "params": dict(self.params), "images": list(self.input_images),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists instead of tuples, plus ``created`` as ISO 8601 for people."""
        out = asdict(self)
        out["input_images"] = list(self.input_images)
        out["created"] = self.created.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoredRecord:
        """Inverse of ``to_dict``; also takes CSV rows, where every value is text."""
        kwargs = {f.name: _parse_field(f.name, data.get(f.name)) for f in fields(cls)}
        return cls(**kwargs)

    def to_result(self) -> EditResult:
        """Load the stored image as an ``EditResult`` (checks its hash)."""
        data = _read_checked(Path(self.output_file), self.output_sha256)
        if data is None:
            raise FileNotFoundError(
                f"stored image {self.output_file} is missing or damaged; "
                "run the request again in store mode 'refresh' to re-record it"
            )
        return EditResult(
            data=data, content_type=self.content_type, headers=dict(self.headers),
            elapsed=self.elapsed, request=self.request, fingerprint=self.fingerprint,
            estimated_cost=self.estimated_cost, is_local=self.is_local, from_store=True,
            stored_path=self.output_file,
        )


_JSON_FIELDS = {"params", "headers", "input_images"}
_INT_FIELDS = {"bytes", "width", "height"}
_FLOAT_FIELDS = {"elapsed", "estimated_cost", "created_at"}


def _parse_field(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        value = json.loads(value) if isinstance(value, str) else value
        return tuple(value or ()) if name == "input_images" else dict(value or {})
    if value is None or value == "":
        return None
    if name in _INT_FIELDS:
        return int(value)
    if name in _FLOAT_FIELDS:
        return float(value)
    if name == "is_local":
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true")
    return str(value)


class RecordList(list):
    """A list of records (anything with ``to_dict()``) that turns into a pandas DataFrame."""

    def to_dicts(self) -> list[dict[str, Any]]:
        return [item.to_dict() for item in self]

    def to_dataframe(self) -> pd.DataFrame:
        """One row per record; needs pandas (``pip install pandas``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "to_dataframe() needs pandas: pip install pandas (or use .to_dicts())"
            ) from None
        return pd.DataFrame.from_records(self.to_dicts())


class ResultStore:
    """A folder of paid results with an SQLite index, shared safely by threads and processes.

    ``path``: the folder (created when first used); ``None`` or ``True`` means ``$VENICE_NB_STORE``
    or else ``./.venice_nb/store``. ``mode`` (``None``: ``$VENICE_NB_STORE_MODE`` or ``"use"``):

    * ``"use"``: answer repeated requests from the store, record new ones;
    * ``"refresh"``: always send, then overwrite what was stored;
    * ``"replay"``: never send; a request that is not stored raises ``ReplayMissError``;
    * ``"off"``: neither read nor write.
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
        self.timeout = timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None

    # Configuration.
    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in STORE_MODES:
            raise ValidationError(
                f"store mode {value!r} is not valid",
                action=f"use one of {', '.join(STORE_MODES)}",
                field="mode",
            )
        self._mode = value

    @contextmanager
    def using_mode(self, mode: StoreMode) -> Iterator[ResultStore]:
        """Switch mode inside a ``with`` block, e.g. ``with store.using_mode("replay"):``."""
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
        """
        if self._mode in ("off", "refresh"):
            return None
        row = self._row(prepared.fingerprint, is_local)
        data = None
        if row is not None:
            data = _read_checked(self.root / row["output_file"], row["output_sha256"])
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
        # one is replaced). _holds also refreshes its mtime, so prune() sees it as in use.
        if not _holds(path, digest):
            _write_atomic(path, content)
        width, height = _image_size(content)
        summary = prepared.summary
        row = (
            prepared.fingerprint, summary["endpoint"], summary["model"], summary["prompt"],
            _json(summary["params"]), _json(summary["images"]), digest, relative,
            result.content_type, len(content), width, height, result.model_id,
            result.model_name, _json(result.headers), float(elapsed), prepared.estimated_cost,
            int(result.is_local), time.time(),
        )
        placeholders = ", ".join("?" * len(_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in _KEY)
        with self._transaction() as conn:
            # prune() deletes only while holding this same write lock: a file still here now
            # stays until the row referring to it is committed. If one pruned it meanwhile,
            # write it again before the row goes in.
            if not _touch(path):
                _write_atomic(path, content)
            conn.execute(
                f"INSERT INTO results ({', '.join(_COLUMNS)}) VALUES ({placeholders}) "
                f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET {updates}",
                row,
            )
        return str(path)

    # Queries.
    def has(self, request: PreparedRequest | str, *, is_local: bool | None = None) -> bool:
        """Whether a result for this request (or fingerprint) is indexed; ``is_local`` None:
        from either backend."""
        return self._row(_fingerprint(request), is_local) is not None

    __contains__ = has

    def can_answer(self, prepared: PreparedRequest, *, is_local: bool) -> bool:
        """Whether ``lookup`` would answer this request now (checks the file's size, not hash:
        cheap enough to ask for every job of an experiment)."""
        if self._mode not in ("use", "replay"):
            return False
        row = self._row(prepared.fingerprint, is_local)
        if row is None:
            return False
        try:
            return (self.root / row["output_file"]).stat().st_size == row["bytes"]
        except OSError:
            return False

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT count(*) FROM results").fetchone()[0])

    def get(
        self, request: PreparedRequest | str, *, is_local: bool | None = None
    ) -> StoredRecord | None:
        """The record for a request or fingerprint, or None; ``is_local`` None: the newest
        from either backend."""
        row = self._row(_fingerprint(request), is_local)
        return self._to_record(row) if row else None

    def result(
        self, request: PreparedRequest | str, *, is_local: bool | None = None
    ) -> EditResult:
        """The stored ``EditResult`` for a request or fingerprint (KeyError when absent)."""
        record = self.get(request, is_local=is_local)
        if record is None:
            raise KeyError(f"no stored result for fingerprint {_fingerprint(request)[:12]}…")
        return record.to_result()

    def history(
        self,
        *,
        model: str | None = None,
        prompt: str | None = None,
        since: datetime | date | timedelta | float | str | None = None,
        until: datetime | date | timedelta | float | str | None = None,
        endpoint: str | None = None,
        limit: int | None = None,
    ) -> RecordList:
        """Stored results, newest first.

        ``model`` matches the model asked for or the one that answered; ``prompt`` is a
        case-insensitive substring; ``since``/``until`` take a datetime (naive = local time), a
        date, an ISO string, a Unix timestamp or a timedelta (that long ago).
        """
        where: list[str] = []
        args: list[str | float] = []
        if model is not None:
            where.append("(model = ? OR model_id = ?)")
            args += [model, model]
        if prompt is not None:
            where.append("instr(lower(prompt), lower(?)) > 0")
            args.append(prompt)
        if since is not None:
            where.append("created_at >= ?")
            args.append(_timestamp(since, "since"))
        if until is not None:
            where.append("created_at <= ?")
            args.append(_timestamp(until, "until"))
        if endpoint is not None:
            where.append("endpoint = ?")
            args.append(endpoint)
        sql = "SELECT * FROM results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise ValidationError(f"limit={limit!r}", action="use a positive int, or None")
            sql += f" LIMIT {limit}"
        with self._lock:
            rows = self._connection().execute(sql, args).fetchall()
        return RecordList(self._to_record(row) for row in rows)

    def stats(self) -> dict[str, Any]:
        """Counts, bytes on disk and the estimated Venice cost of what is stored."""
        with self._lock:
            row = self._connection().execute(
                "SELECT count(*), count(DISTINCT output_sha256), "
                "coalesce(sum(CASE WHEN is_local THEN 0 ELSE estimated_cost END), 0), "
                "coalesce(sum(is_local), 0) FROM results"
            ).fetchone()
            size = self._connection().execute(
                "SELECT coalesce(sum(bytes), 0) FROM "
                "(SELECT DISTINCT output_sha256, bytes FROM results)"
            ).fetchone()[0]
        return {
            "results": row[0], "images": row[1], "image_bytes": size,
            "estimated_cost_usd": round(float(row[2]), 6), "local_results": row[3],
        }

    # The model catalogue.
    def save_models(self, type: str, payload: Any, *, base_url: str) -> None:
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

    def load_models(self, type: str, *, base_url: str | None = None) -> Any | None:
        """The kept ``GET /models`` body for ``type``: this base URL's, else the newest one."""
        with self._lock:
            row = self._connection().execute(
                "SELECT body FROM catalog WHERE type = ? "
                "ORDER BY base_url = ? DESC, fetched_at DESC LIMIT 1",
                (type, base_url or ""),
            ).fetchone()
        return json.loads(row["body"]) if row else None

    # Export.
    def export(self, path: str | os.PathLike[str], *, format: str | None = None,
               **filters: Any) -> Path:
        """Write ``history(**filters)`` to JSON or CSV (``format`` or the file suffix).

        JSON is a list of ``StoredRecord.to_dict()``; CSV has the same columns, with params,
        headers and input_images as JSON text. ``ResultStore.read_export`` reads either back.
        """
        path = Path(path).expanduser()
        kind = _export_format(path, format)
        records = self.history(**filters).to_dicts()
        if kind == "json":
            text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
        else:
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=[*_record_fields(), "created"])
            writer.writeheader()
            for rec in records:
                writer.writerow({k: _csv_cell(v) for k, v in rec.items()})
            text = buf.getvalue()
        _write_atomic(path, text.encode("utf-8"))
        return path

    @staticmethod
    def read_export(path: str | os.PathLike[str], *, format: str | None = None) -> RecordList:
        """Read a file written by ``export`` back into ``StoredRecord`` objects."""
        path = Path(path).expanduser()
        kind = _export_format(path, format)
        text = path.read_text("utf-8")
        rows = json.loads(text) if kind == "json" else list(csv.DictReader(io.StringIO(text)))
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
            if _read_checked(self.root / row["output_file"], row["output_sha256"]) is None:
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
        return f"ResultStore({str(self.root)!r}, mode={self._mode!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Picklable for multiprocessing: each process opens its own connection.
        return {"root": self.root, "mode": self._mode, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        ResultStore.__init__(self, state["root"], mode=state["mode"], timeout=state["timeout"])

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
        return conn

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
                conn.execute(_RESULTS_TABLE)
                conn.execute(_CATALOG_TABLE)
                if version == 1:
                    columns = ", ".join(_COLUMNS)
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
        args: list[str | int] = [fingerprint]
        if is_local is not None:
            sql += " AND is_local = ?"
            args.append(int(is_local))
        with self._lock:
            return self._connection().execute(
                sql + " ORDER BY created_at DESC LIMIT 1", args
            ).fetchone()

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


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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


def _export_format(path: Path, format: str | None) -> str:
    kind = (format or path.suffix.lstrip(".")).lower()
    if kind not in ("json", "csv"):
        raise ValidationError(
            f"cannot tell the export format of {path.name!r}",
            action="name the file .json or .csv, or pass format='json' / 'csv'",
        )
    return kind


def _record_fields() -> list[str]:
    return [f.name for f in fields(StoredRecord)]


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return _json(value)
    if isinstance(value, float):
        return repr(value)  # shortest exact form: floats read back bit-identical
    return "" if value is None else value


def _image_size(content: bytes) -> tuple[int | None, int | None]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as img:  # reads the header only
            return img.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None, None


def _read_checked(path: Path, sha256: str) -> bytes | None:
    """The file's bytes when present and matching its hash, else None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def _holds(path: Path, sha256: str) -> bool:
    """Whether ``path`` holds exactly these bytes; if so its mtime is refreshed (it is in use)."""
    return _read_checked(path, sha256) is not None and _touch(path)


def _touch(path: Path) -> bool:
    """Set the file's mtime to now; False when it is gone."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def _write_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder + fsync + rename + fsync of the folder: all or nothing."""
    new_dirs = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    for folder in reversed(new_dirs):  # make the new folders' entries durable too
        _fsync_dir(folder.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened; rename is durable there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
