# Security groups only: the VPC and subnets are inputs. The platform group (webserver, daemon,
# user code, training hosts) is the only one allowed to reach the databases.
resource "aws_security_group" "platform" {
  name        = "quant-platform-${var.environment}"
  description = "Dagster services and training hosts"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS to AWS APIs (S3, ECR, Secrets Manager) through the VPC endpoints or NAT"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    description     = "PostgreSQL: warehouse and Dagster instance"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [aws_security_group.databases.id]
  }
}

resource "aws_security_group" "databases" {
  name        = "quant-databases-${var.environment}"
  description = "TimescaleDB warehouse and the Dagster instance database"
  vpc_id      = var.vpc_id
}

resource "aws_security_group_rule" "databases_from_platform" {
  description              = "PostgreSQL from the platform only"
  type                     = "ingress"
  from_port                = 5432
  to_port                  = 5432
  protocol                 = "tcp"
  security_group_id        = aws_security_group.databases.id
  source_security_group_id = aws_security_group.platform.id
}
