provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# Exactly the two AZs asked for, never whichever AWS lists first (that list grows when AWS adds a zone).
data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "zone-name"
    values = var.availability_zones
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) == 2
      error_message = "availability_zones must name two available AZs of aws_region."
    }
  }
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = sort(data.aws_availability_zones.available.names)

  tags = merge(var.tags, {
    Project     = var.name
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  # The namespace the services run in on EKS; each IRSA role trusts one ServiceAccount there, named as the service.
  k8s_namespace = "mce"
}

# Secrets of the services themselves, made here so that mce-secrets is filled from `terraform output` alone.
resource "random_password" "admin_token" {
  length  = 48
  special = false
}

resource "random_password" "session_secret" {
  length  = 64
  special = false
}
