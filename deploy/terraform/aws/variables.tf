variable "aws_region" {
  description = "AWS region for every resource (the ConfigMap's AWS_REGION)."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region code such as eu-west-1."
  }
}

variable "availability_zones" {
  description = "The two availability zones of aws_region the subnets go in (one public and one private subnet each)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b"]

  validation {
    condition     = length(var.availability_zones) == 2 && length(distinct(var.availability_zones)) == 2
    error_message = "availability_zones must be two different AZs."
  }
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "mce"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.name))
    error_message = "name must be 2-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name, used in tags."
  type        = string
  default     = "production"
}

variable "tags" {
  description = "Extra tags put on every resource (merged into the provider's default tags)."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; the four subnets are /20s carved from it."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 18
    error_message = "vpc_cidr must be an IPv4 CIDR block of /18 or larger."
  }
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups (VPC flow logs, EKS, MSK, OpenSearch, Lambda)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

variable "eks_cluster_version" {
  description = "Kubernetes version of the EKS control plane."
  type        = string
  default     = "1.31"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.eks_cluster_version))
    error_message = "eks_cluster_version must look like 1.31."
  }
}

variable "eks_public_access_cidrs" {
  description = "CIDR blocks allowed to reach the EKS API's public endpoint; empty (the default) keeps the endpoint private only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.eks_public_access_cidrs : can(cidrhost(cidr, 0)) && cidr != "0.0.0.0/0"])
    error_message = "eks_public_access_cidrs must be IPv4 CIDR blocks, and not 0.0.0.0/0."
  }
}

variable "eks_node_instance_types" {
  description = "Instance types of the managed node group."
  type        = list(string)
  default     = ["t3.large"]
}

variable "eks_node_min_size" {
  description = "Fewest nodes in the managed node group."
  type        = number
  default     = 2
}

variable "eks_node_desired_size" {
  description = "Nodes the managed node group starts with (the cluster autoscaler, if installed, changes it)."
  type        = number
  default     = 3
}

variable "eks_node_max_size" {
  description = "Most nodes in the managed node group; enough for every HPA at its maximum."
  type        = number
  default     = 6

  validation {
    condition     = var.eks_node_max_size >= 1 && var.eks_node_max_size <= 100
    error_message = "eks_node_max_size must be between 1 and 100."
  }
}

variable "eks_node_disk_gb" {
  description = "Size of each node's encrypted root volume, in GiB."
  type        = number
  default     = 50
}

variable "rds_engine_version" {
  description = "PostgreSQL major version of the RDS instance (15 or 16); minor versions are upgraded automatically."
  type        = string
  default     = "16"

  validation {
    condition     = contains(["15", "16"], var.rds_engine_version)
    error_message = "rds_engine_version must be 15 or 16."
  }
}

variable "rds_instance_class" {
  description = "Instance class of the RDS instance."
  type        = string
  default     = "db.t4g.medium"

  validation {
    condition     = startswith(var.rds_instance_class, "db.")
    error_message = "rds_instance_class must be an RDS class such as db.t4g.medium."
  }
}

variable "rds_allocated_storage" {
  description = "Initial storage of the RDS instance, in GiB."
  type        = number
  default     = 20

  validation {
    condition     = var.rds_allocated_storage >= 20
    error_message = "rds_allocated_storage must be at least 20 GiB."
  }
}

variable "rds_max_allocated_storage" {
  description = "Storage autoscaling ceiling of the RDS instance, in GiB."
  type        = number
  default     = 100
}

variable "rds_multi_az" {
  description = "Whether the RDS instance keeps a synchronous standby in the second AZ."
  type        = bool
  default     = true
}

variable "rds_backup_retention_days" {
  description = "Days of automated RDS backups (point-in-time recovery window)."
  type        = number
  default     = 7

  validation {
    condition     = var.rds_backup_retention_days >= 1 && var.rds_backup_retention_days <= 35
    error_message = "rds_backup_retention_days must be between 1 and 35."
  }
}

variable "rds_deletion_protection" {
  description = "Whether the RDS instance refuses deletion (turn off only to destroy the stack)."
  type        = bool
  default     = true
}

variable "rds_username" {
  description = "Master user of the RDS instance (the ConfigMap's RDS_USER); each service gets its database mce_<service> on it."
  type        = string
  default     = "mce"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.rds_username)) && !contains(["admin", "postgres", "rdsadmin"], var.rds_username)
    error_message = "rds_username must be 1-16 lowercase letters, digits or underscores, and not a reserved name."
  }
}

variable "rds_sslmode" {
  description = "libpq sslmode the services use (RDS_SSLMODE): require, or verify-full when the images carry the RDS CA bundle as the root certificate."
  type        = string
  default     = "require"

  validation {
    condition     = contains(["require", "verify-full"], var.rds_sslmode)
    error_message = "rds_sslmode must be require or verify-full: the parameter group refuses connections without TLS."
  }
}

variable "msk_kafka_version" {
  description = "Kafka version of the MSK cluster."
  type        = string
  default     = "3.6.0"
}

variable "msk_instance_type" {
  description = "Broker instance type of the MSK cluster."
  type        = string
  default     = "kafka.t3.small"

  validation {
    condition     = startswith(var.msk_instance_type, "kafka.")
    error_message = "msk_instance_type must be an MSK broker type such as kafka.m7g.large."
  }
}

variable "msk_broker_count" {
  description = "Number of MSK brokers; a multiple of the two AZs."
  type        = number
  default     = 2

  validation {
    condition     = var.msk_broker_count >= 2 && var.msk_broker_count % 2 == 0
    error_message = "msk_broker_count must be an even number of at least 2 (one or more per AZ)."
  }
}

variable "msk_volume_size" {
  description = "EBS volume per MSK broker, in GiB."
  type        = number
  default     = 100
}

variable "msk_scram_username" {
  description = "SASL/SCRAM user the services and MirrorMaker 2 connect to MSK as (MCE_KAFKA_SASL_USERNAME)."
  type        = string
  default     = "mce"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.msk_scram_username))
    error_message = "msk_scram_username must be 1-64 letters, digits, underscores or hyphens."
  }
}

variable "dynamodb_table" {
  description = "Name of the carts table (DYNAMODB_TABLE); its outbox table is this name + \"-outbox\", as the cart service assumes."
  type        = string
  default     = "mce-carts"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,200}$", var.dynamodb_table))
    error_message = "dynamodb_table must be 3-200 letters, digits, underscores, dots or hyphens."
  }
}

variable "opensearch_engine_version" {
  description = "Engine version of the OpenSearch domain."
  type        = string
  default     = "OpenSearch_2.13"

  validation {
    condition     = startswith(var.opensearch_engine_version, "OpenSearch_")
    error_message = "opensearch_engine_version must look like OpenSearch_2.13."
  }
}

variable "opensearch_instance_type" {
  description = "Data node instance type of the OpenSearch domain."
  type        = string
  default     = "m6g.large.search"
}

variable "opensearch_instance_count" {
  description = "Data nodes of the OpenSearch domain, spread over the two AZs."
  type        = number
  default     = 2

  validation {
    condition     = var.opensearch_instance_count >= 2 && var.opensearch_instance_count % 2 == 0
    error_message = "opensearch_instance_count must be an even number of at least 2 (zone awareness over two AZs)."
  }
}

variable "opensearch_volume_size" {
  description = "EBS volume per OpenSearch data node, in GiB."
  type        = number
  default     = 20
}

variable "opensearch_master_user" {
  description = "Internal master user of the OpenSearch domain's fine-grained access control (MCE_OPENSEARCH_USERNAME)."
  type        = string
  default     = "mce-search"
}

variable "create_opensearch_service_linked_role" {
  description = "Whether to create the OpenSearch service-linked role a VPC domain needs (false when the account already has it)."
  type        = bool
  default     = false
}

variable "uploads_bucket_name" {
  description = "Name of the uploads bucket (S3_BUCKET); empty means <name>-uploads-<account id>."
  type        = string
  default     = ""

  validation {
    condition     = var.uploads_bucket_name == "" || can(regex("^[a-z0-9][a-z0-9.-]{2,62}$", var.uploads_bucket_name))
    error_message = "uploads_bucket_name must be a valid S3 bucket name."
  }
}

variable "image_processor_zip" {
  description = "Path of the image-processor Lambda zip for the python3.11 runtime, as deploy/aws/package-image-processor.sh builds it."
  type        = string
  default     = "../../../build/image-processor-lambda.zip"

  validation {
    condition     = endswith(var.image_processor_zip, ".zip")
    error_message = "image_processor_zip must be the path of a .zip file."
  }
}

variable "product_internal_url" {
  description = "URL the image processor calls the product service at (MCE_PRODUCT_URL): the internal load balancer of the Service product-internal, e.g. http://<its hostname>:8000."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/]+(:[0-9]+)?/?$", var.product_internal_url))
    error_message = "product_internal_url must be an http(s) URL with a host and an optional port, and no path."
  }
}

variable "image_processor_memory_mb" {
  description = "Memory of the image-processor Lambda, in MB (a 50-megapixel photo decodes to about 200 MB)."
  type        = number
  default     = 1024

  validation {
    condition     = var.image_processor_memory_mb >= 256 && var.image_processor_memory_mb <= 10240
    error_message = "image_processor_memory_mb must be between 256 and 10240."
  }
}

variable "image_processor_timeout_s" {
  description = "Timeout of one image-processor invocation, in seconds."
  type        = number
  default     = 60

  validation {
    condition     = var.image_processor_timeout_s >= 10 && var.image_processor_timeout_s <= 900
    error_message = "image_processor_timeout_s must be between 10 and 900."
  }
}

variable "image_processor_reserved_concurrency" {
  description = "Reserved (and most) concurrent executions of the image-processor Lambda, so a burst of uploads cannot flood the product service."
  type        = number
  default     = 10

  validation {
    condition     = var.image_processor_reserved_concurrency >= 1
    error_message = "image_processor_reserved_concurrency must be at least 1."
  }
}

variable "ecr_keep_tagged_images" {
  description = "How many sha-tagged images each ECR repository keeps (older ones expire)."
  type        = number
  default     = 30
}

variable "public_url" {
  description = "The storefront's public https URL (MCE_PUBLIC_URL), e.g. https://shop.example.com; empty until a DNS name points at the frontend's load balancer."
  type        = string
  default     = ""

  validation {
    condition     = var.public_url == "" || can(regex("^https://[^/]+$", var.public_url))
    error_message = "public_url must be an https URL without a path, or empty."
  }
}

variable "acm_certificate_arn" {
  description = "ARN of the ACM certificate for the storefront's domain (the frontend NLB's TLS listener); empty until one is issued."
  type        = string
  default     = ""

  validation {
    condition     = var.acm_certificate_arn == "" || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$", var.acm_certificate_arn))
    error_message = "acm_certificate_arn must be an ACM certificate ARN, or empty."
  }
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose deploy workflow may push images and Lambda code; empty makes no CI role."
  type        = string
  default     = ""

  validation {
    condition     = var.github_repository == "" || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name, or be empty."
  }
}

variable "github_deploy_branch" {
  description = "The branch whose workflow runs may assume the deploy role."
  type        = string
  default     = "main"
}

variable "create_github_oidc_provider" {
  description = "Whether to create GitHub's OIDC provider in the account (false when it exists already)."
  type        = bool
  default     = true
}
