# Secrets the platform reads through its secrets resource (names, never values, in run config
# and container environments). The TimescaleDB password is generated here and rotated by
# re-running with a new `keepers` value or by the rotation Lambda of the organisation.
resource "random_password" "tsdb" {
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "tsdb" {
  name                    = "quant/${var.environment}/timescaledb"
  description             = "Warehouse DSN parts for the quant user"
  kms_key_id              = aws_kms_key.platform.arn
  recovery_window_in_days = 7
  #checkov:skip=CKV2_AWS_57:Rotation of a self-managed PostgreSQL needs the organisation's rotation Lambda; the platform re-reads the secret on every run, so rotation needs no redeploy.
}

resource "aws_secretsmanager_secret_version" "tsdb" {
  secret_id = aws_secretsmanager_secret.tsdb.id
  secret_string = jsonencode({
    username = "quant"
    password = random_password.tsdb.result
    host     = aws_instance.timescaledb.private_ip
    port     = 5432
    dbname   = "quant"
  })
}

resource "aws_secretsmanager_secret" "alert_webhook" {
  name                    = "quant/${var.environment}/alert-webhook"
  description             = "URL the run-failure sensor posts to"
  kms_key_id              = aws_kms_key.platform.arn
  recovery_window_in_days = 7
  #checkov:skip=CKV2_AWS_57:A webhook URL is rotated by its issuer, not by AWS.
}
