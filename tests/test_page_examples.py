"""The pages' own examples, run verbatim against ``venice-nb serve``, produce images.

The examples are cut out of ``image-editing-guide.txt`` at run time, not copied here. Only the
host changes: ``https://api.venice.ai/api/v1`` becomes the served URL and the pages'
``https://example.com/`` images are served from loopback. One repair is unavoidable: the saved
page has Cloudflare's e-mail obfuscation (``[email protected]``) where each curl ``-F``
file upload was; they are restored as uploads of the files the JSON examples name.
"""

from __future__ import annotations

import io
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import venice_nb as vnb

from .conftest import ImageServer

GUIDE = Path(__file__).resolve().parents[2] / "shared" / "venice" / "image-editing-guide.txt"
VENICE = "https://api.venice.ai/api/v1"
OBFUSCATED = "[email\xa0protected]"  # with a no-break space, as saved
# The uploads the obfuscation hid, in page order (multi-edit base + mask, then the cutout).
UPLOADS = ("images=@street-scene.png", "images=@billboard-mask.png", "image=@product-photo.jpg")
KEY = "page-example-key"

pytestmark = pytest.mark.skipif(not GUIDE.exists(), reason="needs the seed pages")


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """``venice-nb serve`` on a free port, stopped with Ctrl-C afterwards."""
    cli = Path(sys.executable).parent / "venice-nb"
    proc = subprocess.Popen([str(cli), "serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=60), "venice-nb serve printed nothing"
        url = re.search(r"http://127\.0\.0\.1:\d+/api/v1", proc.stdout.readline())
        assert url is not None
        yield url[0]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def _page() -> str:
    return GUIDE.read_text("utf-8")


def python_example() -> str:
    text = _page()
    start = text.index("import base64")
    end = text.index("f.write(response.content)", start) + len("f.write(response.content)")
    return text[start:end]


def curl_examples() -> list[str]:
    lines, blocks = _page().splitlines(), []
    for i, line in enumerate(lines):
        if line.startswith("curl https://api.venice.ai"):
            block = [line]
            # continued lines, and a quoted -d body spanning lines
            while block[-1].rstrip().endswith("\\") or "\n".join(block).count("'") % 2:
                block.append(lines[i + len(block)])
            blocks.append("\n".join(block))
    return blocks


def json_examples() -> list[tuple[str, dict[str, Any]]]:
    """(endpoint, body) of the JSON requests shown for /image/edit and /image/multi-edit."""
    text, out = _page(), []
    for match in re.finditer(r"\n\{\n.*?\n\}\n", text, re.S):
        body = json.loads(match.group(0))
        out.append(("/image/edit" if "image" in body else "/image/multi-edit", body))
    return out


def _is_image(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        size: tuple[int, int] = img.size
    return size


@pytest.fixture
def example_files(image_server: ImageServer) -> str:
    """The pages' example.com images, served on loopback; returns their base URL."""
    photo = vnb.sample("coffee").read_bytes()
    mask = io.BytesIO()
    Image.new("L", (600, 400), 0).save(mask, "PNG")
    url = ""
    for name, data in (("venice-canal.jpg", photo), ("street-scene.png", photo),
                       ("billboard-mask.png", mask.getvalue()),
                       ("product-photo.jpg", vnb.sample("product").read_bytes())):  # fmt: skip
        url = image_server(name, data)
    return url.rsplit("/", 1)[0] + "/"


def test_the_pages_show_the_examples_this_test_runs() -> None:
    assert '"model": "qwen-edit"' in python_example()
    assert len(curl_examples()) == 3
    assert _page().count(OBFUSCATED) == len(UPLOADS)
    assert [path for path, _ in json_examples()] == ["/image/edit", "/image/multi-edit"]


def test_python_example(served: str, tmp_path: Path) -> None:
    shutil.copy(vnb.sample("coffee"), tmp_path / "input.jpg")
    script = tmp_path / "example.py"
    script.write_text(python_example().replace(VENICE, served), "utf-8")
    env = {**os.environ, "VENICE_API_KEY": KEY, "NO_PROXY": "*"}
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert _is_image((tmp_path / "edited.png").read_bytes()) == (1024, 683)  # the 1K tier


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_examples(served: str, example_files: str, tmp_path: Path) -> None:
    for name in ("street-scene.png", "billboard-mask.png", "product-photo.jpg"):
        data = httpx.get(example_files + name, trust_env=False).content
        (tmp_path / name).write_bytes(data)
    uploads = iter(UPLOADS)
    outputs = []
    for command in curl_examples():
        command = command.replace(VENICE, served).replace("https://example.com/", example_files)
        while OBFUSCATED in command:
            command = command.replace(OBFUSCATED, next(uploads), 1)
        outputs.append(re.search(r"-o (\S+)", command)[1])  # type: ignore[index]
        env = {**os.environ, "VENICE_API_KEY": KEY, "NO_PROXY": "*"}
        run = subprocess.run(["bash", "-c", command + " --fail-with-body --silent --show-error"],
                             cwd=tmp_path, env=env, capture_output=True, timeout=120)  # fmt: skip
        assert run.returncode == 0, (command, run.stderr, run.stdout)
    assert outputs == ["multi-edited.png", "cutout.png", "cutout.png"]
    for name in set(outputs):
        assert _is_image((tmp_path / name).read_bytes())


def test_json_examples(served: str, example_files: str) -> None:
    for path, body in json_examples():
        text = json.dumps(body).replace("https://example.com/", example_files)
        resp = httpx.post(f"{served}{path}", content=text, trust_env=False, timeout=120,
                          headers={"Authorization": f"Bearer {KEY}",
                                   "Content-Type": "application/json"})  # fmt: skip
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "image/png"
        assert _is_image(resp.content)
        assert resp.headers["x-venice-deprecated-replacement"] == "qwen-image-2-edit"
