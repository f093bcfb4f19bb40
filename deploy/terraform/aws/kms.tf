# Two customer managed keys: one for the EKS secrets' envelope encryption, one for the data at rest everywhere else
# (RDS, MSK, DynamoDB, OpenSearch, S3, SQS, ECR, Secrets Manager, Lambda environment, CloudWatch Logs).

resource "aws_kms_key" "eks" {
  description             = "${var.name} EKS secrets envelope encryption"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_eks.json
}

resource "aws_kms_alias" "eks" {
  name          = "alias/${var.name}-eks"
  target_key_id = aws_kms_key.eks.key_id
}

resource "aws_kms_key" "data" {
  description             = "${var.name} data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_data.json
}

resource "aws_kms_alias" "data" {
  name          = "alias/${var.name}-data"
  target_key_id = aws_kms_key.data.key_id
}

# The account administers its keys through IAM; the services that encrypt for a caller (RDS, MSK, S3, ...) use grants
# made with that caller's IAM permissions.
data "aws_iam_policy_document" "kms_eks" {
  # checkov:skip=CKV_AWS_109: a key policy, where Resource "*" is this key alone; the account-root statement is AWS's default that delegates access to IAM policies
  # checkov:skip=CKV_AWS_111: a key policy, where Resource "*" is this key alone (see above)
  # checkov:skip=CKV_AWS_356: a key policy, where Resource "*" is this key alone (see above)
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

data "aws_iam_policy_document" "kms_data" {
  # checkov:skip=CKV_AWS_109: a key policy, where Resource "*" is this key alone; the account-root statement is AWS's default that delegates access to IAM policies
  # checkov:skip=CKV_AWS_111: a key policy, where Resource "*" is this key alone (see above)
  # checkov:skip=CKV_AWS_356: a key policy, where Resource "*" is this key alone (see above)
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts log groups itself, so the key policy must name it, for this account's log groups only.
  statement {
    sid       = "CloudWatchLogsEncryptsThisAccountsLogGroups"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.aws_region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:*"]
    }
  }
}
