#!/bin/bash
# Entrypoint of the locally built PostgreSQL 17 + TimescaleDB image (docker/services/), the
# subset of the official postgres/timescaledb images' contract that docker/compose.yaml uses:
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB on first start, *.sql and *.sh files in
# /docker-entrypoint-initdb.d run once, the timescaledb extension created in POSTGRES_DB, then
# `postgres ARGS...` in the foreground as the postgres user.
set -euo pipefail
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA

if [[ "$(id -u)" == 0 ]]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
USER_NAME="${POSTGRES_USER:-postgres}"
DB_NAME="${POSTGRES_DB:-$USER_NAME}"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    initdb -D "$PGDATA" -U "$USER_NAME" --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 \
        --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") >/dev/null
    {
        echo "listen_addresses = '*'"
        echo "shared_preload_libraries = 'timescaledb'"
    } >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    # Initialise over the unix socket only; nothing can connect over TCP before it is done.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    psql=(psql -v ON_ERROR_STOP=1 -U "$USER_NAME" -qAt)
    if [[ "$DB_NAME" != postgres ]]; then
        "${psql[@]}" -d postgres -c "CREATE DATABASE \"$DB_NAME\" OWNER \"$USER_NAME\""
    fi
    "${psql[@]}" -d "$DB_NAME" -c "SET client_min_messages = warning;
        CREATE EXTENSION IF NOT EXISTS timescaledb" >/dev/null
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
        *.sql) "${psql[@]}" -d "$DB_NAME" -f "$f" ;;
        *.sh) . "$f" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "database initialised in $PGDATA"
fi

if [[ "${1:-}" == postgres ]]; then
    shift
    exec postgres -D "$PGDATA" "$@"
fi
exec "$@"
