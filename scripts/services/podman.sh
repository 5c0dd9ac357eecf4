#!/usr/bin/env bash
# Rootful Podman with a Docker-compatible API socket, for tests of the containerised (docker_executor)
# training path on machines without a Docker engine.
#
#   scripts/services/podman.sh start              install if missing, start the API service,
#                                                 print DOCKER_HOST=unix://<sock>
#   scripts/services/podman.sh stop               stop the API service started by `start`
#   scripts/services/podman.sh socket             print DOCKER_HOST=unix://<sock> (starts nothing)
#   scripts/services/podman.sh build-base-image   build quant-base:bookworm (debootstrap, no registry)
#                                                 and quant-runtime:test (python3.11 venv + dagster)
#
# No container registry is reachable from CI/dev machines, so every image is built locally:
# `debootstrap --variant=minbase bookworm` (+ python3, Debian 12's is 3.11) is imported as
# quant-base:bookworm, and quant-runtime:test adds a venv at /opt/venv with the packages a Dagster
# step worker needs (`dagster api execute_step`). Project code is NOT baked into the test image:
# tests bind-mount the repository read-only at its host path and set PYTHONPATH.
#
# Environment:
#   QUANT_SERVICES_CACHE   cache dir (default $HOME/.cache/quant-platform/services): rootfs, pip
#                          cache, containers.conf, service log
#   QUANT_PODMAN_SOCK      API socket path (default /run/quant-platform/podman.sock)
#   QUANT_DEBIAN_MIRROR    Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   QUANT_RUNTIME_IMAGE    test image tag (default quant-runtime:test)
#   QUANT_RUNTIME_PIP      pip requirements baked into the test image (space separated)
#   QUANT_BUILD_CA_BUNDLE  CA bundle pip trusts during image builds (default: $PIP_CERT,
#                          $SSL_CERT_FILE or the system bundle); mounted, never baked in
#
# Storage is podman's system default (/var/lib/containers/storage, overlay). Our containers.conf is
# project-owned and passed via CONTAINERS_CONF; the system's /etc/containers is never modified.
set -euo pipefail

CACHE="${QUANT_SERVICES_CACHE:-${HOME:-/root}/.cache/quant-platform/services}"
SOCK="${QUANT_PODMAN_SOCK:-/run/quant-platform/podman.sock}"
MIRROR="${QUANT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
RUNTIME_IMAGE="${QUANT_RUNTIME_IMAGE:-quant-runtime:test}"
BASE_IMAGE="quant-base:bookworm"
RUNTIME_PIP="${QUANT_RUNTIME_PIP:-dagster==1.13.27 dagster-docker==0.29.27 pytest>=8}"
# CA bundle trusted by pip inside image builds (default: the one the host's pip/OpenSSL trust).
CA_BUNDLE="${QUANT_BUILD_CA_BUNDLE:-${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}}"
CONF_DIR="${CACHE}/podman"
CONF="${CONF_DIR}/containers.conf"
PIDFILE="${CONF_DIR}/service.pid"
LOGFILE="${CONF_DIR}/service.log"
ROOTFS="${CACHE}/bookworm-python-rootfs"
ROOTFS_STAMP="bookworm-minbase-python3-v1" # bump to force a rebuild of the cached rootfs
PACKAGES=(podman runc uidmap slirp4netns netavark aardvark-dns fuse-overlayfs iptables catatonit)

export CONTAINERS_CONF="$CONF"

log() { printf '[podman] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

need_root() {
    [[ "$(id -u)" == 0 ]] || die "needs root (apt-get, rootful podman, debootstrap)"
}

# Seconds since the epoch with milliseconds, for the timings we log.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

install_podman() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    need_root
    local t0
    t0="$(now)"
    log "installing ${missing[*]}"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
    log "installed in $(elapsed "$t0") s"
}

write_conf() {
    mkdir -p "$CONF_DIR"
    local events_logger=file
    [[ -S /run/systemd/journal/socket ]] && events_logger=journald
    local tmp="${CONF}.tmp"
    cat >"$tmp" <<EOF
# Written by scripts/services/podman.sh; used via CONTAINERS_CONF (the system config stays as is).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "${events_logger}"

[network]
network_backend = "netavark"
EOF
    mv "$tmp" "$CONF"
}

service_pid() {
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

api_answers() {
    [[ -S "$SOCK" ]] || return 1
    if command -v docker >/dev/null; then
        docker -H "unix://${SOCK}" version --format '{{.Server.Version}}' >/dev/null 2>&1
    else
        curl -fsS --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1
    fi
}

# Close every fd above 2 in the current (sub)shell (pytest capture pipes, lock files, ...).
close_inherited_fds() {
    local fd n
    for fd in /proc/"$BASHPID"/fd/*; do
        n="${fd##*/}"
        if [[ "$n" =~ ^[0-9]+$ ]] && ((n > 2)); then
            eval "exec ${n}>&-" 2>/dev/null || true
        fi
    done
}

cmd_start() {
    if service_pid >/dev/null && api_answers; then
        echo "DOCKER_HOST=unix://${SOCK}"
        return
    fi
    need_root
    install_podman
    write_conf
    local t0 pid
    t0="$(now)"
    mkdir -p "$(dirname "$SOCK")"
    rm -f "$SOCK"
    # New session, stdio on the log file, every other inherited fd closed: the service must not
    # hold the caller's pipes open (a test's subprocess.run would otherwise never return).
    # Working directory /: conmon inherits it, and a deleted caller directory (a removed git
    # worktree, a test's tmp dir) makes every later container start fail ("Failed to get working
    # directory", "write child: broken pipe").
    (
        close_inherited_fds
        cd /
        exec setsid podman system service --time=0 "unix://${SOCK}" \
            </dev/null >>"$LOGFILE" 2>&1
    ) &
    pid=$!
    echo "$pid" >"$PIDFILE"
    local i
    for ((i = 0; i < 300; i++)); do
        api_answers && break
        kill -0 "$pid" 2>/dev/null || die "podman service exited: $(tail -n 30 "$LOGFILE")"
        sleep 0.1
    done
    api_answers || die "API on ${SOCK} not answering after 30 s: $(tail -n 30 "$LOGFILE")"
    log "service up in $(elapsed "$t0") s (pid ${pid}, log ${LOGFILE})"
    echo "DOCKER_HOST=unix://${SOCK}"
}

cmd_stop() {
    local pid
    if pid="$(service_pid)"; then
        kill "$pid"
        local i
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        log "stopped (pid ${pid})"
    else
        log "not running"
    fi
    rm -f "$PIDFILE" "$SOCK"
}

build_rootfs() {
    need_root
    if ! command -v debootstrap >/dev/null; then
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            debootstrap debian-archive-keyring >&2
    fi
    local tmp="${ROOTFS}.partial" t0
    t0="$(now)"
    rm -rf --one-file-system "$ROOTFS" "$tmp"
    mkdir -p "$CACHE"
    log "debootstrap bookworm (+python3) into ${tmp}"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$tmp" "$MIRROR" >"${CACHE}/podman-debootstrap.log" 2>&1 ||
        die "debootstrap failed, see ${CACHE}/podman-debootstrap.log"
    # Slim the image: no apt lists/caches, docs or man pages are needed to run Python.
    rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/* "$tmp"/usr/share/doc/* \
        "$tmp"/usr/share/man/* "$tmp"/usr/share/locale/*
    echo "$ROOTFS_STAMP" >"$tmp/.quant-rootfs-complete"
    mv "$tmp" "$ROOTFS"
    log "rootfs built in $(elapsed "$t0") s"
}

image_exists() { podman image exists "$1"; }

cmd_build_base_image() {
    need_root
    install_podman
    write_conf
    local t0
    if ! image_exists "$BASE_IMAGE"; then
        if [[ "$(cat "${ROOTFS}/.quant-rootfs-complete" 2>/dev/null || true)" != "$ROOTFS_STAMP" ]]; then
            build_rootfs
        fi
        t0="$(now)"
        tar -C "$ROOTFS" --exclude=./.quant-rootfs-complete -c . |
            podman import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
                - "$BASE_IMAGE" >&2
        log "imported ${BASE_IMAGE} in $(elapsed "$t0") s"
    fi
    t0="$(now)"
    mkdir -p "${CACHE}/pip-cache"
    # Host network for pip (no default bridge needed); the host pip cache makes rebuilds fast.
    # Layer caching makes an unchanged rebuild a no-op.
    local ctx="${CONF_DIR}/runtime-image"
    mkdir -p "$ctx"
    cat >"${ctx}/Containerfile" <<EOF
FROM ${BASE_IMAGE}
ARG PIP_REQS
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DAGSTER_DISABLE_TELEMETRY=1
# /run/quant-build-ca.crt: the host's CA bundle, mounted for this build only (TLS-intercepting
# egress proxies); it is not part of any layer.
RUN if [ -s /run/quant-build-ca.crt ]; then export PIP_CERT=/run/quant-build-ca.crt; fi && \\
    python3 -m venv /opt/venv && \\
    /opt/venv/bin/pip install --disable-pip-version-check \${PIP_REQS}
RUN python -c "import dagster, dagster_docker, sys; assert sys.version_info[:2] == (3, 11)"
WORKDIR /tmp
EOF
    local mounts=(-v "${CACHE}/pip-cache:/root/.cache/pip")
    [[ -s "$CA_BUNDLE" ]] && mounts+=(-v "${CA_BUNDLE}:/run/quant-build-ca.crt:ro")
    podman build --network=host --layers -t "$RUNTIME_IMAGE" \
        --build-arg "PIP_REQS=${RUNTIME_PIP}" \
        "${mounts[@]}" -f "${ctx}/Containerfile" "$ctx" >&2
    log "${RUNTIME_IMAGE} ready in $(elapsed "$t0") s"
    echo "$RUNTIME_IMAGE"
}

# Serialise start/stop/build between parallel test workers and CI steps. The lock fd is closed
# in the service's subshell, so the service never holds it.
with_lock() {
    mkdir -p "$CACHE"
    exec 9>"${CACHE}/podman.lock"
    flock -w 1800 9 || die "timed out waiting for ${CACHE}/podman.lock"
}

case "${1:-}" in
start)
    with_lock
    cmd_start
    ;;
stop)
    with_lock
    cmd_stop
    ;;
socket) echo "DOCKER_HOST=unix://${SOCK}" ;;
build-base-image)
    with_lock
    cmd_build_base_image
    ;;
*)
    echo "usage: $0 start|stop|socket|build-base-image" >&2
    exit 2
    ;;
esac
