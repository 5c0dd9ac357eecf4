#!/usr/bin/env bash
# Smoke test of a running QA (or re-created) stack: the webserver loads every code location
# (when QUANT_WEBSERVER_URL is set), then a vendor file is landed, its raw and clean partitions
# built and a metric read back through metrics_minute (`quant smoke`).
#
#   scripts/qa_smoke.sh [VENDOR_FILE]
#
# Needs the prod settings of the stack: QUANT_DEPLOYMENT=prod, QUANT_S3_BUCKET, QUANT_TSDB_DSN,
# AWS_* (endpoint/credentials). VENDOR_FILE defaults to a Databento sample from shared/data.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QUANT="${QUANT_BIN:-}"
PYTHON="${PYTHON:-}"
if [[ -z "$QUANT" ]]; then
    if [[ -x .venv/bin/quant ]]; then QUANT=.venv/bin/quant; else QUANT=quant; fi
fi
if [[ -z "$PYTHON" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
FILE="${1:-../shared/data/ticks/databento_python/XNAS.ITCH/test_data.trades.dbn.zst}"

if [[ -n "${QUANT_WEBSERVER_URL:-}" ]]; then
    "$PYTHON" - "$QUANT_WEBSERVER_URL" <<'PY'
import sys
from quant_assets.deploy.webserver import location_errors
errors = location_errors(sys.argv[1])
if errors:
    sys.exit(f"webserver: code locations not loaded: {errors}")
print("webserver: every code location loaded")
PY
fi
"$QUANT" smoke --file "$FILE"
