"""Files of a store or a recording, treated as someone else's: they may have come in a shared
folder, so nothing in them is trusted until checked.

* Names stay inside their folder: a relative name with no ``..``, no absolute part, and no
  symbolic link on the way (checked with ``lstat``, and the last step opened ``O_NOFOLLOW``).
  The folder itself is the caller's choice and may be reached through links.
* Only regular files are read, and only up to a bound: opened ``O_NONBLOCK`` (a FIFO cannot
  hang the open) and checked with ``fstat`` on the open descriptor (no ``/dev/zero``, no FIFO,
  no folder), then read at most ``limit + 1`` bytes.
* Writes go only to regular files or to names that do not exist yet, in folders that are real
  folders inside the root: never through a link.
* An image is checked before anything decodes it: its hash, its magic bytes and header, and a
  pixel limit no answer Venice gives exceeds (a 17 KB PNG can claim 144 Mpx: refused from the
  header, at no cost).

Every refusal is a ``ValidationError`` that names the file (and the line or row, given by the
caller in ``where``) and says what to do.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from pathlib import Path

from .._constants import ACCEPTED_INPUT_MIME, MAX_PIXELS
from .._exceptions import ValidationError
from .._probe import open_header, sniff_mime

__all__ = [
    "MAX_IMAGE_FILE_BYTES",
    "check_image",
    "checked_image",
    "inside",
    "read_regular",
    "real_dir",
    "writable",
]

# The largest image file read from a store or recording: Venice answers at most 33 Mpx, which
# even as 16-bit RGBA PNG stays far below this.
MAX_IMAGE_FILE_BYTES = 256 * 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _refuse(what: str, why: str, action: str) -> ValidationError:
    return ValidationError(f"{what}: {why}", action=action)


_TAMPERED = ("this folder may have been tampered with: remove that entry (a shared recording: "
             "check it out again from git)")


def inside(root: Path, relative: str, *, where: str | None = None) -> Path:
    """``root / relative`` after checking that it stays inside ``root`` and that no part of it
    that exists is a symbolic link. ``where`` names it in refusals (default: the path)."""
    what = where or str(root / relative)
    parts = relative.replace("\\", "/").split("/")
    if (not relative or relative.startswith(("/", "\\")) or Path(relative).is_absolute()
            or any(p in ("", ".", "..") or "\0" in p or ":" in p for p in parts)):
        raise _refuse(what, f"the name {relative!r:.120} leaves its folder", _TAMPERED)
    path = root
    for part in parts:
        path = path / part
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            break  # nothing further exists: nothing further can be a link
        except NotADirectoryError:
            raise _refuse(what, f"{path.parent.name!r} is a file, not a folder",
                          _TAMPERED) from None
        if stat.S_ISLNK(info.st_mode):
            raise _refuse(what, f"{path} is a symbolic link; venice_nb never follows links "
                          "out of a store or recording", _TAMPERED)
    return root.joinpath(*parts)


def real_dir(root: Path, relative: str, *, where: str | None = None) -> Path:
    """The folder ``root / relative``, made if missing, refused when a link or not a folder."""
    path = inside(root, relative, where=where)
    root.mkdir(parents=True, exist_ok=True)  # the root is the caller's choice
    current = root
    for part in relative.replace("\\", "/").split("/"):
        current = current / part
        with contextlib.suppress(FileExistsError):
            current.mkdir()
        info = os.lstat(current)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise _refuse(where or str(path), f"{current} is not a folder", _TAMPERED)
    return path


def writable(root: Path, relative: str, *, where: str | None = None) -> Path:
    """A file name inside ``root`` that may be replaced: absent, or a regular file (a write
    renames a new file over it, so even a race never writes through a link)."""
    path = inside(root, relative, where=where)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return path
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(where or str(path), "is not a regular file, so it is not overwritten",
                      "remove it (or rename it), then try again")
    return path


class Unreadable(Exception):
    """Why a file someone else named or made is not read, in words that follow its name
    ("… is a symbolic link"); ``too_large`` tells a size refusal from the others."""

    def __init__(self, why: str, *, too_large: bool = False) -> None:
        super().__init__(why)
        self.too_large = too_large


def read_bounded(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit``: the one way venice_nb reads a
    file it did not write (a store's, a recording's, a model the user names).

    Opened without following a link and non-blocking (a FIFO cannot hang it), then checked on
    the descriptor (a path can be swapped between a check and an open, a descriptor cannot),
    then read no further than ``limit`` even if it grows meanwhile.

    Raises:
        FileNotFoundError: It does not exist (or a folder on its way is a file).
        Unreadable: It is a link, a folder, a FIFO, a device or larger than ``limit``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY | _CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise FileNotFoundError(errno.ENOENT, "no such file", os.fspath(path)) from None
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW met a link
            raise Unreadable("is a symbolic link; venice_nb never follows links to files "
                             "others made") from None
        if exc.errno == errno.EISDIR:
            raise Unreadable("is a folder, not a file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO"
                    if stat.S_ISFIFO(info.st_mode) else "a device or special file")
            raise Unreadable(f"is {kind}, not a regular file")
        if info.st_size > limit:
            raise _over(info.st_size, limit)
        chunks, got = [], 0
        while got <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > limit:  # it grew while being read
            raise _over(got, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _over(size: int, limit: int) -> Unreadable:
    return Unreadable(f"is {size:,} bytes or more, over the {limit:,} read from such a file",
                      too_large=True)


def read_regular(path: Path, *, limit: int, where: str | None = None) -> bytes:
    """The bytes of the regular file ``path`` of a store or recording, at most ``limit``
    (`read_bounded`, its refusals as a ``ValidationError`` saying what to do).

    ``FileNotFoundError`` when it does not exist; a ``ValidationError`` when it is a link, a
    FIFO, a device, a folder or larger than ``limit``.
    """
    try:
        return read_bounded(path, limit)
    except Unreadable as exc:
        action = ("check it is the file venice_nb wrote; remove or replace it" if exc.too_large
                  else _TAMPERED)
        raise _refuse(where or str(path), str(exc), action) from None


def check_image(data: bytes, *, where: str) -> tuple[int, int]:
    """(width, height) of an image a store or recording holds, checked from its magic bytes and
    header alone (no pixel decoded): a PNG, JPEG or WebP of at most Venice's pixel limit."""
    action = "restore the image (from git, for a recording) or record the result again"
    if sniff_mime(data) not in ACCEPTED_INPUT_MIME:
        raise ValidationError(f"{where}: is not a PNG, JPEG or WebP image", action=action)
    try:
        with open_header(data, where) as img:
            width, height = img.size
    except ValidationError as exc:
        raise ValidationError(exc.message, action=action) from None
    if width * height > MAX_PIXELS:
        raise ValidationError(
            f"{where}: the image says it is {width}x{height} = {width * height:,} pixels, more "
            f"than any answer Venice gives ({MAX_PIXELS:,}); it is not decoded", action=action)
    return width, height


def checked_image(path: Path, sha256: str, *, where: str) -> bytes | None:
    """The image file's bytes when present, matching ``sha256`` and a sound image (see
    ``check_image``); None when missing or of other bytes (damaged). Refusals raise."""
    try:
        data = read_regular(path, limit=MAX_IMAGE_FILE_BYTES, where=where)
    except FileNotFoundError:
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    check_image(data, where=where)
    return data
