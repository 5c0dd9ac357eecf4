# Dagster instance storage: managed PostgreSQL (runs, events, schedules, sensor cursors).
resource "aws_db_subnet_group" "platform" {
  name       = "quant-${var.environment}"
  subnet_ids = var.private_subnet_ids
}

resource "aws_db_instance" "dagster" {
  #checkov:skip=CKV_AWS_157:Multi-AZ is on in prod only (multi_az below); QA runs single-AZ to halve its cost.
  identifier                          = "quant-dagster-${var.environment}"
  engine                              = "postgres"
  engine_version                      = "17"
  instance_class                      = "db.t4g.medium"
  allocated_storage                   = 50
  max_allocated_storage               = 500
  db_name                             = "dagster"
  username                            = "dagster"
  manage_master_user_password         = true # the password lives in Secrets Manager, rotated by RDS
  master_user_secret_kms_key_id       = aws_kms_key.platform.arn
  storage_encrypted                   = true
  kms_key_id                          = aws_kms_key.platform.arn
  db_subnet_group_name                = aws_db_subnet_group.platform.name
  vpc_security_group_ids              = [aws_security_group.databases.id]
  multi_az                            = var.environment == "prod"
  backup_retention_period             = 14
  deletion_protection                 = true
  copy_tags_to_snapshot               = true
  auto_minor_version_upgrade          = true
  iam_database_authentication_enabled = true
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = aws_kms_key.platform.arn
  monitoring_interval                 = 60
  monitoring_role_arn                 = aws_iam_role.rds_monitoring.arn
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  parameter_group_name                = aws_db_parameter_group.dagster.name
  skip_final_snapshot                 = false
  final_snapshot_identifier           = "quant-dagster-${var.environment}-final"
}

resource "aws_db_parameter_group" "dagster" {
  name   = "quant-dagster-${var.environment}"
  family = "postgres17"
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
  parameter {
    name  = "rds.force_ssl" # encryption in transit for every client
    value = "1"
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "quant-rds-monitoring-${var.environment}"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# The warehouse needs the timescaledb extension, which RDS does not offer: a dedicated host
# (Debian 13, postgresql-17-timescaledb, as scripts/services/timescaledb.sh installs it) with an
# encrypted data volume; pgBackRest/pg_dump backups go to the lake bucket under backups/.
resource "aws_instance" "timescaledb" {
  ami                    = var.tsdb_ami_id
  instance_type          = "r7g.large"
  subnet_id              = var.private_subnet_ids[0]
  vpc_security_group_ids = [aws_security_group.databases.id]
  iam_instance_profile   = aws_iam_instance_profile.timescaledb.name
  ebs_optimized          = true
  monitoring             = true
  metadata_options {
    http_tokens   = "required"
    http_endpoint = "enabled"
  }
  root_block_device {
    encrypted   = true
    kms_key_id  = aws_kms_key.platform.arn
    volume_type = "gp3"
    volume_size = 30
  }
  tags = { Name = "quant-timescaledb-${var.environment}" }
}

resource "aws_ebs_volume" "timescaledb_data" {
  availability_zone = aws_instance.timescaledb.availability_zone
  size              = 500
  type              = "gp3"
  encrypted         = true
  kms_key_id        = aws_kms_key.platform.arn
  tags              = { Name = "quant-timescaledb-data-${var.environment}" }
}

resource "aws_volume_attachment" "timescaledb_data" {
  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.timescaledb_data.id
  instance_id = aws_instance.timescaledb.id
}
