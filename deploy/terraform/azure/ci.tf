# The identity the deploy workflow (.github/workflows/deploy.yml) signs in as with azure/login and GitHub's OIDC
# token: push the stream image to ACR and publish the analytics Function. Made when github_repository is set; no
# client secret anywhere.

locals {
  ci = var.github_repository != ""
}

resource "azurerm_user_assigned_identity" "github_deploy" {
  count = local.ci ? 1 : 0

  name                = "${var.name}-github-deploy"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = local.tags
}

# Only the workflow runs of the deploy branch, never a pull request's.
resource "azurerm_federated_identity_credential" "github_deploy" {
  count = local.ci ? 1 : 0

  name                = "github-deploy"
  resource_group_name = azurerm_resource_group.main.name
  parent_id           = azurerm_user_assigned_identity.github_deploy[0].id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = "https://token.actions.githubusercontent.com"
  subject             = "repo:${var.github_repository}:ref:refs/heads/${var.github_deploy_branch}"
}

resource "azurerm_role_assignment" "github_acr_push" {
  count = local.ci ? 1 : 0

  scope                            = azurerm_container_registry.main.id
  role_definition_name             = "AcrPush"
  principal_id                     = azurerm_user_assigned_identity.github_deploy[0].principal_id
  skip_service_principal_aad_check = true
}

resource "azurerm_role_assignment" "github_function_deploy" {
  count = local.ci ? 1 : 0

  scope                            = azurerm_linux_function_app.analytics.id
  role_definition_name             = "Website Contributor"
  principal_id                     = azurerm_user_assigned_identity.github_deploy[0].principal_id
  skip_service_principal_aad_check = true
}
