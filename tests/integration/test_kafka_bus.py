"""What the Kafka adapter promises beyond the EventBus contract: refusals said clearly, keys placed as Java does."""

from __future__ import annotations

import time
import uuid

import pytest

from mce.kit.bus.kafka import KafkaConnection, KafkaEventBus, KafkaTuning
from mce.kit.errors import Unavailable
from mce.kit.events import Event
from tests.conftest import EventHubsEndpoint

pytestmark = pytest.mark.kafka

TUNING = KafkaTuning(linger_ms=1, session_timeout_ms=6_000, publish_timeout_s=3, ping_timeout_s=1)
WRONG_SECRET = "Endpoint=sb://127.0.0.1/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=wrong-key"


def eventhubs_bus(endpoint: EventHubsEndpoint, password: str) -> KafkaEventBus:
    connection = KafkaConnection(
        "eventhubs", endpoint.bootstrap, "SASL_PLAINTEXT", "PLAIN", "$ConnectionString", password
    )
    return KafkaEventBus(connection, TUNING)


def test_a_wrong_event_hubs_connection_string_is_refused_with_a_clear_unavailable(eventhubs) -> None:
    bus = eventhubs_bus(eventhubs, WRONG_SECRET)
    try:
        for call in (bus.ping, lambda: bus.publish(f"refused-{uuid.uuid4().hex[:8]}", [Event(type="T", key="k")])):
            began = time.monotonic()
            with pytest.raises(Unavailable) as refused:
                call()
            assert time.monotonic() - began < TUNING.publish_timeout_s + 1.5
            assert refused.value.service == "eventhubs"
            assert "refused the credentials" in refused.value.message
            assert "wrong-key" not in refused.value.message and "SharedAccessKey" not in refused.value.message
    finally:
        bus.close()


def test_the_right_event_hubs_connection_string_is_let_in(eventhubs) -> None:
    bus = eventhubs_bus(eventhubs, eventhubs.connection_string)
    bus.ping()
    bus.close()


def murmur2(data: bytes) -> int:
    """Kafka's Java partitioner hash (murmur2 with its seed), as a non-negative 32-bit int."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    whole = len(data) // 4 * 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    rest = data[whole:]
    if len(rest) >= 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if rest:
        h ^= rest[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h & 0x7FFFFFFF


def test_a_key_lands_in_the_partition_the_java_clients_would_choose(kafka_bootstrap: str) -> None:
    bus = KafkaEventBus(KafkaConnection("kafka", kafka_bootstrap), TUNING)
    topic = f"keys-{uuid.uuid4().hex[:8]}"
    keys = [f"order-{n}" for n in range(30)]
    bus.publish(topic, [Event(type="T", key=key) for key in keys])
    subscription = bus.subscribe(topic, "g")
    got: dict[str, int] = {}
    deadline = time.monotonic() + 10
    while len(got) < len(keys) and time.monotonic() < deadline:
        got.update((d.key, d.partition) for d in subscription.poll(100, timeout=0.2))
    subscription.close()
    bus.close()
    assert got == {key: murmur2(key.encode()) % TUNING.partitions for key in keys}
