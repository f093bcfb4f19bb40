locals {
  oidc_issuer = replace(aws_eks_cluster.main.identity[0].oidc[0].issuer, "https://", "")

  # The services that call AWS APIs, each with exactly what its code does; every other service (order, search,
  # events-producer, analytics, mirrormaker) reaches its backends with passwords from mce-secrets and gets no role.
  irsa_policies = {
    cart     = data.aws_iam_policy_document.irsa_cart.json
    product  = data.aws_iam_policy_document.irsa_product.json
    frontend = data.aws_iam_policy_document.irsa_frontend.json
  }
}

# One role per ServiceAccount: system:serviceaccount:mce:<service>, token audience sts.amazonaws.com.
data "aws_iam_policy_document" "irsa_assume" {
  for_each = local.irsa_policies

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.eks.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${local.k8s_namespace}:${each.key}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "irsa" {
  for_each = local.irsa_policies

  name               = "${var.name}-${each.key}"
  description        = "IRSA role of the ${each.key} service (ServiceAccount ${local.k8s_namespace}/${each.key})"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume[each.key].json
}

resource "aws_iam_role_policy" "irsa" {
  for_each = local.irsa_policies

  name   = "${each.key}-least-privilege"
  role   = aws_iam_role.irsa[each.key].id
  policy = each.value
}

# cart (store/dynamo.py, store/dynamo_relay.py): conditional puts and deletes in transactions, reads, the relay's
# scan and queries, and the readiness check's DescribeTable, on its two tables only.
data "aws_iam_policy_document" "irsa_cart" {
  statement {
    sid = "CartTables"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:DeleteItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:DescribeTable",
    ]
    resources = [aws_dynamodb_table.carts.arn, aws_dynamodb_table.cart_outbox.arn]
  }

  statement {
    sid       = "TablesKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.data.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.aws_region}.amazonaws.com"]
    }
  }
}

# product (app.py): puts an admin's photo under uploads/, and its readiness check heads the bucket (s3:ListBucket).
data "aws_iam_policy_document" "irsa_product" {
  statement {
    sid       = "PutUploads"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.uploads.arn}/${local.upload_prefix}*"]
  }

  statement {
    sid       = "HeadBucket"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.uploads.arn]
  }

  statement {
    sid       = "BucketKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.data.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.aws_region}.amazonaws.com"]
    }
  }
}

# frontend (images.py): serves thumbnails/ only (HEAD then GET). s3:ListBucket makes a missing key a 404, not a
# 403, which the blob store reads as "no such image".
data "aws_iam_policy_document" "irsa_frontend" {
  statement {
    sid       = "ReadThumbnails"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.uploads.arn}/${local.thumbnail_prefix}*"]
  }

  statement {
    sid       = "MissingIsNotFound"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.uploads.arn]
  }

  statement {
    sid       = "BucketKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.data.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.aws_region}.amazonaws.com"]
    }
  }
}

# The image processor: reads uploads/*, writes thumbnails/* (never uploads/: it cannot trigger itself), sends
# failed events to its queue, logs, runs in the VPC, and traces to X-Ray.
resource "aws_iam_role" "image_processor" {
  name               = "${var.name}-image-processor"
  assume_role_policy = data.aws_iam_policy_document.image_processor_assume.json
}

data "aws_iam_policy_document" "image_processor_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "image_processor" {
  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.uploads.arn}/${local.upload_prefix}*"]
  }

  statement {
    sid       = "WriteThumbnails"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.uploads.arn}/${local.thumbnail_prefix}*"]
  }

  statement {
    sid       = "MissingIsNotFound"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.uploads.arn]
  }

  statement {
    sid       = "FailedEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.image_processor_failures.arn]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.data.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.aws_region}.amazonaws.com", "sqs.${var.aws_region}.amazonaws.com", "lambda.${var.aws_region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.image_processor.arn}:*"]
  }
}

resource "aws_iam_role_policy" "image_processor" {
  name   = "image-processor"
  role   = aws_iam_role.image_processor.id
  policy = data.aws_iam_policy_document.image_processor.json
}

resource "aws_iam_role_policy_attachment" "image_processor_vpc" {
  role       = aws_iam_role.image_processor.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "image_processor_xray" {
  role       = aws_iam_role.image_processor.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}
