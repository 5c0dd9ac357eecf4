#!/usr/bin/env bash
# Regenerate the hash-locked requirements both Dockerfiles install with `pip --require-hashes`.
#
#   docker/requirements.lock   project runtime dependencies (pyproject.toml), every platform
#                              (uv --universal), WITHOUT torch and its CUDA wheels
#   docker/torch-gpu.lock      torch==$TORCH_VERSION from PyPI (CUDA build, linux x86_64+aarch64)
#                              with its nvidia-*/triton wheels: the GPU image
#   docker/torch-cpu.lock      torch==$TORCH_VERSION+cpu from the PyTorch CPU index: the CPU image
#   docker/requirements-build.lock wheel: with setuptools builds the project wheel without an index
#   docker/requirements-test.lock  pytest & co for the images' separate `test` stage
#
# The CPU index (download.pytorch.org) is not reachable from every machine: without it the CPU lock
# is built from local wheels (TORCH_WHEELS, default /opt/wheels) and holds only the hashes of the
# wheels found there (the script says which platforms are missing). Run it where the index is
# reachable to lock every platform.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-.venv/bin/uv}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCH_CPU_INDEX="${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
TORCH_WHEELS="${TORCH_WHEELS:-/opt/wheels}"
COMMON=(--python-version 3.11 --generate-hashes --native-tls --quiet --no-header)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "torch==${TORCH_VERSION}" >"$tmp/torch.in"
"$UV" pip compile "$tmp/torch.in" --universal "${COMMON[@]}" -o docker/torch-gpu.lock
# torch's own CUDA stack: kept out of the shared lock (the CPU image must not pull it)
mapfile -t cuda_pkgs < <(grep -oE '^(torch|triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)==' \
    docker/torch-gpu.lock | sed 's/==$//' | sort -u)
no_emit=()
for p in "${cuda_pkgs[@]}"; do no_emit+=(--no-emit-package "$p"); done
"$UV" pip compile pyproject.toml --universal "${COMMON[@]}" "${no_emit[@]}" \
    -o docker/requirements.lock

# wheel (setuptools is in requirements.lock) for `pip install --no-build-isolation .` offline
printf 'wheel==0.45.1\n' >"$tmp/build.in"
"$UV" pip compile "$tmp/build.in" --universal "${COMMON[@]}" -o docker/requirements-build.lock

printf 'pytest==8.4.2\npytest-timeout==2.4.0\n' >"$tmp/test.in"
"$UV" pip compile "$tmp/test.in" --universal "${COMMON[@]}" -o docker/requirements-test.lock

echo "torch==${TORCH_VERSION}+cpu" >"$tmp/torch-cpu.in"
if "$UV" pip compile "$tmp/torch-cpu.in" --universal "${COMMON[@]}" --no-deps \
    --index-url "$TORCH_CPU_INDEX" -o docker/torch-cpu.lock 2>"$tmp/err"; then
    echo "torch-cpu.lock: from $TORCH_CPU_INDEX (every platform)"
else
    echo "torch-cpu.lock: $TORCH_CPU_INDEX unreachable; hashing local wheels in $TORCH_WHEELS" >&2
    shopt -s nullglob
    wheels=("$TORCH_WHEELS"/torch-"${TORCH_VERSION}"+cpu-*.whl)
    [[ ${#wheels[@]} -gt 0 ]] || { echo "no torch-${TORCH_VERSION}+cpu wheel in $TORCH_WHEELS" >&2; exit 1; }
    {
        echo "# torch CPU wheels hashed from local files: run scripts/lock_deps.sh where"
        echo "# $TORCH_CPU_INDEX is reachable to lock the other platforms. Hashed:"
        for whl in "${wheels[@]}"; do echo "#   $(basename "$whl")"; done
        printf 'torch==%s+cpu' "$TORCH_VERSION"
        for whl in "${wheels[@]}"; do
            printf ' \\\n    --hash=sha256:%s' "$(sha256sum "$whl" | cut -d' ' -f1)"
        done
        echo
    } >docker/torch-cpu.lock
fi
wc -l docker/*.lock
