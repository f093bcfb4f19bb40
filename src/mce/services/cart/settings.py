"""Cart service settings (MCE_ environment variables)."""

from __future__ import annotations

from typing import Literal

from mce.kit.bus.factory import BusSettings
from mce.kit.settings import DatabaseSettings

DATABASE_NAME = "cart"
CART_STORES = ("sqlite",)


class CartSettings(DatabaseSettings, BusSettings):
    """Where carts are kept and where the catalog answers."""

    # sqlite = the SQL store at MCE_DATABASE_URL: the embedded file <data dir>/cart.db unless a URL is given.
    cart_store: Literal["sqlite"] = "sqlite"
    # The product service, asked for a product's current name, price and stock when one is added.
    product_url: str = "http://127.0.0.1:8001"

    def resolved_url(self) -> str:
        """The configured database URL, or the embedded SQLite file <data dir>/cart.db."""
        return self.resolved_database_url(DATABASE_NAME)
