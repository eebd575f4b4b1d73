"""No key means the local backend, said out loud; the `venice-nb` CLI works end to end."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image

import venice_nb as vnb
from venice_nb._backend import LocalBackend

from ._serve import serve
from .conftest import sample_path


def test_no_key_uses_the_local_backend_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="venice_nb")
    with vnb.Client() as client:
        assert client.is_local and client.base_url.startswith("http://127.0.0.1:")
        assert "local backend" in repr(client)
        res = client.remove_background(sample_path("product"))
    assert "no VENICE_API_KEY set" in caplog.text and "local backend" in caplog.text
    assert res.is_local and "LOCAL" in res._repr_html_()


def test_a_key_means_venice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENICE_API_KEY", "k-123")
    with vnb.Client() as client:
        assert not client.is_local and client.base_url == "https://api.venice.ai/api/v1"
    monkeypatch.setenv("VENICE_BASE_URL", "http://127.0.0.1:1/api/v1")
    with vnb.Client() as client:
        assert client.base_url == "http://127.0.0.1:1/api/v1"


def _cli(
    *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENICE_")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "venice_nb._cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_cli_edit_multi_edit_remove_bg_and_models(tmp_path: Path) -> None:
    out = tmp_path / "night.png"
    done = _cli(
        "edit",
        str(sample_path("cat")),
        "-p",
        "make it night",
        "--model",
        "qwen-image-2-edit",
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (1024, 681)  # the default 1K tier
    assert "LOCAL" in done.stdout

    mask = tmp_path / "mask.png"
    Image.fromarray(vnb.masks.rect((300, 451), (10, 10, 200, 200))).save(mask)
    done = _cli(
        "multi-edit",
        str(sample_path("cat")),
        str(mask),
        "-p",
        "red",
        "--multipart",
        "-o",
        str(tmp_path / "red.png"),
    )
    assert done.returncode == 0, done.stderr

    done = _cli("remove-bg", str(sample_path("product")), "-o", str(tmp_path / "cut.png"))
    assert done.returncode == 0 and Image.open(tmp_path / "cut.png").mode == "RGBA"

    done = _cli("models")
    assert done.returncode == 0 and "gpt-image-2-edit" in done.stdout and "$0.340" in done.stdout


def test_cli_reports_errors_with_the_action(tmp_path: Path) -> None:
    done = _cli(
        "edit", str(sample_path()), "-p", "x", "--model", "nope", "-o", str(tmp_path / "x.png")
    )
    assert done.returncode == 1
    assert "unknown edit model" in done.stderr and "what to do" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_serve_answers_on_its_port() -> None:
    with serve() as url:
        models = httpx.get(f"{url}/models", params={"type": "inpaint"}, timeout=10).json()
        assert models["object"] == "list" and models["data"]
        with vnb.Client(base_url=url) as client:
            assert client.edit(sample_path(), "blur").is_local


def test_cli_serve_fault_and_auth_flags() -> None:
    with serve("--faults", "500=1.0", "--reject-key", "bad-key") as url:
        with vnb.Client("bad-key", base_url=url) as c, pytest.raises(vnb.AuthenticationError):
            c.edit(sample_path(), "blur")
        with vnb.Client("good", base_url=url, max_retries=0) as c, \
                pytest.raises(vnb.InternalServerError):
            c.edit(sample_path(), "blur")
    assert _cli("serve", "--faults", "700=0.1").returncode == 2


@pytest.mark.parametrize("name", vnb.samples())
def test_samples_exist(name: str) -> None:
    assert Image.open(vnb.sample(name)).size[0] * Image.open(vnb.sample(name)).size[1] >= 65_536


def test_a_local_backend_url_is_labelled_local(backend: LocalBackend) -> None:
    with vnb.Client("k", base_url=backend.url) as client:
        assert client.is_local
        assert client.remove_background(sample_path("product")).is_local


def test_a_served_backend_in_another_process_is_recognised_by_its_model_names() -> None:
    with serve() as url, vnb.Client("k", base_url=url) as client:
        assert client.remove_background(sample_path("product")).is_local
        assert client.store is None, "a server on this machine is free: nothing to store"


def test_the_cli_offers_every_edit_option() -> None:
    """The CLI forwards ``_params.EDIT_OPTIONS``; each has a flag (upload is --multipart)."""
    from venice_nb._cli import _parser
    from venice_nb._params import EDIT_OPTIONS, MULTI_EDIT_ONLY

    for command in ("edit", "multi-edit"):
        args = vars(_parser().parse_args([command, "in.png", "-p", "x", "-o", "out.png"]))
        wanted = set(EDIT_OPTIONS) - {"upload"}
        if command == "edit":
            wanted -= MULTI_EDIT_ONLY
        assert wanted <= set(args), f"{command} lacks --{', --'.join(wanted - set(args))}"
        assert "multipart" in args
