"""Write docs/img/before-after.jpg, the README's picture, from the docs build's own ``hero()``.

The docs site makes a fresh copy at every build (docs/_hooks/pictures.py); the README, read on
GitHub, needs the committed file. ``tests/test_docs_pictures.py`` fails when it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img" / "before-after.jpg"


def main() -> None:
    sys.path.insert(0, str(ROOT / "docs" / "_hooks"))
    from pictures import hero

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(hero())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
