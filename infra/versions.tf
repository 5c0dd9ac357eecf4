# Cloud infrastructure of quant-platform on AWS. Nothing here is applied by the tests: they run
# `terraform fmt -check` and checkov over it (no cloud account, no provider download here).
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      project     = "quant-platform"
      environment = var.environment
    }
  }
}
