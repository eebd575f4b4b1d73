"""The store's SQLite file: its tables, the migrations from older versions, and opening it as a
file that may have come from someone else.

Opening hardens the connection as SQLite advises for databases of unknown origin
(``trusted_schema=OFF``, ``cell_size_check=ON``, no memory mapping) and refuses a file holding
anything venice_nb never makes (a trigger, a view, another table): those run code on every
write. ``ResultStore`` keeps only the queries; everything about the file's shape lives here.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

from .._exceptions import ValidationError

__all__ = ["COLUMNS", "DB_NAME", "KEY", "SCHEMA_VERSION", "check_files", "connect"]

SCHEMA_VERSION = 3  # 2: the backend (is_local) joined the primary key; 3: repeats and marks
DB_NAME = "index.sqlite"
_SIDE_FILES = ("-wal", "-shm", "-journal")

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
COLUMNS = (*_V2_COLUMNS, "repeat")  # what ``record`` writes; variables and marks are kept
KEY = ("fingerprint", "is_local")
# Every object a venice_nb store holds (type, name); older versions held a subset.
_OBJECTS = frozenset({
    ("table", "results"), ("table", "catalog"), ("table", "results_v1"),
    ("index", "results_created"), ("index", "results_model"), ("index", "results_output"),
    ("index", "sqlite_autoindex_results_1"), ("index", "sqlite_autoindex_catalog_1"),
    ("index", "sqlite_autoindex_results_v1_1"),
})


def check_files(root: Path) -> None:
    """Refuse an index whose file (or WAL/journal side file) is a link or not a regular file:
    SQLite would follow the link and write wherever it points."""
    for name in (DB_NAME, *(DB_NAME + s for s in _SIDE_FILES)):
        path = root / name
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
            raise ValidationError(
                f"store {root}: {name} is {kind}; venice_nb never follows links out of a store",
                action=f"remove {path} (the store's index; its images stay) or use another store "
                "folder",
            )


def connect(root: Path, timeout: float) -> sqlite3.Connection:
    """A connection to the store's index, hardened, with the schema in place and checked."""
    check_files(root)
    conn = sqlite3.connect(
        root / DB_NAME, timeout=timeout, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    try:
        for pragma in ("trusted_schema = OFF", "cell_size_check = ON", "mmap_size = 0",
                       f"busy_timeout = {int(timeout * 1000)}"):
            conn.execute(f"PRAGMA {pragma}")
        # Switching to WAL needs a moment of exclusive access; another process creating the
        # same store at the same instant can make it report "locked" without waiting.
        deadline = time.monotonic() + timeout
        while True:
            try:
                _check_objects(conn, root)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                _create_schema(conn, root)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)  # brief backoff before retrying the lock, not synchronisation
    except BaseException:
        conn.close()
        raise
    return conn


def _check_objects(conn: sqlite3.Connection, root: Path) -> None:
    try:
        found = {(r[0], r[1]) for r in conn.execute("SELECT type, name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc):
            raise
        raise ValidationError(
            f"store {root}: {DB_NAME} is not a readable SQLite database ({exc})",
            action=f"remove {root / DB_NAME} and record again, or use another store folder",
        ) from None
    strange = sorted(f"{kind} {name!r}" for kind, name in found - _OBJECTS)
    if strange:
        raise ValidationError(
            f"store {root}: {DB_NAME} holds {', '.join(strange)[:300]}, which venice_nb never "
            "makes (it may have been tampered with); nothing was read from it",
            action=f"remove {root / DB_NAME} (the store's index) or use another store folder",
        )


def _create_schema(conn: sqlite3.Connection, root: Path) -> None:
    """Create the tables, or bring an older store up to date, in one write transaction.

    A second process doing the same waits on BEGIN IMMEDIATE, then reads the version again
    and finds the work done.
    """
    if _schema_version(conn, root) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _schema_version(conn, root)
        if version < SCHEMA_VERSION:
            if version == 1:  # keyed on the fingerprint alone: move the rows to the new key
                conn.execute("ALTER TABLE results RENAME TO results_v1")
            if version == 2:  # only new columns, with defaults
                for name, kind in _V3_COLUMNS:
                    conn.execute(f"ALTER TABLE results ADD COLUMN {name} {kind}")
            conn.execute(_RESULTS_TABLE)
            conn.execute(_CATALOG_TABLE)
            if version == 1:
                columns = ", ".join(_V2_COLUMNS)
                conn.execute(f"INSERT INTO results ({columns}) SELECT {columns} FROM results_v1")
                conn.execute("DROP TABLE results_v1")  # and its indexes, recreated below
            for statement in _INDEXES:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _schema_version(conn: sqlite3.Connection, root: Path) -> int:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"the store at {root} was written by a newer venice_nb (schema {version}); "
            "upgrade venice_nb or use another store folder"
        )
    return version
