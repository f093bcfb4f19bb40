"""The figures behind the dashboards and alerts: consumer lag, outbox backlog, dead letters, checkouts, status moves."""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mce.kit.bus.consumer import Consumer
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.events import Event
from mce.kit.metrics import HttpMetrics
from mce.kit.outbox import BacklogCount
from mce.services.order.metrics import OrderMetrics


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    """Every sample by (name, sorted labels)."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _events(n: int) -> list[Event]:
    return [Event(type="Thing", key=str(i)) for i in range(n)]


def test_the_embedded_logs_lag_counts_the_events_of_its_topic_after_the_committed_offset(tmp_path: Path) -> None:
    bus = SqliteEventBus(tmp_path / "bus.db")
    bus.publish("things", _events(3))
    bus.publish("others", _events(5))
    bus.publish("things", _events(2))
    subscription = bus.subscribe("things", "g")
    try:
        assert subscription.lag() == {0: 5}
        deliveries = subscription.poll(3, timeout=0)
        subscription.commit(deliveries[-1])
        # Offsets are global: the five events of another topic in between are not counted.
        assert subscription.lag() == {0: 2}
    finally:
        subscription.close()
        bus.close()


def test_a_consumer_exports_its_lag_handled_and_dead_lettered_events(tmp_path: Path) -> None:
    bus = SqliteEventBus(tmp_path / "bus.db")
    bus.publish("things", _events(4))

    def handle(events):  # noqa: ANN001, ANN202
        if any(event.key == "2" for event in events):
            raise ValueError("poison")

    consumer = Consumer(bus, "things", "g", handle, max_attempts=1, backoff_s=0)
    metrics = HttpMetrics("svc")
    metrics.watch_consumer(consumer)
    consumer.start()
    try:
        deadline = time.monotonic() + 10
        while consumer.handled + consumer.dead_lettered < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        consumer.stop()
        bus.close()
    consumer.lag = {0: 7}
    samples = _samples(metrics.registry)
    labels = (("group", "g"), ("service", "svc"), ("topic", "things"))
    assert samples[("bus_events_handled_total", labels)] == 3
    assert samples[("bus_events_dead_lettered_total", labels)] == 1
    assert (
        samples[("bus_consumer_lag", (("group", "g"), ("partition", "0"), ("service", "svc"), ("topic", "things")))]
        == 7
    )


def test_a_consumer_measures_its_lag_from_its_own_loop(tmp_path: Path) -> None:
    bus = SqliteEventBus(tmp_path / "bus.db")
    bus.publish("things", _events(3))
    consumer = Consumer(bus, "things", "g", lambda events: None)
    consumer.start()
    try:
        deadline = time.monotonic() + 10
        while consumer.lag != {0: 0} and time.monotonic() < deadline:
            time.sleep(0.02)
        assert consumer.lag == {0: 0} and consumer.handled == 3
    finally:
        consumer.stop()
        bus.close()


class _Relay:
    def __init__(self, pending: int | None, published: int) -> None:
        self.pending = pending
        self.published = published


def test_the_outbox_backlog_is_the_last_count_and_absent_before_the_first() -> None:
    metrics = HttpMetrics("svc")
    relay = _Relay(None, 0)
    metrics.watch_outbox(relay)
    assert ("outbox_backlog", (("service", "svc"),)) not in _samples(metrics.registry)
    relay.pending, relay.published = 12, 30
    samples = _samples(metrics.registry)
    assert samples[("outbox_backlog", (("service", "svc"),))] == 12
    assert samples[("outbox_events_published_total", (("service", "svc"),))] == 30


def test_a_restarted_app_exports_only_its_new_consumers_and_relays() -> None:
    metrics = HttpMetrics("svc")
    metrics.watch_outbox(_Relay(1, 1))
    metrics.forget_background()
    assert not any(name.startswith("outbox") for name, _ in _samples(metrics.registry))


def test_the_backlog_is_counted_at_most_once_per_period_and_a_failed_count_keeps_the_last() -> None:
    counts = iter([5, RuntimeError("database down"), 9])

    def count() -> int:
        answer = next(counts)
        if isinstance(answer, Exception):
            raise answer
        return answer

    backlog = BacklogCount(count, every_s=0)
    backlog.tick()
    assert backlog.value == 5
    backlog.tick()
    assert backlog.value == 5
    backlog.tick()
    assert backlog.value == 9
    slow = BacklogCount(lambda: 1, every_s=3600)
    slow.tick()
    slow.value = 0
    slow.tick()
    assert slow.value == 0


def test_checkouts_are_counted_by_outcome_and_status_moves_by_both_statuses() -> None:
    registry = CollectorRegistry()
    metrics = OrderMetrics("order", registry)
    assert _samples(registry)[("order_checkouts_total", (("outcome", "paid"), ("service", "order")))] == 0
    metrics.checkout("paid")
    metrics.checkout("out_of_stock")
    metrics.moved([(None, "created"), ("created", "paid")])
    samples = _samples(registry)
    assert samples[("order_checkouts_total", (("outcome", "paid"), ("service", "order")))] == 1
    assert samples[("order_checkouts_total", (("outcome", "out_of_stock"), ("service", "order")))] == 1
    moves = "order_status_changes_total"
    assert samples[(moves, (("from_status", "none"), ("service", "order"), ("to_status", "created")))] == 1
    assert samples[(moves, (("from_status", "created"), ("service", "order"), ("to_status", "paid")))] == 1
