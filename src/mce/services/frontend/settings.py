"""Frontend settings: where the backends are, the admin token and how session cookies are kept."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from mce.kit.secrets import local_secret
from mce.kit.settings import BaseServiceSettings


class FrontendSettings(BaseServiceSettings):
    """Settings read from MCE_* variables."""

    product_url: str = "http://127.0.0.1:8001"
    search_url: str = "http://127.0.0.1:8002"
    # Unset on a laptop: one is generated and kept under the data dir, so every local service agrees on it.
    admin_token: str | None = None
    session_secret: str | None = None
    # The address shoppers use, for canonical links; unset, pages carry no canonical link.
    public_url: str | None = None
    # Only send the session cookie over HTTPS; on in production, off for plain-HTTP local runs.
    cookie_secure: bool = False
    # Seconds the gateway keeps catalog reads in memory; its own writes clear it at once. 0 turns it off.
    catalog_cache_ttl: float = Field(default=1.0, ge=0, le=60)


@dataclass(frozen=True)
class FrontendSecrets:
    """The secrets the frontend runs with, once resolved."""

    admin_token: str
    session_secret: str


def resolve_secrets(settings: FrontendSettings) -> FrontendSecrets:
    """The configured secrets, or the ones kept under the data dir."""
    return FrontendSecrets(
        admin_token=local_secret(settings.admin_token, settings.data_dir, "admin-token"),
        session_secret=local_secret(settings.session_secret, settings.data_dir, "session-secret"),
    )
