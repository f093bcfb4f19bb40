"""Events producer throughput to Kafka: acks=all, idempotent, batched, through KafkaEventBus.publish.

`KAFKA_BOOTSTRAP=127.0.0.1:19092 python -m bench.kafka_producer` (MCE_BENCH_KAFKA_EVENTS events, default 500,000;
MCE_BENCH_KAFKA_BATCH per publish, default 10,000). Prints a skip line when KAFKA_BOOTSTRAP is not given.

Two figures from one run, each to a fresh topic:
- publish path: the events-producer's events (its simulator and envelope), built first and untimed; the timing covers
  serialising, producing and waiting until the broker stored every one (acks=all from the in-sync replicas).
- end to end: the events-producer's own count mode (`mce produce-events`), building each batch as it goes.
"""

from __future__ import annotations

import gc
import os
import sys
import time
import uuid

from bench.run import machine
from mce.kit.bus.kafka import KafkaConnection, KafkaEventBus, KafkaTuning
from mce.kit.contracts import activity_event
from mce.kit.events import Event
from mce.services.events_producer.domain import FALLBACK_CATALOG, ShopperSimulator, parse_mix
from mce.services.events_producer.runner import produce_count
from mce.services.events_producer.settings import ProducerSettings

EVENTS = int(os.environ.get("MCE_BENCH_KAFKA_EVENTS", "500000"))
BATCH = int(os.environ.get("MCE_BENCH_KAFKA_BATCH", "10000"))
TARGET_EVENTS_PER_S = 100_000
START_S = 1_700_000_000
EVENT_RATE = 10_000.0


def simulator() -> ShopperSimulator:
    """The events producer's simulator with its default mix, on the built-in catalog (no product service needed)."""
    settings = ProducerSettings()
    return ShopperSimulator(
        seed=7,
        users=settings.producer_users,
        mix=parse_mix(settings.producer_mix),
        disorder=settings.disorder(),
        catalog=FALLBACK_CATALOG,
    )


def build(count: int) -> list[Event]:
    """count activity events exactly as the producer makes them."""
    shoppers = simulator()
    return [activity_event(shoppers.next(START_S + int(i / EVENT_RATE))) for i in range(count)]


def publish_path(bus: KafkaEventBus, events: list[Event]) -> float:
    """Seconds to publish the events in batches, each stored before the next (as the producer's loop does)."""
    topic = f"bench-user-events-{uuid.uuid4().hex[:8]}"
    bus.ensure_topic(topic)
    bus.publish(topic, events[:100])  # connections and metadata up before the clock starts
    began = time.perf_counter()
    for start in range(0, len(events), BATCH):
        bus.publish(topic, events[start : start + BATCH])
    return time.perf_counter() - began


def main() -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP") or os.environ.get("MCE_KAFKA_BOOTSTRAP")
    if not bootstrap:
        print("kafka producer: skipped (KAFKA_BOOTSTRAP is not set; deploy/local/kafka.sh prints it)")
        return 0
    tuning = KafkaTuning()
    bus = KafkaEventBus(KafkaConnection("kafka", bootstrap), tuning)
    print(
        f"kafka producer: {EVENTS:,} events to {bootstrap}, acks=all, idempotent, {BATCH:,} per publish, "
        f"linger {tuning.linger_ms:g} ms, batch {tuning.batch_bytes:,} B, {tuning.compression}",
        flush=True,
    )
    gc.disable()  # untimed set-up: the collector would only rescan the fresh events over and over
    began = time.perf_counter()
    events = build(EVENTS)
    built = time.perf_counter() - began
    gc.enable()
    took = publish_path(bus, events)
    rate = EVENTS / took
    size = sum(len(e.to_bytes()) for e in events[:1000]) / 1000
    print(f"publish path: {EVENTS:,} events in {took:.2f} s = {rate:,.0f} events/s (~{size:.0f} B each)")
    print(f"building them (untimed above): {EVENTS / built:,.0f} events/s")
    del events

    report = produce_count(
        bus,
        f"bench-user-events-{uuid.uuid4().hex[:8]}",
        simulator(),
        count=EVENTS,
        start_s=START_S,
        event_rate=EVENT_RATE,
        batch_max=BATCH,
    )
    print(
        f"end to end (build + publish, one thread): {report.published:,} events in {report.seconds:.2f} s = "
        f"{report.rate:,.0f} events/s"
    )
    print(f"machine: {machine()}")
    bus.close()
    if rate < TARGET_EVENTS_PER_S:
        print(f"publish path below the target of {TARGET_EVENTS_PER_S:,} events/s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
