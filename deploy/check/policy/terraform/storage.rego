package terraform

import rego.v1

# Every S3 bucket is encrypted at rest (SSE-KMS or SSE-S3) by a configuration that names it.
deny contains msg if {
	some bucket in resources("aws_s3_bucket")
	not bucket_encrypted(bucket.name)
	msg := sprintf("%s: aws_s3_bucket.%s has no server-side encryption configuration", [bucket.path, bucket.name])
}

bucket_encrypted(name) if {
	some sse in referring("aws_s3_bucket_server_side_encryption_configuration", "bucket", sprintf("aws_s3_bucket.%s", [name]))
	some rule in sse.config.rule
	some by_default in rule.apply_server_side_encryption_by_default
	by_default.sse_algorithm in {"aws:kms", "aws:kms:dsse", "AES256"}
}

# Every S3 bucket has a public access block with all four settings on.
deny contains msg if {
	some bucket in resources("aws_s3_bucket")
	not bucket_blocked(bucket.name)
	msg := sprintf("%s: aws_s3_bucket.%s has no public access block with all four settings true", [bucket.path, bucket.name])
}

bucket_blocked(name) if {
	some pab in referring("aws_s3_bucket_public_access_block", "bucket", sprintf("aws_s3_bucket.%s", [name]))
	pab.config.block_public_acls == true
	pab.config.block_public_policy == true
	pab.config.ignore_public_acls == true
	pab.config.restrict_public_buckets == true
}

# No RDS instance is publicly accessible (it must say so), and every one is encrypted at rest.
deny contains msg if {
	some db in resources("aws_db_instance")
	not db.config.publicly_accessible == false
	msg := sprintf("%s: aws_db_instance.%s must set publicly_accessible = false", [db.path, db.name])
}

deny contains msg if {
	some db in resources("aws_db_instance")
	not db.config.storage_encrypted == true
	msg := sprintf("%s: aws_db_instance.%s must set storage_encrypted = true", [db.path, db.name])
}

# DynamoDB tables are encrypted with a KMS key (SSE enabled, a key given).
deny contains msg if {
	some table in resources("aws_dynamodb_table")
	sse := block(table.config, "server_side_encryption")
	not sse.enabled == true
	msg := sprintf("%s: aws_dynamodb_table.%s must enable server_side_encryption", [table.path, table.name])
}

deny contains msg if {
	some table in resources("aws_dynamodb_table")
	sse := block(table.config, "server_side_encryption")
	not sse.kms_key_arn
	msg := sprintf("%s: aws_dynamodb_table.%s must encrypt with a customer managed key (kms_key_arn)", [table.path, table.name])
}

# Azure storage: TLS 1.2 at least, HTTPS only, no anonymous blob access.
deny contains msg if {
	some account in resources("azurerm_storage_account")
	not account.config.min_tls_version == "TLS1_2"
	msg := sprintf("%s: azurerm_storage_account.%s must set min_tls_version = \"TLS1_2\"", [account.path, account.name])
}

deny contains msg if {
	some account in resources("azurerm_storage_account")
	not account.config.allow_nested_items_to_be_public == false
	msg := sprintf("%s: azurerm_storage_account.%s must set allow_nested_items_to_be_public = false", [account.path, account.name])
}

deny contains msg if {
	some account in resources("azurerm_storage_account")
	account.config.https_traffic_only_enabled == false
	msg := sprintf("%s: azurerm_storage_account.%s must not turn off https_traffic_only_enabled", [account.path, account.name])
}
