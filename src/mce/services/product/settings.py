"""Product service settings (MCE_ environment variables)."""

from __future__ import annotations

from pydantic import Field

from mce.kit.bus.factory import BusSettings
from mce.kit.settings import DatabaseSettings

DATABASE_NAME = "product"


class ProductSettings(DatabaseSettings, BusSettings):
    """Where the catalog lives and who may change it."""

    # Unset on a laptop: generated once under the data directory. Required in production.
    admin_token: str | None = None
    # Wrong admin tokens a client may present within the window before it gets 429.
    auth_failure_limit: int = Field(default=10, ge=1, le=10_000)
    auth_failure_window_s: float = Field(default=600.0, gt=0, le=86_400)

    def resolved_url(self) -> str:
        """The configured database URL, or the embedded SQLite file <data dir>/product.db."""
        return self.resolved_database_url(DATABASE_NAME)
