"""Settings of the events producer (MCE_ environment variables)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from mce.kit.bus.factory import BusSettings
from mce.kit.contracts import USER_EVENTS_TOPIC
from mce.kit.settings import ServiceUrl
from mce.services.events_producer.domain import DEFAULT_MIX, Disorder, mix_text, parse_mix

RATE_MAX = 10_000.0
TOPIC_PATTERN = r"^[A-Za-z0-9._-]+$"  # Kafka's topic names


class ProducerSettings(BusSettings):
    """How many synthetic shoppers, how fast, doing what, and how disorderly."""

    # The catalog the shoppers browse (GET /products), read at start and now and then.
    product_url: ServiceUrl = "http://127.0.0.1:8001"
    user_events_topic: str = Field(default=USER_EVENTS_TOPIC, min_length=1, max_length=249, pattern=TOPIC_PATTERN)
    # Unset on a laptop: generated once under the data directory. Required in production. Guards start/stop/rate.
    admin_token: str | None = None
    auth_failure_limit: int = Field(default=10, ge=1, le=10_000)
    auth_failure_window_s: float = Field(default=600.0, gt=0, le=86_400)
    producer_users: int = Field(default=50, ge=1, le=1_000_000)
    # Events per second, when started without a rate of its own (and at autostart).
    producer_rate: float = Field(default=5.0, gt=0, le=RATE_MAX)
    producer_mix: str = DEFAULT_MIX
    # Unset: a new seed each start (logged), so two producers do not tell the same story.
    producer_seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    producer_out_of_order_fraction: float = Field(default=0.0, ge=0, le=1)
    producer_max_skew_s: int = Field(default=4, ge=1, le=3600)
    producer_late_fraction: float = Field(default=0.0, ge=0, le=1)
    producer_lateness_s: int = Field(default=120, ge=1, le=86_400)
    # Start producing as soon as the service is up (`mce up` shows a live dashboard this way).
    producer_autostart: bool = True
    producer_catalog_refresh_s: float = Field(default=300.0, ge=5, le=86_400)

    @field_validator("producer_mix")
    @classmethod
    def _mix(cls, value: str) -> str:
        return mix_text(parse_mix(value))

    @model_validator(mode="after")
    def _disorder(self) -> ProducerSettings:
        if self.producer_out_of_order_fraction + self.producer_late_fraction > 1:
            raise ValueError(
                "MCE_PRODUCER_OUT_OF_ORDER_FRACTION + MCE_PRODUCER_LATE_FRACTION: must add up to at most 1"
            )
        return self

    def disorder(self) -> Disorder:
        """The out-of-order and late events these settings ask for."""
        return Disorder(
            out_of_order_fraction=self.producer_out_of_order_fraction,
            max_skew_s=self.producer_max_skew_s,
            late_fraction=self.producer_late_fraction,
            lateness_s=self.producer_lateness_s,
        )
