#!/usr/bin/env bash
# checkov (IaC static analysis) in its own cached virtualenv: its pins (boto3 1.35, packaging
# 23, networkx 2) would downgrade the project's environment, so it never shares it.
#
#   scripts/tools/checkov.sh [checkov args...]     e.g. -d infra --framework terraform
#
# Environment: QUANT_TOOLS_CACHE (default $HOME/.cache/quant-platform/tools).
set -euo pipefail
VERSION=3.3.30
CACHE="${QUANT_TOOLS_CACHE:-${HOME:-/root}/.cache/quant-platform/tools}"
VENV="${CACHE}/checkov-${VERSION}"
PYTHON="${PYTHON:-python3}"
if [[ ! -x "${VENV}/bin/checkov" ]]; then
    mkdir -p "$CACHE"
    exec 9>"${CACHE}/checkov.lock"
    flock -w 600 9
    if [[ ! -x "${VENV}/bin/checkov" ]]; then
        rm -rf "${VENV}.partial"
        "$PYTHON" -m venv "${VENV}.partial"
        "${VENV}.partial/bin/python" -m pip install -q --disable-pip-version-check \
            "checkov==${VERSION}" >&2
        mv "${VENV}.partial" "$VENV"
        # venv scripts hard-code their path: recreate the console script for the final path.
        sed -i "1s|.*|#!${VENV}/bin/python|" "${VENV}/bin/checkov"
    fi
fi
# --skip-download: no call to the Prisma Cloud API (offline CI, no account).
exec "${VENV}/bin/checkov" --skip-download "$@"
