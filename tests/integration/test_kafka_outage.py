"""Kafka going away and coming back: calls fail fast and clearly, and nothing acknowledged is lost.

These tests stop a broker, so they use deploy/local/kafka.sh's throwaway `scratch` cluster, never the shared two.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from mce.kit.bus.consumer import Consumer
from mce.kit.bus.kafka import KafkaConnection, KafkaEventBus, KafkaTuning
from mce.kit.contracts import ORDERS_TOPIC
from mce.kit.errors import Unavailable
from mce.kit.events import Event
from tests.conftest import skip_or_fail
from tests.dbs import fresh_postgres_database
from tests.inprocess import shop

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "local" / "kafka.sh"
TUNING = KafkaTuning(linger_ms=1, session_timeout_ms=6_000, publish_timeout_s=3, ping_timeout_s=1)
ORDERS = 36


def scratch(action: str) -> str:
    """Run kafka.sh on the scratch cluster; returns what it printed."""
    done = subprocess.run([str(SCRIPT), action, "scratch"], capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        skip_or_fail(f"kafka.sh {action} scratch failed: {done.stderr[-2000:]}")
    return done.stdout


@pytest.fixture(scope="module")
def scratch_bootstrap(kafka_bootstrap: str) -> Iterator[str]:
    """The scratch cluster, started for these tests and stopped after them."""
    printed = dict(line.split("=", 1) for line in scratch("start").splitlines() if "=" in line)
    yield printed["KAFKA_BOOTSTRAP"]
    scratch("stop")


def test_a_stopped_broker_fails_ping_and_publish_fast_and_both_recover_without_a_restart(scratch_bootstrap) -> None:
    bus = KafkaEventBus(KafkaConnection("kafka", scratch_bootstrap), TUNING)
    topic = f"outage-{uuid.uuid4().hex[:8]}"
    bus.publish(topic, [Event(type="Thing", key="k")])
    scratch("stop")
    try:
        for call in (bus.ping, lambda: bus.publish(topic, [Event(type="Thing", key="k")])):
            began = time.monotonic()
            with pytest.raises(Unavailable) as refused:
                call()
            assert time.monotonic() - began < TUNING.publish_timeout_s + 1.5
            assert refused.value.service == "kafka"
            assert scratch_bootstrap in refused.value.message
    finally:
        scratch("start")
    bus.ping()
    bus.publish(topic, [Event(type="Thing", key="k")])
    bus.close()


def test_every_order_acknowledged_during_a_kafka_outage_arrives_exactly_once_in_effect(
    scratch_bootstrap, postgres_url: str, tmp_path: Path
) -> None:
    admin = AdminClient({"bootstrap.servers": scratch_bootstrap})
    # Earlier runs' orders (their ids start at 1 again in a fresh database) must not count.
    for future in admin.delete_topics([ORDERS_TOPIC], operation_timeout=10).values():
        with contextlib.suppress(KafkaException):  # no such topic yet
            future.result()
    time.sleep(1)

    applied: set[str] = set()
    paid: dict[int, int] = {}
    deliveries = [0]
    lock = threading.Lock()

    def apply_once(events: Sequence[Event]) -> None:
        """The consumer's effect: each event counted once by its id, as an inbox row would."""
        with lock:
            for event in events:
                deliveries[0] += 1
                if event.event_id in applied:
                    continue
                applied.add(event.event_id)
                if event.type == "OrderPaid":
                    paid[event.data["order_id"]] = paid.get(event.data["order_id"], 0) + 1

    reader = KafkaEventBus(KafkaConnection("kafka", scratch_bootstrap), TUNING)
    consumer = Consumer(reader, ORDERS_TOPIC, f"outage-{uuid.uuid4().hex[:8]}", apply_once, backoff_s=0.05)
    settings = {
        "bus": "kafka",
        "kafka_bootstrap": scratch_bootstrap,
        "kafka_publish_timeout_s": 3,
        "kafka_ping_timeout_s": 1,
        "kafka_session_timeout_ms": 6_000,
    }
    acknowledged: list[int] = []
    with (
        fresh_postgres_database(postgres_url) as database_url,
        shop(tmp_path, order_settings={**settings, "database_url": database_url}) as store,
    ):
        consumer.start()
        pen = store.add_product("Pen", stock=ORDERS * 2)

        def buy(n: int) -> None:
            owner = f"shopper-{n}"
            store.put_in_cart(owner, pen)
            response = store.checkout(owner, f"key-{n}")
            assert response.status_code == 201, response.text
            acknowledged.append(response.json()["id"])

        for n in range(ORDERS // 3):
            buy(n)
        scratch("stop")
        try:
            # Checkout goes on while Kafka is down: the orders wait in the outbox, and readiness says the bus failed.
            for n in range(ORDERS // 3, 2 * ORDERS // 3):
                buy(n)
            checks = store.order.get("/readyz").json()["checks"]
            assert checks["bus"].startswith("failed") and "kafka" in checks["bus"], checks
        finally:
            scratch("start")
        for n in range(2 * ORDERS // 3, ORDERS):
            buy(n)

        deadline = time.monotonic() + 60
        while set(paid) != set(acknowledged) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert store.order.get("/readyz").json()["checks"]["bus"] == "ok"
        consumer.stop()
    reader.close()

    assert len(acknowledged) == ORDERS
    assert sorted(paid) == sorted(acknowledged), f"missing: {sorted(set(acknowledged) - set(paid))}"
    assert set(paid.values()) == {1}
    assert deliveries[0] >= len(applied)
