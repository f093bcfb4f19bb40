# Outputs named as the ConfigMap's and mce-secrets' keys, lower-cased (EVENTHUBS_BOOTSTRAP -> eventhubs_bootstrap).

output "eventhubs_bootstrap" {
  description = "EVENTHUBS_BOOTSTRAP: the namespace's Kafka endpoint"
  value       = "${azurerm_eventhub_namespace.main.name}.servicebus.windows.net:9093"
}

output "eventhubs_connection_string" {
  description = "EVENTHUBS_CONNECTION_STRING (mce-secrets): listen and send on both hubs, for analytics, MirrorMaker 2 and the Flink job"
  value       = azurerm_eventhub_namespace_authorization_rule.services.primary_connection_string
  sensitive   = true
}

output "acr_login_server" {
  description = "ACR_LOGIN_SERVER: the registry the CI pushes the stream image to"
  value       = azurerm_container_registry.main.login_server
}

output "resource_group_name" {
  description = "Resource group of every Azure resource"
  value       = azurerm_resource_group.main.name
}

output "aks_cluster_name" {
  description = "AKS cluster name (az aks get-credentials --name ...)"
  value       = azurerm_kubernetes_cluster.flink.name
}

output "aks_oidc_issuer_url" {
  description = "OIDC issuer of the AKS cluster, for workload identity federated credentials"
  value       = azurerm_kubernetes_cluster.flink.oidc_issuer_url
}

output "analytics_function_app" {
  description = "Name of the analytics Function App (FUNCTION_APP_NAME of the deploy workflow)"
  value       = azurerm_linux_function_app.analytics.name
}

output "analytics_function_url" {
  description = "https URL of the analytics Function App"
  value       = "https://${azurerm_linux_function_app.analytics.default_hostname}"
}

output "acr_name" {
  description = "ACR_NAME of the deploy workflow"
  value       = azurerm_container_registry.main.name
}

output "azure_client_id" {
  description = "AZURE_CLIENT_ID of the deploy workflow: the client id of its federated identity (null without github_repository)"
  value       = local.ci ? azurerm_user_assigned_identity.github_deploy[0].client_id : null
}

output "azure_tenant_id" {
  description = "AZURE_TENANT_ID of the deploy workflow"
  value       = data.azurerm_client_config.current.tenant_id
}
