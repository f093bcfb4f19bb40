"""Two outbox relays and two consumers at once: events may be delivered twice, but every effect happens once.

Run with SQLite and with PostgreSQL (where relays take turns through `FOR UPDATE SKIP LOCKED`) on both sides, over
the embedded log (one partition: both consumers see every event) and over Kafka (the group splits the partitions).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mce.kit.bus.consumer import Consumer
from mce.kit.bus.kafka import KafkaConnection, KafkaEventBus, KafkaTuning
from mce.kit.bus.port import EventBus
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.db import make_engine, write_transaction
from mce.kit.events import Event
from mce.kit.inbox import inbox_table
from mce.kit.outbox import LEASE_ID, OutboxRelay, add_to_outbox, outbox_lease_table, outbox_table
from mce.kit.uow import SqlUnitOfWork, apply_once
from tests.dbs import fresh_postgres_database

EVENTS = 300
KEYS = 12

source = MetaData()
source_outbox = outbox_table(source)
source_lease = outbox_lease_table(source)

target = MetaData()
target_outbox = outbox_table(target)
target_inbox = inbox_table(target)
counters = Table("counters", target, Column("key", String(50), primary_key=True), Column("applied", Integer))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Empty source and target databases, each a service's own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    with fresh_postgres_database(base) as source_url, fresh_postgres_database(base) as target_url:
        yield source_url, target_url


@pytest.fixture(params=["local", pytest.param("kafka", marks=pytest.mark.kafka)])
def open_bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Callable[[], EventBus]]]:
    """The bus kind, and a way to open a replica's handle on one shared log (closed afterwards)."""
    opened: list[EventBus] = []
    if request.param == "local":

        def handle() -> EventBus:
            opened.append(SqliteEventBus(tmp_path / "bus.db"))
            return opened[-1]

    else:
        connection = KafkaConnection("kafka", request.getfixturevalue("kafka_bootstrap"))
        tuning = KafkaTuning(linger_ms=1, session_timeout_ms=6_000, publish_timeout_s=5, ping_timeout_s=2)

        def handle() -> EventBus:
            opened.append(KafkaEventBus(connection, tuning))
            return opened[-1]

    yield request.param, handle
    for bus in opened:
        bus.close()


def _count(engine: Engine, key: str) -> None:
    """The effect of one event: one more on its key's counter."""
    insert_ = postgres_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with write_transaction(engine) as conn:
        conn.execute(insert_(counters).values(key=key, applied=0).on_conflict_do_nothing())


def test_two_relays_and_two_consumers_apply_every_event_exactly_once(urls, open_bus) -> None:
    source_url, target_url = urls
    kind, open_handle = open_bus
    # Kafka's topics outlive a test: each run has its own.
    topic = "things" if kind == "local" else f"things-{uuid.uuid4().hex[:12]}"
    setup = make_engine(source_url)
    source.create_all(setup)
    with write_transaction(setup) as conn:
        conn.execute(insert(source_lease).values(id=LEASE_ID))
    setup.dispose()
    target_setup = make_engine(target_url)
    target.create_all(target_setup)
    target_setup.dispose()

    # Two replicas of each service: their own engines and bus handles, sharing the databases and the log.
    source_engines = [make_engine(source_url) for _ in range(2)]
    target_engines = [make_engine(target_url) for _ in range(2)]
    buses = [open_handle() for _ in range(4)]
    for key in range(KEYS):
        _count(target_engines[0], f"k{key}")

    def apply(uow: SqlUnitOfWork, event: Event) -> None:
        uow.conn.execute(update(counters).where(counters.c.key == event.key).values(applied=counters.c.applied + 1))

    delivered = [0, 0]

    def consumer(n: int) -> Consumer:
        handle = apply_once(
            lambda: SqlUnitOfWork(target_engines[n], what="target", outbox=target_outbox, inbox_table=target_inbox),
            "counting",
            apply,
        )

        def counting(events) -> None:
            handle(events)
            delivered[n] += len(events)

        return Consumer(buses[2 + n], topic, "counting", counting, backoff_s=0.01)

    relays = [
        OutboxRelay(source_engines[n], source_outbox, buses[n], lease=source_lease, batch=25, idle_poll_s=0.01)
        for n in range(2)
    ]
    consumers = [consumer(0), consumer(1)]
    for worker in [*relays, *consumers]:
        worker.start()

    def stage(first: int, count: int, engine: Engine) -> None:
        for n in range(first, first + count):
            with write_transaction(engine) as conn:
                add_to_outbox(conn, source_outbox, topic, Event(type="Counted", key=f"k{n % KEYS}"))

    writers = [threading.Thread(target=stage, args=(i * EVENTS // 2, EVENTS // 2, source_engines[i])) for i in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    def applied() -> int:
        with target_engines[0].connect() as conn:
            return conn.execute(select(func.sum(counters.c.applied))).scalar_one()

    deadline = time.monotonic() + 30
    # On the embedded log both members read everything; on Kafka each reads its partitions.
    seen = min if kind == "local" else sum
    while (applied() < EVENTS or seen(delivered) < EVENTS) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    for worker in [*relays, *consumers]:
        worker.stop()

    # Every event reached the group (on the embedded log, both members: at least 2x delivery)...
    assert seen(delivered) >= EVENTS, delivered
    # ...and yet each event counted once, per key exactly as many as were staged.
    with target_engines[0].connect() as conn:
        per_key = dict(conn.execute(select(counters.c.key, counters.c.applied)).all())
        inbox_rows = conn.execute(select(func.count()).select_from(target_inbox)).scalar_one()
    assert per_key == {f"k{k}": EVENTS // KEYS for k in range(KEYS)}
    assert inbox_rows == EVENTS
    for engine in [*source_engines, *target_engines]:
        engine.dispose()
