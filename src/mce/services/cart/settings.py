"""Cart service settings (MCE_ environment variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator

from mce.kit.bus.factory import BusSettings
from mce.kit.settings import DatabaseSettings, ServiceUrl

DATABASE_NAME = "cart"
CART_STORES = ("sqlite", "dynamodb")
_TABLE_NAME = r"^[A-Za-z0-9_.-]{3,200}$"


class CartSettings(DatabaseSettings, BusSettings):
    """Where carts are kept and where the catalog answers."""

    # sqlite = the SQL store at MCE_DATABASE_URL (the embedded file <data dir>/cart.db unless a URL is given);
    # dynamodb = DynamoDB through boto3 (AWS_ENDPOINT_URL, AWS_REGION, ... as boto3 reads them).
    cart_store: Literal["sqlite", "dynamodb"] = "sqlite"
    # The DynamoDB table of carts, and of the events staged with them (default: the carts table's name + "-outbox").
    cart_table: str = Field(
        default="mce-carts", pattern=_TABLE_NAME, validation_alias=AliasChoices("MCE_CART_TABLE", "DYNAMODB_TABLE")
    )
    cart_outbox_table: str | None = Field(
        default=None,
        pattern=_TABLE_NAME,
        validation_alias=AliasChoices("MCE_CART_OUTBOX_TABLE", "DYNAMODB_OUTBOX_TABLE"),
    )
    # The product service, asked for a product's current name, price and stock when one is added.
    product_url: ServiceUrl = "http://127.0.0.1:8001"

    @model_validator(mode="after")
    def _a_real_database_in_production(self) -> CartSettings:
        # Overrides the base check of the same name: only the SQL store needs a database URL in production.
        if self.production and self.cart_store == "sqlite" and not self.database_url:
            raise ValueError(
                "MCE_DATABASE_URL: must be set in production (the embedded SQLite file is for one machine)"
            )
        return self

    def resolved_url(self) -> str:
        """The configured database URL, or the embedded SQLite file <data dir>/cart.db."""
        return self.resolved_database_url(DATABASE_NAME)

    def resolved_outbox_table(self) -> str:
        """The outbox table's name: the one given, or the carts table's name + "-outbox"."""
        return self.cart_outbox_table or f"{self.cart_table}-outbox"
