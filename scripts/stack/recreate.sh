#!/usr/bin/env bash
# Destroy the compose platform (containers AND volumes), re-create it from the repository and
# restore the lake and the warehouse from a backup store, then smoke-test it.
#
#   scripts/stack/recreate.sh BACKUP_URI [SMOKE_FILE]   e.g. /srv/backups/qa or s3://quant-backups/qa
#
# Take the backup first with `quant backup --to BACKUP_URI` (prod settings of the stack). The
# backup store must live outside the stack (its S3 volume is destroyed here). SMOKE_FILE: the
# vendor file the final smoke flow lands (default: scripts/qa_smoke.sh's; use another file than
# the one already in the restored lake).
#
# Engine: `docker compose` where a Docker engine answers, else Podman through
# scripts/stack/podman_compose.py with the locally built images (docker/stack-local.env,
# scripts/stack/build_service_images.sh); QUANT_STACK_ENGINE=docker|podman forces one.
# COMPOSE_PROJECT_NAME and the QUANT_STACK_*_PORT host ports are honoured by both.
# Run for real with Podman by quant_assets_tests/stack/test_compose_stack.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BACKUP="${1:?usage: $0 BACKUP_URI [SMOKE_FILE]}"
SMOKE_FILE="${2:-}"
ENGINE="${QUANT_STACK_ENGINE:-}"
if [[ -z "$ENGINE" ]]; then
    if command -v docker >/dev/null && docker compose version >/dev/null 2>&1 &&
        docker info >/dev/null 2>&1; then ENGINE=docker; else ENGINE=podman; fi
fi
if [[ "$ENGINE" == docker ]]; then
    COMPOSE=(docker compose -f docker/compose.yaml --profile platform)
    BUILD=(--build)
else
    COMPOSE=(.venv/bin/python scripts/stack/podman_compose.py -f docker/compose.yaml
        --env-file docker/stack-local.env --profile platform)
    BUILD=()
fi
t0=$(date +%s.%N)
since() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

"${COMPOSE[@]}" down --volumes --remove-orphans
[[ "$ENGINE" == podman ]] && scripts/stack/build_service_images.sh
"${COMPOSE[@]}" up "${BUILD[@]}" --detach --wait timescaledb dagster-db s3 s3-bucket
echo "recreate: storage up after $(since) s"

# The stack's services as seen from the host (ports published on 127.0.0.1 by compose.yaml).
export QUANT_DEPLOYMENT=prod QUANT_S3_BUCKET=quant-lake
export QUANT_TSDB_DSN="postgresql://quant:${QUANT_TSDB_PASSWORD:-quant}@127.0.0.1:${QUANT_STACK_TSDB_PORT:-55432}/quant"
export AWS_ENDPOINT_URL="http://127.0.0.1:${QUANT_STACK_S3_PORT:-8333}" AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID="${QUANT_S3_ACCESS_KEY:-quantlocal}"
export AWS_SECRET_ACCESS_KEY="${QUANT_S3_SECRET_KEY:-quantlocalsecret}"
export AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED AWS_RESPONSE_CHECKSUM_VALIDATION=WHEN_REQUIRED

.venv/bin/quant restore --from "$BACKUP"
echo "recreate: restored after $(since) s"
"${COMPOSE[@]}" up --detach --wait
echo "recreate: platform up after $(since) s"
QUANT_WEBSERVER_URL="http://127.0.0.1:${QUANT_STACK_WEBSERVER_PORT:-3000}" \
    scripts/qa_smoke.sh ${SMOKE_FILE:+"$SMOKE_FILE"}
echo "recreate: smoke ok after $(since) s"
