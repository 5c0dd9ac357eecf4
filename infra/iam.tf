# Role of the run containers (user code, training steps) and the GPU hosts: read/write the lake,
# read the platform's secrets, pull images. Nothing else.
data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "runs" {
  name               = "quant-runs-${var.environment}"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

data "aws_iam_policy_document" "runs" {
  statement {
    sid       = "LakeObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.lake.arn}/*"]
  }
  statement {
    sid       = "LakeList"
    actions   = ["s3:ListBucket", "s3:GetBucketVersioning"]
    resources = [aws_s3_bucket.lake.arn]
  }
  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = ["arn:aws:secretsmanager:${var.region}:${data.aws_caller_identity.current.account_id}:secret:quant/${var.environment}/*"]
  }
  statement {
    sid       = "Decrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.platform.arn]
  }
  statement {
    sid       = "PullImages"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [for r in aws_ecr_repository.images : r.arn]
  }
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the API has no resource-level permission
  }
}

resource "aws_iam_role_policy" "runs" {
  name   = "quant-runs"
  role   = aws_iam_role.runs.id
  policy = data.aws_iam_policy_document.runs.json
}

resource "aws_iam_instance_profile" "runs" {
  name = "quant-runs-${var.environment}"
  role = aws_iam_role.runs.name
}

# The TimescaleDB host only writes its backups to the lake.
resource "aws_iam_role" "timescaledb" {
  name               = "quant-timescaledb-${var.environment}"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

data "aws_iam_policy_document" "timescaledb" {
  statement {
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.lake.arn}/backups/*"]
  }
  statement {
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.platform.arn]
  }
}

resource "aws_iam_role_policy" "timescaledb" {
  name   = "quant-timescaledb-backups"
  role   = aws_iam_role.timescaledb.id
  policy = data.aws_iam_policy_document.timescaledb.json
}

resource "aws_iam_instance_profile" "timescaledb" {
  name = "quant-timescaledb-${var.environment}"
  role = aws_iam_role.timescaledb.name
}
