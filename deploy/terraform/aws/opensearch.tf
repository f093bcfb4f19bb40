resource "aws_security_group" "opensearch" {
  name        = "${var.name}-opensearch"
  description = "OpenSearch: HTTPS (443) from the VPC only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name}-opensearch" }
}

resource "aws_vpc_security_group_ingress_rule" "opensearch_from_vpc" {
  security_group_id = aws_security_group.opensearch.id
  description       = "HTTPS from the VPC"
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_iam_service_linked_role" "opensearch" {
  count            = var.create_opensearch_service_linked_role ? 1 : 0
  aws_service_name = "opensearchservice.amazonaws.com"
}

# The search service authenticates with HTTP basic auth as the internal master user (no SigV4), so fine-grained
# access control with the internal user database is on, and the password is Terraform's.
resource "random_password" "opensearch_master" {
  length           = 32
  min_upper        = 2
  min_lower        = 2
  min_numeric      = 2
  min_special      = 2
  override_special = "!#%*()-_=+[]{}<>:?"
}

resource "aws_cloudwatch_log_group" "opensearch" {
  for_each = toset(["index-slow", "search-slow", "application", "audit"])

  name              = "/aws/opensearch/${var.name}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
}

data "aws_iam_policy_document" "opensearch_logs" {
  statement {
    actions   = ["logs:PutLogEvents", "logs:CreateLogStream"]
    resources = [for group in aws_cloudwatch_log_group.opensearch : "${group.arn}:*"]

    principals {
      type        = "Service"
      identifiers = ["es.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "opensearch" {
  policy_name     = "${var.name}-opensearch-logs"
  policy_document = data.aws_iam_policy_document.opensearch_logs.json
}

# With fine-grained access control the domain policy lets requests through to it, and it checks the user; the domain
# is reachable only inside the VPC, through its security group.
data "aws_iam_policy_document" "opensearch_access" {
  # checkov:skip=CKV_AWS_283: fine-grained access control with the internal user database authenticates every request (basic auth); AWS requires an open domain policy for it, and the domain is reachable only in the VPC through its security group
  statement {
    actions   = ["es:ESHttp*"]
    resources = ["arn:${local.partition}:es:${var.aws_region}:${local.account_id}:domain/${var.name}-search/*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
  }
}

resource "aws_opensearch_domain" "search" {
  domain_name     = "${var.name}-search"
  engine_version  = var.opensearch_engine_version
  access_policies = data.aws_iam_policy_document.opensearch_access.json

  cluster_config {
    instance_type          = var.opensearch_instance_type
    instance_count         = var.opensearch_instance_count
    zone_awareness_enabled = true

    zone_awareness_config {
      availability_zone_count = 2
    }
  }

  vpc_options {
    subnet_ids         = aws_subnet.private[*].id
    security_group_ids = [aws_security_group.opensearch.id]
  }

  ebs_options {
    ebs_enabled = true
    volume_type = "gp3"
    volume_size = var.opensearch_volume_size
  }

  encrypt_at_rest {
    enabled    = true
    kms_key_id = aws_kms_key.data.arn
  }

  node_to_node_encryption {
    enabled = true
  }

  domain_endpoint_options {
    enforce_https       = true
    tls_security_policy = "Policy-Min-TLS-1-2-2019-07"
  }

  advanced_security_options {
    enabled                        = true
    anonymous_auth_enabled         = false
    internal_user_database_enabled = true

    master_user_options {
      master_user_name     = var.opensearch_master_user
      master_user_password = random_password.opensearch_master.result
    }
  }

  log_publishing_options {
    log_type                 = "INDEX_SLOW_LOGS"
    enabled                  = true
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.opensearch["index-slow"].arn
  }

  log_publishing_options {
    log_type                 = "SEARCH_SLOW_LOGS"
    enabled                  = true
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.opensearch["search-slow"].arn
  }

  log_publishing_options {
    log_type                 = "ES_APPLICATION_LOGS"
    enabled                  = true
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.opensearch["application"].arn
  }

  log_publishing_options {
    log_type                 = "AUDIT_LOGS"
    enabled                  = true
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.opensearch["audit"].arn
  }

  depends_on = [
    aws_iam_service_linked_role.opensearch,
    aws_cloudwatch_log_resource_policy.opensearch,
  ]
}
