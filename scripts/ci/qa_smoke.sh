#!/usr/bin/env bash
# Bring the QA stack up from the images just pushed (:<sha> tags), smoke-test it, tear it down.
# The stack is docker/compose.yaml (the re-creatable stack); its smoke flow lives in
# scripts/stack.sh (`smoke`: land a file → clean partition → metrics visible). This script only
# pins the images to the commit under test and runs it.
#   scripts/ci/qa_smoke.sh [--dry-run]
# Environment: REGISTRY, IMAGE_SHA (as scripts/ci/images.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
DRY=0
[[ "${1:-}" == "--dry-run" ]] && DRY=1
REGISTRY="${REGISTRY:-localhost/quant}"
SHA="${IMAGE_SHA:-$(git rev-parse HEAD)}"
export QUANT_IMAGE="$REGISTRY/quant-platform:$SHA-cpu"
export QUANT_TRAINING_IMAGE="$REGISTRY/quant-platform:$SHA"
export COMPOSE_PROJECT_NAME="quant-qa-${SHA:0:12}"
run() {
    if [[ $DRY == 1 ]]; then printf '%q ' "$@"; echo; else "$@"; fi
}
cleanup() { run docker compose -f docker/compose.yaml --profile prod down --volumes; }
[[ $DRY == 1 ]] || trap cleanup EXIT
echo "qa: QUANT_IMAGE=$QUANT_IMAGE QUANT_TRAINING_IMAGE=$QUANT_TRAINING_IMAGE"
run docker compose -f docker/compose.yaml --profile prod pull --ignore-buildable
run docker compose -f docker/compose.yaml --profile prod up -d --wait --no-build
if [[ -x scripts/stack.sh ]]; then
    run scripts/stack.sh smoke
else
    run docker compose -f docker/compose.yaml run --rm --no-build train-smoke
fi
[[ $DRY == 1 ]] && cleanup
echo "qa: smoke ok"
