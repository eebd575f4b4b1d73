"""Schemathesis fuzzes the local backend against Venice's official OpenAPI spec.

The spec (``openapi.yaml``) is limited to the image, model and account endpoints and
converted to JSON first, with a YAML loader that keeps ``16:9`` a string (YAML 1.1 would read
it as the base-60 integer 969 and then flag correct answers). Schemathesis runs as its own
process, as a person would run it, for a bounded time (``--max-time``) with a fixed seed,
against a LocalBackend on loopback. Every check stays on (no server errors, status codes,
content types, response schemas and headers, negative data rejected, unsupported methods,
Allow headers, authentication required where the spec says so), except:

- ``positive_data_acceptance`` (off): it expects every schema-valid request to succeed, but the
  schema cannot say what Venice enforces beyond it, and the backend must refuse those with a
  400 as Venice does: per-model constraints (resolutions, qualities, aspect ratios, prompt
  length, image counts; ``resolution`` on a model without tiers), unknown model ids, "exactly
  one of ``image`` or ``image_url``" (prose only), a missing body (``requestBody`` is not
  marked required, yet an edit without an image cannot be done), and multipart ``images``
  parts sent as text fields without a filename (multi-edit's multipart form takes files).
- ``status_code_conformance`` on ``GET /models`` and ``GET /models/compatibility_mapping`` only
  (off): the spec lists 200, 401 and 500, but a ``type`` outside the spec's enum (including
  ``type=``) is a client error, answered 400 in the spec's ``DetailedError`` shape; 200 with an
  empty list would hide the typo.
- ``ignored_auth`` on the account endpoints only (off): it sends a made-up key and expects a
  401, but the local backend has no accounts, so any key is a valid one (only
  ``BackendConfig.rejected_keys`` are refused, tested in ``test_account.py``); a request with
  no credentials at all still gets the 401 the spec asks for, and that check stays on.

Venice's failed-request block is switched off for the run (after 20 failures in 30 s every
answer would be the same 429, which blinds the fuzzer) and the rate limit raised.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from venice_nb._backend import BackendConfig, LocalBackend

from ._spec import SPEC_PATH, load_spec

FUZZED_PATHS = (
    "/image/edit",
    "/image/multi-edit",
    "/image/background-remove",
    "/image/upscale",
    "/models",
    "/models/compatibility_mapping",
    "/billing/balance",
    "/api_keys/rate_limits",
)
MAX_TIME_S = 40  # the whole schemathesis run; pytest's own timeout is far above it
SEED = 20261125
CONFIG = """
[checks]
positive_data_acceptance.enabled = false

[[operations]]
include-path = "/models"
include-method = "GET"
checks.status_code_conformance.enabled = false

[[operations]]
include-path = "/models/compatibility_mapping"
include-method = "GET"
checks.status_code_conformance.enabled = false

[[operations]]
include-path-regex = "^/(billing/balance|api_keys/rate_limits)$"
checks.ignored_auth.enabled = false
"""

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason="needs the spec file")


def spec_as_json(paths: tuple[str, ...]) -> str:
    """The spec limited to ``paths``, as JSON (dates, which JSON lacks, as ISO strings)."""
    spec = load_spec()
    return json.dumps({**spec, "paths": {p: spec["paths"][p] for p in paths}}, default=str)


def test_spec_conversion_keeps_aspect_ratios_strings() -> None:
    spec = json.loads(spec_as_json(FUZZED_PATHS))
    schema = spec["components"]["schemas"]["EditImageRequest"]["properties"]["aspect_ratio"]
    assert "16:9" in schema["enum"] and 969 not in schema["enum"]
    assert set(spec["paths"]) == set(FUZZED_PATHS)


@pytest.fixture
def fuzz_backend() -> Iterator[LocalBackend]:
    config = BackendConfig(rate_limit=10**9, failure_block=(10**9, 30.0, 30.0))
    with LocalBackend(config) as backend:
        yield backend


def test_schemathesis_finds_no_violations(fuzz_backend: LocalBackend, tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(spec_as_json(FUZZED_PATHS), "utf-8")
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, "utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
         str(spec), "--url", fuzz_backend.url, "--max-time", str(MAX_TIME_S),
         "--seed", str(SEED), "--workers", "1", "--continue-on-failure",
         "--header", "Authorization: Bearer fuzz-key", "--no-color"],
        cwd=tmp_path, capture_output=True, text=True, timeout=MAX_TIME_S + 120,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-20_000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", out)
    assert counts is not None, out[-5000:]
    assert int(counts[1]) == int(counts[2]) > 200, counts[0]
    assert fuzz_backend.stats.by_status.get(500, 0) == 0
    assert sum(fuzz_backend.stats.by_status.values()) > 200
