variable "subscription_id" {
  description = "Azure subscription to deploy into; null takes ARM_SUBSCRIPTION_ID from the environment."
  type        = string
  default     = null

  validation {
    condition     = var.subscription_id == null || can(regex("^[0-9a-fA-F-]{36}$", var.subscription_id))
    error_message = "subscription_id must be a subscription GUID, or null."
  }
}

variable "location" {
  description = "Azure region of every resource."
  type        = string
  default     = "westeurope"

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be a region name such as westeurope."
  }
}

variable "name" {
  description = "Prefix of every resource name (letters and digits only: it goes into storage and registry names)."
  type        = string
  default     = "mce"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,7}$", var.name))
    error_message = "name must be 2-8 lowercase letters or digits, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name, used in tags."
  type        = string
  default     = "production"
}

variable "tags" {
  description = "Extra tags put on every resource."
  type        = map(string)
  default     = {}
}

variable "vnet_cidr" {
  description = "Address space of the VNet (distinct from the AWS VPC's 10.0.0.0/16, should they ever be peered)."
  type        = string
  default     = "10.1.0.0/16"

  validation {
    condition     = can(cidrhost(var.vnet_cidr, 0))
    error_message = "vnet_cidr must be an IPv4 CIDR block."
  }
}

variable "log_retention_days" {
  description = "Retention of the Log Analytics workspace (AKS and the Function's Application Insights), in days."
  type        = number
  default     = 90

  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be between 30 and 730."
  }
}

variable "eventhubs_capacity" {
  description = "Throughput units of the Event Hubs namespace."
  type        = number
  default     = 1

  validation {
    condition     = var.eventhubs_capacity >= 1 && var.eventhubs_capacity <= 40
    error_message = "eventhubs_capacity must be between 1 and 40."
  }
}

variable "eventhubs_max_capacity" {
  description = "Throughput units auto-inflate may grow the namespace to; equal to eventhubs_capacity turns auto-inflate off."
  type        = number
  default     = 4

  validation {
    condition     = var.eventhubs_max_capacity >= 1 && var.eventhubs_max_capacity <= 40
    error_message = "eventhubs_max_capacity must be between 1 and 40."
  }
}

variable "eventhubs_partition_count" {
  description = "Partitions of each hub (fixed once created on the Standard tier)."
  type        = number
  default     = 4

  validation {
    condition     = var.eventhubs_partition_count >= 1 && var.eventhubs_partition_count <= 32
    error_message = "eventhubs_partition_count must be between 1 and 32."
  }
}

variable "eventhubs_retention_days" {
  description = "Days each hub keeps its events (at most 7 on the Standard tier)."
  type        = number
  default     = 1

  validation {
    condition     = var.eventhubs_retention_days >= 1 && var.eventhubs_retention_days <= 7
    error_message = "eventhubs_retention_days must be between 1 and 7."
  }
}

variable "aks_kubernetes_version" {
  description = "Kubernetes version of the AKS cluster."
  type        = string
  default     = "1.31"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}(\\.[0-9]+)?$", var.aks_kubernetes_version))
    error_message = "aks_kubernetes_version must look like 1.31."
  }
}

variable "aks_api_authorized_cidrs" {
  description = "CIDR blocks allowed to reach the AKS API server: the operators' addresses and ArgoCD's egress (the AWS root's nat_public_ip output as /32)."
  type        = list(string)

  validation {
    condition     = length(var.aks_api_authorized_cidrs) > 0 && alltrue([for cidr in var.aks_api_authorized_cidrs : can(cidrhost(cidr, 0)) && cidr != "0.0.0.0/0"])
    error_message = "aks_api_authorized_cidrs must list at least one IPv4 CIDR block, and not 0.0.0.0/0."
  }
}

variable "aks_service_cidr" {
  description = "Kubernetes Service CIDR of the AKS cluster (outside the VNet)."
  type        = string
  default     = "172.16.0.0/16"

  validation {
    condition     = can(cidrhost(var.aks_service_cidr, 10))
    error_message = "aks_service_cidr must be an IPv4 CIDR block."
  }
}

variable "aks_system_vm_size" {
  description = "VM size of the AKS system node pool."
  type        = string
  default     = "Standard_D2s_v5"
}

variable "aks_flink_vm_size" {
  description = "VM size of the node pool that runs the Flink JobManager and TaskManagers."
  type        = string
  default     = "Standard_D4s_v5"
}

variable "aks_flink_min_nodes" {
  description = "Fewest nodes in the Flink node pool."
  type        = number
  default     = 1
}

variable "aks_flink_max_nodes" {
  description = "Most nodes in the Flink node pool."
  type        = number
  default     = 3

  validation {
    condition     = var.aks_flink_max_nodes >= 1 && var.aks_flink_max_nodes <= 100
    error_message = "aks_flink_max_nodes must be between 1 and 100."
  }
}

variable "analytics_table" {
  description = "Table the analytics Function keeps the windows in (MCE_ANALYTICS_TABLE)."
  type        = string
  default     = "analyticswindows"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9]{2,62}$", var.analytics_table))
    error_message = "analytics_table must be 3-63 letters and digits, starting with a letter."
  }
}

variable "analytics_container" {
  description = "Blob container the analytics Function writes latest.json to (MCE_ANALYTICS_CONTAINER)."
  type        = string
  default     = "analytics"

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$", var.analytics_container))
    error_message = "analytics_container must be 3-63 lowercase letters, digits and single hyphens."
  }
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose deploy workflow may push the stream image and publish the Function; empty makes no CI identity."
  type        = string
  default     = ""

  validation {
    condition     = var.github_repository == "" || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name, or be empty."
  }
}

variable "github_deploy_branch" {
  description = "The branch whose workflow runs may sign in as the deploy identity."
  type        = string
  default     = "main"
}
