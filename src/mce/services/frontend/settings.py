"""Frontend settings: where the backends are, its own database (sessions), secrets and session lifetimes."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, model_validator

from mce.kit.blob.factory import BlobSettings
from mce.kit.bus.factory import BusSettings
from mce.kit.contracts import USER_EVENTS_TOPIC
from mce.kit.secrets import resolve_secret
from mce.kit.settings import DatabaseSettings, ServiceUrl

DATABASE_NAME = "frontend"
TOPIC_PATTERN = r"^[A-Za-z0-9._-]+$"  # Kafka's topic names


class FrontendSettings(DatabaseSettings, BusSettings, BlobSettings):
    """Settings read from MCE_* variables; the blob store is where /images/ reads thumbnails from."""

    product_url: ServiceUrl = "http://127.0.0.1:8001"
    search_url: ServiceUrl = "http://127.0.0.1:8002"
    cart_url: ServiceUrl = "http://127.0.0.1:8003"
    order_url: ServiceUrl = "http://127.0.0.1:8004"
    analytics_url: ServiceUrl = "http://127.0.0.1:8007"
    # Unset on a laptop: generated once under the data dir, so every local service agrees on it. Required in production.
    admin_token: str | None = None
    session_secret: str | None = None
    # The address shoppers use, for canonical links; unset, pages carry no canonical link.
    public_url: str | None = None
    # Only send the session cookie over HTTPS; unset means on in production and off for plain-HTTP local runs.
    cookie_secure: bool | None = None
    # Seconds the gateway keeps catalog reads in memory; its own writes clear it at once. 0 turns it off.
    catalog_cache_ttl: float = Field(default=1.0, ge=0, le=60)
    # Most bytes of answers the gateway cache holds; the oldest go first.
    catalog_cache_mb: int = Field(default=32, ge=1, le=4096)
    # Seconds the header's category list is reused; it is also served stale while the catalog is down.
    category_cache_ttl: float = Field(default=30.0, ge=0, le=3600)
    # A shopper's session ends after this long unused, and after the absolute lifetime whatever happens.
    session_idle_s: int = Field(default=7 * 86400, ge=60, le=365 * 86400)
    session_max_age_s: int = Field(default=30 * 86400, ge=60, le=365 * 86400)
    # An admin's sign-in lapses sooner: unused for this long, or this long after signing in.
    admin_idle_s: int = Field(default=30 * 60, ge=60, le=86400)
    admin_max_age_s: int = Field(default=12 * 3600, ge=60, le=7 * 86400)
    # Wrong admin tokens (form or bearer) one client may give within the window before it gets 429.
    auth_failure_limit: int = Field(default=10, ge=1, le=10_000)
    auth_failure_window_s: float = Field(default=600.0, gt=0, le=86_400)
    # The most bytes of a product photo an admin may upload (the product service takes the same setting).
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    # The shoppers' port does not serve /metrics; Prometheus scrapes MCE_METRICS_PORT instead.
    public_metrics: bool = False
    # Shopper activity (views, searches, adds, purchases) published to this topic; off publishes nothing.
    activity_events: bool = True
    user_events_topic: str = Field(
        default=USER_EVENTS_TOPIC, min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$"
    )
    # Activity events waiting for the bus; beyond this they are dropped (and counted), never waited for.
    activity_queue_size: int = Field(default=10_000, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _secure_cookies_in_production(self) -> FrontendSettings:
        if self.production and self.cookie_secure is False:
            raise ValueError("MCE_COOKIE_SECURE: must not be false in production (session cookies go over HTTPS only)")
        return self

    @property
    def secure_cookies(self) -> bool:
        """Whether session cookies are marked Secure."""
        return self.production if self.cookie_secure is None else self.cookie_secure

    def resolved_url(self) -> str:
        """The configured database URL, or the embedded SQLite file <data dir>/frontend.db."""
        return self.resolved_database_url(DATABASE_NAME)


@dataclass(frozen=True)
class FrontendSecrets:
    """The secrets the frontend runs with, once resolved."""

    admin_token: str
    session_secret: str


def resolve_secrets(settings: FrontendSettings) -> FrontendSecrets:
    """The configured secrets, or the ones kept under the data dir; weak or (in production) missing ones stop us."""
    return FrontendSecrets(
        admin_token=resolve_secret(
            settings.admin_token, name="admin-token", data_dir=settings.data_dir, production=settings.production
        ),
        session_secret=resolve_secret(
            settings.session_secret, name="session-secret", data_dir=settings.data_dir, production=settings.production
        ),
    )
