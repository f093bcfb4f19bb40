"""The EventBus contract, written once and run against every adapter."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mce.kit.bus.port import Delivery, EventBus, last_per_partition
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.events import Event

BusFactory = Callable[[Path], EventBus]

# Each adapter: a factory that opens a bus on a fresh log; a second call on the same path opens the same log.
ADAPTERS: dict[str, BusFactory] = {
    "sqlite": lambda path: SqliteEventBus(path / "bus.db"),
}


@pytest.fixture(params=sorted(ADAPTERS))
def open_bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], EventBus]]:
    """Opens buses on one shared log, closing them all afterwards."""
    opened: list[EventBus] = []

    def opener() -> EventBus:
        bus = ADAPTERS[request.param](tmp_path)
        opened.append(bus)
        return bus

    yield opener
    for bus in opened:
        bus.close()


def events(n: int, key: str = "k", start: int = 0) -> list[Event]:
    return [Event(type="Thing", key=key, data={"n": start + i}) for i in range(n)]


def drain(subscription, expected: int, timeout: float = 5.0) -> list:
    """Poll until `expected` deliveries arrived or time is up."""
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        got.extend(subscription.poll(100, timeout=0.2))
    return got


def test_a_new_group_reads_the_topic_from_the_start_in_order(open_bus) -> None:
    bus = open_bus()
    bus.publish("t", events(5))
    sub = bus.subscribe("t", "g")
    got = drain(sub, 5)
    assert [d.event.data["n"] for d in got] == [0, 1, 2, 3, 4]
    assert [d.offset for d in got] == sorted(d.offset for d in got)


def test_events_keep_their_envelope_across_the_bus(open_bus) -> None:
    bus = open_bus()
    sent = Event(type="ProductCreated", key="42", data={"price": 1.5, "name": "Ä"})
    bus.publish("t", [sent])
    (delivery,) = drain(bus.subscribe("t", "g"), 1)
    assert delivery.event == sent


def test_topics_are_independent(open_bus) -> None:
    bus = open_bus()
    bus.publish("a", events(2))
    bus.publish("b", events(3, start=10))
    assert [d.event.data["n"] for d in drain(bus.subscribe("b", "g"), 3)] == [10, 11, 12]
    assert len(drain(bus.subscribe("a", "g"), 2)) == 2


def test_a_committed_group_resumes_after_its_commit(open_bus) -> None:
    bus = open_bus()
    bus.publish("t", events(4))
    sub = bus.subscribe("t", "g")
    got = drain(sub, 4)
    sub.commit(got[1])
    sub.close()
    again = drain(bus.subscribe("t", "g"), 2)
    assert [d.event.data["n"] for d in again] == [2, 3]


def test_uncommitted_events_are_delivered_again_to_the_next_subscription(open_bus) -> None:
    bus = open_bus()
    bus.publish("t", events(3))
    first = bus.subscribe("t", "g")
    assert len(drain(first, 3)) == 3
    first.close()
    assert [d.event.data["n"] for d in drain(bus.subscribe("t", "g"), 3)] == [0, 1, 2]


def test_groups_have_their_own_offsets(open_bus) -> None:
    bus = open_bus()
    bus.publish("t", events(3))
    one = bus.subscribe("t", "one")
    one.commit(drain(one, 3)[-1])
    assert len(drain(bus.subscribe("t", "two"), 3)) == 3


def test_poll_returns_nothing_after_waiting_when_the_topic_is_quiet(open_bus) -> None:
    bus = open_bus()
    assert bus.subscribe("quiet", "g").poll(10, timeout=0.1) == []


def test_a_poll_wakes_up_for_an_event_published_while_it_waits(open_bus) -> None:
    bus = open_bus()
    sub = bus.subscribe("t", "g")
    timer = threading.Timer(0.2, lambda: bus.publish("t", events(1)))
    timer.start()
    got = sub.poll(10, timeout=3.0)
    timer.join()
    assert len(got) == 1


def test_events_published_by_another_process_handle_are_seen(open_bus) -> None:
    writer, reader = open_bus(), open_bus()
    writer.publish("t", events(2))
    assert len(drain(reader.subscribe("t", "g"), 2)) == 2


def test_per_key_order_holds_under_concurrent_publishers(open_bus) -> None:
    bus = open_bus()

    def publish_run(key: str) -> None:
        for i in range(50):
            bus.publish("t", [Event(type="Thing", key=key, data={"n": i})])

    threads = [threading.Thread(target=publish_run, args=(k,)) for k in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = drain(bus.subscribe("t", "g"), 150)
    for key in ("a", "b", "c"):
        assert [d.event.data["n"] for d in got if d.event.key == key] == list(range(50))


def test_a_batch_is_delivered_whole_and_in_order(open_bus) -> None:
    bus = open_bus()
    bus.publish("t", events(300))
    got = drain(bus.subscribe("t", "g"), 300)
    assert [d.event.data["n"] for d in got] == list(range(300))


def test_commit_never_moves_a_group_backwards(open_bus) -> None:
    bus = open_bus()
    bus.publish("t", events(3))
    sub = bus.subscribe("t", "g")
    got = drain(sub, 3)
    sub.commit(got[2])
    sub.commit(got[0])
    sub.close()
    assert bus.subscribe("t", "g").poll(10, timeout=0.1) == []


def test_ping_answers_on_a_working_bus(open_bus) -> None:
    open_bus().ping()


def test_a_delivery_says_where_it_sits_and_carries_its_key(open_bus) -> None:
    bus = open_bus()
    bus.publish("t", [Event(type="Thing", key="product-7", data={})])
    (delivery,) = drain(bus.subscribe("t", "g"), 1)
    assert (delivery.topic, delivery.key) == ("t", "product-7")
    assert isinstance(delivery.partition, int) and delivery.partition >= 0
    assert isinstance(delivery.offset, int)


def test_committing_the_last_of_each_partition_covers_the_whole_batch(open_bus) -> None:
    bus = open_bus()
    sent = [Event(type="Thing", key=f"k{i % 7}", data={"n": i}) for i in range(70)]
    bus.publish("t", sent)
    sub = bus.subscribe("t", "g")
    got = drain(sub, 70)
    assert sorted(d.event.data["n"] for d in got) == list(range(70))
    for delivery in last_per_partition(got):
        sub.commit(delivery)
    sub.close()
    assert bus.subscribe("t", "g").poll(100, timeout=0.2) == []


def test_a_commit_covers_only_its_own_partition_and_what_came_before(open_bus) -> None:
    bus = open_bus()
    bus.publish("t", [Event(type="Thing", key=f"k{i % 5}", data={"n": i}) for i in range(50)])
    sub = bus.subscribe("t", "g")
    got = drain(sub, 50)
    first = got[0]
    sub.commit(first)
    sub.close()
    again = drain(bus.subscribe("t", "g"), 49)
    # Everything but the committed delivery comes again: later ones in its partition, and all of the others.
    assert sorted(d.event.data["n"] for d in again) == sorted(d.event.data["n"] for d in got[1:])


def test_two_members_of_a_group_together_see_every_event(open_bus) -> None:
    bus = open_bus()
    one, two = bus.subscribe("t", "g"), bus.subscribe("t", "g")
    bus.publish("t", [Event(type="Thing", key=f"k{i}", data={"n": i}) for i in range(40)])
    seen: set[int] = set()
    deadline = time.monotonic() + 5
    while len(seen) < 40 and time.monotonic() < deadline:
        for sub in (one, two):
            seen.update(d.event.data["n"] for d in sub.poll(100, timeout=0.1))
    assert seen == set(range(40))


def test_a_raw_poll_gives_each_events_place_and_stored_bytes_without_parsing_them(open_bus) -> None:
    bus = open_bus()
    sent = events(5)
    bus.publish("t", sent)
    parsed = drain(bus.subscribe("t", "one"), 5)
    raw = bus.subscribe("t", "two").poll_raw(100, timeout=1.0)
    assert [(p, o) for p, o, _ in raw] == [(d.partition, d.offset) for d in parsed]
    assert [Event.from_bytes(payload) for _, _, payload in raw] == sent


def test_a_raw_poll_moves_on_and_a_commit_of_its_last_offset_holds(open_bus) -> None:
    bus = open_bus()
    bus.publish("t", events(6))
    sub = bus.subscribe("t", "g")
    first = sub.poll_raw(3, timeout=1.0)
    rest = sub.poll_raw(100, timeout=1.0)
    assert len(first) == 3 and len(rest) == 3
    partition, offset, _ = first[-1]
    sub.commit(Delivery("t", partition, offset, "", None))
    sub.close()
    again = drain(bus.subscribe("t", "g"), 3)
    assert [d.event.data["n"] for d in again] == [3, 4, 5]


def test_a_raw_poll_hands_over_bytes_that_are_not_an_event_as_they_are(open_bus) -> None:
    bus = open_bus()
    if not isinstance(bus, SqliteEventBus):
        pytest.skip("only the embedded log lets a test store bytes that are not an event")
    bus.publish("t", events(1))
    with sqlite3.connect(bus.path) as conn:
        conn.execute(
            "INSERT INTO events (topic, key, event_id, payload, stored_at) VALUES ('t', 'k', 'x', ?, 0)", (b"not json",)
        )
    raw = bus.subscribe("t", "g").poll_raw(100, timeout=1.0)
    assert raw[-1][2] == b"not json"
