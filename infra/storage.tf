# The object store: tick lake (ticks_raw/, ticks_clean/, tick_quarantine/), landing zone,
# policy artifacts, metrics_archive/ and warehouse backups/. Versioned, so an overwritten or
# deleted partition can be restored; lifecycle rules mirror the retention the code applies.
resource "aws_s3_bucket" "lake" {
  bucket = "quant-lake-${var.environment}-${data.aws_caller_identity.current.account_id}"
  #checkov:skip=CKV_AWS_144:Cross-region replication is a business-continuity decision per account; versioning + backups cover re-creation.
  #checkov:skip=CKV_AWS_18:Access logging goes to the organisation's CloudTrail data events, not a per-bucket log bucket.
  #checkov:skip=CKV2_AWS_62:No consumer of S3 event notifications yet (the landing sensor polls).
}

resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.platform.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    id     = "metrics-archive-to-glacier-ir"
    status = "Enabled"
    filter {
      prefix = "metrics_archive/"
    }
    transition {
      days          = var.metrics_archive_glacier_days
      storage_class = "GLACIER_IR"
    }
  }

  rule {
    id     = "expire-rejected-landing-files"
    status = "Enabled"
    filter {
      prefix = "landing/rejected/"
    }
    expiration {
      days = var.rejected_file_retention_days
    }
  }

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }

  rule {
    id     = "abort-incomplete-multipart"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}
