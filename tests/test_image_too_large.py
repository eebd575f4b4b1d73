"""A 422 ``IMAGE_TOO_LARGE`` is its own error, not a content-policy refusal, and says fit=."""

from __future__ import annotations

import io

import pytest
from PIL import Image

import venice_nb as vnb
from venice_nb._constants import MAX_PIXELS
from venice_nb._exceptions import error_from_response

from .conftest import ImageServer


def _huge_png() -> bytes:
    buf = io.BytesIO()  # a tiny file with too many pixels
    Image.new("1", (8000, MAX_PIXELS // 8000 + 1)).save(buf, "PNG")
    return buf.getvalue()


def test_backend_answer_becomes_image_too_large(
    client: vnb.Client, image_server: ImageServer
) -> None:
    url = image_server("huge.png", _huge_png())  # a URL: the client sends it unopened
    with pytest.raises(vnb.ImageTooLargeError) as info:
        client.edit(url, "blur")
    err = info.value
    assert not isinstance(err, vnb.ContentPolicyError)
    assert (err.status, err.code) == (422, "IMAGE_TOO_LARGE")
    assert "fit=True" in err.action


def test_only_that_code_changes_class() -> None:
    policy = error_from_response(422, {}, b'{"error": "no", "code": "CONTENT_POLICY_VIOLATION"}')
    large = error_from_response(422, {}, b'{"error": "big", "code": "IMAGE_TOO_LARGE"}')
    assert type(policy) is vnb.ContentPolicyError and type(large) is vnb.ImageTooLargeError
