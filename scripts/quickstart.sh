#!/usr/bin/env bash
# Set up venice_nb and open the quickstart notebook in JupyterLab. With no VENICE_API_KEY the
# notebook runs on the offline local backend: no account, no cost.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[lab]'
ROOT_FLAG=""
[ "$(id -u)" -ne 0 ] || ROOT_FLAG="--allow-root"
exec .venv/bin/jupyter lab $ROOT_FLAG notebooks/01_quickstart.ipynb "$@"
