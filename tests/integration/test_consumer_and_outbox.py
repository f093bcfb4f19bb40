"""The consumer loop and the outbox relay against the embedded bus and a real database (the purge on PostgreSQL too)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select

from mce.kit import outbox
from mce.kit.bus.consumer import Consumer, dead_letter_topic
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.db import make_engine
from mce.kit.events import Event
from mce.kit.outbox import OutboxRelay, add_to_outbox, outbox_table


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_consumer_hands_every_event_over_once_in_order_and_commits(tmp_path: Path) -> None:
    bus = SqliteEventBus(tmp_path / "bus.db")
    seen: list[int] = []
    consumer = Consumer(bus, "t", "g", lambda batch: seen.extend(e.data["n"] for e in batch))
    consumer.start()
    bus.publish("t", [Event(type="X", key="k", data={"n": i}) for i in range(20)])
    assert wait_for(lambda: len(seen) == 20)
    consumer.stop()
    assert seen == list(range(20))
    assert bus.subscribe("t", "g").poll(10, timeout=0.1) == []


def test_a_poison_event_is_dead_lettered_and_the_rest_still_flow(tmp_path: Path) -> None:
    bus = SqliteEventBus(tmp_path / "bus.db")
    handled: list[int] = []

    def handle(batch) -> None:
        if any(e.data["n"] == 2 for e in batch):
            raise ValueError("cannot handle 2")
        handled.extend(e.data["n"] for e in batch)

    consumer = Consumer(bus, "t", "g", handle, max_attempts=2, backoff_s=0)
    consumer.start()
    bus.publish("t", [Event(type="X", key="k", data={"n": i}) for i in range(5)])
    assert wait_for(lambda: consumer.dead_lettered == 1 and len(handled) == 4)
    consumer.stop()
    assert handled == [0, 1, 3, 4]
    (parked,) = bus.subscribe(dead_letter_topic("t"), "ops").poll(10, timeout=1)
    assert parked.event.data["event"]["data"] == {"n": 2}
    assert "cannot handle 2" in parked.event.data["error"]


def test_a_transient_failure_is_retried_not_dead_lettered(tmp_path: Path) -> None:
    bus = SqliteEventBus(tmp_path / "bus.db")
    failures = iter([True, False])
    handled: list[int] = []

    def flaky(batch) -> None:
        if next(failures, False):
            raise ConnectionError("blip")
        handled.extend(e.data["n"] for e in batch)

    consumer = Consumer(bus, "t", "g", flaky, backoff_s=0)
    consumer.start()
    bus.publish("t", [Event(type="X", key="k", data={"n": 1})])
    assert wait_for(lambda: handled == [1])
    consumer.stop()
    assert consumer.dead_lettered == 0


def test_the_relay_publishes_committed_events_in_write_order_and_marks_them(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    table = outbox_table(MetaData())
    table.create(engine)
    bus = SqliteEventBus(tmp_path / "bus.db")
    relay = OutboxRelay(engine, table, bus, idle_poll_s=0.05)
    with engine.begin() as conn:
        for i in range(3):
            add_to_outbox(conn, table, "t", Event(type="X", key="k", data={"n": i}))
    relay.start()
    assert wait_for(lambda: relay.backlog() == 0)
    relay.stop()
    got = bus.subscribe("t", "g").poll(10, timeout=1)
    assert [d.event.data["n"] for d in got] == [0, 1, 2]
    with engine.connect() as conn:
        assert all(row.published_at is not None for row in conn.execute(select(table)))


def test_a_rolled_back_write_never_reaches_the_bus(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    table = outbox_table(MetaData())
    table.create(engine)
    bus = SqliteEventBus(tmp_path / "bus.db")
    try:
        with engine.begin() as conn:
            add_to_outbox(conn, table, "t", Event(type="X", key="k"))
            raise RuntimeError("the business write failed")
    except RuntimeError:
        pass
    assert OutboxRelay(engine, table, bus).relay_once() == 0


def test_the_relay_keeps_events_while_the_bus_is_down_and_sends_them_later(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    table = outbox_table(MetaData())
    table.create(engine)
    bus = SqliteEventBus(tmp_path / "bus.db")
    down = threading.Event()
    down.set()
    real_publish = bus.publish

    def publish(topic, events):
        if down.is_set():
            raise ConnectionError("bus down")
        real_publish(topic, events)

    bus.publish = publish
    relay = OutboxRelay(engine, table, bus, idle_poll_s=0.05)
    with engine.begin() as conn:
        add_to_outbox(conn, table, "t", Event(type="X", key="k", data={"n": 7}))
    relay.start()
    assert wait_for(lambda: relay.last_error is not None)
    assert relay.backlog() == 1
    down.clear()
    assert wait_for(lambda: relay.backlog() == 0)
    relay.stop()
    assert [d.event.data["n"] for d in bus.subscribe("t", "g").poll(10, timeout=1)] == [7]


def test_a_message_that_is_not_an_event_is_dead_lettered_without_blocking_the_topic(tmp_path: Path) -> None:
    import sqlite3

    bus = SqliteEventBus(tmp_path / "bus.db")
    bus.publish("t", [Event(type="X", key="k", data={"n": 1})])
    with sqlite3.connect(tmp_path / "bus.db") as raw:
        raw.execute(
            "INSERT INTO events (topic, key, event_id, payload, stored_at) VALUES ('t', 'k', 'bad', X'7b6e6f', 0)"
        )
    bus.publish("t", [Event(type="X", key="k", data={"n": 2})])
    handled: list[int] = []
    consumer = Consumer(bus, "t", "g", lambda batch: handled.extend(e.data["n"] for e in batch))
    consumer.start()
    assert wait_for(lambda: handled == [1, 2] and consumer.dead_lettered == 1)
    consumer.stop()
    (parked,) = bus.subscribe(dead_letter_topic("t"), "ops").poll(10, timeout=1)
    assert parked.event.data["raw"] == "{no"


def test_an_unavailable_backend_is_waited_out_and_nothing_is_dead_lettered(tmp_path: Path) -> None:
    from mce.kit.errors import Unavailable

    bus = SqliteEventBus(tmp_path / "bus.db")
    outage = iter(range(8))
    handled: list[int] = []

    def handle(batch) -> None:
        if next(outage, None) is not None:
            raise Unavailable("index is down")
        handled.extend(e.data["n"] for e in batch)

    consumer = Consumer(bus, "t", "g", handle, max_attempts=2, backoff_s=0.01)
    consumer.start()
    bus.publish("t", [Event(type="X", key="k", data={"n": 5})])
    assert wait_for(lambda: handled == [5], timeout=10)
    consumer.stop()
    assert consumer.dead_lettered == 0


def test_published_events_are_purged_after_a_while_and_unpublished_ones_kept(tmp_path: Path) -> None:
    from datetime import timedelta

    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    table = outbox_table(MetaData())
    table.create(engine)
    relay = OutboxRelay(engine, table, SqliteEventBus(tmp_path / "bus.db"))
    with engine.begin() as conn:
        add_to_outbox(conn, table, "t", Event(type="X", key="k"))
    relay.relay_once()
    with engine.begin() as conn:
        add_to_outbox(conn, table, "t", Event(type="Y", key="k"))
    assert relay.purge_published(older_than=timedelta(days=1)) == 0
    assert relay.purge_published(older_than=timedelta(0)) == 1
    assert relay.backlog() == 1


@pytest.fixture(params=["sqlite", "postgres"])
def outbox_engine(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201
    """A service database with an outbox table, on SQLite or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
        yield engine
        engine.dispose()
        return
    from tests.dbs import fresh_postgres_database

    with fresh_postgres_database(request.getfixturevalue("postgres_url")) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def test_a_purge_deletes_in_bounded_transactions_and_keeps_the_unpublished(
    outbox_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from sqlalchemy import event

    monkeypatch.setattr(outbox, "PURGE_BATCH", 10)
    table = outbox_table(MetaData())
    table.create(outbox_engine)
    relay = OutboxRelay(outbox_engine, table, SqliteEventBus(tmp_path / "bus.db"), batch=100)
    with outbox_engine.begin() as conn:
        for n in range(25):
            add_to_outbox(conn, table, "t", Event(type="X", key="k", data={"n": n}))
    relay.relay_once()
    with outbox_engine.begin() as conn:
        add_to_outbox(conn, table, "t", Event(type="Y", key="k"))
    deletes: list[str] = []
    event.listen(
        outbox_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *rest: deletes.append(statement) if statement.startswith("DELETE") else None,
    )

    assert relay.purge_published(older_than=timedelta(0)) == 25

    assert len(deletes) == 3  # 10, 10 and 5 rows, each its own transaction
    assert relay.backlog() == 1
    assert relay.purge_published(older_than=timedelta(0)) == 0


class ProcessDied(BaseException):
    """Stands for the process dying in the middle of a batch: nothing after it runs."""


def test_an_event_whose_handler_did_not_finish_is_delivered_again_after_a_restart(tmp_path: Path) -> None:
    bus = SqliteEventBus(tmp_path / "bus.db")
    bus.publish("t", [Event(type="X", key="k", data={"n": i}) for i in range(3)])

    def dies(batch) -> None:
        raise ProcessDied

    with pytest.raises(ProcessDied):
        Consumer(bus, "t", "g", dies).run()
    handled: list[int] = []
    restarted = Consumer(bus, "t", "g", lambda batch: handled.extend(e.data["n"] for e in batch))
    restarted.start()
    assert wait_for(lambda: handled == [0, 1, 2]), handled
    restarted.stop()


def test_the_embedded_log_drops_events_older_than_its_retention(tmp_path: Path) -> None:
    import sqlite3

    bus = SqliteEventBus(tmp_path / "bus.db", retention_s=3600)
    bus.publish("t", [Event(type="X", key="k", data={"n": i}) for i in range(5)])
    with sqlite3.connect(tmp_path / "bus.db") as raw:
        raw.execute("UPDATE events SET stored_at = stored_at - 7200")
    bus.publish("t", [Event(type="X", key="k", data={"n": i}) for i in range(5, 8)])
    assert bus.enforce_retention() == 5
    # A group that never committed starts at the oldest event kept.
    assert [d.event.data["n"] for d in bus.subscribe("t", "new").poll(100, timeout=0.2)] == [5, 6, 7]


def test_the_embedded_log_keeps_within_its_size_dropping_the_oldest(tmp_path: Path) -> None:
    limit = 512 * 1024
    bus = SqliteEventBus(tmp_path / "bus.db", retention_bytes=limit)
    for batch in range(20):
        bus.publish("t", [Event(type="X", key="k", data={"n": batch * 100 + i, "pad": "x" * 400}) for i in range(100)])
    assert bus.enforce_retention() > 0
    assert bus._used_bytes() <= limit
    kept = []
    sub = bus.subscribe("t", "g")
    while got := sub.poll(1000, timeout=0.1):
        kept += [d.event.data["n"] for d in got]
    assert kept == list(range(kept[0], 2000)) and kept[0] > 0


def test_a_lingering_consumer_gathers_a_trickle_of_events_into_one_batch(tmp_path: Path) -> None:
    bus = SqliteEventBus(tmp_path / "bus.db")
    batches: list[list[int]] = []
    # Published before the consumer starts, so its first poll sees only the first; the rest arrive while it lingers.
    bus.publish("t", [Event(type="X", key="k", data={"n": 0})])

    def trickle() -> None:
        for n in range(1, 4):
            time.sleep(0.05)
            bus.publish("t", [Event(type="X", key="k", data={"n": n})])

    consumer = Consumer(bus, "t", "g", lambda batch: batches.append([e.data["n"] for e in batch]), linger_s=0.6)
    consumer.start()
    threading.Thread(target=trickle).start()
    assert wait_for(lambda: sum(len(b) for b in batches) == 4)
    consumer.stop()
    assert batches == [[0, 1, 2, 3]]


def test_the_relay_reads_the_outbox_once_per_wake_when_a_batch_drains_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    metadata = MetaData()
    table = outbox_table(metadata)
    metadata.create_all(engine)
    relay = OutboxRelay(engine, table, SqliteEventBus(tmp_path / "bus.db"), idle_poll_s=60)
    reads = []
    pending = relay._pending
    relay._pending = lambda conn: reads.append(1) or pending(conn)
    with engine.begin() as conn:
        add_to_outbox(conn, table, "t", Event(type="X", key="k", data={}))
    relay.start()  # its first pass drains what is there; nothing wakes it again (the idle poll is a minute away)
    assert wait_for(lambda: relay.published == 1)
    time.sleep(0.2)
    relay.stop()
    assert len(reads) == 1
