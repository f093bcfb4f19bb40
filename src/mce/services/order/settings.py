"""Order service settings (MCE_ environment variables)."""

from __future__ import annotations

from pydantic import Field

from mce.kit.bus.factory import BusSettings
from mce.kit.settings import DatabaseSettings, ServiceUrl

DATABASE_NAME = "order"


class OrderSettings(DatabaseSettings, BusSettings):
    """Where orders are kept, the services checkout calls, and who may manage orders."""

    # The cart service: checkout reads the shopper's cart there and empties it after payment.
    cart_url: ServiceUrl = "http://127.0.0.1:8003"
    # The product service: checkout reserves stock there, and learns the prices it charges.
    product_url: ServiceUrl = "http://127.0.0.1:8001"
    # The admin token: staff calls present it, and checkout presents it to product's reservation endpoint.
    # Unset on a laptop: the one the other services share, under the data directory. Required in production.
    admin_token: str | None = None
    auth_failure_limit: int = Field(default=10, ge=1, le=10_000)
    auth_failure_window_s: float = Field(default=600.0, gt=0, le=86_400)
    # Seconds before the outbox relay first runs; events committed meanwhile wait in the outbox (crash tests use it).
    relay_start_delay_s: float = Field(default=0.0, ge=0, le=86_400)

    def resolved_url(self) -> str:
        """The configured database URL, or the embedded SQLite file <data dir>/order.db."""
        return self.resolved_database_url(DATABASE_NAME)
