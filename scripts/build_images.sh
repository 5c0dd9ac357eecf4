#!/usr/bin/env bash
# Build the project images, online or fully offline (no registry, no package index).
#
#   scripts/build_images.sh cpu|gpu [options]
#     --tag TAG            image tag (default quant-platform:<variant>)
#     --target T           runtime (default) or test
#     --engine E           docker or podman (default: docker if its daemon answers, else podman)
#     --offline            no network: base image from --base-image (cpu default: the local
#                          quant-base:bookworm that `scripts/services/podman.sh build-base-image`
#                          builds with debootstrap), every wheel from --wheels
#     --base-image IMG     base image (overrides the Dockerfile's digest-pinned default)
#     --wheels DIR         wheelhouse: the locked wheels + the torch wheel. Offline without it, one
#                          is assembled in .quant/wheelhouse-<variant> with `pip download` (from
#                          wherever this machine's pip reaches: PyPI, a mirror, a local index) plus
#                          $TORCH_WHEELS/torch-*.whl (default /opt/wheels)
#     --ca FILE            extra CA (TLS-inspecting proxy) for pip inside the build, passed as a
#                          build secret: never written into a layer
#     --dry-run            print the build command
#
# Every wheel is still checked against the lock files' hashes (pip --require-hashes) inside the
# build, so a wheelhouse cannot smuggle in a different package.
set -euo pipefail
cd "$(dirname "$0")/.."

variant="${1:-}"
[[ "$variant" == cpu || "$variant" == gpu ]] || { sed -n '2,20p' "$0" >&2; exit 2; }
shift
tag="quant-platform:$variant" target=runtime engine="" offline=0 base="" wheels="" ca="" dry=0
while [[ $# -gt 0 ]]; do
    case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --target) target="$2"; shift 2 ;;
    --engine) engine="$2"; shift 2 ;;
    --offline) offline=1; shift ;;
    --base-image) base="$2"; shift 2 ;;
    --wheels) wheels="$2"; shift 2 ;;
    --ca) ca="$2"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    *) echo "build_images: unknown option $1" >&2; exit 2 ;;
    esac
done
if [[ -z "$engine" ]]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then engine=docker; else engine=podman; fi
fi
dockerfile=docker/Dockerfile
base_arg=CUDA_IMAGE
torch_lock=docker/torch-gpu.lock
if [[ $variant == cpu ]]; then
    dockerfile=docker/Dockerfile.cpu base_arg=PYTHON_IMAGE torch_lock=docker/torch-cpu.lock
fi

args=(build -f "$dockerfile" --target "$target" -t "$tag")
if [[ $offline == 1 ]]; then
    if [[ -z "$base" ]]; then
        [[ $variant == cpu ]] || { echo "build_images: offline GPU build needs --base-image (a local CUDA image)" >&2; exit 2; }
        base=quant-base:bookworm
    fi
    if [[ -z "$wheels" ]]; then
        wheels=".quant/wheelhouse-$variant"
        mkdir -p "$wheels"
        if [[ $dry == 0 ]]; then
            locks=(-r docker/requirements.lock -r docker/requirements-build.lock -r docker/requirements-test.lock)
            [[ $variant == gpu ]] && locks+=(-r "$torch_lock")
            .venv/bin/python -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
                --python-version 3.11 --implementation cp --abi cp311 \
                --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
                --platform manylinux_2_17_x86_64 --platform linux_x86_64 --platform any \
                -d "$wheels" "${locks[@]}"
            cp -n "${TORCH_WHEELS:-/opt/wheels}"/torch-*.whl "$wheels"/ 2>/dev/null || true
        fi
    fi
    # nothing inside the build may reach the network: proves the build is really offline
    args+=(--build-arg PIP_OFFLINE=1 --network none)
elif [[ $engine == podman ]]; then
    args+=(--network host) # rootful podman without CNI bridge plugins: builds share the host's
fi
[[ -n "$base" ]] && args+=(--build-arg "$base_arg=$base")
[[ -n "$wheels" ]] && args+=(--build-context "wheels=$wheels")
[[ -n "$ca" ]] && args+=(--secret "id=ca,src=$ca")
args+=(.)
if [[ $dry == 1 ]]; then printf '%q ' "$engine" "${args[@]}"; echo; exit 0; fi
DOCKER_BUILDKIT=1 "$engine" "${args[@]}"
echo "built $tag ($variant, target $target, $( [[ $offline == 1 ]] && echo offline || echo online ))"
