#!/usr/bin/env bash
# The test passes CI runs:
#   scripts/ci/test.sh default   PRs: the default suite (-m "not slow"), real services
#   scripts/ci/test.sh slow      the slow end-to-end tests
#   scripts/ci/test.sh full      main: default then slow (what scripts/test.sh runs)
# Extra arguments go to pytest. GPU tests skip without CUDA.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
PY="${VENV_BIN:-.venv/bin}/python"
pass="${1:-default}"
shift || true
run() {
    local rc=0
    "$PY" -m pytest -q "$@" || rc=$?
    [[ $rc -eq 5 ]] && rc=0 # no test selected by the marker: not a failure
    return $rc
}
case "$pass" in
default) run -m "not slow" "$@" ;;
slow) run -m "slow" "$@" ;;
full) run -m "not slow" "$@" && run -m "slow" "$@" ;;
*) echo "test.sh: pass must be default, slow or full" >&2; exit 2 ;;
esac
