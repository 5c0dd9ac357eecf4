#!/usr/bin/env bash
# Build (and on main push) both images with buildx; scan each built image for secrets.
#
#   scripts/ci/images.sh pr        amd64, loaded locally as $REGISTRY/quant-platform:{cpu,gpu}-pr,
#                                  runtime + test stages built, then secret-scanned
#   scripts/ci/images.sh release   linux/amd64,linux/arm64, pushed as :<sha>-{cpu,gpu} and
#                                  :latest-{cpu,gpu} (and :<sha>/:latest for the GPU image, the
#                                  training image), registry build cache, then each pushed tag
#                                  pulled and secret-scanned
#   --dry-run                      print the commands instead of running them (tests use this)
#
# Environment: REGISTRY (e.g. ghcr.io/org), IMAGE_SHA (default: git rev-parse HEAD),
# PLATFORMS (release default linux/amd64,linux/arm64; PLATFORMS_CPU when the CPU torch lock lacks
# arm64), CACHE_REF (default $REGISTRY/quant-platform:buildcache).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode="${1:-}"
DRY=0
[[ "${2:-}" == "--dry-run" || "${DRY_RUN:-0}" == 1 ]] && DRY=1
REGISTRY="${REGISTRY:-localhost/quant}"
SHA="${IMAGE_SHA:-$(git rev-parse HEAD)}"
REPO="$REGISTRY/quant-platform"
CACHE_REF="${CACHE_REF:-$REPO:buildcache}"
run() {
    if [[ $DRY == 1 ]]; then printf '%q ' "$@"; echo; else "$@"; fi
}
case "$mode" in
pr)
    for variant in cpu gpu; do
        file=docker/Dockerfile
        [[ $variant == cpu ]] && file=docker/Dockerfile.cpu
        run docker buildx build --platform linux/amd64 -f "$file" --target test \
            --cache-from "type=gha,scope=$variant" --cache-to "type=gha,mode=max,scope=$variant" .
        run docker buildx build --platform linux/amd64 -f "$file" --target runtime --load \
            --cache-from "type=gha,scope=$variant" -t "$REPO:$variant-pr" .
        run scripts/ci/secret_scan.sh image "$REPO:$variant-pr"
    done
    ;;
release)
    for variant in cpu gpu; do
        # The GPU image is locked for both arches (PyPI torch); the CPU lock holds the arm64
        # wheel's hash only once scripts/lock_deps.sh has run where the PyTorch CPU index is
        # reachable (docker/torch-cpu.lock says which wheels it hashed).
        platforms="${PLATFORMS:-linux/amd64,linux/arm64}"
        if [[ $variant == cpu ]] && grep -q "hashed from local files" docker/torch-cpu.lock &&
            ! grep -q aarch64 docker/torch-cpu.lock; then
            platforms="${PLATFORMS_CPU:-linux/amd64}"
        fi
        file=docker/Dockerfile
        [[ $variant == cpu ]] && file=docker/Dockerfile.cpu
        tags=(-t "$REPO:$SHA-$variant" -t "$REPO:latest-$variant")
        [[ $variant == gpu ]] && tags+=(-t "$REPO:$SHA" -t "$REPO:latest")
        run docker buildx build --platform "$platforms" -f "$file" --target runtime --push \
            --cache-from "type=registry,ref=$CACHE_REF-$variant" \
            --cache-to "type=registry,ref=$CACHE_REF-$variant,mode=max" \
            --label "org.opencontainers.image.revision=$SHA" "${tags[@]}" .
        run docker pull "$REPO:$SHA-$variant"
        run scripts/ci/secret_scan.sh image "$REPO:$SHA-$variant"
    done
    ;;
*) echo "usage: $0 pr|release [--dry-run]" >&2; exit 2 ;;
esac
