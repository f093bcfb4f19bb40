"""Analytics service settings (MCE_ environment variables)."""

from __future__ import annotations

from pydantic import Field

from mce.kit.bus.factory import BusSettings
from mce.kit.contracts import ANALYTICS_RESULTS_TOPIC
from mce.kit.settings import DatabaseSettings

DATABASE_NAME = "analytics"


class AnalyticsSettings(DatabaseSettings, BusSettings):
    """Where windows are kept, which topic brings them and how long they are kept."""

    # The stream job's output topic (production: the Event Hubs hub `results`).
    analytics_results_topic: str = Field(default=ANALYTICS_RESULTS_TOPIC, min_length=1, max_length=200)
    # Windows stored (or last corrected) longer ago than this are purged in the background.
    analytics_retention_hours: float = Field(default=168.0, gt=0, le=24 * 366)

    def resolved_url(self) -> str:
        """The configured database URL, or the embedded SQLite file <data dir>/analytics.db."""
        return self.resolved_database_url(DATABASE_NAME)
