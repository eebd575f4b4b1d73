"""Shared recordings and store folders as an attacker would ship them.

A recording is meant to be committed and shared, so every file in it (and a ``.store`` shipped
with it) can come from anyone. Each test builds a real recording from real results (a client
on the local backend, over loopback HTTP, into a real SQLite store), then tampers with it as a
hostile author could, and checks that opening and displaying it is safe: no script in the
HTML, nothing read or written outside the folder, no unbounded read, no decode of an image
before its header is checked, and a ``ValidationError`` naming the file and line otherwise.
"""

from __future__ import annotations

import csv
import hashlib
import html.parser
import io
import json
import os
import shutil
import sqlite3
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import venice_nb as vnb
from venice_nb._backend import LocalBackend

PAYLOAD = ("x' onerror='alert(1)' x-pwn='1\"><img src=x onerror=alert(2) x-pwn=2>"
           "<script>alert(3)</script>")


# Building a real recording to tamper with.
@pytest.fixture
def recording(tmp_path: Path, backend: LocalBackend) -> Path:
    """A recording of two real local results (one PNG, one JPEG), saved by save_recording."""
    store = vnb.ResultStore(tmp_path / "origin")
    with vnb.Client(base_url=backend.url, store=store) as client:
        client.edit(vnb.sample("cat"), "make it snowy", model="qwen-image-2-edit")
        client.edit(vnb.sample("rocket"), "add a rainbow", model="firered-image-edit",
                    output_format="jpeg")
        client.models()
    folder = tmp_path / "recording"
    vnb.save_recording(store, folder)
    store.close()
    return folder


def _lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


def _write_lines(folder: Path, entries: list[dict[str, Any]]) -> None:
    (folder / "results.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))


def _png(color: tuple[int, int, int], side: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), color).save(buf, "PNG")
    return buf.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG of ``width`` x ``height`` that compresses to a few KB (made
    without ever holding its pixels)."""
    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def _swap_image(folder: Path, entry: dict[str, Any], data: bytes) -> dict[str, Any]:
    """Point ``entry`` at new image bytes, named and hashed as save_recording would."""
    digest = hashlib.sha256(data).hexdigest()
    name = f"images/{digest}.png"
    (folder / name).write_bytes(data)
    return {**entry, "output_sha256": digest, "image": name}


class _Markup(html.parser.HTMLParser):
    """Every tag and attribute name in a piece of HTML, as a browser would parse it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def assert_inert(markup: str) -> None:
    """No element or attribute the hostile text could have made: no script, no handler."""
    parser = _Markup()
    parser.feed(markup)
    parser.close()
    assert "script" not in parser.tags, markup[:400]
    assert not [a for a in parser.attributes if a.startswith("on") or a == "x-pwn"], markup[:400]


# Script in the page.
def test_a_hostile_content_type_in_a_recording_stays_text(recording: Path) -> None:
    entries = _lines(recording)
    entries[0] = _swap_image(recording, entries[0], _png((10, 20, 30)))  # small: shown as is
    entries[0]["headers"]["content-type"] = "image/png' onerror='alert(1)' x-pwn='"
    entries[0]["headers"]["x-venice-model-name"] = PAYLOAD
    entries[0]["prompt"] = PAYLOAD
    _write_lines(recording, entries)
    store = vnb.open_recording(recording, mode="replay")
    result = store.result(entries[0]["fingerprint"])
    assert result.prompt == PAYLOAD  # kept as it was: only its display is escaped
    assert_inert(result._repr_html_())


def test_a_hostile_model_name_in_models_json_stays_text(recording: Path) -> None:
    models = json.loads((recording / "models.json").read_text())
    models["inpaint"]["data"][0]["model_spec"]["name"] = "<img src=x onerror=alert(1) x-pwn=1>"
    models["inpaint"]["data"][0]["id"] = PAYLOAD
    (recording / "models.json").write_text(json.dumps(models))
    store = vnb.open_recording(recording, mode="replay")
    with vnb.Client(base_url="http://127.0.0.1:9/api/v1", store=store) as client:
        listed = client.models()
    assert listed[0].name.startswith("<img")
    for info in listed:
        assert_inert(info._repr_html_())


# Writing outside the folder.
def test_a_gitignore_link_in_the_working_store_is_never_written_through(
        recording: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (recording / ".store").mkdir()
    (recording / ".store" / ".gitignore").symlink_to(victim)
    with pytest.raises(vnb.ValidationError, match=r"\.gitignore"):
        vnb.open_recording(recording)
    assert victim.read_text() == "precious\n"


def test_a_working_store_link_never_makes_a_store_elsewhere(recording: Path,
                                                            tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (recording / ".store").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(vnb.ValidationError, match="symbolic link") as info:
        vnb.open_recording(recording)
    assert ".store" in str(info.value)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("name", ["results.jsonl", "models.json", "images"])
def test_saving_never_writes_through_a_link(recording: Path, tmp_path: Path, name: str) -> None:
    store = vnb.open_recording(recording)
    target = tmp_path / "outside"
    if name == "images":
        target.mkdir()
    else:
        target.write_text("precious\n")
    out = tmp_path / "again"
    out.mkdir()
    (out / name).symlink_to(target, target_is_directory=name == "images")
    with pytest.raises(vnb.ValidationError, match=name):
        vnb.save_recording(store, out)
    if name == "images":
        assert list(target.iterdir()) == []
    else:
        assert target.read_text() == "precious\n"


# Reading outside the folder, unbounded reads, hangs.
@pytest.mark.parametrize("image", ["images/../../secret.png", "/abs/secret.png", "link"])
def test_an_image_name_leaving_the_folder_is_refused(recording: Path, tmp_path: Path,
                                                     image: str) -> None:
    secret = _png((255, 0, 0))
    (tmp_path / "secret.png").write_bytes(secret)
    entries = _lines(recording)
    digest = hashlib.sha256(secret).hexdigest()
    if image == "link":  # the right name, but a link to a file outside
        image = f"images/{digest}.png"
        (recording / image).symlink_to(tmp_path / "secret.png")
    elif image.startswith("/abs"):
        image = str(tmp_path / "secret.png")
    entries[1] = {**entries[1], "output_sha256": digest, "image": image}
    _write_lines(recording, entries)
    with pytest.raises(vnb.ValidationError, match="line 2") as info:
        vnb.open_recording(recording)
    assert "results.jsonl" in str(info.value) and info.value.action


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_only_regular_files_are_read(recording: Path, kind: str) -> None:
    entries = _lines(recording)
    image = recording / entries[0]["image"]
    image.unlink()
    if kind == "fifo":
        os.mkfifo(image)  # no writer ever comes: a plain open would wait forever
    elif kind == "dev-zero":
        image.symlink_to("/dev/zero")
    else:
        image.mkdir()
    with pytest.raises(vnb.ValidationError, match="line 1"):
        vnb.open_recording(recording)


@pytest.mark.timeout(120)
def test_an_index_that_is_a_device_or_a_folder_is_refused(recording: Path) -> None:
    index = recording / "results.jsonl"
    index.unlink()
    index.symlink_to("/dev/zero")
    with pytest.raises(vnb.ValidationError, match=r"results\.jsonl"):
        vnb.open_recording(recording)
    index.unlink()
    index.mkdir()
    with pytest.raises(vnb.ValidationError, match=r"results\.jsonl"):
        vnb.open_recording(recording)


def _ship_store(recording: Path, rows: list[tuple[str, str, str]]) -> None:
    """Ship a ``.store`` with the recording: the store a real open makes, then rows edited as
    an attacker would (fingerprint, output_sha256, output_file)."""
    vnb.open_recording(recording).close()
    conn = sqlite3.connect(recording / ".store" / "index.sqlite")
    for fingerprint, digest, path in rows:
        updated = conn.execute("UPDATE results SET output_sha256 = ?, output_file = ? "
                               "WHERE fingerprint = ?", (digest, path, fingerprint)).rowcount
        if not updated:  # a row of its own: a copy of the first, re-keyed
            cursor = conn.execute("SELECT * FROM results LIMIT 1")
            names = [d[0] for d in cursor.description]
            row = dict(zip(names, cursor.fetchone(), strict=True))
            row.update(fingerprint=fingerprint, output_sha256=digest, output_file=path)
            conn.execute(f"INSERT INTO results ({', '.join(row)}) "
                         f"VALUES ({', '.join('?' * len(row))})", list(row.values()))
    conn.commit()
    conn.close()


def test_a_shipped_index_is_verified_against_results_jsonl(recording: Path,
                                                           tmp_path: Path) -> None:
    secret = _png((255, 0, 0))
    outside = tmp_path / "secret.png"
    outside.write_bytes(secret)
    digest = hashlib.sha256(secret).hexdigest()
    first = _lines(recording)[0]
    _ship_store(recording, [(first["fingerprint"], digest, str(outside)),
                            ("f" * 64, digest, str(outside))])
    store = vnb.open_recording(recording, mode="replay")
    # The row results.jsonl also holds says what the line says.
    replayed = store.result(first["fingerprint"])
    assert replayed.data == (recording / first["image"]).read_bytes()
    # A row only the shipped index holds never serves a file outside the store.
    with pytest.raises(vnb.ValidationError, match=r"index\.sqlite") as info:
        store.result("f" * 64)
    assert "f" * 12 in str(info.value)
    assert any("f" * 12 in problem for problem in store.verify())


def test_a_shipped_index_with_a_trigger_is_rebuilt(recording: Path) -> None:
    vnb.open_recording(recording).close()
    conn = sqlite3.connect(recording / ".store" / "index.sqlite")
    conn.execute("CREATE TRIGGER steal AFTER INSERT ON results BEGIN "
                 "UPDATE results SET output_file = '/etc/passwd'; END")
    conn.execute("DELETE FROM results")
    conn.commit()
    conn.close()
    store = vnb.open_recording(recording, mode="replay")
    conn = store._connection()
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
                        ).fetchone()[0] == 0
    assert [len(store.result(e["fingerprint"]).data) for e in _lines(recording)] == [
        (recording / e["image"]).stat().st_size for e in _lines(recording)]


def test_a_plain_store_row_pointing_outside_is_refused_everywhere(recording: Path,
                                                                   tmp_path: Path) -> None:
    red = _png((255, 0, 0))
    outside = tmp_path / "red.png"
    outside.write_bytes(red)
    store = vnb.open_recording(recording)
    fingerprint = _lines(recording)[0]["fingerprint"]
    store.close()
    conn = sqlite3.connect(recording / ".store" / "index.sqlite")
    conn.execute("UPDATE results SET output_sha256 = ?, output_file = ? WHERE fingerprint = ?",
                 (hashlib.sha256(red).hexdigest(), str(outside), fingerprint))
    conn.commit()
    conn.close()
    plain = vnb.ResultStore(recording / ".store")
    with pytest.raises(vnb.ValidationError, match=r"index\.sqlite"):
        plain.result(fingerprint)
    record = plain.get(fingerprint)
    assert record is not None and Path(record.output_file).is_relative_to(plain.root)
    from venice_nb.widgets import ResultBrowser

    browser = ResultBrowser(plain)
    assert_inert(browser._repr_mimebundle_()["text/html"])
    for thumb in _thumbnails(browser):
        assert not _mostly_red(thumb), "an image outside the store was shown"


def _thumbnails(widget: Any) -> Iterator[bytes]:
    """The JPEG thumbnails of every card of a ResultBrowser, as the page gets them."""
    import ipywidgets as widgets

    stack = [widget]
    while stack:
        item = stack.pop()
        if isinstance(item, widgets.Image):
            yield bytes(item.value)
        stack += list(getattr(item, "children", ()))


def _mostly_red(jpeg: bytes) -> bool:
    with Image.open(io.BytesIO(jpeg)) as img:
        r, g, b = img.convert("RGB").resize((1, 1)).getpixel((0, 0))
    return bool(r > 200 and g < 60 and b < 60)


# Images that lie about their size.
def test_a_tiny_png_claiming_144_megapixels_is_refused_from_its_header(recording: Path) -> None:
    bomb = _bomb_png(12_000, 12_000)
    assert len(bomb) < 40_000
    entries = _lines(recording)
    entries[0] = _swap_image(recording, entries[0], bomb)
    _write_lines(recording, entries)
    with pytest.raises(vnb.ValidationError, match="144,000,000 pixels") as info:
        vnb.open_recording(recording)
    assert "line 1" in str(info.value)


@pytest.mark.parametrize("side", [12_000, 20_000])
def test_a_store_image_too_large_to_decode_never_stops_the_browser(recording: Path,
                                                                   side: int) -> None:
    bomb = _bomb_png(side, side)
    digest = hashlib.sha256(bomb).hexdigest()
    store = vnb.open_recording(recording)
    root = store.root
    first = _lines(recording)[0]["fingerprint"]
    store.close()
    relative = f"images/{digest[:2]}/{digest[2:4]}/{digest}.png"
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / relative).write_bytes(bomb)
    conn = sqlite3.connect(root / "index.sqlite")
    conn.execute("UPDATE results SET output_sha256 = ?, output_file = ? WHERE fingerprint = ?",
                 (digest, relative, first))
    conn.commit()
    conn.close()
    plain = vnb.ResultStore(root)
    with pytest.raises(vnb.ValidationError, match="pixels"):
        plain.result(first)
    from venice_nb.widgets import ResultBrowser

    browser = ResultBrowser(plain)  # shows the page; the refused image is a grey tile
    assert len(browser.records) == 2 and len(list(_thumbnails(browser))) == 2


# Malformed recordings: a clear error naming the file and line, never a bare exception.
@pytest.mark.parametrize("text", [
    "not json at all", "[1, 2, 3]", '{"fingerprint": "abc"}', "{}", '"just text"',
])
def test_a_malformed_line_names_its_file_and_line(recording: Path, text: str) -> None:
    lines = (recording / "results.jsonl").read_text().splitlines()
    (recording / "results.jsonl").write_text(lines[0] + "\n" + text + "\n")
    with pytest.raises(vnb.ValidationError, match="line 2") as info:
        vnb.open_recording(recording)
    assert "results.jsonl" in str(info.value) and info.value.action


_WRONG = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                   st.text(max_size=8), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["fingerprint", "is_local", "endpoint", "model", "prompt", "params",
                              "input_images", "headers", "elapsed", "estimated_cost", "repeat",
                              "variables", "picked", "rating", "note", "output_sha256", "image"]),
       value=_WRONG, drop=st.booleans())
def test_any_wrong_field_is_a_validation_error_or_harmless(recording: Path, field: str,
                                                           value: Any, drop: bool) -> None:
    """Whatever a line's field holds (or lacks), opening either works or says which line."""
    shutil.rmtree(recording / ".store", ignore_errors=True)
    entries = _lines(recording)
    original = json.dumps(entries)
    if drop:
        entries[0].pop(field, None)
    else:
        entries[0][field] = value
    _write_lines(recording, entries)
    try:
        store = vnb.open_recording(recording, mode="replay")
    except vnb.ValidationError as exc:
        assert "line 1" in str(exc) and "results.jsonl" in str(exc) and exc.action
    else:
        store.history()  # what was imported reads back
        store.close()
    _write_lines(recording, json.loads(original))


def test_a_duplicate_fingerprint_with_other_bytes_is_refused(recording: Path) -> None:
    entries = _lines(recording)
    twin = _swap_image(recording, entries[0], _png((0, 255, 0)))
    _write_lines(recording, [entries[0], entries[1], twin])
    with pytest.raises(vnb.ValidationError, match="line 3") as info:
        vnb.open_recording(recording)
    assert "line 1" in str(info.value) and "another image" in str(info.value)
    _write_lines(recording, [entries[0], entries[1], entries[0]])  # the same line twice: fine
    assert len(vnb.open_recording(recording, mode="replay")) == 2


def test_a_line_refused_for_its_note_is_not_half_imported(recording: Path) -> None:
    entries = _lines(recording)
    entries[1]["note"] = "n" * 501
    _write_lines(recording, entries)
    for _ in range(2):  # refused on every open, never imported quietly without its marks
        with pytest.raises(vnb.ValidationError, match="line 2"):
            vnb.open_recording(recording)
    store = vnb.ResultStore(recording / ".store")
    assert not store.has(entries[1]["fingerprint"])


def test_history_on_a_corrupt_column_says_which_row(recording: Path) -> None:
    store = vnb.open_recording(recording)
    fingerprint = _lines(recording)[0]["fingerprint"]
    store.close()
    conn = sqlite3.connect(recording / ".store" / "index.sqlite")
    conn.execute("UPDATE results SET params = '{not json' WHERE fingerprint = ?", (fingerprint,))
    conn.commit()
    conn.close()
    with pytest.raises(vnb.ValidationError, match="params") as info:
        vnb.ResultStore(recording / ".store").history()
    assert fingerprint[:12] in str(info.value) and "index.sqlite" in str(info.value)


# Exports opened in a spreadsheet.
@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)",
                                  "\tindent", "\rreturn", "'quoted"])
def test_csv_cells_never_start_a_formula(recording: Path, tmp_path: Path, text: str) -> None:
    store = vnb.open_recording(recording)
    record = store.history()[0]
    store.mark(record, note=text)
    path = store.export(tmp_path / "history.csv")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells = [cell for row in rows for cell in row.values() if cell]
    assert not [c for c in cells if c[0] in "=+-@\t\r" and not _is_number(c)], cells
    back = vnb.ResultStore.read_export(path)
    assert {r.note for r in back} >= {text}


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# A store folder from someone else, used directly.
def test_a_store_index_that_is_a_link_or_holds_a_trigger_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).close()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "index.sqlite").symlink_to(other)
    with pytest.raises(vnb.ValidationError, match="symbolic link"):
        len(vnb.ResultStore(linked))
    rigged = tmp_path / "rigged"
    len(vnb.ResultStore(rigged))
    conn = sqlite3.connect(rigged / "index.sqlite")
    conn.execute("CREATE VIEW results_view AS SELECT * FROM results")
    conn.commit()
    conn.close()
    with pytest.raises(vnb.ValidationError, match="results_view") as info:
        vnb.ResultStore(rigged).history()
    assert "never makes" in str(info.value) and info.value.action


def test_a_store_never_writes_or_prunes_through_links(tmp_path: Path,
                                                      backend: LocalBackend) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.png").write_bytes(_png((1, 2, 3)))
    os.utime(outside / "keep.png", (0, 0))  # old enough for prune to take, were it reached
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "images").symlink_to(outside, target_is_directory=True)
    with (vnb.Client(base_url=backend.url, store=folder) as client,
          pytest.warns(vnb.StoreWarning, match="symbolic link")):
        result = client.edit(vnb.sample("cat"), "make it snowy", model="qwen-image-2-edit")
    assert result.data and sorted(p.name for p in outside.iterdir()) == ["keep.png"]
    (folder / "images").unlink()
    (folder / "images" / "ab").mkdir(parents=True)
    (folder / "images" / "ab" / "cd").symlink_to(outside, target_is_directory=True)
    assert vnb.ResultStore(folder).prune(older_than=0) == 0  # never entered
    assert (outside / "keep.png").exists()


@pytest.mark.parametrize("model", ["text", {"id": "m", "model_spec": "text"},
                                   {"id": "m", "model_spec": {"constraints": [1]}},
                                   {"id": "m", "model_spec": {"pricing": {"resolutions": 3}}}])
def test_a_malformed_model_list_names_models_json(recording: Path, model: Any) -> None:
    models = json.loads((recording / "models.json").read_text())
    models["inpaint"]["data"].append(model)
    (recording / "models.json").write_text(json.dumps(models))
    store = None
    try:
        store = vnb.open_recording(recording, mode="replay")
    except vnb.ValidationError as exc:
        assert "models.json" in str(exc) and exc.action
        return
    with vnb.Client(base_url="http://127.0.0.1:9/api/v1", store=store) as client:
        client.models()  # a harmless oddity: it still reads


def test_a_line_without_moment_facts_matches_its_row(recording: Path) -> None:
    """A line that leaves out when it was answered (time, rate-limit headers) still matches
    the row it came from: reopening replaces nothing."""
    store = vnb.open_recording(recording)
    stamps = {r.fingerprint: r.created_at for r in store.history()}
    store.close()
    entries = _lines(recording)
    for entry in entries:
        entry.pop("elapsed", None)
        entry["headers"] = {k: v for k, v in entry["headers"].items()
                            if not k.startswith(("date", "x-ratelimit-"))}
    _write_lines(recording, entries)
    again = vnb.open_recording(recording)
    assert {r.fingerprint: r.created_at for r in again.history()} == stamps
