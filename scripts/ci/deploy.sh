#!/usr/bin/env bash
# Blue/green deploy of the user-code location at the commit under test (main workflow's last job).
# The deploy itself — green beside blue, health check, atomic workspace switch, blue kept for
# rollback — is `quant deploy` (scripts/deploy.sh wraps it); this script only names the image.
#   scripts/ci/deploy.sh [--dry-run]
# Environment: REGISTRY, IMAGE_SHA, QUANT_DEPLOY_TARGET (default qa).
set -euo pipefail
cd "$(dirname "$0")/../.."
DRY=0
[[ "${1:-}" == "--dry-run" ]] && DRY=1
REGISTRY="${REGISTRY:-localhost/quant}"
SHA="${IMAGE_SHA:-$(git rev-parse HEAD)}"
image="$REGISTRY/quant-platform:$SHA-cpu"
target="${QUANT_DEPLOY_TARGET:-qa}"
cmd=(.venv/bin/quant deploy --image "$image" --target "$target")
[[ -x scripts/deploy.sh ]] && cmd=(scripts/deploy.sh --image "$image" --target "$target")
if [[ $DRY == 1 ]]; then printf '%q ' "${cmd[@]}"; echo; else "${cmd[@]}"; fi
