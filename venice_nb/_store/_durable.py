"""Durable files: written all or nothing (temp file, fsync, rename), read back only when intact.

Temp files are named ``.tmp-<pid>-<random>.part`` so that a later opener can tell one a killed
writer left behind (its process is gone) from one a live writer is still filling.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["holds", "read_checked", "remove_orphans", "temp_files", "touch", "write_atomic"]

TMP_PREFIX = ".tmp-"
_TMP_SUFFIX = ".part"


def read_checked(path: Path, sha256: str) -> bytes | None:
    """The file's bytes when present and matching its hash, else None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def holds(path: Path, sha256: str) -> bool:
    """Whether ``path`` holds exactly these bytes; if so its mtime is refreshed (it is in use)."""
    return read_checked(path, sha256) is not None and touch(path)


def touch(path: Path) -> bool:
    """Set the file's mtime to now; False when it is gone."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def write_atomic(path: Path, data: bytes, *, temp_dir: Path | None = None) -> None:
    """Temp file + fsync + rename + fsync of the folder: all or nothing.

    ``temp_dir`` (default: the target's folder) must be on the same file system; one folder
    for all temp files lets an opener find a killed writer's leftovers with one listing.
    """
    temp_dir = temp_dir if temp_dir is not None else path.parent
    for folder in (path.parent, temp_dir):
        new_dirs = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        for new in reversed(new_dirs):  # make the new folders' entries durable too
            _fsync_dir(new.parent)
    fd, tmp = tempfile.mkstemp(dir=temp_dir, prefix=f"{TMP_PREFIX}{os.getpid()}-",
                               suffix=_TMP_SUFFIX)
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


def temp_files(folder: Path) -> Iterator[Path]:
    """The temp files in ``folder`` (none when it does not exist)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:  # gone, or not a folder
        return
    for entry in entries:
        if entry.name.startswith(TMP_PREFIX) and entry.name.endswith(_TMP_SUFFIX):
            yield Path(entry.path)


def remove_orphans(paths: Iterable[Path], *, older_than: float) -> int:
    """Delete temp files no live writer owns; returns how many went.

    A temp file goes when the process named in it is gone from this machine, or (a writer on
    another machine sharing the folder, a reused pid, an old-style name) when it is older than
    ``older_than`` seconds. A live writer's file is never touched: it renames it when done.
    """
    cutoff = time.time() - older_than
    removed = 0
    for path in paths:
        name = path.name
        if not (name.startswith(TMP_PREFIX) and name.endswith(_TMP_SUFFIX)):
            continue
        try:
            if _writer_alive(name) and path.stat().st_mtime > cutoff:
                continue
            path.unlink()
        except FileNotFoundError:  # renamed into place, or removed by another opener
            continue
        removed += 1
    return removed


def _writer_alive(name: str) -> bool:
    """Whether the process named in a temp file's name may still be writing it."""
    pid_text = name[len(TMP_PREFIX):].split("-", 1)[0]
    if not pid_text.isdigit():
        return True  # not ours to judge by pid: only its age counts
    pid = int(pid_text)
    if pid == os.getpid() or os.name == "nt":  # Windows: os.kill(pid, 0) would end it
        return True  # this process: one of its threads may be writing it now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists under another user (or cannot be asked)
        return True
    return True


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
