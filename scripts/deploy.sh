#!/usr/bin/env bash
# Blue/green deploy of the code location (CI's last step on main, or by hand).
#
#   scripts/deploy.sh [quant deploy options]     e.g. --ref "$GITHUB_SHA" | --branch feature-x
#   scripts/deploy.sh rollback [--location L]    serve the previous code server again
#
# Exit status: 0 switched (or rolled back); 1 not switched, the serving server stays.
# Environment (see `quant deploy --help`): QUANT_DEPLOY_ROOT (state, workspace.yaml the webserver
# and daemon read), QUANT_WEBSERVER_URL (reloaded after the switch), QUANT_DEPLOY_DRY_RUN_PARTITION
# (date|symbol cleaned from QA data as a health check), QUANT_BIN (default: .venv/bin/quant).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QUANT="${QUANT_BIN:-}"
if [[ -z "$QUANT" ]]; then
    if [[ -x .venv/bin/quant ]]; then QUANT=.venv/bin/quant; else QUANT=quant; fi
fi
if [[ "${1:-}" == rollback ]]; then
    shift
    "$QUANT" rollback "$@"
else
    "$QUANT" deploy "$@"
fi
"$QUANT" deploy-status
