# Images built by CI (`:sha` and `:latest`): the CPU image (webserver, daemon, user code) and the
# CUDA training image. Deploys pin `:<sha>`.
resource "aws_ecr_repository" "images" {
  for_each             = toset(["quant-platform", "quant-platform-gpu"])
  name                 = "${each.key}-${var.environment}"
  image_tag_mutability = "MUTABLE"
  #checkov:skip=CKV_AWS_51:CI moves `:latest` on each merge; deploys pin the immutable `:<sha>` tag.
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.platform.arn
  }
}

resource "aws_ecr_lifecycle_policy" "images" {
  for_each   = aws_ecr_repository.images
  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last 50 images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 50
      }
      action = { type = "expire" }
    }]
  })
}
