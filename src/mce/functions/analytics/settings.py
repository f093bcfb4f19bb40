"""Settings of the local analytics Function runner (MCE_ environment variables); the Function's own are app settings."""

from __future__ import annotations

from pydantic import Field

from mce.kit.bus.factory import BusSettings


class AnalyticsFunctionSettings(BusSettings):
    """Which topic stands in for the Event Hub and how big a batch the trigger gets."""

    # The hub the trigger reads in Azure (`results` on the Event Hubs side).
    analytics_function_topic: str = Field(default="results", min_length=1, max_length=200)
    # host.json's eventHubs.maxEventBatchSize.
    analytics_function_batch_size: int = Field(default=500, ge=1, le=5000)
