# The cart service's two tables (src/mce/services/cart/store/dynamo.py and dynamo_relay.py): carts keyed by cartId,
# and the outbox of events staged with them, keyed by eventKey + seq (a Query per key reads its events in order).
# Neither uses an index: the relay scans the outbox for keys and queries each key.

resource "aws_dynamodb_table" "carts" {
  name                        = var.dynamodb_table
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "cartId"
  deletion_protection_enabled = true

  attribute {
    name = "cartId"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}

resource "aws_dynamodb_table" "cart_outbox" {
  name                        = "${var.dynamodb_table}-outbox"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "eventKey"
  range_key                   = "seq"
  deletion_protection_enabled = true

  attribute {
    name = "eventKey"
    type = "S"
  }

  attribute {
    name = "seq"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}
