#!/usr/bin/env bash
# Creates .venv and installs the project with its dev extras (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# This machine's pip.conf names index folders that may not exist; pip warns once per package.
quiet() { grep -v "is ignored: it is neither a file nor a directory" || true; }
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | quiet
# torch==2.13.0 is pinned in pyproject.toml: pip takes the CPU wheel from the local wheelhouse
# where one is configured, otherwise from PyPI.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 | quiet
