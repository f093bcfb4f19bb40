# The role the deploy workflow (.github/workflows/deploy.yml) assumes through GitHub's OIDC provider: push the
# images to their ECR repositories and publish the image processor's code. Made when github_repository is set;
# no long-lived keys anywhere.

locals {
  ci = var.github_repository != ""
}

data "tls_certificate" "github" {
  count = local.ci && var.create_github_oidc_provider ? 1 : 0
  url   = "https://token.actions.githubusercontent.com/.well-known/openid-configuration"
}

# One provider per account and URL: set create_github_oidc_provider = false where the account has it already.
resource "aws_iam_openid_connect_provider" "github" {
  count = local.ci && var.create_github_oidc_provider ? 1 : 0

  url             = "https://token.actions.githubusercontent.com"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = [data.tls_certificate.github[0].certificates[length(data.tls_certificate.github[0].certificates) - 1].sha1_fingerprint]
}

data "aws_iam_policy_document" "github_assume" {
  # checkov:skip=CKV_AWS_358: the subject is repo:<github_repository>:ref:refs/heads/<branch>, with github_repository validated as owner/name; checkov reads the empty default, with which this document and the role are not made at all
  count = local.ci ? 1 : 0

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:oidc-provider/token.actions.githubusercontent.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Only the workflow runs of the deploy branch, never a pull request's.
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:ref:refs/heads/${var.github_deploy_branch}"]
    }
  }
}

resource "aws_iam_role" "github_deploy" {
  count = local.ci ? 1 : 0

  name               = "${var.name}-github-deploy"
  description        = "Assumed by ${var.github_repository}'s deploy workflow: ECR pushes and the image processor's code"
  assume_role_policy = data.aws_iam_policy_document.github_assume[0].json

  depends_on = [aws_iam_openid_connect_provider.github]
}

data "aws_iam_policy_document" "github_deploy" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
    ]
    resources = [for repo in aws_ecr_repository.images : repo.arn]
  }

  statement {
    sid       = "PublishImageProcessor"
    actions   = ["lambda:UpdateFunctionCode", "lambda:PublishVersion", "lambda:GetFunction"]
    resources = [aws_lambda_function.image_processor.arn]
  }
}

resource "aws_iam_role_policy" "github_deploy" {
  count = local.ci ? 1 : 0

  name   = "deploy"
  role   = aws_iam_role.github_deploy[0].id
  policy = data.aws_iam_policy_document.github_deploy.json
}
