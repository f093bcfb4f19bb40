"""Build the EventBus a setting names; the only place that switches on MCE_BUS."""

from __future__ import annotations

from contextlib import AsyncExitStack, ExitStack
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from mce.kit.bus.port import EventBus
from mce.kit.settings import BaseServiceSettings, SettingsError

if TYPE_CHECKING:
    from mce.kit.bus.kafka import KafkaConnection, KafkaTuning

BUS_CHOICES = ("local", "kafka", "eventhubs")
# Where deploy/local/kafka.sh serves the two clusters: the defaults outside production.
LOCAL_KAFKA_BOOTSTRAP = "127.0.0.1:19092"
LOCAL_EVENTHUBS_BOOTSTRAP = "127.0.0.1:19094"
# Event Hubs' Kafka endpoint takes one user name; the password is the namespace's connection string.
EVENTHUBS_USERNAME = "$ConnectionString"

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]


def _alias(name: str) -> AliasChoices:
    """A setting read from MCE_<NAME> or the design doc's plain <NAME>."""
    return AliasChoices(f"MCE_{name}", name)


class BusSettings(BaseServiceSettings):
    """Settings of a service that publishes or consumes events."""

    # The endpoint settings also answer to their plain names (KAFKA_BOOTSTRAP); code passes them by field name.
    model_config = SettingsConfigDict(**BaseServiceSettings.model_config, populate_by_name=True)

    # local = the embedded SQLite log under the data directory; kafka = MSK (or any Kafka); eventhubs = Azure Event
    # Hubs through its Kafka endpoint.
    bus: Literal["local", "kafka", "eventhubs"] = "local"
    # The embedded log drops events older than this, and the oldest ones while it is bigger than its size limit.
    bus_retention_hours: float = Field(default=168.0, gt=0, le=24 * 365)
    bus_retention_mb: int = Field(default=512, ge=1, le=1_000_000)

    kafka_bootstrap: str | None = Field(default=None, validation_alias=_alias("KAFKA_BOOTSTRAP"))
    # MSK serves PLAINTEXT on 9092 and TLS on 9094 (SSL); SASL_* with a mechanism and credentials for SCRAM.
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None

    eventhubs_bootstrap: str | None = Field(default=None, validation_alias=_alias("EVENTHUBS_BOOTSTRAP"))
    eventhubs_connection_string: SecretStr | None = Field(
        default=None, validation_alias=_alias("EVENTHUBS_CONNECTION_STRING")
    )
    # Azure requires TLS; the local stand-in (deploy/local/kafka.sh) listens in plain text.
    eventhubs_security_protocol: Literal["SASL_SSL", "SASL_PLAINTEXT"] = "SASL_SSL"

    # Producer batching: a batch leaves when full or after the linger, compressed (Event Hubs gets none by default,
    # as compression on its Kafka endpoint depends on the tier).
    kafka_linger_ms: float = Field(default=5.0, ge=0, le=5_000)
    kafka_batch_bytes: int = Field(default=1_000_000, ge=1_000, le=10_000_000)
    kafka_compression: Compression | None = None
    # A publish not stored within this long fails with 503 unavailable; a ping (/readyz waits 2 s) within its own.
    kafka_publish_timeout_s: float = Field(default=10.0, gt=0, le=300)
    kafka_ping_timeout_s: float = Field(default=1.5, gt=0, le=60)
    # A consumer that stops heartbeating for this long loses its partitions to the rest of its group.
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000, le=300_000)
    # Topics missing on first use are created with this many partitions (false: they must exist already).
    kafka_create_topics: bool = True
    kafka_partitions: int = Field(default=3, ge=1, le=10_000)

    @model_validator(mode="after")
    def _a_bus_endpoint_in_production(self) -> BusSettings:
        if self.production and self.bus == "kafka" and not self.kafka_bootstrap:
            raise ValueError("KAFKA_BOOTSTRAP (or MCE_KAFKA_BOOTSTRAP): must be set in production when MCE_BUS=kafka")
        if self.production and self.bus == "eventhubs" and not self.eventhubs_bootstrap:
            raise ValueError(
                "EVENTHUBS_BOOTSTRAP (or MCE_EVENTHUBS_BOOTSTRAP): must be set in production when MCE_BUS=eventhubs"
            )
        if self.bus == "eventhubs" and self.eventhubs_connection_string is None:
            raise ValueError(
                "EVENTHUBS_CONNECTION_STRING (or MCE_EVENTHUBS_CONNECTION_STRING): must be set when MCE_BUS=eventhubs"
            )
        if self.kafka_sasl_mechanism and self.kafka_security_protocol not in ("SASL_PLAINTEXT", "SASL_SSL"):
            raise ValueError("MCE_KAFKA_SECURITY_PROTOCOL: must be SASL_PLAINTEXT or SASL_SSL with a SASL mechanism")
        return self


def own_bus(stack: ExitStack | AsyncExitStack, settings: BusSettings, given: EventBus | None) -> EventBus:
    """The given bus (a test's, which the caller closes), else one built for the settings that the stack closes."""
    if given is not None:
        return given
    bus = build_bus(settings)
    stack.callback(bus.close)
    return bus


def build_bus(settings: BusSettings) -> EventBus:
    """The bus for MCE_BUS: 'local' is the embedded log at <data dir>/bus.db, the others a Kafka cluster."""
    if settings.bus == "local":
        from mce.kit.bus.sqlite import SqliteEventBus

        return SqliteEventBus(
            settings.data_dir / "bus.db",
            retention_s=settings.bus_retention_hours * 3600,
            retention_bytes=settings.bus_retention_mb * 1024 * 1024,
        )
    if settings.bus in ("kafka", "eventhubs"):
        from mce.kit.bus.kafka import KafkaEventBus

        return KafkaEventBus(kafka_connection(settings), kafka_tuning(settings))
    raise SettingsError(f"MCE_BUS: unknown bus {settings.bus!r}; allowed: {', '.join(BUS_CHOICES)}")


def kafka_connection(settings: BusSettings) -> KafkaConnection:
    """How to reach the cluster MCE_BUS names, exactly as MSK or Event Hubs' Kafka endpoint document it."""
    from mce.kit.bus.kafka import KafkaConnection

    if settings.bus == "eventhubs":
        secret = settings.eventhubs_connection_string
        return KafkaConnection(
            name="eventhubs",
            bootstrap=settings.eventhubs_bootstrap or LOCAL_EVENTHUBS_BOOTSTRAP,
            security_protocol=settings.eventhubs_security_protocol,
            sasl_mechanism="PLAIN",
            sasl_username=EVENTHUBS_USERNAME,
            sasl_password=secret.get_secret_value() if secret else "",
        )
    password = settings.kafka_sasl_password
    return KafkaConnection(
        name="kafka",
        bootstrap=settings.kafka_bootstrap or LOCAL_KAFKA_BOOTSTRAP,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=password.get_secret_value() if password else None,
    )


def kafka_tuning(settings: BusSettings) -> KafkaTuning:
    """Batching, time bounds and topic creation from the settings."""
    from mce.kit.bus.kafka import KafkaTuning

    compression = settings.kafka_compression or ("none" if settings.bus == "eventhubs" else "lz4")
    return KafkaTuning(
        linger_ms=settings.kafka_linger_ms,
        batch_bytes=settings.kafka_batch_bytes,
        compression=compression,
        publish_timeout_s=settings.kafka_publish_timeout_s,
        ping_timeout_s=settings.kafka_ping_timeout_s,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        partitions=settings.kafka_partitions,
        create_topics=settings.kafka_create_topics,
    )
