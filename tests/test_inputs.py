"""Every kind of image input reaches the backend as a valid image, sent as-is when possible."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import venice_nb as vnb

from ._spec import SpecCheckingTransport
from .conftest import ImageServer, png_bytes, sample_path


def _sent_image(transport: SpecCheckingTransport) -> Image.Image:
    body = json.loads(transport.posts[-1].content)
    return Image.open(io.BytesIO(base64.b64decode(body["image"])))


def _sent_bytes(transport: SpecCheckingTransport) -> bytes:
    return base64.b64decode(json.loads(transport.posts[-1].content)["image"])


def test_path_str_and_pathlike(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    path = sample_path("coffee")
    a = client.edit(str(path), "blur")
    b = client.edit(path, "blur")
    assert _sent_bytes(transport) == path.read_bytes()  # accepted JPEG: its own bytes, no re-encode
    assert a.data == b.data


def test_bytes_and_file_object(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    data = sample_path("cat").read_bytes()
    client.edit(data, "blur")
    with sample_path("cat").open("rb") as fh:
        client.edit(fh, "blur")
    assert _sent_bytes(transport) == data


def test_pil_image(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    img = Image.open(sample_path("astronaut")).convert("RGB")
    client.edit(img, "blur")
    sent = _sent_image(transport)
    assert sent.format == "PNG" and sent.size == img.size
    assert np.array_equal(np.asarray(sent.convert("RGB")), np.asarray(img))


@pytest.mark.parametrize(
    ("array", "mode"),
    [
        (np.full((300, 300), 128, np.uint8), "L"),
        (np.zeros((300, 300, 3), np.uint8), "RGB"),
        (np.zeros((300, 300, 4), np.uint8) + 255, "RGBA"),
        (np.ones((300, 300), bool), "L"),
        (np.full((300, 300, 3), 0.5), "RGB"),
    ],
)
def test_numpy_arrays(
    client: vnb.Client, transport: SpecCheckingTransport, array: np.ndarray, mode: str
) -> None:
    client.edit(array, "blur")
    sent = _sent_image(transport)
    assert sent.mode == mode and sent.size == (300, 300)
    if array.dtype == bool:
        assert np.asarray(sent).max() == 255
    if array.dtype.kind == "f":
        assert np.asarray(sent)[0, 0, 0] == 128


def test_data_url(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    data = png_bytes()
    client.edit("data:image/png;base64," + base64.b64encode(data).decode(), "blur")
    assert _sent_bytes(transport) == data


def test_url_is_sent_as_is_never_downloaded(
    client: vnb.Client, transport: SpecCheckingTransport, image_server: ImageServer
) -> None:
    url = image_server("street.png", png_bytes((400, 300)))
    res = client.edit(url, "night")
    assert json.loads(transport.posts[-1].content)["image"] == url
    assert [r.method for r in transport.requests].count("POST") == 1
    assert res.size == (1024, 768)  # the default 1K tier


def test_exif_orientation_is_applied(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    img = Image.new("RGB", (400, 200), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    res = client.edit(buf.getvalue(), "blur")
    assert _sent_image(transport).size == (200, 400)
    assert "EXIF" in " ".join(res.fit_actions)


def test_unaccepted_format_is_reencoded(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (300, 300), "red").save(buf, "BMP")
    client.edit(buf.getvalue(), "blur")
    assert _sent_image(transport).format == "PNG"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_exif_orientation_in_png_and_webp(
    client: vnb.Client, transport: SpecCheckingTransport, fmt: str
) -> None:
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90 degrees counter-clockwise to display
    buf = io.BytesIO()
    Image.new("RGB", (400, 200), (10, 200, 10)).save(buf, fmt, exif=exif)
    client.edit(buf.getvalue(), "blur")
    assert _sent_image(transport).size == (200, 400)


def test_decompression_bomb_is_a_validation_error(
    client: vnb.Client, transport: SpecCheckingTransport, tmp_path: Path
) -> None:
    path = tmp_path / "huge.png"
    Image.new("1", (14_000, 14_000)).save(path)  # 196 Mpx: Pillow refuses to decode it
    with pytest.raises(vnb.ValidationError, match="far more pixels"):
        client.edit(path, "blur", fit=True)
    assert not transport.posts


def test_numpy_input_is_copied_not_aliased(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    arr = np.zeros((300, 300), np.uint8)
    from venice_nb._images import to_pil

    img = to_pil(arr)
    arr[:] = 255
    assert np.asarray(img).max() == 0


def _saved(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _photo(mode: str = "RGB", size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(
        mode
    )


ACCEPTED = {
    "png-rgb": lambda: _saved(_photo(), "PNG"),
    "png-rgba": lambda: _saved(_photo("RGBA"), "PNG"),
    "png-palette": lambda: _saved(_photo("P"), "PNG"),
    "png-1bit": lambda: _saved(_photo("1"), "PNG"),
    "png-16bit": lambda: _saved(Image.new("I;16", (320, 240), 999), "PNG"),
    "png-exif-upright": lambda: _saved(_photo(), "PNG", exif=Image.Exif()),
    "jpeg": lambda: _saved(_photo(), "JPEG"),
    "jpeg-progressive": lambda: _saved(_photo(), "JPEG", progressive=True),
    "jpeg-trailing-bytes": lambda: _saved(_photo(), "JPEG") + b"\x00camera-data",
    "webp": lambda: _saved(_photo(), "WEBP"),
}


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_accepted_files_are_checked_from_headers_without_decoding(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files Venice reads go out as their own bytes, and nothing decodes their pixels first
    (a decode would cost the image's full size in memory just to read a header)."""
    from PIL import ImageFile

    from venice_nb._images import load_image

    data = ACCEPTED[kind]()

    def no_decode(self: object) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    payload = load_image(data)
    assert payload.data == data and payload.size == (320, 240) and not payload.actions


@pytest.mark.parametrize("kind", ["png-rgb", "png-16bit", "jpeg", "jpeg-progressive", "webp"])
def test_cut_files_are_refused_before_sending(
    client: vnb.Client, transport: SpecCheckingTransport, kind: str
) -> None:
    data = ACCEPTED[kind]()
    cut = data[: len(data) * 2 // 3]
    with pytest.raises(vnb.ValidationError, match="unreadable") as info:
        client.edit(cut, "blur")
    assert info.value.field == "image" and info.value.action
    assert not transport.posts
