# One customer-managed key for the bucket, the registry, the databases, the secrets and the
# training hosts' disks; rotated yearly by AWS.
resource "aws_kms_key" "platform" {
  description             = "quant-platform ${var.environment}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "platform" {
  name          = "alias/quant-${var.environment}"
  target_key_id = aws_kms_key.platform.key_id
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:AWS's default key policy: the account administers the key through IAM; "*" is the key itself.
  #checkov:skip=CKV_AWS_356:In a key policy "*" means this key only.
  #checkov:skip=CKV_AWS_109:Same default key policy; access is then granted through IAM policies.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}
