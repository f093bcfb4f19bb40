resource "aws_security_group" "msk" {
  name        = "${var.name}-msk"
  description = "MSK: Kafka over SASL/SCRAM and TLS (9096) from the VPC only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name}-msk" }
}

resource "aws_vpc_security_group_ingress_rule" "msk_from_vpc" {
  security_group_id = aws_security_group.msk.id
  description       = "Kafka SASL/SCRAM over TLS from the VPC"
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 9096
  to_port           = 9096
}

resource "aws_cloudwatch_log_group" "msk" {
  name              = "/aws/msk/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
}

# The services run with MCE_KAFKA_CREATE_TOPICS=false, so the brokers create user-events, orders and products on
# first use, replicated to both AZs.
resource "aws_msk_configuration" "main" {
  name           = "${var.name}-kafka"
  kafka_versions = [var.msk_kafka_version]

  server_properties = <<-PROPERTIES
    auto.create.topics.enable=true
    default.replication.factor=2
    min.insync.replicas=1
    num.partitions=6
    log.retention.hours=168
  PROPERTIES
}

resource "aws_msk_cluster" "main" {
  cluster_name           = var.name
  kafka_version          = var.msk_kafka_version
  number_of_broker_nodes = var.msk_broker_count

  broker_node_group_info {
    instance_type   = var.msk_instance_type
    client_subnets  = aws_subnet.private[*].id
    security_groups = [aws_security_group.msk.id]

    storage_info {
      ebs_storage_info {
        volume_size = var.msk_volume_size
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.main.arn
    revision = aws_msk_configuration.main.latest_revision
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = aws_kms_key.data.arn

    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  # SASL/SCRAM only (port 9096); no unauthenticated or plaintext listener.
  client_authentication {
    unauthenticated = false

    sasl {
      scram = true
      iam   = false
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.msk.name
      }
    }
  }
}

resource "random_password" "msk_scram" {
  length  = 40
  special = false
}

# MSK reads SCRAM credentials only from secrets named AmazonMSK_* and encrypted with a customer managed key.
resource "aws_secretsmanager_secret" "msk_scram" {
  name                    = "AmazonMSK_${var.name}_scram"
  description             = "SASL/SCRAM credentials of the mce services on MSK"
  kms_key_id              = aws_kms_key.data.arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "msk_scram" {
  secret_id = aws_secretsmanager_secret.msk_scram.id
  secret_string = jsonencode({
    username = var.msk_scram_username
    password = random_password.msk_scram.result
  })
}

resource "aws_msk_scram_secret_association" "main" {
  cluster_arn     = aws_msk_cluster.main.arn
  secret_arn_list = [aws_secretsmanager_secret.msk_scram.arn]

  depends_on = [aws_secretsmanager_secret_version.msk_scram]
}
