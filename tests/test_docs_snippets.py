"""Every ```python block in README.md and docs/*.md runs, so a documented snippet cannot fail.

Each page's blocks run in order in one namespace (a page reads like one notebook), in a fresh
temporary folder, against the local backend with no key. A block the reader cannot run as is
(it needs a key, or it is an illustration with placeholders) is preceded by the marker line
``<!-- docs: not run (REASON) -->``; the reason is required and the marker is used sparingly.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
NOT_RUN = re.compile(r"<!-- docs: not run \(([^)]+)\) -->\s*$")
ANY_MARKER = re.compile(r"(?<!`)<!-- docs:")  # not when quoted as inline code


def blocks(page: Path) -> list[tuple[int, str, str | None]]:
    """(line, code, reason not run or None) for each python block of a page, in order."""
    text = page.read_text("utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = NOT_RUN.search(before)
        found.append((text.count("\n", 0, match.start()) + 1, match.group(1), skip and skip[1]))
    return found


def test_every_marker_is_well_formed() -> None:
    """A misspelt marker would run (or silently not mark) a block: each must parse."""
    for page in PAGES:
        for line in page.read_text("utf-8").splitlines():
            if ANY_MARKER.search(line):
                assert NOT_RUN.search(line), f"{page.name}: malformed marker {line!r}"


def test_markers_are_rare() -> None:
    """Not running a block is the exception: at most one in ten blocks, and each says why."""
    all_blocks = [b for page in PAGES for b in blocks(page)]
    skipped = [b for b in all_blocks if b[2] is not None]
    assert len(all_blocks) >= 20  # the extraction finds the blocks at all
    assert len(skipped) * 10 <= len(all_blocks), skipped


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_snippets_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for line, code, reason in blocks(page):
        if reason is not None:
            compile(code, f"{page.name}:{line}", "exec")  # still valid Python
            continue
        try:
            exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
        except Exception as err:  # report which block failed, then fail
            pytest.fail(f"{page.name} block at line {line} raised {err!r}\n{code}")
