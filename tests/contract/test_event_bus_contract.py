"""The EventBus contract, written once and run against every adapter.

Topic and group names are unique per test (`names`), so the Kafka clusters, which every test shares, start each
test as empty as a fresh embedded log does.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from mce.kit.bus.kafka import KafkaConnection, KafkaEventBus, KafkaTuning
from mce.kit.bus.port import Delivery, EventBus, last_per_partition
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.events import Event
from tests.conftest import EventHubsEndpoint

BusFactory = Callable[[], EventBus]
# Kafka members that leave a group are noticed at once; one that dies, after this (the broker's minimum is 6 s).
TEST_TUNING = KafkaTuning(linger_ms=1, session_timeout_ms=6_000, publish_timeout_s=5, ping_timeout_s=2)


def kafka_connection(bootstrap: str) -> KafkaConnection:
    """The MSK-like cluster, in plain text."""
    return KafkaConnection("kafka", bootstrap)


def eventhubs_connection(endpoint: EventHubsEndpoint, password: str | None = None) -> KafkaConnection:
    """The Event Hubs-like cluster, logged in exactly as Event Hubs' Kafka endpoint asks (but without TLS)."""
    return KafkaConnection(
        "eventhubs",
        endpoint.bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="$ConnectionString",
        sasl_password=endpoint.connection_string if password is None else password,
    )


def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> BusFactory:
    """A factory that opens a bus of the adapter under test; every bus it opens shares one log (or cluster)."""
    if request.param == "kafka":
        connection = kafka_connection(request.getfixturevalue("kafka_bootstrap"))
        return lambda: KafkaEventBus(connection, TEST_TUNING)
    if request.param == "eventhubs":
        connection = eventhubs_connection(request.getfixturevalue("eventhubs"))
        return lambda: KafkaEventBus(connection, TEST_TUNING)
    return lambda: SqliteEventBus(tmp_path / "bus.db")


ADAPTERS = [
    "sqlite",
    pytest.param("kafka", marks=pytest.mark.kafka),
    pytest.param("eventhubs", marks=pytest.mark.kafka),
]


@pytest.fixture(params=ADAPTERS)
def open_bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BusFactory]:
    """Opens buses on one shared log, closing them all afterwards."""
    make = adapter(request, tmp_path)
    opened: list[EventBus] = []

    def opener() -> EventBus:
        bus = make()
        opened.append(bus)
        return bus

    yield opener
    for bus in opened:
        bus.close()


@pytest.fixture
def names() -> Callable[[str], str]:
    """Names of topics and groups that no other test uses: 't' becomes 't-<random>', the same within a test."""
    suffix = uuid.uuid4().hex[:12]
    return lambda name: f"{name}-{suffix}"


def events(n: int, key: str = "k", start: int = 0) -> list[Event]:
    return [Event(type="Thing", key=key, data={"n": start + i}) for i in range(n)]


def drain(subscription, expected: int, timeout: float = 5.0) -> list:
    """Poll until `expected` deliveries arrived or time is up."""
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        got.extend(subscription.poll(100, timeout=0.2))
    return got


def test_a_new_group_reads_the_topic_from_the_start_in_order(open_bus, names) -> None:
    bus = open_bus()
    bus.publish(names("t"), events(5))
    sub = bus.subscribe(names("t"), names("g"))
    got = drain(sub, 5)
    assert [d.event.data["n"] for d in got] == [0, 1, 2, 3, 4]
    assert [d.offset for d in got] == sorted(d.offset for d in got)


def test_events_keep_their_envelope_across_the_bus(open_bus, names) -> None:
    bus = open_bus()
    sent = Event(type="ProductCreated", key="42", data={"price": 1.5, "name": "Ä"})
    bus.publish(names("t"), [sent])
    (delivery,) = drain(bus.subscribe(names("t"), names("g")), 1)
    assert delivery.event == sent


def test_topics_are_independent(open_bus, names) -> None:
    bus = open_bus()
    bus.publish(names("a"), events(2))
    bus.publish(names("b"), events(3, start=10))
    assert [d.event.data["n"] for d in drain(bus.subscribe(names("b"), names("g")), 3)] == [10, 11, 12]
    assert len(drain(bus.subscribe(names("a"), names("g")), 2)) == 2


def test_a_committed_group_resumes_after_its_commit(open_bus, names) -> None:
    bus = open_bus()
    bus.publish(names("t"), events(4))
    sub = bus.subscribe(names("t"), names("g"))
    got = drain(sub, 4)
    sub.commit(got[1])
    sub.close()
    again = drain(bus.subscribe(names("t"), names("g")), 2)
    assert [d.event.data["n"] for d in again] == [2, 3]


def test_uncommitted_events_are_delivered_again_to_the_next_subscription(open_bus, names) -> None:
    bus = open_bus()
    bus.publish(names("t"), events(3))
    first = bus.subscribe(names("t"), names("g"))
    assert len(drain(first, 3)) == 3
    first.close()
    assert [d.event.data["n"] for d in drain(bus.subscribe(names("t"), names("g")), 3)] == [0, 1, 2]


def test_groups_have_their_own_offsets(open_bus, names) -> None:
    bus = open_bus()
    bus.publish(names("t"), events(3))
    one = bus.subscribe(names("t"), names("one"))
    one.commit(drain(one, 3)[-1])
    assert len(drain(bus.subscribe(names("t"), names("two")), 3)) == 3


def test_poll_returns_nothing_after_waiting_when_the_topic_is_quiet(open_bus, names) -> None:
    bus = open_bus()
    assert bus.subscribe(names("quiet"), names("g")).poll(10, timeout=0.1) == []


def test_a_poll_wakes_up_for_an_event_published_while_it_waits(open_bus, names) -> None:
    bus = open_bus()
    sub = bus.subscribe(names("t"), names("g"))
    timer = threading.Timer(0.2, lambda: bus.publish(names("t"), events(1)))
    timer.start()
    got = sub.poll(10, timeout=3.0)
    timer.join()
    assert len(got) == 1


def test_events_published_by_another_process_handle_are_seen(open_bus, names) -> None:
    writer, reader = open_bus(), open_bus()
    writer.publish(names("t"), events(2))
    assert len(drain(reader.subscribe(names("t"), names("g")), 2)) == 2


def test_per_key_order_holds_under_concurrent_publishers(open_bus, names) -> None:
    bus = open_bus()

    def publish_run(key: str) -> None:
        for i in range(50):
            bus.publish(names("t"), [Event(type="Thing", key=key, data={"n": i})])

    threads = [threading.Thread(target=publish_run, args=(k,)) for k in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = drain(bus.subscribe(names("t"), names("g")), 150)
    for key in ("a", "b", "c"):
        assert [d.event.data["n"] for d in got if d.event.key == key] == list(range(50))


def test_a_batch_is_delivered_whole_and_in_order(open_bus, names) -> None:
    bus = open_bus()
    bus.publish(names("t"), events(300))
    got = drain(bus.subscribe(names("t"), names("g")), 300)
    assert [d.event.data["n"] for d in got] == list(range(300))


def test_commit_never_moves_a_group_backwards(open_bus, names) -> None:
    bus = open_bus()
    bus.publish(names("t"), events(3))
    sub = bus.subscribe(names("t"), names("g"))
    got = drain(sub, 3)
    sub.commit(got[2])
    sub.commit(got[0])
    sub.close()
    assert bus.subscribe(names("t"), names("g")).poll(10, timeout=0.1) == []


def test_ping_answers_on_a_working_bus(open_bus, names) -> None:
    open_bus().ping()


def test_a_delivery_says_where_it_sits_and_carries_its_key(open_bus, names) -> None:
    bus = open_bus()
    bus.publish(names("t"), [Event(type="Thing", key="product-7", data={})])
    (delivery,) = drain(bus.subscribe(names("t"), names("g")), 1)
    assert (delivery.topic, delivery.key) == (names("t"), "product-7")
    assert isinstance(delivery.partition, int) and delivery.partition >= 0
    assert isinstance(delivery.offset, int)


def test_committing_the_last_of_each_partition_covers_the_whole_batch(open_bus, names) -> None:
    bus = open_bus()
    sent = [Event(type="Thing", key=f"k{i % 7}", data={"n": i}) for i in range(70)]
    bus.publish(names("t"), sent)
    sub = bus.subscribe(names("t"), names("g"))
    got = drain(sub, 70)
    assert sorted(d.event.data["n"] for d in got) == list(range(70))
    for delivery in last_per_partition(got):
        sub.commit(delivery)
    sub.close()
    assert bus.subscribe(names("t"), names("g")).poll(100, timeout=0.2) == []


def test_a_commit_covers_only_its_own_partition_and_what_came_before(open_bus, names) -> None:
    bus = open_bus()
    bus.publish(names("t"), [Event(type="Thing", key=f"k{i % 5}", data={"n": i}) for i in range(50)])
    sub = bus.subscribe(names("t"), names("g"))
    got = drain(sub, 50)
    first = got[0]
    sub.commit(first)
    sub.close()
    again = drain(bus.subscribe(names("t"), names("g")), 49)
    # Everything but the committed delivery comes again: later ones in its partition, and all of the others.
    assert sorted(d.event.data["n"] for d in again) == sorted(d.event.data["n"] for d in got[1:])


def test_two_members_of_a_group_together_see_every_event(open_bus, names) -> None:
    bus = open_bus()
    one, two = bus.subscribe(names("t"), names("g")), bus.subscribe(names("t"), names("g"))
    bus.publish(names("t"), [Event(type="Thing", key=f"k{i}", data={"n": i}) for i in range(40)])
    seen: set[int] = set()
    deadline = time.monotonic() + 5
    while len(seen) < 40 and time.monotonic() < deadline:
        for sub in (one, two):
            seen.update(d.event.data["n"] for d in sub.poll(100, timeout=0.1))
    assert seen == set(range(40))


def test_a_raw_poll_gives_each_events_place_and_stored_bytes_without_parsing_them(open_bus, names) -> None:
    bus = open_bus()
    sent = events(5)
    bus.publish(names("t"), sent)
    parsed = drain(bus.subscribe(names("t"), names("one")), 5)
    raw = bus.subscribe(names("t"), names("two")).poll_raw(100, timeout=1.0)
    assert [(p, o) for p, o, _ in raw] == [(d.partition, d.offset) for d in parsed]
    assert [Event.from_bytes(payload) for _, _, payload in raw] == sent


def test_a_raw_poll_moves_on_and_a_commit_of_its_last_offset_holds(open_bus, names) -> None:
    bus = open_bus()
    bus.publish(names("t"), events(6))
    sub = bus.subscribe(names("t"), names("g"))
    first = sub.poll_raw(3, timeout=1.0)
    rest = sub.poll_raw(100, timeout=1.0)
    assert len(first) == 3 and len(rest) == 3
    partition, offset, _ = first[-1]
    sub.commit(Delivery(names("t"), partition, offset, "", None))
    sub.close()
    again = drain(bus.subscribe(names("t"), names("g")), 3)
    assert [d.event.data["n"] for d in again] == [3, 4, 5]


def test_a_raw_poll_hands_over_bytes_that_are_not_an_event_as_they_are(open_bus, names) -> None:
    bus = open_bus()
    bus.publish(names("t"), events(1))
    store_raw(bus, names("t"), b"not json")
    raw = drain_raw(bus.subscribe(names("t"), names("g")), 2)
    assert b"not json" in [payload for _, _, payload in raw]


def test_a_parsed_poll_hands_over_bytes_that_are_not_an_event_with_no_event(open_bus, names) -> None:
    bus = open_bus()
    store_raw(bus, names("t"), b"not json")
    (delivery,) = drain(bus.subscribe(names("t"), names("g")), 1)
    assert (delivery.event, delivery.raw) == (None, b"not json")


def store_raw(bus: EventBus, topic: str, payload: bytes) -> None:
    """Put bytes that are not an event on a topic, as a foreign or broken producer would."""
    if isinstance(bus, SqliteEventBus):
        with sqlite3.connect(bus.path) as conn:
            conn.execute(
                "INSERT INTO events (topic, key, event_id, payload, stored_at) VALUES (?, 'k', 'x', ?, 0)",
                (topic, payload),
            )
        return
    assert isinstance(bus, KafkaEventBus)
    bus.ensure_topic(topic)
    producer = Producer(bus.connection.client_config())
    producer.produce(topic, payload, b"k")
    assert producer.flush(5) == 0


def drain_raw(subscription, expected: int, timeout: float = 5.0) -> list:
    """poll_raw until `expected` arrived or time is up."""
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        got.extend(subscription.poll_raw(100, timeout=0.2))
    return got
