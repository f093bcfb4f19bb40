locals {
  uploads_bucket = var.uploads_bucket_name != "" ? var.uploads_bucket_name : "${var.name}-uploads-${local.account_id}"
  # The only keys that start the image processor. It writes under thumbnails/, which this prefix never matches, so
  # its own output cannot trigger it again (the loop the design's original notification on ObjectCreated:* had).
  # Three guards: this filter, the Lambda role that may write only thumbnails/*, and the handler itself, which
  # ignores any key that is not uploads/products/<id>/<upload id>.<ext> (src/mce/functions/image_processor/keys.py).
  upload_prefix    = "uploads/"
  thumbnail_prefix = "thumbnails/"
}

resource "aws_s3_bucket" "uploads" {
  bucket = local.uploads_bucket
}

resource "aws_s3_bucket_ownership_controls" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "uploads" {
  bucket                  = aws_s3_bucket.uploads.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.data.arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.uploads]
}

data "aws_iam_policy_document" "uploads_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.uploads.arn, "${aws_s3_bucket.uploads.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "uploads" {
  bucket = aws_s3_bucket.uploads.id
  policy = data.aws_iam_policy_document.uploads_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.uploads]
}

resource "aws_security_group" "image_processor" {
  name        = "${var.name}-image-processor"
  description = "image-processor Lambda: calls product-internal in the VPC and S3 through its gateway endpoint"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name}-image-processor" }
}

resource "aws_vpc_security_group_egress_rule" "image_processor_to_vpc" {
  security_group_id = aws_security_group.image_processor.id
  description       = "product-internal's load balancer and the VPC endpoints"
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 0
  to_port           = 65535
}

resource "aws_vpc_security_group_egress_rule" "image_processor_to_s3" {
  security_group_id = aws_security_group.image_processor.id
  description       = "S3 through the gateway endpoint"
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_cloudwatch_log_group" "image_processor" {
  name              = "/aws/lambda/${var.name}-image-processor"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
}

# Where an event goes when every retry failed (S3 invokes the Lambda asynchronously).
resource "aws_sqs_queue" "image_processor_failures" {
  name                      = "${var.name}-image-processor-failures"
  message_retention_seconds = 1209600
  kms_master_key_id         = aws_kms_key.data.arn
}

# The processor's credential for product's image endpoint (the product service gets the same value from mce-secrets).
resource "random_password" "image_processor_token" {
  length  = 48
  special = false
}

resource "aws_lambda_function" "image_processor" {
  function_name    = "${var.name}-image-processor"
  description      = "Makes thumbnails of product photos uploaded under uploads/"
  role             = aws_iam_role.image_processor.arn
  filename         = var.image_processor_zip
  source_code_hash = filebase64sha256(var.image_processor_zip)
  # src/mce/functions/image_processor/handler.py: handler(event, context).
  handler       = "mce.functions.image_processor.handler.handler"
  runtime       = "python3.11"
  architectures = ["x86_64"]
  memory_size   = var.image_processor_memory_mb
  timeout       = var.image_processor_timeout_s
  kms_key_arn   = aws_kms_key.data.arn

  reserved_concurrent_executions = var.image_processor_reserved_concurrency

  vpc_config {
    subnet_ids         = aws_subnet.private[*].id
    security_group_ids = [aws_security_group.image_processor.id]
  }

  environment {
    variables = {
      MCE_ENV                   = "production"
      MCE_BLOB_STORE            = "s3"
      S3_BUCKET                 = aws_s3_bucket.uploads.id
      MCE_PRODUCT_URL           = var.product_internal_url
      MCE_IMAGE_PROCESSOR_TOKEN = random_password.image_processor_token.result
    }
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.image_processor_failures.arn
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.image_processor.name
  }

  # The deploy workflow publishes each new build (aws lambda update-function-code); Terraform ships the first one
  # and does not roll the code back to the zip it was applied with.
  lifecycle {
    ignore_changes = [filename, source_code_hash]
  }

  depends_on = [
    aws_iam_role_policy.image_processor,
    aws_iam_role_policy_attachment.image_processor_vpc,
    aws_cloudwatch_log_group.image_processor,
  ]
}

resource "aws_lambda_function_event_invoke_config" "image_processor" {
  function_name                = aws_lambda_function.image_processor.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.image_processor_failures.arn
    }
  }
}

resource "aws_lambda_permission" "uploads_invoke_image_processor" {
  statement_id   = "AllowUploadsBucket"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.image_processor.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.uploads.arn
  source_account = local.account_id
}

resource "aws_s3_bucket_notification" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  lambda_function {
    lambda_function_arn = aws_lambda_function.image_processor.arn
    events              = ["s3:ObjectCreated:*"]
    # Literal on purpose (a policy in deploy/check/policy checks it): uploads only, never thumbnails/.
    filter_prefix = "uploads/"
  }

  depends_on = [aws_lambda_permission.uploads_invoke_image_processor]
}
