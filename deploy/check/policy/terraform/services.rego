package terraform

import rego.v1

# The uploads bucket notifies the image processor only for keys under uploads/: it writes thumbnails/, and a
# notification that matched its own output would run it forever.
deny contains msg if {
	some notification in resources("aws_s3_bucket_notification")
	some target in notification.config.lambda_function
	not target.filter_prefix == "uploads/"
	msg := sprintf("%s: aws_s3_bucket_notification.%s must filter its Lambda notification to filter_prefix = \"uploads/\"", [notification.path, notification.name])
}

deny contains msg if {
	count(resources("aws_lambda_function")) > 0
	count([target |
		some notification in resources("aws_s3_bucket_notification")
		some target in notification.config.lambda_function
	]) == 0
	msg := "the image-processor Lambda has no S3 bucket notification"
}

# Every ECR repository scans images on push.
deny contains msg if {
	some repo in resources("aws_ecr_repository")
	not block(repo.config, "image_scanning_configuration").scan_on_push == true
	msg := sprintf("%s: aws_ecr_repository.%s must scan on push", [repo.path, repo.name])
}

# MSK: TLS between clients and brokers and between brokers; no unauthenticated access.
deny contains msg if {
	some cluster in resources("aws_msk_cluster")
	transit := block(block(cluster.config, "encryption_info"), "encryption_in_transit")
	not transit.client_broker == "TLS"
	msg := sprintf("%s: aws_msk_cluster.%s must set encryption_in_transit.client_broker = \"TLS\"", [cluster.path, cluster.name])
}

deny contains msg if {
	some cluster in resources("aws_msk_cluster")
	transit := block(block(cluster.config, "encryption_info"), "encryption_in_transit")
	transit.in_cluster == false
	msg := sprintf("%s: aws_msk_cluster.%s must encrypt in_cluster traffic", [cluster.path, cluster.name])
}

deny contains msg if {
	some cluster in resources("aws_msk_cluster")
	not block(cluster.config, "encryption_info").encryption_at_rest_kms_key_arn
	msg := sprintf("%s: aws_msk_cluster.%s must encrypt at rest with a customer managed key", [cluster.path, cluster.name])
}

deny contains msg if {
	some cluster in resources("aws_msk_cluster")
	not block(cluster.config, "client_authentication").unauthenticated == false
	msg := sprintf("%s: aws_msk_cluster.%s must set client_authentication.unauthenticated = false", [cluster.path, cluster.name])
}

# OpenSearch: encrypted at rest, node to node, HTTPS only with TLS 1.2 at least.
deny contains msg if {
	some domain in resources("aws_opensearch_domain")
	not block(domain.config, "encrypt_at_rest").enabled == true
	msg := sprintf("%s: aws_opensearch_domain.%s must enable encrypt_at_rest", [domain.path, domain.name])
}

deny contains msg if {
	some domain in resources("aws_opensearch_domain")
	not block(domain.config, "node_to_node_encryption").enabled == true
	msg := sprintf("%s: aws_opensearch_domain.%s must enable node_to_node_encryption", [domain.path, domain.name])
}

deny contains msg if {
	some domain in resources("aws_opensearch_domain")
	options := block(domain.config, "domain_endpoint_options")
	not https_with_tls12(options)
	msg := sprintf("%s: aws_opensearch_domain.%s must enforce HTTPS with a TLS 1.2 policy", [domain.path, domain.name])
}

https_with_tls12(options) if {
	options.enforce_https == true
	contains(options.tls_security_policy, "TLS-1-2")
}

# Azure: the Function App is HTTPS only; Event Hubs takes TLS 1.2 at least.
deny contains msg if {
	some app in resources("azurerm_linux_function_app")
	not app.config.https_only == true
	msg := sprintf("%s: azurerm_linux_function_app.%s must set https_only = true", [app.path, app.name])
}

deny contains msg if {
	some namespace in resources("azurerm_eventhub_namespace")
	not namespace.config.minimum_tls_version == "1.2"
	msg := sprintf("%s: azurerm_eventhub_namespace.%s must set minimum_tls_version = \"1.2\"", [namespace.path, namespace.name])
}
