# The analytics Azure Function (src/mce/functions/analytics/function_app.py, packaged by
# deploy/azure/package-analytics-function.sh): an Event Hubs trigger on `results` stores the windows in Table storage
# and an HTTP route serves them.

resource "azurerm_storage_account" "functions" {
  name                     = "${var.name}func${local.suffix}"
  location                 = azurerm_resource_group.main.location
  resource_group_name      = azurerm_resource_group.main.name
  account_tier             = "Standard"
  account_replication_type = "GZRS"
  account_kind             = "StorageV2"

  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  # The Functions host on a consumption plan signs in to its storage with the account key (AzureWebJobsStorage).
  shared_access_key_enabled         = true
  infrastructure_encryption_enabled = true

  blob_properties {
    delete_retention_policy {
      days = 7
    }

    container_delete_retention_policy {
      days = 7
    }
  }

  queue_properties {
    logging {
      read                  = true
      write                 = true
      delete                = true
      version               = "1.0"
      retention_policy_days = 30
    }
  }

  sas_policy {
    expiration_period = "1.00:00:00"
    expiration_action = "Log"
  }

  tags = local.tags
}

resource "azurerm_application_insights" "functions" {
  name                = "${var.name}-analytics-function"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  workspace_id        = azurerm_log_analytics_workspace.main.id
  application_type    = "other"
  tags                = local.tags
}

resource "azurerm_service_plan" "functions" {
  name                = "${var.name}-analytics-function"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  os_type             = "Linux"
  # Y1: the consumption plan.
  sku_name = "Y1"
  tags     = local.tags
}

resource "azurerm_linux_function_app" "analytics" {
  name                = "${var.name}-analytics-${local.suffix}"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  service_plan_id     = azurerm_service_plan.functions.id

  storage_account_name       = azurerm_storage_account.functions.name
  storage_account_access_key = azurerm_storage_account.functions.primary_access_key

  https_only                    = true
  public_network_access_enabled = true
  functions_extension_version   = "~4"
  builtin_logging_enabled       = false

  identity {
    type = "SystemAssigned"
  }

  site_config {
    minimum_tls_version                    = "1.2"
    scm_minimum_tls_version                = "1.2"
    ftps_state                             = "Disabled"
    http2_enabled                          = true
    application_insights_connection_string = azurerm_application_insights.functions.connection_string

    application_stack {
      python_version = "3.11"
    }
  }

  # What function_app.py reads: the trigger's connection (EVENTHUB_CONNECTION names this setting), and the table and
  # container of the windows, kept in the host's storage account (AzureWebJobsStorage, which the provider sets).
  # The remote build settings are the deploy workflow's (Azure/functions-action with an Oryx build), kept here so an
  # apply does not undo them.
  app_settings = {
    EVENTHUB_CONNECTION            = azurerm_eventhub_authorization_rule.analytics_function.primary_connection_string
    MCE_ANALYTICS_TABLE            = var.analytics_table
    MCE_ANALYTICS_CONTAINER        = var.analytics_container
    SCM_DO_BUILD_DURING_DEPLOYMENT = "true"
    ENABLE_ORYX_BUILD              = "true"
  }

  # Each deployment points the app at its new package; Terraform does not own the code.
  lifecycle {
    ignore_changes = [app_settings["WEBSITE_RUN_FROM_PACKAGE"]]
  }

  tags = local.tags
}
