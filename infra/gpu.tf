# GPU training pool: a launch template and an autoscaling group that the operator (or a
# scheduler) scales between 0 and gpu_max_hosts; each host runs the training step containers
# (docker executor, one training per GPU via the quant/gpu tag limit in dagster.yaml).
resource "aws_launch_template" "gpu" {
  #checkov:skip=CKV_AWS_341:The training step runs in a bridge-networked container, one hop further from IMDS than the host.
  name_prefix            = "quant-gpu-${var.environment}-"
  image_id               = var.gpu_ami_id
  instance_type          = var.gpu_instance_type
  vpc_security_group_ids = [aws_security_group.platform.id]
  ebs_optimized          = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.runs.arn
  }

  metadata_options {
    http_tokens                 = "required" # IMDSv2 only
    http_endpoint               = "enabled"
    http_put_response_hop_limit = 2 # containers on the host reach the role credentials
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = 200
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = aws_kms_key.platform.arn
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "quant-gpu-${var.environment}", role = "training" }
  }
}

resource "aws_autoscaling_group" "gpu" {
  name                = "quant-gpu-${var.environment}"
  min_size            = 0
  max_size            = var.gpu_max_hosts
  desired_capacity    = 0
  vpc_zone_identifier = var.private_subnet_ids

  launch_template {
    id      = aws_launch_template.gpu.id
    version = "$Latest"
  }

  tag {
    key                 = "project"
    value               = "quant-platform"
    propagate_at_launch = true
  }
}
