variable "region" {
  description = "AWS region of every resource."
  type        = string
  default     = "us-east-1"
}

variable "environment" {
  description = "qa or prod: prefixes names, so both can live in one account."
  type        = string
  validation {
    condition     = contains(["qa", "prod"], var.environment)
    error_message = "environment must be qa or prod."
  }
}

variable "vpc_id" {
  description = "Existing VPC (networking is owned outside this module)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the databases and the GPU training hosts (two AZs or more)."
  type        = list(string)
}

variable "gpu_instance_type" {
  description = "Training host type: one A10G per g5.xlarge; train_policy runs one training per GPU."
  type        = string
  default     = "g5.xlarge"
}

variable "gpu_max_hosts" {
  description = "Upper bound of the GPU pool (8 = the production load of 8 concurrent trainings)."
  type        = number
  default     = 8
}

variable "gpu_ami_id" {
  description = "GPU AMI (e.g. the AWS Deep Learning Base GPU AMI, NVIDIA driver + container toolkit)."
  type        = string
}

variable "metrics_archive_glacier_days" {
  description = "Days after which archived metrics Parquet moves to Glacier Instant Retrieval."
  type        = number
  default     = 30
}

variable "rejected_file_retention_days" {
  description = "Days rejected landing files (and their .reason.txt) are kept."
  type        = number
  default     = 90
}

variable "tsdb_ami_id" {
  description = "AMI of the TimescaleDB host (Debian 13 arm64)."
  type        = string
}
