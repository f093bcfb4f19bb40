locals {
  # Every image the EKS deployables run (folder = image = app label = ArgoCD Application = ECR repository).
  # `stream` goes to the Azure Container Registry, and the image processor ships as a Lambda zip.
  images = ["frontend", "product", "cart", "order", "search", "events-producer", "analytics", "mirrormaker"]
}

resource "aws_ecr_repository" "images" {
  for_each = toset(local.images)

  name = each.value
  # MUTABLE because the CI pushes every build as `latest` and as its short commit SHA (the design's two tags), and
  # `latest` moves. The manifests pin the SHA tag, which the CI never pushes twice.
  image_tag_mutability = "MUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.data.arn
  }
}

resource "aws_ecr_lifecycle_policy" "images" {
  for_each = aws_ecr_repository.images

  repository = each.value.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after 7 days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 7
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest tagged images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.ecr_keep_tagged_images
        }
        action = { type = "expire" }
      },
    ]
  })
}
