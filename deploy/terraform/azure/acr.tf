# The registry of the `stream` image (the PyFlink job with the Kafka connector jar); ACR_LOGIN_SERVER in the CI.
resource "azurerm_container_registry" "main" {
  name                = "${var.name}acr${local.suffix}"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  # Premium for zone redundancy, dedicated data endpoints and the untagged-manifest retention policy.
  sku                     = "Premium"
  admin_enabled           = false
  zone_redundancy_enabled = true
  data_endpoint_enabled   = true
  # The CI pushes from GitHub-hosted runners, which have no fixed address; pushes need an Entra ID identity.
  public_network_access_enabled = true
  retention_policy_in_days      = 30

  tags = local.tags
}

# The nodes pull the image with the kubelet's managed identity; no pull secret.
resource "azurerm_role_assignment" "aks_acr_pull" {
  scope                            = azurerm_container_registry.main.id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_kubernetes_cluster.flink.kubelet_identity[0].object_id
  skip_service_principal_aad_check = true
}
