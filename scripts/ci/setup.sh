#!/usr/bin/env bash
# CI job setup: the project venv with dev extras (scripts/setup.sh), then the real TimescaleDB the
# tests use (SeaweedFS and moto are started by the test session itself).
#   scripts/ci/setup.sh [--no-services]
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh
if [[ "${1:-}" != "--no-services" ]]; then
    scripts/services/timescaledb.sh start >/dev/null
fi
echo "setup: ok"
