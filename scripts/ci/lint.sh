#!/usr/bin/env bash
# Lint everything CI lints (the PR workflow's lint job runs exactly this):
#   ruff (lint rules) · black (the one formatter; ruff-format is not used) · mypy · hadolint on both
#   Dockerfiles · actionlint on .github/workflows · detect-secrets against .secrets.baseline.
#   scripts/ci/lint.sh [python|docker|workflows|secrets]...   (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${VENV_BIN:-.venv/bin}"
parts=("$@")
[[ ${#parts[@]} -gt 0 ]] || parts=(python docker workflows secrets)
for part in "${parts[@]}"; do
    case "$part" in
    python)
        "$BIN/ruff" check .
        "$BIN/black" --check --quiet .
        "$BIN/mypy"
        ;;
    docker) "$BIN/hadolint" docker/Dockerfile docker/Dockerfile.cpu docker/services/*.Containerfile ;;
    workflows) "$BIN/actionlint" -no-color .github/workflows/*.yml ;;
    secrets) scripts/ci/secret_scan.sh repo ;;
    *) echo "lint.sh: unknown part $part" >&2; exit 2 ;;
    esac
    echo "lint: $part ok"
done
