"""Request bodies: Content-Type dispatch, JSON and multipart/form-data parsing.

Multipart is parsed by hand (stdlib ``email`` only for the Content-Disposition parameters), since
``cgi`` is gone from newer Pythons. Multipart text fields arrive as strings; files as bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message
from typing import Any

from ._api_error import ApiError, bad_request


@dataclass(frozen=True)
class Part:
    """One multipart part: a file (has a filename or a non-text Content-Type) or a text field."""

    name: str
    filename: str | None
    content_type: str
    data: bytes

    @property
    def is_file(self) -> bool:
        return self.filename is not None or not self.content_type.lower().startswith("text/")

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def media_type(content_type: str | None) -> tuple[str, Message]:
    """(lower-cased media type, parsed header) of a Content-Type value."""
    msg = Message()
    msg["content-type"] = content_type or ""
    return (content_type or "").split(";", 1)[0].strip().lower(), msg


def unsupported_media(content_type: str | None) -> ApiError:
    shown = content_type or "none"
    return ApiError(
        415,
        "INVALID_CONTENT_TYPE",
        f"Unsupported Content-Type {shown!r}; send application/json or multipart/form-data.",
    )


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise bad_request(f"malformed JSON body ({exc}); send a JSON object") from None


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    _, header = media_type(content_type)
    boundary = header.get_param("boundary", header="content-type")
    if not isinstance(boundary, str) or not boundary:
        raise bad_request("multipart/form-data Content-Type has no boundary parameter")
    delim = b"--" + boundary.encode("latin-1")
    start = body.find(delim)
    if start < 0 or body.find(delim + b"--") < 0:
        raise bad_request("malformed multipart/form-data body (missing boundary delimiters)")
    parts: list[Part] = []
    pos = start + len(delim)
    while not body.startswith(b"--", pos):
        nxt = body.find(b"\r\n" + delim, pos)
        if nxt < 0:
            raise bad_request("malformed multipart/form-data body (unterminated part)")
        parts.append(_parse_part(body[pos:nxt]))
        pos = nxt + 2 + len(delim)
    return parts


def _parse_part(chunk: bytes) -> Part:
    if chunk.startswith(b"\r\n"):
        chunk = chunk[2:]
    head, sep, data = chunk.partition(b"\r\n\r\n")
    if not sep:
        raise bad_request("malformed multipart/form-data part (no header terminator)")
    msg = Message()
    for line in head.decode("utf-8", "replace").split("\r\n"):
        key, colon, value = line.partition(":")
        if colon:
            msg[key.strip()] = value.strip()
    name = msg.get_param("name", header="content-disposition")
    if not isinstance(name, str) or msg.get_content_disposition() != "form-data":
        raise bad_request("multipart part without Content-Disposition: form-data; name=...")
    filename = msg.get_filename()
    return Part(name, filename, msg.get("content-type", "text/plain"), data)
