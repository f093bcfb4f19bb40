"""Settings of the stream job, read from MCE_ environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from mce.kit.bus.factory import BusSettings
from mce.kit.contracts import ANALYTICS_RESULTS_TOPIC, USER_EVENTS_TOPIC

# Kafka's rule for topic names, which Event Hubs and the embedded log accept too.
TopicName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")]
STREAM_ENGINES = ("embedded", "flink")


class StreamSettings(BusSettings):
    """The window job's engine, lateness bound, topics, consumer group and how often it checkpoints."""

    # embedded = the runner in this process, on MCE_BUS; flink = the PyFlink job as a supervised child process,
    # reading the Event Hubs side's hub (EVENTHUBS_BOOTSTRAP, EVENTHUBS_CONNECTION_STRING).
    stream_engine: Literal["embedded", "flink"] = "embedded"
    # How far behind the newest event time an event may arrive and still count (the watermark's lag).
    stream_out_of_orderness_ms: int = Field(default=5000, ge=0, le=24 * 3600 * 1000)
    stream_group: str = Field(default="stream", pattern=r"^[A-Za-z0-9._-]{1,200}$")
    stream_batch_size: int = Field(default=10_000, ge=1, le=1_000_000)
    stream_checkpoint_interval_s: float = Field(default=1.0, gt=0, le=3600)
    user_events_topic: TopicName = USER_EVENTS_TOPIC
    analytics_results_topic: TopicName = ANALYTICS_RESULTS_TOPIC
    # The flink engine's: PyFlink's interpreter (deploy/local/flink-env.sh), the Kafka connector jar
    # (deploy/local/flink-kafka.sh), the Azure side's hubs, and how long an idle partition may hold the watermark.
    flink_python: Path | None = None
    flink_kafka_jar: Path | None = None
    eventhubs_events_hub: TopicName = "events"
    eventhubs_results_hub: TopicName = "results"
    stream_idle_timeout_ms: int = Field(default=10_000, ge=0, le=24 * 3600 * 1000)
