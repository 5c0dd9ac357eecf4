#!/usr/bin/env bash
# Real TimescaleDB (PostgreSQL 17 + timescaledb) on 127.0.0.1 for tests and CI, without Docker.
#
#   scripts/services/timescaledb.sh start|stop|restart|status|dsn
#
# Debian 13 (trixie) packages postgresql-17-timescaledb; Debian 12 does not, so there we build a
# cached `debootstrap --variant=minbase trixie` chroot once (~100 s) and run the server inside it
# (warm start < 1 s). On Debian 13 the packages are installed on the host directly.
#
# Environment:
#   QUANT_TSDB_PORT        TCP port on 127.0.0.1 (default 55432); one cluster per port
#   QUANT_SERVICES_CACHE   cache dir for rootfs + data (default $HOME/.cache/quant-platform/services)
#   QUANT_DEBIAN_MIRROR    Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   QUANT_TSDB_NATIVE=1    force host packages even on Debian 12 (expects them installed)
#   QUANT_TSDB_PG_OPTS     extra server options passed to `pg_ctl -o` on start
#
# The cluster is a throwaway test server: fsync is off, user quant/quant is a superuser.
set -euo pipefail

PORT="${QUANT_TSDB_PORT:-55432}"
CACHE="${QUANT_SERVICES_CACHE:-${HOME:-/root}/.cache/quant-platform/services}"
MIRROR="${QUANT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PG_VERSION=17
PG_BIN="/usr/lib/postgresql/${PG_VERSION}/bin"
PACKAGES=("postgresql-${PG_VERSION}" "postgresql-${PG_VERSION}-timescaledb")
ROOTFS_STAMP="trixie-pg${PG_VERSION}-v1" # bump to force a rebuild of the cached rootfs
DSN="postgresql://quant:quant@127.0.0.1:${PORT}/quant"
PG_EXTRA_OPTS="${QUANT_TSDB_PG_OPTS:-}" # extra postgres options for pg_ctl -o, e.g. "-c work_mem=64MB"

log() { printf '[timescaledb] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

debian_major() { cut -d. -f1 </etc/debian_version 2>/dev/null || echo 0; }

# Mode: "native" (host has PG17 packages) or "chroot" (Debian 12: cached trixie rootfs).
DEBIAN_MAJOR="$(debian_major)"
if [[ "${QUANT_TSDB_NATIVE:-}" == 1 ]] || [[ "$DEBIAN_MAJOR" =~ ^(trixie|forky|sid) ]] ||
    { [[ "$DEBIAN_MAJOR" =~ ^[0-9]+$ ]] && ((DEBIAN_MAJOR >= 13)); }; then
    MODE=native
    ROOT=""
    STATE_DIR="/var/lib/postgresql/quant-tsdb/${PORT}" # postgres must be able to traverse it
else
    MODE=chroot
    ROOT="${CACHE}/tsdb-rootfs"
    STATE_DIR="/srv/quant-tsdb/${PORT}" # path inside the chroot
fi
DATA="${STATE_DIR}/data"
SOCK="${STATE_DIR}"
LOGFILE="${STATE_DIR}/postgres.log"
MARKER="${ROOT}/.quant-rootfs-complete"

need_root() {
    [[ "$(id -u)" == 0 ]] || die "needs root (apt/debootstrap/chroot); run with sudo"
}

apt_install_host() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# Unmount everything below $1 (deepest first); used before deleting/rebuilding a rootfs.
umount_below() {
    local dir mnt
    dir="$(realpath -m "$1")"
    findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0, d) == 1' | sort -r | while read -r mnt; do
        umount -l "$mnt" || true
    done
}

# Debian 12 path: debootstrap trixie + postgresql-17-timescaledb into $ROOT (atomically).
build_rootfs() {
    need_root
    if ! command -v debootstrap >/dev/null; then
        apt-get update -q
        apt_install_host debootstrap debian-archive-keyring
    fi
    local tmp="${ROOT}.partial"
    mkdir -p "$CACHE"
    if [[ -e "$ROOT" ]]; then
        log "removing incomplete/outdated rootfs $ROOT"
        umount_below "$ROOT"
        rm -rf --one-file-system "$ROOT"
    fi
    if [[ -e "$tmp" ]]; then
        log "removing half-finished build $tmp"
        umount_below "$tmp"
        rm -rf --one-file-system "$tmp"
    fi
    log "debootstrap trixie into $tmp (one-off, ~100 s)"
    debootstrap --variant=minbase trixie "$tmp" "$MIRROR" >"${CACHE}/debootstrap.log" 2>&1 ||
        die "debootstrap failed, see ${CACHE}/debootstrap.log"
    # No service starts inside the chroot, no auto-created cluster.
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 755 "$tmp/usr/sbin/policy-rc.d"
    mkdir -p "$tmp/etc/postgresql-common"
    echo "create_main_cluster = false" >"$tmp/etc/postgresql-common/createcluster.conf"
    cp -L /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
    log "installing ${PACKAGES[*]} in the chroot"
    mount -t proc proc "$tmp/proc"
    local rc=0
    chroot "$tmp" /usr/bin/env -i LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c "
            apt-get update -q &&
            apt-get install -y -q --no-install-recommends \
                -o Dpkg::Options::=--force-confold ${PACKAGES[*]} &&
            apt-get clean" >>"${CACHE}/debootstrap.log" 2>&1 || rc=$?
    umount -l "$tmp/proc" || true
    [[ "$rc" == 0 ]] || die "apt-get in chroot failed, see ${CACHE}/debootstrap.log"
    [[ -x "$tmp${PG_BIN}/postgres" ]] || die "postgres binary missing after install"
    echo "$ROOTFS_STAMP" >"$tmp/.quant-rootfs-complete"
    mv "$tmp" "$ROOT"
    log "rootfs ready: $ROOT"
}

ensure_runtime() {
    if [[ "$MODE" == native ]]; then
        if [[ ! -x "${PG_BIN}/postgres" ]] ||
            ! ls /usr/lib/postgresql/${PG_VERSION}/lib/timescaledb*.so >/dev/null 2>&1; then
            need_root
            log "installing ${PACKAGES[*]} on the host"
            if [[ ! -e /usr/sbin/policy-rc.d ]]; then
                printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
                chmod 755 /usr/sbin/policy-rc.d
                trap 'rm -f /usr/sbin/policy-rc.d' EXIT
            fi
            mkdir -p /etc/postgresql-common
            grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
                echo "create_main_cluster = false" >>/etc/postgresql-common/createcluster.conf
            apt-get update -q
            apt_install_host -o Dpkg::Options::=--force-confold "${PACKAGES[@]}"
        fi
        return
    fi
    if [[ "$(cat "$MARKER" 2>/dev/null || true)" != "$ROOTFS_STAMP" ]]; then
        build_rootfs
    fi
    # Runtime mounts, released by `stop`. Without mount rights (e.g. a container lacking
    # CAP_SYS_ADMIN) postgres still runs: dynamic shared memory then uses mmap'd files.
    mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc" 2>/dev/null ||
        log "warning: could not mount /proc in the chroot (continuing)"
    mkdir -p "$ROOT/dev/shm"
    if ! mountpoint -q "$ROOT/dev/shm" &&
        ! mount -t tmpfs -o mode=1777,nosuid,nodev shm "$ROOT/dev/shm" 2>/dev/null; then
        log "warning: no tmpfs for /dev/shm in the chroot; using dynamic_shared_memory_type=mmap"
        PG_EXTRA_OPTS="${PG_EXTRA_OPTS} -c dynamic_shared_memory_type=mmap"
    fi
    [[ -c "$ROOT/dev/null" ]] || die "$ROOT/dev/null missing; remove $ROOT to rebuild"
}

pg_ids() {
    local passwd="${ROOT}/etc/passwd"
    awk -F: '$1 == "postgres" { print $3 ":" $4 }' "$passwd"
}

# Run a PostgreSQL command as the postgres user (inside the chroot in chroot mode).
# All fds above 2 are closed so a caller's pipes/locks are never inherited by the postmaster.
as_pg() {
    local ids
    ids="$(pg_ids)"
    [[ -n "$ids" ]] || die "no postgres user in ${ROOT:-/}/etc/passwd"
    local envv=(/usr/bin/env -i LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME=/var/lib/postgresql
        "PATH=${PG_BIN}:/usr/bin:/bin" PGHOST="$SOCK" PGPORT="$PORT")
    if [[ "$MODE" == chroot ]]; then
        ${AS_PG_PREFIX:-} chroot --userspec="$ids" --groups= "$ROOT" "${envv[@]}" "$@"
    else
        ${AS_PG_PREFIX:-} setpriv --reuid="${ids%%:*}" --regid="${ids##*:}" --clear-groups \
            "${envv[@]}" "$@"
    fi
}

# Close every fd above 2 in the current (sub)shell.
close_inherited_fds() {
    local fd n
    for fd in /proc/"$BASHPID"/fd/*; do
        n="${fd##*/}"
        if [[ "$n" =~ ^[0-9]+$ ]] && ((n > 2)); then
            eval "exec ${n}>&-" 2>/dev/null || true
        fi
    done
}

is_running() {
    [[ -f "${ROOT}${DATA}/PG_VERSION" ]] || return 1
    as_pg pg_ctl -D "$DATA" status >/dev/null 2>&1
}

init_cluster() {
    local host_state="${ROOT}${STATE_DIR}"
    if [[ -f "${ROOT}${DATA}/PG_VERSION" && -f "${ROOT}${DATA}/.quant-initdb-complete" ]]; then
        return
    fi
    log "creating cluster in ${ROOT}${DATA}"
    rm -rf "$host_state"
    mkdir -p "$host_state"
    chown "$(pg_ids)" "$host_state"
    chmod 700 "$host_state"
    as_pg initdb -D "$DATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"${host_state}/initdb.log" 2>&1 ||
        die "initdb failed: $(cat "${host_state}/initdb.log")"
    cat >>"${ROOT}${DATA}/postgresql.conf" <<EOF

# --- quant-platform test server ---
listen_addresses = '127.0.0.1'
port = ${PORT}
unix_socket_directories = '${SOCK}'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
EOF
    # Local TCP only; initdb already wrote 127.0.0.1/32 + ::1 scram lines.
    touch "${ROOT}${DATA}/.quant-initdb-complete"
}

provision() {
    as_pg psql -d postgres -v ON_ERROR_STOP=1 -qAt >/dev/null <<'SQL'
DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'quant') THEN
    CREATE ROLE quant LOGIN SUPERUSER PASSWORD 'quant';
  END IF;
END$$;
SELECT 'CREATE DATABASE quant OWNER quant'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'quant')\gexec
SELECT 'CREATE DATABASE dagster OWNER quant'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dagster')\gexec
\c quant
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
SQL
}

cmd_start() {
    if [[ "$MODE" == chroot && -f "$MARKER" ]] && is_running; then
        echo "$DSN"
        return
    fi
    need_root
    ensure_runtime
    if ! is_running; then
        init_cluster
        # New session, stdio on /dev/null and every other inherited fd closed: the postmaster
        # must not hold the caller's pipes (pytest capture, CI log pipes) or lock files open.
        (
            close_inherited_fds
            AS_PG_PREFIX="setsid -w" as_pg pg_ctl -D "$DATA" -l "$LOGFILE" -w -t 60 \
                -o "${PG_EXTRA_OPTS:-}" start
        ) </dev/null >/dev/null 2>&1 ||
            die "pg_ctl start failed: $(tail -n 30 "${ROOT}${LOGFILE}" 2>/dev/null)"
    fi
    provision || die "provisioning failed: $(tail -n 30 "${ROOT}${LOGFILE}" 2>/dev/null)"
    echo "$DSN"
}

cmd_stop() {
    if [[ "$MODE" == chroot && ! -f "$MARKER" ]]; then
        log "not installed"
        return
    fi
    if is_running; then
        as_pg pg_ctl -D "$DATA" -m fast -w -t 60 stop </dev/null >/dev/null 2>&1 ||
            die "pg_ctl stop failed"
        log "stopped (port ${PORT})"
    else
        log "not running (port ${PORT})"
    fi
    release_runtime_mounts
}

# Drop /proc and /dev/shm from the rootfs once no cluster in it runs (so `rm -rf` of the cache
# is safe after `stop`).
release_runtime_mounts() {
    [[ "$MODE" == chroot ]] || return 0
    local pidfile
    for pidfile in "$ROOT"/srv/quant-tsdb/*/data/postmaster.pid; do
        [[ -e "$pidfile" ]] && return 0
    done
    umount_below "$ROOT"
}

cmd_status() {
    if [[ "$MODE" == chroot && ! -f "$MARKER" ]]; then
        echo "not installed"
        return 3
    fi
    if is_running; then
        echo "running: $DSN"
    else
        echo "stopped"
        return 3
    fi
}

# Serialise start/stop/restart (parallel test workers, CI steps). fd 9 is closed again before the
# postmaster starts (close_inherited_fds), so the server never holds the lock.
with_lock() {
    mkdir -p "$CACHE"
    exec 9>"${CACHE}/timescaledb.lock"
    flock -w 900 9 || die "timed out waiting for ${CACHE}/timescaledb.lock"
}

case "${1:-}" in
start | stop | restart) with_lock ;;
esac

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
restart)
    cmd_stop
    cmd_start
    ;;
status) cmd_status ;;
dsn) echo "$DSN" ;;
*)
    echo "usage: $0 start|stop|restart|status|dsn" >&2
    exit 2
    ;;
esac
