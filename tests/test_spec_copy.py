"""The tests read their own copy of Venice's spec files; it must match the ground truth.

When the checkout sits next to ``../shared/venice/`` the copies are compared byte for byte. A
clone on its own has no ground truth to compare with: that comparison (and only that) is
skipped, and says so.
"""

from __future__ import annotations

import pytest

from ._spec import SHARED_DIR, SPEC_DIR, load_spec

COPIED = ("openapi.yaml", "models-snapshot.json")


@pytest.mark.parametrize("name", COPIED)
def test_the_in_repo_copy_matches_the_shared_ground_truth(name: str) -> None:
    source = SHARED_DIR / name
    if not source.is_file():
        pytest.skip(f"{SHARED_DIR} is absent: nothing to compare the copy of {name} with")
    assert (SPEC_DIR / name).read_bytes() == source.read_bytes(), (
        f"tests/spec/{name} is stale: copy {source} over it"
    )


def test_the_copy_is_the_image_edit_contract() -> None:
    paths = load_spec()["paths"]
    assert {"/image/edit", "/image/multi-edit", "/image/background-remove", "/models"} <= set(
        paths
    )
