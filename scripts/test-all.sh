#!/usr/bin/env bash
# Set up everything and run every check: lint, docs build, unit/contract tests, notebooks (nbval)
# and real-browser widget tests. Works on a fresh Debian machine with Python >= 3.10; no API key
# is needed (everything runs against venice_nb's local backend on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

# Browser tests drive Debian's Chromium (Playwright's own browser downloads are not used);
# the serve-beyond-loopback test makes a second host in a network namespace with iproute2.
MISSING=""
command -v chromium >/dev/null 2>&1 || MISSING="$MISSING chromium"
command -v ip >/dev/null 2>&1 || MISSING="$MISSING iproute2"
if [ -n "$MISSING" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $MISSING >/dev/null
fi

export VENICE_NB_ARTIFACTS="$PWD/test-artifacts"
export NO_MKDOCS_2_WARNING=1
unset VENICE_API_KEY VENICE_BASE_URL VENICE_NB_STORE

echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy

# ---- painter front end: tsc --noEmit on the JSDoc-typed JS (typescript pinned in package-lock)
echo "== tsc (painter JS)"
[ -d node_modules ] || npm ci --no-audit --no-fund --silent
npx --no-install tsc --noEmit -p tsconfig.json
# ---- end painter front end
echo "== docs (mkdocs build --strict)"
.venv/bin/mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
echo "== tests, notebooks and browser tests (screenshots: $VENICE_NB_ARTIFACTS)"
.venv/bin/python -m pytest tests notebooks --nbval -p no:cacheprovider "$@"
