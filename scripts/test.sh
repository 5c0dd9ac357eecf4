#!/usr/bin/env bash
# The test command: installs what is needed, starts the real servers, runs every test.
# Default tests first (fast feedback), then the slow end-to-end ones. GPU tests skip without CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1

scripts/setup.sh
scripts/services/timescaledb.sh start >/dev/null  # real PostgreSQL 17 + TimescaleDB on 127.0.0.1
# SeaweedFS (S3) is started by the test session itself (quant_assets_tests/conftest.py).

status=0
.venv/bin/python -m pytest -m "not slow" -q "$@" || status=$?
slow=0
.venv/bin/python -m pytest -m "slow" -q "$@" || slow=$?
# pytest exits 5 when a marker selects no test: not a failure of the suite.
[ "$slow" -eq 5 ] && slow=0
[ "$status" -ne 0 ] && exit "$status"
exit "$slow"
