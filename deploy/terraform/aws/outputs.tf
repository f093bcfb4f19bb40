# Outputs named as the ConfigMap mce-common's keys, lower-cased (deploy-common: output rds_host -> RDS_HOST), and
# the sensitive ones as mce-secrets' keys, lower-cased without the MCE_ prefix (kafka_sasl_password ->
# MCE_KAFKA_SASL_PASSWORD), the names deploy/k8s/aws/configure.sh reads from `terraform output -json`.

output "aws_region" {
  description = "AWS_REGION"
  value       = var.aws_region
}

output "rds_host" {
  description = "RDS_HOST: the PostgreSQL server's hostname"
  value       = aws_db_instance.postgres.address
}

output "rds_port" {
  description = "RDS_PORT"
  value       = tostring(aws_db_instance.postgres.port)
}

output "rds_user" {
  description = "RDS_USER"
  value       = aws_db_instance.postgres.username
}

output "rds_sslmode" {
  description = "RDS_SSLMODE (the server refuses connections without TLS)"
  value       = var.rds_sslmode
}

output "kafka_bootstrap" {
  description = "KAFKA_BOOTSTRAP: MSK's SASL/SCRAM over TLS brokers (port 9096)"
  value       = aws_msk_cluster.main.bootstrap_brokers_sasl_scram
}

output "opensearch_endpoint" {
  description = "OPENSEARCH_ENDPOINT: the domain's https URL inside the VPC"
  value       = "https://${aws_opensearch_domain.search.endpoint}"
}

output "dynamodb_table" {
  description = "DYNAMODB_TABLE: the carts table"
  value       = aws_dynamodb_table.carts.name
}

output "dynamodb_outbox_table" {
  description = "DYNAMODB_OUTBOX_TABLE: the cart service's outbox table"
  value       = aws_dynamodb_table.cart_outbox.name
}

output "s3_bucket" {
  description = "S3_BUCKET: the uploads bucket"
  value       = aws_s3_bucket.uploads.id
}

output "ecr_registry" {
  description = "The ECR registry host the CI pushes the images to"
  value       = "${local.account_id}.dkr.ecr.${var.aws_region}.amazonaws.com"
}

output "ecr_repositories" {
  description = "Image name -> ECR repository URL"
  value       = { for name, repo in aws_ecr_repository.images : name => repo.repository_url }
}

output "irsa_role_arns" {
  description = "Service name -> IAM role ARN for its ServiceAccount's eks.amazonaws.com/role-arn annotation"
  value       = { for name, role in aws_iam_role.irsa : name => role.arn }
}

output "public_url" {
  description = "MCE_PUBLIC_URL: the storefront's https URL"
  value       = var.public_url
}

output "eks_cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)"
  value       = aws_eks_cluster.main.name
}

output "image_processor_function" {
  description = "Name of the image-processor Lambda (LAMBDA_FUNCTION_NAME of the deploy workflow)"
  value       = aws_lambda_function.image_processor.function_name
}

output "rds_password" {
  description = "RDS_PASSWORD (mce-secrets)"
  value       = random_password.rds.result
  sensitive   = true
}

output "kafka_sasl_username" {
  description = "MCE_KAFKA_SASL_USERNAME (mce-secrets)"
  value       = var.msk_scram_username
  sensitive   = true
}

output "kafka_sasl_password" {
  description = "MCE_KAFKA_SASL_PASSWORD (mce-secrets)"
  value       = random_password.msk_scram.result
  sensitive   = true
}

output "opensearch_username" {
  description = "MCE_OPENSEARCH_USERNAME (mce-secrets)"
  value       = var.opensearch_master_user
  sensitive   = true
}

output "opensearch_password" {
  description = "MCE_OPENSEARCH_PASSWORD (mce-secrets)"
  value       = random_password.opensearch_master.result
  sensitive   = true
}

output "image_processor_token" {
  description = "MCE_IMAGE_PROCESSOR_TOKEN (mce-secrets; the Lambda has the same)"
  value       = random_password.image_processor_token.result
  sensitive   = true
}

output "admin_token" {
  description = "MCE_ADMIN_TOKEN (mce-secrets)"
  value       = random_password.admin_token.result
  sensitive   = true
}

output "session_secret" {
  description = "MCE_SESSION_SECRET (mce-secrets)"
  value       = random_password.session_secret.result
  sensitive   = true
}

output "nat_public_ip" {
  description = "The VPC's egress address: give it as a /32 in the Azure root's aks_api_authorized_cidrs so ArgoCD on EKS reaches AKS"
  value       = aws_eip.nat.public_ip
}

output "acm_certificate_arn" {
  description = "ACM certificate of the frontend's https listener (deploy/k8s/aws/configure.sh puts it on the NLB); empty until given"
  value       = var.acm_certificate_arn
}

output "aws_load_balancer_controller_role_arn" {
  description = "IRSA role for the AWS Load Balancer Controller (ServiceAccount kube-system/aws-load-balancer-controller)"
  value       = aws_iam_role.lb_controller.arn
}

output "github_deploy_role_arn" {
  description = "AWS_DEPLOY_ROLE_ARN of the deploy workflow (null without github_repository)"
  value       = local.ci ? aws_iam_role.github_deploy[0].arn : null
}
