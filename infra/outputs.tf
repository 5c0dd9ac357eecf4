output "bucket" {
  description = "QUANT_S3_BUCKET"
  value       = aws_s3_bucket.lake.bucket
}

output "registry_urls" {
  description = "Image repositories for CI pushes"
  value       = { for k, r in aws_ecr_repository.images : k => r.repository_url }
}

output "dagster_db_endpoint" {
  description = "DAGSTER_PG_HOST:DAGSTER_PG_PORT"
  value       = aws_db_instance.dagster.endpoint
}

output "tsdb_secret_name" {
  description = "Secrets Manager name holding the warehouse connection"
  value       = aws_secretsmanager_secret.tsdb.name
}

output "runs_instance_profile" {
  description = "Instance profile of the run containers' hosts"
  value       = aws_iam_instance_profile.runs.name
}
