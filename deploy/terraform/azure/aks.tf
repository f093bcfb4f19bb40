# AKS for the Flink job (the Flink Kubernetes Operator runs the `stream` FlinkDeployment in namespace mce).
resource "azurerm_kubernetes_cluster" "flink" {
  # checkov:skip=CKV_AZURE_6: authorized_ip_ranges comes from var.aks_api_authorized_cidrs, which has no default and whose validation refuses an empty list and 0.0.0.0/0 (checkov cannot read a variable without a default)
  name                = "${var.name}-flink"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  dns_prefix          = "${var.name}-flink"
  kubernetes_version  = var.aks_kubernetes_version
  sku_tier            = "Standard"

  automatic_upgrade_channel = "patch"
  node_os_upgrade_channel   = "NodeImage"

  # Workload identity: pods get Entra ID tokens for their ServiceAccount, never stored credentials.
  oidc_issuer_enabled       = true
  workload_identity_enabled = true

  # Kubernetes RBAC decided by Azure RBAC on Entra ID identities; no local admin account.
  role_based_access_control_enabled = true
  local_account_disabled            = true

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled = true
    tenant_id          = data.azurerm_client_config.current.tenant_id
  }

  # The API server answers only the given ranges (the operators, and ArgoCD's egress address on AWS).
  api_server_access_profile {
    authorized_ip_ranges = var.aks_api_authorized_cidrs
  }

  azure_policy_enabled = true

  oms_agent {
    log_analytics_workspace_id      = azurerm_log_analytics_workspace.main.id
    msi_auth_for_monitoring_enabled = true
  }

  # The system pool runs only the cluster's own add-ons; Flink goes to its own pool below.
  default_node_pool {
    name                         = "system"
    vm_size                      = var.aks_system_vm_size
    vnet_subnet_id               = azurerm_subnet.aks.id
    only_critical_addons_enabled = true
    auto_scaling_enabled         = true
    min_count                    = 1
    max_count                    = 3
    max_pods                     = 50
    os_disk_type                 = "Managed"
    host_encryption_enabled      = true
    zones                        = ["1", "2", "3"]

    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin    = "azure"
    network_policy    = "azure"
    load_balancer_sku = "standard"
    outbound_type     = "loadBalancer"
    service_cidr      = var.aks_service_cidr
    dns_service_ip    = cidrhost(var.aks_service_cidr, 10)
  }

  tags = local.tags
}

resource "azurerm_kubernetes_cluster_node_pool" "flink" {
  name                    = "flink"
  kubernetes_cluster_id   = azurerm_kubernetes_cluster.flink.id
  vm_size                 = var.aks_flink_vm_size
  vnet_subnet_id          = azurerm_subnet.aks.id
  mode                    = "User"
  auto_scaling_enabled    = true
  min_count               = var.aks_flink_min_nodes
  max_count               = var.aks_flink_max_nodes
  max_pods                = 50
  os_disk_type            = "Managed"
  host_encryption_enabled = true
  zones                   = ["1", "2", "3"]

  node_labels = { "mce/pool" = "flink" }

  upgrade_settings {
    max_surge = "33%"
  }

  tags = local.tags
}

# The cluster's identity manages load balancers and NICs in the subnet it was given.
resource "azurerm_role_assignment" "aks_network" {
  scope                = azurerm_subnet.aks.id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_kubernetes_cluster.flink.identity[0].principal_id
}
