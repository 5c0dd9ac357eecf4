#!/usr/bin/env bash
# Destroy the compose platform (containers AND volumes), re-create it from the repository and
# restore the lake and the warehouse from a backup store, then smoke-test it.
#
#   scripts/stack/recreate.sh BACKUP_URI        e.g. s3://quant-backups/qa or /srv/backups/qa
#
# Take the backup first with `quant backup --to BACKUP_URI` (prod settings of the stack).
# Not run here (no container images can be pulled on this machine); the restore logic it calls
# is tested against real SeaweedFS + TimescaleDB in quant_assets_tests/stack/test_recreate.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BACKUP="${1:?usage: $0 BACKUP_URI}"
COMPOSE=(docker compose -f docker/compose.yaml --profile platform)

"${COMPOSE[@]}" down --volumes --remove-orphans
"${COMPOSE[@]}" up --build --detach --wait timescaledb dagster-db s3 s3-bucket

# The stack's services as seen from the host (ports published on 127.0.0.1 by compose.yaml).
export QUANT_DEPLOYMENT=prod QUANT_S3_BUCKET=quant-lake
export QUANT_TSDB_DSN="postgresql://quant:${QUANT_TSDB_PASSWORD:-quant}@127.0.0.1:55432/quant"
export AWS_ENDPOINT_URL=http://127.0.0.1:8333 AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID="${QUANT_S3_ACCESS_KEY:-quantlocal}"
export AWS_SECRET_ACCESS_KEY="${QUANT_S3_SECRET_KEY:-quantlocalsecret}"
export AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED AWS_RESPONSE_CHECKSUM_VALIDATION=WHEN_REQUIRED

.venv/bin/quant restore --from "$BACKUP"
"${COMPOSE[@]}" up --detach --wait
QUANT_WEBSERVER_URL=http://127.0.0.1:3000 scripts/qa_smoke.sh
