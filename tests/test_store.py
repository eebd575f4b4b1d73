"""The result store: real SQLite and real files, written by real clients over loopback HTTP."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import venice_nb as vnb
from venice_nb._backend import LocalBackend
from venice_nb._client import _request
from venice_nb._client._request import PreparedRequest
from venice_nb._models import ModelInfo
from venice_nb._store._store import STORE_ENV, StoredRecord, StoreWarning

from ._spec import venice_price
from .conftest import TEST_KEY, png_bytes, sample_path

LOCAL_FIRERED = ModelInfo(id="firered-image-edit", name="FireRed Edit (venice_nb local)",
                          type="inpaint", price_usd=0.04)
VENICE_FIRERED = ModelInfo(id="firered-image-edit", name="FireRed Edit", type="inpaint",
                           price_usd=0.04)
HEADERS = {"content-type": "image/png", "x-venice-model-id": "firered-image-edit",
           "x-venice-model-name": "FireRed Edit (venice_nb local)"}
VENICE_HEADERS = {**HEADERS, "x-venice-model-name": "FireRed Edit"}


def _prepared(
    prompt: str, model: ModelInfo | None = LOCAL_FIRERED, **params: Any
) -> PreparedRequest:
    return _request.prepare_edit(png_bytes(), prompt, model=model, **params)


def _noise_png(seed: int, side: int = 64) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _post_count(backend: LocalBackend) -> int:
    """Image requests the backend answered (GET /models is not one)."""
    return backend.stats.requests


# Recording and answering through a client.
def test_second_identical_edit_is_answered_from_disk(backend: LocalBackend, tmp_path: Path) -> None:
    with vnb.Client(TEST_KEY, base_url=backend.url, store=tmp_path / "store") as client:
        first = client.edit(sample_path(), "make it snowy", model="firered-image-edit")
        sent = _post_count(backend)
        again = client.edit(sample_path(), "make it snowy", model="firered-image-edit")
    assert _post_count(backend) == sent
    assert not first.from_store and again.from_store
    assert again.data == first.data and again.fingerprint == first.fingerprint
    assert Path(again.stored_path).read_bytes() == first.data
    assert again.model_name == first.model_name and again.is_local


def test_every_fact_needed_is_indexed(backend: LocalBackend, tmp_path: Path) -> None:
    with vnb.Client(TEST_KEY, base_url=backend.url, store=tmp_path / "s") as client:
        result = client.multi_edit([sample_path(), png_bytes((451, 300), (255,), "L")],
                                   "a red scarf", model="gpt-image-2-edit", quality="low",
                                   resolution="1K")
        record = client.store.get(result.fingerprint)
    assert record.endpoint == "/image/multi-edit" and record.model == "gpt-image-2-edit"
    assert record.prompt == "a red scarf"
    assert record.params == {"quality": "low", "resolution": "1K"}
    assert list(record.input_images) == result.request["images"] and len(record.input_images) == 2
    price = (venice_price("gpt-image-2-edit", "quality", "1K", "low")
             + venice_price("gpt-image-2-edit", "inputImages", "additional"))  # 1 extra image
    assert record.estimated_cost == result.estimated_cost == pytest.approx(price)
    assert record.model_name.endswith(" (venice_nb local)") and record.is_local
    assert record.output_sha256 == hashlib.sha256(result.data).hexdigest()
    assert Path(record.output_file).name.startswith(record.output_sha256)
    assert (record.width, record.height) == result.size and record.bytes == len(result.data)
    assert record.headers["x-ratelimit-limit-requests"] == result.headers[
        "x-ratelimit-limit-requests"]
    assert record.elapsed == pytest.approx(result.elapsed)


def test_a_pickled_store_is_the_same_folder_with_its_own_connection(tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "s", mode="replay", timeout=7.5)
    with store.using_mode("use"):
        store.record(_prepared("x"), HEADERS, png_bytes(), 0.1, True)
    copy = pickle.loads(pickle.dumps(store))
    assert (copy.root, copy.mode, copy.timeout) == (store.root, "replay", 7.5)
    assert copy._lookup(_prepared("x"), is_local=True) is not None


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), "30", True])
def test_a_bad_timeout_is_refused(tmp_path: Path, timeout: object) -> None:
    with pytest.raises(vnb.ValidationError, match="timeout") as info:
        vnb.ResultStore(tmp_path / "s", timeout=timeout)
    assert info.value.field == "timeout"


def test_the_database_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "s", timeout=12.5)
    store.record(_prepared("x"), HEADERS, png_bytes(), 0.1, True)
    conn = store._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 12_500
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    plain = sqlite3.connect(store.database)  # another reader sees WAL too: it is persistent
    assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plain.close()


def test_images_are_stored_once_per_content_in_sharded_folders(tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "s")
    same = _noise_png(1)
    a = store.record(_prepared("one"), HEADERS, same, 0.1, True)
    b = store.record(_prepared("two"), HEADERS, same, 0.1, True)
    c = store.record(_prepared("three"), HEADERS, _noise_png(2), 0.1, True)
    digest = hashlib.sha256(same).hexdigest()
    assert a == b != c
    assert Path(a).relative_to(store.root).as_posix() == (
        f"images/{digest[:2]}/{digest[2:4]}/{digest}.png")
    assert len([p for p in (store.root / "images").rglob("*") if p.is_file()]) == 2
    assert store.stats()["results"] == 3 and store.stats()["images"] == 2


# Modes.
def test_replay_only_refuses_a_missing_result_without_any_request(
    backend: LocalBackend, tmp_path: Path
) -> None:
    folder = tmp_path / "store"
    with vnb.Client(TEST_KEY, base_url=backend.url, store=folder) as client:
        client.edit(sample_path(), "make it snowy", model="firered-image-edit")
    before = (backend.stats.requests, backend.stats.by_status)
    with vnb.Client(TEST_KEY, base_url=backend.url, store=folder,
                    store_mode="replay") as replay:
        hit = replay.edit(sample_path(), "make it snowy", model="firered-image-edit")
        with pytest.raises(vnb.ReplayMissError) as info:
            replay.edit(sample_path(), "make it rainy", model="firered-image-edit")
    # Not even GET /models: the model list came from the store too.
    assert (backend.stats.requests, backend.stats.by_status) == before
    assert hit.from_store
    text = str(info.value)
    assert "nothing was sent" in text and "make it rainy" in text and str(folder) in text
    assert "prompt" in text  # it names what differs from the closest stored request
    assert info.value.action  # and says what to do


def test_replay_only_without_a_stored_model_list_sends_nothing(
    backend: LocalBackend, tmp_path: Path
) -> None:
    folder = tmp_path / "store"
    vnb.ResultStore(folder).record(_prepared("make it snowy"), HEADERS, png_bytes(), 0.1, True)
    with vnb.Client(TEST_KEY, base_url=backend.url, store=folder,
                    store_mode="replay") as replay:
        with pytest.raises(vnb.ReplayMissError, match=r"no model list.*nothing was sent"):
            replay.edit(sample_path(), "make it snowy", model="firered-image-edit")
        with pytest.raises(vnb.ReplayMissError, match="nothing was sent"):
            vnb.experiment(sample_path(), "snow", "firered-image-edit", client=replay,
                           progress=False)
    assert (backend.stats.requests, backend.stats.by_status) == (0, {})
    assert vnb.ResultStore(folder)._load_models("inpaint") is None  # replay wrote nothing


def test_replay_miss_names_the_parameter_that_differs(tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "s")
    store.record(_prepared("snow", None, aspect_ratio="1:1"), HEADERS, png_bytes(), 0.1, True)
    store.mode = "replay"
    with pytest.raises(vnb.ReplayMissError, match=r"aspect_ratio \('1:1' vs '3:2'\)"):
        store._lookup(_prepared("snow", None, aspect_ratio="3:2"), is_local=True)


def test_refresh_always_sends_then_overwrites(backend: LocalBackend, tmp_path: Path) -> None:
    folder = tmp_path / "store"
    with vnb.Client(TEST_KEY, base_url=backend.url, store=folder) as client:
        first = client.edit(sample_path(), "make it snowy")
        stamp = client.store.get(first.fingerprint).created_at
    with vnb.Client(TEST_KEY, base_url=backend.url, store=folder,
                    store_mode="refresh") as client:
        sent = _post_count(backend)
        again = client.edit(sample_path(), "make it snowy")
        assert _post_count(backend) == sent + 1 and not again.from_store
        assert client.store.get(first.fingerprint).created_at > stamp
        assert len(client.store) == 1


def test_off_mode_neither_reads_nor_writes(tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "off", mode="off")
    assert store.record(_prepared("x"), HEADERS, png_bytes(), 0.1, True) is None
    assert store._lookup(_prepared("x"), is_local=True) is None
    assert not (tmp_path / "off").exists()


def test_using_mode_switches_for_a_block_only(tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "s")
    with store.using_mode("replay"), pytest.raises(vnb.ReplayMissError):
        store._lookup(_prepared("never stored"), is_local=True)
    assert store.mode == "use" and store._lookup(_prepared("never stored"), is_local=True) is None


def test_mode_comes_from_the_environment_when_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VENICE_NB_STORE_MODE", "replay")
    assert vnb.ResultStore(tmp_path / "s").mode == "replay"
    assert vnb.ResultStore(tmp_path / "s", mode="use").mode == "use"
    monkeypatch.setenv("VENICE_NB_STORE_MODE", "sometimes")
    with pytest.raises(vnb.ValidationError, match="off, use, refresh, replay"):
        vnb.ResultStore(tmp_path / "s")


def test_a_local_answer_never_stands_in_for_venice(tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "s")
    store.record(_prepared("snow", LOCAL_FIRERED), HEADERS, png_bytes(), 0.1, True)
    assert store._lookup(_prepared("snow", LOCAL_FIRERED), is_local=True) is not None
    assert store._lookup(_prepared("snow", VENICE_FIRERED), is_local=False) is None
    assert not store._can_answer(_prepared("snow", VENICE_FIRERED), is_local=False)
    store.mode = "replay"
    with pytest.raises(vnb.ReplayMissError, match="from the local backend only"):
        store._lookup(_prepared("snow", VENICE_FIRERED), is_local=False)


@pytest.mark.parametrize("kind", ["server default model", "background removal"])
def test_requests_that_name_no_model_still_keep_the_backends_apart(
    tmp_path: Path, kind: str
) -> None:
    """Nothing in these requests tells the backends apart: only the key does."""
    if kind == "background removal":
        prepared = _request.prepare_background_remove(png_bytes())
    else:
        prepared = _prepared("snow", None)
    store = vnb.ResultStore(tmp_path / "s")
    store.record(prepared, {"content-type": "image/png"}, _noise_png(1), 0.1, True)
    assert store._lookup(prepared, is_local=False) is None
    assert not store._can_answer(prepared, is_local=False)
    paid = store.record(prepared, {"content-type": "image/png"}, _noise_png(2), 9.0, False)
    assert store._lookup(prepared, is_local=False).data == Path(paid).read_bytes()
    assert store._lookup(prepared, is_local=True).data == _noise_png(1)


def test_a_local_answer_never_overwrites_a_paid_one(tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "s")
    venice = _prepared("snow", VENICE_FIRERED)
    local = _prepared("snow", LOCAL_FIRERED)
    assert venice.fingerprint == local.fingerprint  # the same request to either backend
    paid = Path(store.record(venice, VENICE_HEADERS, _noise_png(1), 30.0, False))
    assert store._lookup(local, is_local=True) is None
    free = Path(store.record(local, HEADERS, _noise_png(2), 0.1, True))
    assert len(store) == 2
    assert store._lookup(venice, is_local=False).data == _noise_png(1)
    assert store._lookup(local, is_local=True).data == _noise_png(2)
    assert store.get(venice, is_local=False).elapsed == 30.0
    assert store.stats()["cost_here_usd"] == pytest.approx(0.04)  # the paid one only
    assert store.stats()["cost_at_venice_usd"] == pytest.approx(0.08)  # both, at Venice prices
    for path in (paid, free):
        os.utime(path, (1_000_000, 1_000_000))
    assert store.prune() == 0  # both files are still referenced
    assert paid.exists() and free.exists() and store.verify() == []


_V1_SCHEMA = """
CREATE TABLE results (
    fingerprint TEXT PRIMARY KEY, endpoint TEXT NOT NULL, model TEXT, prompt TEXT,
    params TEXT NOT NULL, input_images TEXT NOT NULL, output_sha256 TEXT NOT NULL,
    output_file TEXT NOT NULL, content_type TEXT NOT NULL, bytes INTEGER NOT NULL,
    width INTEGER, height INTEGER, model_id TEXT, model_name TEXT, headers TEXT NOT NULL,
    elapsed REAL NOT NULL, estimated_cost REAL, is_local INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE catalog (type TEXT NOT NULL, base_url TEXT NOT NULL, body TEXT NOT NULL,
                      fetched_at REAL NOT NULL, PRIMARY KEY (type, base_url));
CREATE INDEX results_created ON results (created_at);
CREATE INDEX results_model ON results (model);
CREATE INDEX results_output ON results (output_sha256);
PRAGMA user_version = 1;
"""
# Schema 2: the backend joined the key (no repeats, variables nor marks yet).
_V2_SCHEMA = (
    _V1_SCHEMA.replace("fingerprint TEXT PRIMARY KEY", "fingerprint TEXT NOT NULL")
    .replace("created_at REAL NOT NULL\n",
             "created_at REAL NOT NULL, PRIMARY KEY (fingerprint, is_local)\n")
    .replace("user_version = 1", "user_version = 2")
)


@pytest.mark.parametrize("schema", [_V1_SCHEMA, _V2_SCHEMA], ids=["v1", "v2"])
def test_a_store_from_a_previous_version_is_migrated(tmp_path: Path, schema: str) -> None:
    """Schema 1 (keyed on the fingerprint alone) gains the backend in its key, schema 2 the
    repeat, variables and marks columns; the rows and the model list survive."""
    folder = tmp_path / "old"
    folder.mkdir()
    old = sqlite3.connect(folder / "index.sqlite")
    old.executescript(schema)
    venice = _prepared("snow", VENICE_FIRERED)
    data = _noise_png(1)
    digest = hashlib.sha256(data).hexdigest()
    image = folder / "images" / digest[:2] / digest[2:4] / f"{digest}.png"
    image.parent.mkdir(parents=True)
    image.write_bytes(data)
    summary = venice.summary
    old.execute(
        "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (venice.fingerprint, summary["endpoint"], summary["model"], summary["prompt"],
         json.dumps(summary["params"]), json.dumps(summary["images"]), digest,
         image.relative_to(folder).as_posix(), "image/png", len(data), 64, 64,
         "firered-image-edit", "FireRed Edit", "{}", 30.0, 0.04, 0, 1_700_000_000.0),
    )
    old.execute("INSERT INTO catalog VALUES ('inpaint', 'u', '{\"data\": []}', 1.0)")
    old.commit()
    old.close()
    store = vnb.ResultStore(folder)
    assert store._lookup(venice, is_local=False).data == data
    store.record(_prepared("snow", LOCAL_FIRERED), HEADERS, _noise_png(2), 0.1, True)
    assert len(store) == 2 and store.verify() == []  # the paid row was not overwritten
    assert store._load_models("inpaint") == {"data": []}
    conn = store._connection()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    migrated = store.get(venice)
    assert (migrated.repeat, migrated.variables, migrated.picked) == (0, {}, False)
    assert store.mark(venice, picked=True, note="sharp").note == "sharp"
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"results_created", "results_model", "results_output"} <= indexes
    assert vnb.ResultStore(folder).history()[0].prompt == "snow"  # a second open: no-op


def test_a_damaged_image_is_a_miss_and_verify_reports_it(tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "s")
    path = Path(store.record(_prepared("x"), HEADERS, _noise_png(3), 0.1, True))
    assert store.verify() == []
    path.write_bytes(path.read_bytes()[:100])
    assert store._lookup(_prepared("x"), is_local=True) is None
    problems = store.verify()
    assert len(problems) == 1 and "missing or damaged" in problems[0]
    store.mode = "replay"
    with pytest.raises(vnb.ReplayMissError, match="missing or damaged"):
        store._lookup(_prepared("x"), is_local=True)


def test_refresh_repairs_a_damaged_image_of_the_same_size(tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "s")
    data = _noise_png(3)
    path = Path(store.record(_prepared("x"), HEADERS, data, 0.1, True))
    damaged = bytearray(data)
    damaged[200] ^= 0xFF  # one flipped bit: same size, different content
    path.write_bytes(bytes(damaged))
    assert store.verify() != []
    store.mode = "refresh"
    store.record(_prepared("x"), HEADERS, data, 0.1, True)
    assert store.verify() == [] and path.read_bytes() == data


def test_a_failing_disk_warns_and_still_returns_the_result(
    backend: LocalBackend, tmp_path: Path
) -> None:
    folder = tmp_path / "store"
    with vnb.Client(TEST_KEY, base_url=backend.url, store=folder) as client:
        client.edit(sample_path(), "warm up")
        (folder / "images").rename(folder / "images-moved")
        (folder / "images").write_text("a file where the image folder should be")
        sent = _post_count(backend)
        with pytest.warns(StoreWarning, match="returned but not kept"):
            result = client.edit(sample_path(), "make it snowy")
    assert _post_count(backend) == sent + 1  # the paid answer came back...
    assert result.data and result.stored_path is None  # ...and is returned, though not kept


# History, stats and export.
def _filled_store(path: Path) -> vnb.ResultStore:
    store = vnb.ResultStore(path)
    rows = [("make it Snowy", LOCAL_FIRERED), ("add a hat", LOCAL_FIRERED),
            ("SNOW everywhere", None), ("paint it blue", LOCAL_FIRERED)]
    for i, (prompt, model) in enumerate(rows):
        store.record(_prepared(prompt, model), HEADERS, _noise_png(10 + i), 0.1 * i, True)
    return store


def test_history_filters_and_orders_newest_first(tmp_path: Path) -> None:
    store = _filled_store(tmp_path / "s")
    everything = store.history()
    assert [r.prompt for r in everything] == [
        "paint it blue", "SNOW everywhere", "add a hat", "make it Snowy"]
    assert [r.prompt for r in store.history(prompt="snow")] == [
        "SNOW everywhere", "make it Snowy"]
    assert {r.prompt for r in store.history(model="firered-image-edit")} == {
        "make it Snowy", "add a hat", "paint it blue", "SNOW everywhere"}  # asked or answered
    assert [r.prompt for r in store.history(limit=2)] == ["paint it blue", "SNOW everywhere"]
    third = everything[1].created_at
    assert [r.prompt for r in store.history(since=third)] == ["paint it blue", "SNOW everywhere"]
    between = datetime.fromtimestamp((third + everything[2].created_at) / 2)  # naive: local
    assert [r.prompt for r in store.history(since=between)] == [
        "paint it blue", "SNOW everywhere"]
    assert [r.prompt for r in store.history(since=between.isoformat())] == [
        "paint it blue", "SNOW everywhere"]
    assert len(store.history(since=timedelta(hours=1))) == 4
    assert store.history(since=timedelta(hours=-1)) == []
    assert [r.prompt for r in store.history(until=everything[2].created_at)] == [
        "add a hat", "make it Snowy"]
    assert store.history(prompt="nothing like this") == []
    with pytest.raises(vnb.ValidationError, match="limit=0") as info:
        store.history(limit=0)
    assert info.value.field == "limit" and "int >= 1" in info.value.action
    with pytest.raises(vnb.ValidationError, match="ISO"):
        store.history(since="yesterday")


def test_history_rows_load_their_images(tmp_path: Path) -> None:
    store = _filled_store(tmp_path / "s")
    record = store.history(prompt="hat")[0]
    result = record.to_result()
    assert result.from_store and result.prompt == "add a hat"
    assert hashlib.sha256(result.data).hexdigest() == record.output_sha256
    assert store.result(record.fingerprint).data == result.data
    with pytest.raises(KeyError):
        store.result("0" * 64)


@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_export_round_trip(tmp_path: Path, suffix: str) -> None:
    store = _filled_store(tmp_path / "s")
    path = store.export(tmp_path / f"history.{suffix}")
    back = vnb.ResultStore.read_export(path)
    assert back == store.history()
    assert all(isinstance(r, StoredRecord) for r in back)
    filtered = vnb.ResultStore.read_export(store.export(tmp_path / f"f.{suffix}", prompt="snow"))
    assert [r.prompt for r in filtered] == ["SNOW everywhere", "make it Snowy"]


def test_export_is_readable_without_venice_nb(tmp_path: Path) -> None:
    import csv

    import pandas as pd

    store = _filled_store(tmp_path / "s")
    rows = json.loads(store.export(tmp_path / "h.json").read_text())
    assert rows[0]["prompt"] == "paint it blue" and rows[0]["created"].endswith("+00:00")
    with open(store.export(tmp_path / "h.csv"), newline="") as fh:
        assert [r["prompt"] for r in csv.DictReader(fh)][-1] == "make it Snowy"
    frame = store.history().to_dataframe()
    assert list(frame["prompt"]) == [r["prompt"] for r in rows]
    with pytest.raises(vnb.ValidationError, match=r"\.json or \.csv"):
        store.export(tmp_path / "h.xlsx")
    pd.testing.assert_frame_equal(pd.read_json(tmp_path / "h.json")[["bytes"]],
                                  frame[["bytes"]])


def test_default_location_is_the_env_var_else_a_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "from-env"))
    assert vnb.ResultStore().root == (tmp_path / "from-env").resolve()
    monkeypatch.delenv(STORE_ENV)
    monkeypatch.chdir(tmp_path)
    assert vnb.ResultStore().root == (tmp_path / ".venice_nb" / "store").resolve()


def test_model_catalogue_is_kept_for_replay(backend: LocalBackend, tmp_path: Path) -> None:
    import httpx

    store = vnb.ResultStore(tmp_path / "s")
    body = httpx.get(f"{backend.url}/models", params={"type": "inpaint"}).json()
    store._save_models("inpaint", body, base_url=backend.url)
    store._save_models("inpaint", {"data": []}, base_url="http://127.0.0.1:1/api/v1")
    assert store._load_models("inpaint", base_url=backend.url) == body  # its own, first
    assert store._load_models("inpaint", base_url="http://127.0.0.1:2/api/v1") == {"data": []}
    assert store._load_models("upscale") is None


# Concurrency and crashes.
def test_concurrent_writers_threads(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    shared = vnb.ResultStore(folder)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        store = shared if worker % 2 else vnb.ResultStore(folder)
        try:
            start.wait(timeout=30)
            for i in range(12):
                # Workers 0/1, 2/3 ... write the same requests: overwrites race too.
                key = f"{worker // 2}-{i}"
                store.record(_prepared(f"edit {key}"), HEADERS, _noise_png(hash(key) % 10_000),
                             0.1, True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    assert len(shared) == 4 * 12
    assert shared.verify() == []


_WRITER = r"""
import hashlib, io, sys
import numpy as np
from PIL import Image
from venice_nb._client import _request
from venice_nb._models import ModelInfo
from venice_nb._store._store import ResultStore

folder, report, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = ResultStore(folder)
model = ModelInfo(id="firered-image-edit", name="FireRed Edit (venice_nb local)", type="inpaint")
base = io.BytesIO()
Image.new("RGB", (256, 256), (40, 120, 200)).save(base, "PNG")
headers = {"content-type": "image/png", "x-venice-model-id": "firered-image-edit"}
with open(report, "a") as log:
    for i in range(first, first + count):
        prepared = _request.prepare_edit(base.getvalue(), f"edit number {i}", model=model)
        rng = np.random.default_rng(i)
        out = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (320, 320, 3), dtype=np.uint8)).save(out, "PNG")
        data = out.getvalue()
        if store.record(prepared, headers, data, 0.5, True) is None:
            sys.exit("record() failed")
        log.write(f"{prepared.fingerprint} {hashlib.sha256(data).hexdigest()}\n")
        log.flush()
        print(i, flush=True)
"""


def _writer(folder: Path, report: Path, first: int, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(folder), str(report), str(first), str(count)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_concurrent_writers_processes(tmp_path: Path) -> None:
    folder = tmp_path / "s"  # created by the racing processes themselves
    # Four processes, overlapping ranges: 0-29, 15-44, 30-59, 45-74 -> 75 distinct requests.
    procs = [_writer(folder, tmp_path / f"report-{n}", 15 * n, 30) for n in range(4)]
    outcomes = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outcomes]
    store = vnb.ResultStore(folder)
    assert len(store) == 75 and store.verify() == []
    for n in range(4):
        for line in (tmp_path / f"report-{n}").read_text().splitlines():
            fingerprint, digest = line.split()
            assert store.get(fingerprint).output_sha256 == digest


def test_a_killed_writer_loses_nothing_it_returned(tmp_path: Path) -> None:
    folder, report = tmp_path / "s", tmp_path / "returned.txt"
    proc = _writer(folder, report, 0, 100_000)
    for _ in range(25):  # wait until 25 record() calls have returned, then kill mid-batch
        assert proc.stdout.readline(), proc.stderr.read()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    text = report.read_text()
    returned = [line.split() for line in text.splitlines(keepends=True) if line.endswith("\n")]
    assert len(returned) >= 25
    store = vnb.ResultStore(folder)  # opens cleanly after the crash
    assert store.verify() == []
    for fingerprint, digest in returned:
        record = store.get(fingerprint)
        assert record is not None and record.output_sha256 == digest
        assert hashlib.sha256(record.to_result().data).hexdigest() == digest
    assert len(returned) <= len(store) <= len(returned) + 1  # at most the one in flight
    # No half file under a final name: every image file's name is its content's hash.
    for path in (folder / "images").rglob("*.png"):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem
    store.record(_prepared("after the crash"), HEADERS, png_bytes(), 0.1, True)  # still usable
    assert store.verify() == []


def test_prune_removes_only_old_unreferenced_files(tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "s")
    kept = Path(store.record(_prepared("x"), HEADERS, _noise_png(5), 0.1, True))
    stale = Path(store.record(_prepared("y"), HEADERS, _noise_png(6), 0.1, True))
    store.mode = "refresh"
    store.record(_prepared("y"), HEADERS, _noise_png(7), 0.1, True)  # y now points elsewhere
    assert store.prune() == 0  # too recent: might belong to a write in flight
    os.utime(stale, (1_000_000, 1_000_000))
    os.utime(kept, (1_000_000, 1_000_000))
    assert store.prune() == 1
    assert kept.exists() and not stale.exists() and store.verify() == []


@pytest.mark.parametrize("older_than", [3600.0, 0.0])
def test_prune_racing_a_writer_never_leaves_a_row_without_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, older_than: float
) -> None:
    """Another process prunes after a writer found its image already on disk (an old orphan
    with the same content) but before the writer's row is committed."""
    writer = vnb.ResultStore(tmp_path / "s")
    orphan = Path(writer.record(_prepared("y"), HEADERS, _noise_png(1), 0.1, True))
    writer.mode = "refresh"
    writer.record(_prepared("y"), HEADERS, _noise_png(2), 0.1, True)  # orphan: unreferenced
    writer.mode = "use"
    os.utime(orphan, (1_000_000, 1_000_000))
    pruner = vnb.ResultStore(writer.root)  # its own connection, as another process has
    commit = writer._transaction
    pruned: list[int] = []

    def prune_first() -> Any:
        pruned.append(pruner.prune(older_than=older_than))
        return commit()

    monkeypatch.setattr(writer, "_transaction", prune_first)
    path = writer.record(_prepared("z"), HEADERS, _noise_png(1), 0.1, True)  # same bytes
    monkeypatch.undo()
    assert pruned and Path(path) == orphan  # the race did happen at that point
    assert orphan.exists() and writer.has(_prepared("z")) and writer.verify() == []
    assert vnb.ResultStore(writer.root).result(_prepared("z")).data == _noise_png(1)


# The key.
def test_the_api_key_is_never_stored(backend: LocalBackend, tmp_path: Path) -> None:
    folder = tmp_path / "store"
    key = TEST_KEY.encode()
    with vnb.Client(TEST_KEY, base_url=backend.url, store=folder) as client:
        client.edit(sample_path(), "make it snowy", model="firered-image-edit")
        client.edit(sample_path(), "make it snowy", model="firered-image-edit", upload="multipart")
        client.multi_edit([sample_path(), png_bytes((451, 300), (255,), "L")], "a scarf",
                          model="qwen-image-2-edit")
        client.remove_background(sample_path("coffee"))
        vnb.experiment(sample_path("rocket"), ["night", "day"], ["firered-image-edit"],
                       client=client, progress=False)
        client.edit(sample_path(), "make it snowy", model="firered-image-edit")  # a hit
        client.store._save_models("inpaint", {"data": []}, base_url=client.base_url)
        client.store.export(folder / "history.json")
        client.store.export(folder / "history.csv")
        assert backend.stats.requests >= 6  # the key did travel: the backend saw requests

        def leaks() -> list[str]:
            found = []
            for path in folder.rglob("*"):
                if path.is_file() and (key in path.read_bytes()
                                       or b"Bearer" in path.read_bytes()):
                    found.append(str(path))
            return found

        files = [p.name for p in folder.rglob("*") if p.is_file()]
        assert "index.sqlite-wal" in files  # the write-ahead log is searched too
        assert leaks() == []
        client.store.close()  # checkpoint the log into the database and search again
        assert leaks() == []
    # json and multipart uploads of one edit share a fingerprint: 1 + 1 + 1 + 2 results
    assert len(vnb.ResultStore(folder)) == 5


# Notebooks switched to replay-only.
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _run_notebook(path: Path, workdir: Path) -> Any:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def _stdout(nb: Any) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("name") == "stdout")


@pytest.mark.parametrize("name", ["04_prompt_experiments.ipynb",
                                  "05_reproducible_notebooks.ipynb"])
def test_a_tutorial_in_replay_mode_fails_loudly(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("VENICE_NB_STORE", str(tmp_path / "empty-store"))
    monkeypatch.setenv("VENICE_NB_STORE_MODE", "replay")
    with pytest.raises(CellExecutionError) as info:
        _run_notebook(NOTEBOOKS / name, tmp_path)
    assert "ReplayMissError" in str(info.value) and "nothing was sent" in str(info.value)


_RECORDED = '''
import os
import venice_nb as vnb
from venice_nb._backend import shared_backend

store = vnb.ResultStore(os.environ["VENICE_NB_STORE"])
client = vnb.Client(store=store)
one = client.edit(vnb.sample("cat"), "make it snowy", model="qwen-image-2-edit")
grid = vnb.experiment(vnb.sample("rocket"), ["night", "fog"], ["firered-image-edit"],
                      client=client, progress=False)
print("mode", store.mode)
print("from store", one.from_store, grid.counts["cached"])
print("sha", __import__("hashlib").sha256(one.data).hexdigest())
print("requests", shared_backend().stats.requests)
'''


def test_a_recorded_notebook_replays_with_no_edit_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat

    path = tmp_path / "recorded.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_RECORDED)]), path)
    monkeypatch.setenv("VENICE_NB_STORE", str(tmp_path / "store"))
    recorded = _stdout(_run_notebook(path, tmp_path))
    monkeypatch.setenv("VENICE_NB_STORE_MODE", "replay")
    replayed = _stdout(_run_notebook(path, tmp_path))
    assert "mode use" in recorded and "from store False 0" in recorded
    assert "mode replay" in replayed and "from store True 2" in replayed
    sha = [line for line in recorded.splitlines() if line.startswith("sha")]
    assert sha and sha == [line for line in replayed.splitlines() if line.startswith("sha")]
    # A fresh kernel, so a fresh local backend: replay reads even the model list from the
    # store, so that backend saw no request at all.
    assert "requests 0" in replayed and "requests 4" in recorded


# Temp parts left by killed writers.
_BLOCKED_WRITER = r"""
import io, os, stat, sys
import numpy as np
from PIL import Image
from venice_nb._client import _request
from venice_nb._models import ModelInfo
from venice_nb._store._store import ResultStore

real_fsync = os.fsync

def blocked(fd):  # an image file is written, not yet synced nor renamed: say so, wait
    if stat.S_ISREG(os.fstat(fd).st_mode):
        print("writing", flush=True)
        sys.stdin.readline()
    real_fsync(fd)

folder, prompt = sys.argv[1], sys.argv[2]
model = ModelInfo(id="firered-image-edit", name="FireRed Edit (venice_nb local)", type="inpaint")
base = io.BytesIO()
Image.new("RGB", (256, 256), (40, 120, 200)).save(base, "PNG")
prepared = _request.prepare_edit(base.getvalue(), prompt, model=model)
out = io.BytesIO()
Image.fromarray(np.random.default_rng(len(prompt)).integers(0, 256, (64, 64, 3),
                                                            dtype=np.uint8)).save(out, "PNG")
store = ResultStore(folder)
len(store)  # opened before the write starts
os.fsync = blocked
assert store.record(prepared, {"content-type": "image/png"}, out.getvalue(), 0.1, True)
print(prepared.fingerprint, flush=True)
"""


def _blocked_writer(folder: Path, prompt: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _BLOCKED_WRITER, str(folder), prompt],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "writing\n"
    return proc


def _temp_parts(root: Path) -> list[Path]:
    return sorted((root / "tmp").glob(".tmp-*.part"))


def test_opening_the_store_removes_parts_of_killed_writers_only(tmp_path: Path) -> None:
    root = tmp_path / "s"
    # Started first: only the test's own opening can find the killed writer's part.
    live = _blocked_writer(root, "still writing")
    killed = _blocked_writer(root, "killed mid-write")
    killed.kill()
    killed.wait(timeout=60)
    try:
        assert len(_temp_parts(root)) == 2
        stranger = root / "tmp" / ".tmp-elsewhere.part"  # e.g. a writer on another machine
        stranger.write_bytes(b"y")
        ancient = root / "tmp" / ".tmp-host2-x.part"
        ancient.write_bytes(b"z")
        os.utime(ancient, (1_000_000, 1_000_000))
        store = vnb.ResultStore(root)
        assert len(store) == 0  # the first use opens the database and tidies up
        left = _temp_parts(root)
        assert f".tmp-{live.pid}-" in left[0].name and left[1:] == [stranger]
        assert not ancient.exists()
    finally:
        out, _ = live.communicate("go\n", timeout=60)
    assert live.returncode == 0
    assert store.get(out.split()[-1]).prompt == "still writing" and store.verify() == []
    assert len(store) == 1 and _temp_parts(root) == [stranger]


def test_repr_is_safe_on_a_half_built_store(tmp_path: Path) -> None:
    with pytest.raises(vnb.ValidationError):
        vnb.ResultStore(tmp_path, mode="sometimes")
    half = vnb.ResultStore.__new__(vnb.ResultStore)
    assert repr(half) == "ResultStore(None, mode=None)"
    assert repr(vnb.ResultStore(tmp_path)) == f"ResultStore({str(tmp_path)!r}, mode='use')"


def test_the_client_plumbing_and_the_schema_stay_out_of_the_public_face() -> None:
    """What only a client or an experiment calls (answering a prepared request, the model
    catalogue, labels and marks read in bulk) and the
    SQLite schema are private: the store's public methods are what a person uses."""
    from venice_nb._store import _schema
    from venice_nb._store import _store as store_module

    public = {name for name in dir(vnb.ResultStore) if not name.startswith("_")}
    assert not public & {"lookup", "save_models", "load_models", "can_answer", "label", "marks"}
    assert {"record", "has", "get", "result", "mark", "history", "export", "verify"} <= public
    assert _schema.SCHEMA_VERSION == 3  # the tables and migrations live in _schema only
    assert not [v for v in vars(store_module).values()
                if isinstance(v, str) and "CREATE TABLE" in v]
