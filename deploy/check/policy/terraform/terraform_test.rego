# Unit tests of the policies (conftest verify -p deploy/check/policy/terraform): a compliant root passes, and each
# policy denies a snippet that breaks it.
package terraform

import rego.v1

good_files := [
	{"path": "s3.tf", "contents": {"resource": {
		"aws_s3_bucket": {"uploads": [{"bucket": "b"}]},
		"aws_s3_bucket_server_side_encryption_configuration": {"uploads": [{
			"bucket": "${aws_s3_bucket.uploads.id}",
			"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}]}],
		}]},
		"aws_s3_bucket_public_access_block": {"uploads": [{
			"bucket": "${aws_s3_bucket.uploads.id}",
			"block_public_acls": true, "block_public_policy": true,
			"ignore_public_acls": true, "restrict_public_buckets": true,
		}]},
		"aws_s3_bucket_notification": {"uploads": [{
			"bucket": "${aws_s3_bucket.uploads.id}",
			"lambda_function": [{"events": ["s3:ObjectCreated:*"], "filter_prefix": "uploads/"}],
		}]},
		"aws_lambda_function": {"image_processor": [{"environment": [{"variables": {"MCE_IMAGE_PROCESSOR_TOKEN": "${random_password.t.result}"}}]}]},
	}}},
	{"path": "data.tf", "contents": {"resource": {
		"aws_db_instance": {"postgres": [{"publicly_accessible": false, "storage_encrypted": true, "password": "${random_password.rds.result}"}]},
		"aws_dynamodb_table": {"carts": [{"server_side_encryption": [{"enabled": true, "kms_key_arn": "${aws_kms_key.data.arn}"}]}]},
		"aws_ecr_repository": {"images": [{"image_scanning_configuration": [{"scan_on_push": true}]}]},
		"aws_msk_cluster": {"main": [{
			"encryption_info": [{"encryption_at_rest_kms_key_arn": "${aws_kms_key.data.arn}", "encryption_in_transit": [{"client_broker": "TLS", "in_cluster": true}]}],
			"client_authentication": [{"unauthenticated": false, "sasl": [{"scram": true}]}],
		}]},
		"aws_opensearch_domain": {"search": [{
			"encrypt_at_rest": [{"enabled": true}],
			"node_to_node_encryption": [{"enabled": true}],
			"domain_endpoint_options": [{"enforce_https": true, "tls_security_policy": "Policy-Min-TLS-1-2-2019-07"}],
		}]},
	}}},
	{"path": "azure.tf", "contents": {"resource": {
		"azurerm_storage_account": {"functions": [{"min_tls_version": "TLS1_2", "allow_nested_items_to_be_public": false}]},
		"azurerm_linux_function_app": {"analytics": [{"https_only": true}]},
		"azurerm_eventhub_namespace": {"main": [{"minimum_tls_version": "1.2"}]},
	}}},
	{"path": "variables.tf", "contents": {"variable": {"name": [{"description": "Prefix.", "type": "${string}", "default": "mce"}]}}},
]

# The good files with one resource's config replaced (in the file that has that resource type).
with_resource(type, name, config) := [patch(file, type, name, config) | some file in good_files]

patch(file, type, name, config) := object.union(file, {"contents": {"resource": object.union(
	file.contents.resource,
	{type: {name: [config]}},
)}}) if {
	file.contents.resource[type]
} else := file

denied_with(files, fragment) if {
	some msg in deny with input as files
	contains(msg, fragment)
}

test_good_root_passes if {
	count(deny) == 0 with input as good_files
}

test_bucket_without_encryption_is_denied if {
	files := array.concat(good_files, [{"path": "b.tf", "contents": {"resource": {"aws_s3_bucket": {"logs": [{"bucket": "l"}]}}}}])
	denied_with(files, "aws_s3_bucket.logs has no server-side encryption")
	denied_with(files, "aws_s3_bucket.logs has no public access block")
}

test_public_access_block_with_one_setting_off_is_denied if {
	files := with_resource("aws_s3_bucket_public_access_block", "uploads", {
		"bucket": "${aws_s3_bucket.uploads.id}",
		"block_public_acls": true, "block_public_policy": false,
		"ignore_public_acls": true, "restrict_public_buckets": true,
	})
	denied_with(files, "aws_s3_bucket.uploads has no public access block")
}

test_public_rds_is_denied if {
	denied_with(with_resource("aws_db_instance", "postgres", {"publicly_accessible": true, "storage_encrypted": true}), "publicly_accessible = false")
}

test_rds_without_publicly_accessible_is_denied if {
	denied_with(with_resource("aws_db_instance", "postgres", {"storage_encrypted": true}), "publicly_accessible = false")
}

test_unencrypted_rds_is_denied if {
	denied_with(with_resource("aws_db_instance", "postgres", {"publicly_accessible": false}), "storage_encrypted = true")
}

test_notification_on_every_key_is_denied if {
	files := with_resource("aws_s3_bucket_notification", "uploads", {"lambda_function": [{"events": ["s3:ObjectCreated:*"]}]})
	denied_with(files, "filter_prefix = \"uploads/\"")
}

test_notification_on_thumbnails_is_denied if {
	files := with_resource("aws_s3_bucket_notification", "uploads", {"lambda_function": [{"events": ["s3:ObjectCreated:*"], "filter_prefix": "thumbnails/"}]})
	denied_with(files, "filter_prefix = \"uploads/\"")
}

test_lambda_without_notification_is_denied if {
	files := with_resource("aws_s3_bucket_notification", "uploads", {"lambda_function": []})
	denied_with(files, "has no S3 bucket notification")
}

test_ecr_without_scan_on_push_is_denied if {
	denied_with(with_resource("aws_ecr_repository", "images", {"image_scanning_configuration": [{"scan_on_push": false}]}), "must scan on push")
	denied_with(with_resource("aws_ecr_repository", "images", {}), "must scan on push")
}

test_dynamodb_without_sse_is_denied if {
	denied_with(with_resource("aws_dynamodb_table", "carts", {}), "must enable server_side_encryption")
	denied_with(with_resource("aws_dynamodb_table", "carts", {"server_side_encryption": [{"enabled": true}]}), "customer managed key")
}

test_msk_plaintext_is_denied if {
	files := with_resource("aws_msk_cluster", "main", {
		"encryption_info": [{"encryption_at_rest_kms_key_arn": "k", "encryption_in_transit": [{"client_broker": "TLS_PLAINTEXT", "in_cluster": false}]}],
		"client_authentication": [{"unauthenticated": true}],
	})
	denied_with(files, "client_broker = \"TLS\"")
	denied_with(files, "in_cluster")
	denied_with(files, "unauthenticated = false")
}

test_opensearch_unencrypted_is_denied if {
	files := with_resource("aws_opensearch_domain", "search", {
		"encrypt_at_rest": [{"enabled": false}],
		"domain_endpoint_options": [{"enforce_https": true, "tls_security_policy": "Policy-Min-TLS-1-0-2019-07"}],
	})
	denied_with(files, "encrypt_at_rest")
	denied_with(files, "node_to_node_encryption")
	denied_with(files, "TLS 1.2")
}

test_hard_coded_password_is_denied if {
	denied_with(with_resource("aws_db_instance", "postgres", {"publicly_accessible": false, "storage_encrypted": true, "password": "hunter2hunter2"}), "hard-coded credential")
}

test_hard_coded_token_in_lambda_environment_is_denied if {
	files := with_resource("aws_lambda_function", "image_processor", {"environment": [{"variables": {"MCE_IMAGE_PROCESSOR_TOKEN": "abcdefghijklmnopqrstuvwxyz"}}]})
	denied_with(files, "hard-coded credential")
}

test_provider_access_key_is_denied if {
	files := array.concat(good_files, [{"path": "p.tf", "contents": {"provider": {"aws": [{"region": "eu-west-1", "access_key": "AKIAABCDEFGHIJKLMNOP"}]}}}])
	denied_with(files, "hard-coded credential")
	denied_with(files, "looks like a credential")
}

test_variable_with_default_password_is_denied if {
	files := array.concat(good_files, [{"path": "v.tf", "contents": {"variable": {"db_password": [{"description": "x", "default": "changeme123"}]}}}])
	denied_with(files, "variable db_password has a default credential")
}

test_variable_without_description_is_denied if {
	files := array.concat(good_files, [{"path": "v.tf", "contents": {"variable": {"region": [{"type": "${string}"}]}}}])
	denied_with(files, "variable region has no description")
}

test_azure_storage_without_tls12_is_denied if {
	files := with_resource("azurerm_storage_account", "functions", {"min_tls_version": "TLS1_0", "allow_nested_items_to_be_public": true})
	denied_with(files, "min_tls_version")
	denied_with(files, "allow_nested_items_to_be_public")
}

test_function_app_without_https_only_is_denied if {
	denied_with(with_resource("azurerm_linux_function_app", "analytics", {}), "https_only")
}

test_eventhubs_without_tls12_is_denied if {
	denied_with(with_resource("azurerm_eventhub_namespace", "main", {"minimum_tls_version": "1.0"}), "minimum_tls_version")
}
