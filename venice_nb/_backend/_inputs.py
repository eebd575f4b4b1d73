"""Turn request image values (file bytes, base64, data URL, loopback URL) into checked PIL images.

The local backend never leaves this machine: it fetches only URLs whose host is loopback, and
only for callers on this machine unless the server was started with ``allow_remote_fetch``
(``fetch_refusal`` is the whole policy). Otherwise a backend served beyond loopback would let
anyone on the network probe this machine's local ports through it.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from PIL import Image

from .._constants import MAX_IMAGE_BYTES, MAX_PIXELS, MIN_PIXELS
from .._net import is_loopback_host
from ._api_error import ApiError, bad_request

DECODABLE_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP"}
URL_FETCH_TIMEOUT = 10.0
_DATA_URL = re.compile(r"^data:([\w.+/-]*)(;[\w=.+-]*)*?;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(rb"\s+")


def is_url(value: str) -> bool:
    return value[:8].lower().startswith(("http://", "https://"))


def too_large(field: str, size: int) -> ApiError:
    return ApiError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"{field}: the image is {size:,} bytes; files must be smaller than "
        f"{MAX_IMAGE_BYTES:,} bytes. Downscale or re-encode it (e.g. as JPEG) and retry.",
    )


def decode_base64(value: str, field: str, label: str | None = None) -> bytes:
    """Raw base64 or a ``data:...;base64,`` URL -> bytes; 400 CORRUPTED_IMAGE otherwise."""
    match = _DATA_URL.match(value)
    payload = value[match.end() :] if match else value
    if len(payload) * 3 // 4 >= MAX_IMAGE_BYTES + 3:
        raise too_large(label or field, len(payload) * 3 // 4)
    raw = _WHITESPACE.sub(b"", payload.encode("ascii", "replace"))
    try:
        if b"-" in raw or b"_" in raw:
            return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
        return base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(
            "not a valid base64 string, data URL or http(s) URL",
            field=field,
            label=label,
            code="CORRUPTED_IMAGE",
        ) from None


@dataclass(frozen=True)
class FetchPolicy:
    """Who is asking, through which bind address, and whether remote callers may use URLs."""

    bind_host: str = "127.0.0.1"
    caller_host: str = "127.0.0.1"
    allow_remote_fetch: bool = False


LOCAL_CALLER = FetchPolicy()  # a caller on this machine (in-process use and tests)


def fetch_refusal(policy: FetchPolicy, url_host: str | None) -> str | None:
    """Why the backend will not fetch a URL on ``url_host`` for this caller, or None if it will.

    Only loopback hosts are ever fetched. A caller on another machine (possible only when the
    server is bound beyond loopback) gets them only if the server allows remote fetches.
    """
    if not is_loopback_host(url_host):
        return (
            f"the local venice_nb backend only fetches loopback URLs (127.0.0.0/8, localhost, "
            f"::1), not {url_host!r}. Send the image bytes instead (base64, data URL or a file)."
        )
    if is_loopback_host(policy.caller_host) or policy.allow_remote_fetch:
        return None
    return (
        f"this backend (serving on {policy.bind_host}) fetches URLs only for callers on its "
        f"own machine, not for {policy.caller_host}. Send the image bytes instead (base64, data "
        "URL or a file), or start the server with --allow-remote-fetch."
    )


def fetch_url(
    url: str, field: str, label: str | None = None, policy: FetchPolicy = LOCAL_CALLER
) -> bytes:
    """GET a URL the policy allows (see ``fetch_refusal``), capped at the size limit."""
    refusal = fetch_refusal(policy, urlsplit(url).hostname)
    if refusal is not None:
        raise bad_request(refusal, field=field, label=label)
    try:
        with (
            httpx.Client(timeout=URL_FETCH_TIMEOUT, trust_env=False, follow_redirects=False) as c,
            c.stream("GET", url) as resp,
        ):
            if resp.status_code != 200:
                raise bad_request(
                    f"fetching {url} returned HTTP {resp.status_code}; give a URL that serves "
                    "the image",
                    field=field,
                    label=label,
                )
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size >= MAX_IMAGE_BYTES:
                    raise too_large(label or field, size)
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise bad_request(f"could not fetch {url}: {exc}", field=field, label=label) from None


def image_bytes(
    value: str | bytes, field: str, label: str | None = None, policy: FetchPolicy = LOCAL_CALLER
) -> bytes:
    """File bytes as given; strings are base64, data URLs or loopback http(s) URLs."""
    if isinstance(value, bytes):
        data = value
    elif is_url(value):
        data = fetch_url(value, field, label, policy)
    else:
        data = decode_base64(value, field, label)
    if len(data) >= MAX_IMAGE_BYTES:
        raise too_large(label or field, len(data))
    if not data:
        raise bad_request("the image is empty", field=field, label=label, code="CORRUPTED_IMAGE")
    return data


def open_image(
    data: bytes, field: str, *, check_min: bool = True, label: str | None = None
) -> Image.Image:
    """Decode and size-check an image (PNG, JPEG or WebP). Pixel limits are checked from the
    header, before the pixels are decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or ""
    except Image.DecompressionBombError:
        raise _too_many_pixels(label or field, None) from None
    except Exception:
        raise bad_request(
            "the data is not a decodable image; send a PNG, JPEG or WebP file",
            field=field,
            label=label,
            code="CORRUPTED_IMAGE",
        ) from None
    if fmt not in DECODABLE_FORMATS:
        raise bad_request(
            f"{fmt or 'this'} images are not supported; send PNG, JPEG or WebP",
            field=field,
            label=label,
            code="CORRUPTED_IMAGE",
        )
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise _too_many_pixels(label or field, (w, h))
    if check_min and w * h < MIN_PIXELS:
        raise bad_request(
            f"the image is {w}x{h} = {w * h:,} pixels; edit inputs need at least "
            f"{MIN_PIXELS:,} pixels (e.g. 256x256). Upscale it and retry.",
            field=field,
            label=label,
            code="IMAGE_TOO_SMALL",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img.load()
    except Exception:
        raise bad_request(
            "the image data is truncated or corrupted; re-export the file",
            field=field,
            label=label,
            code="CORRUPTED_IMAGE",
        ) from None
    return img


def _too_many_pixels(field: str, size: tuple[int, int] | None) -> ApiError:
    dims = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels" if size else "too many pixels"
    return ApiError(
        422,
        "IMAGE_TOO_LARGE",
        f"{field}: the image has {dims}; the maximum is {MAX_PIXELS:,} pixels "
        "(e.g. 7680x4320). Downscale it and retry.",
    )
