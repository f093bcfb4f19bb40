# Event Hubs over the Kafka protocol (Standard tier has the Kafka endpoint): `events` is what MirrorMaker 2 bridges
# from MSK's user-events and the Flink job reads; `results` is what the Flink job writes and analytics reads.
resource "azurerm_eventhub_namespace" "main" {
  name                = "${var.name}-events-${local.suffix}"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  sku                 = "Standard"
  capacity            = var.eventhubs_capacity
  minimum_tls_version = "1.2"

  auto_inflate_enabled     = var.eventhubs_max_capacity > var.eventhubs_capacity
  maximum_throughput_units = var.eventhubs_max_capacity > var.eventhubs_capacity ? var.eventhubs_max_capacity : null

  # SAS connection strings are how the Kafka clients on EKS (MirrorMaker 2, analytics) and the Flink job sign in.
  local_authentication_enabled = true
  # Reached from AWS (MirrorMaker 2 and analytics on EKS) and from the consumption Function App, neither of which
  # has a fixed address in this VNet; every connection is TLS 1.2 with a SAS key.
  public_network_access_enabled = true

  identity {
    type = "SystemAssigned"
  }

  tags = local.tags
}

resource "azurerm_eventhub" "hubs" {
  for_each = toset(["events", "results"])

  name              = each.value
  namespace_id      = azurerm_eventhub_namespace.main.id
  partition_count   = var.eventhubs_partition_count
  message_retention = var.eventhubs_retention_days
}

# One consumer group per reader, named as the reader's Kafka group (stream/settings.py's stream_group `stream`,
# services/analytics/usecases.py's GROUP `analytics`); the Function's trigger reads `results` as $Default.
resource "azurerm_eventhub_consumer_group" "stream" {
  name                = "stream"
  namespace_name      = azurerm_eventhub_namespace.main.name
  eventhub_name       = azurerm_eventhub.hubs["events"].name
  resource_group_name = azurerm_resource_group.main.name
}

resource "azurerm_eventhub_consumer_group" "analytics" {
  name                = "analytics"
  namespace_name      = azurerm_eventhub_namespace.main.name
  eventhub_name       = azurerm_eventhub.hubs["results"].name
  resource_group_name = azurerm_resource_group.main.name
}

# The services' key: listen and send on both hubs, no manage (EVENTHUBS_CONNECTION_STRING in mce-secrets).
resource "azurerm_eventhub_namespace_authorization_rule" "services" {
  name                = "mce-services"
  namespace_name      = azurerm_eventhub_namespace.main.name
  resource_group_name = azurerm_resource_group.main.name
  listen              = true
  send                = true
  manage              = false
}

# The Function's key: listen on `results` only.
resource "azurerm_eventhub_authorization_rule" "analytics_function" {
  name                = "analytics-function"
  namespace_name      = azurerm_eventhub_namespace.main.name
  eventhub_name       = azurerm_eventhub.hubs["results"].name
  resource_group_name = azurerm_resource_group.main.name
  listen              = true
  send                = false
  manage              = false
}
