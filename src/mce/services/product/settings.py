"""Product service settings (MCE_ environment variables)."""

from __future__ import annotations

from typing import Literal

from mce.kit.settings import BaseServiceSettings


class ProductSettings(BaseServiceSettings):
    """Where the catalog lives and who may change it."""

    # SQLite under the data directory unless a URL (e.g. postgresql://...) is given.
    database_url: str | None = None
    bus: Literal["local"] = "local"
    admin_token: str | None = None
    # Production runs migrations as a separate job (`mce migrate product`) and sets this false.
    migrate_on_start: bool = True

    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'product.db').resolve()}"
