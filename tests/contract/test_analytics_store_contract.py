"""The WindowStore contract, on SQLite always and on PostgreSQL and Azure Table storage when they are up.

Once per event, newest copy wins. What a test must do behind the port's back (age entries, empty the inbox, read
a revision) goes through a small backdoor per adapter.
"""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest
from azure.data.tables import TableClient, TableServiceClient, UpdateMode
from sqlalchemy import Engine, func, select, update

from mce.kit.contracts import WINDOW_SIZE_MS
from mce.services.analytics import usecases
from mce.services.analytics.domain import WINDOW_TIME_MAX_MS, WindowRecord, window_from_event
from mce.services.analytics.store.azure_tables import INBOX_ROW, WINDOW_ROW, TableWindowStore, window_row
from mce.services.analytics.store.port import Outcome, WindowStore
from mce.services.analytics.store.sql import SqlWindowStore
from mce.services.analytics.store.tables import MIGRATIONS, inbox, windows
from tests.analytics_windows import as_served, window_event, window_start
from tests.dbs import engine_fixtures, migrated_engine

postgres_engine, _ = engine_fixtures(MIGRATIONS, "windows, inbox")


class Backdoor(Protocol):
    """What the tests reach behind the port."""

    def inbox_size(self) -> int: ...
    def forget_inbox(self) -> None: ...
    def forget_all(self) -> None: ...
    def age_inbox(self, hours: float) -> None: ...
    def age_window(self, minute: int, hours: float) -> None: ...
    def revision(self, minute: int) -> int: ...


class SqlBackdoor:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def inbox_size(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(inbox)).scalar_one()

    def forget_inbox(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(inbox.delete())

    def forget_all(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(windows.delete())
            conn.execute(inbox.delete())

    def age_inbox(self, hours: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(inbox).values(processed_at=datetime.now(UTC) - timedelta(hours=hours)))

    def age_window(self, minute: int, hours: float) -> None:
        stored_at = datetime.now(UTC) - timedelta(hours=hours)
        with self.engine.begin() as conn:
            conn.execute(
                update(windows).where(windows.c.window_start == window_start(minute)).values(stored_at=stored_at)
            )

    def revision(self, minute: int) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(windows.c.revision).where(windows.c.window_start == window_start(minute))
            ).scalar_one()


class TableBackdoor:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def _rows(self, prefix: str) -> list:
        return [e for e in self.table.list_entities() if e["RowKey"].startswith(prefix)]

    def inbox_size(self) -> int:
        return len(self._rows(INBOX_ROW))

    def forget_inbox(self) -> None:
        for entity in self._rows(INBOX_ROW):
            self.table.delete_entity(entity["PartitionKey"], entity["RowKey"])

    def forget_all(self) -> None:
        for entity in self.table.list_entities():
            self.table.delete_entity(entity["PartitionKey"], entity["RowKey"])

    def _age(self, entity: dict, hours: float) -> None:
        entity["StoredAt"] = datetime.now(UTC) - timedelta(hours=hours)
        self.table.update_entity(entity, mode=UpdateMode.MERGE)

    def age_inbox(self, hours: float) -> None:
        for entity in self._rows(INBOX_ROW):
            self._age(entity, hours)

    def age_window(self, minute: int, hours: float) -> None:
        (entity,) = [e for e in self._rows(WINDOW_ROW) if e["RowKey"] == window_row(window_start(minute))]
        self._age(entity, hours)

    def revision(self, minute: int) -> int:
        (entity,) = [e for e in self._rows(WINDOW_ROW) if e["RowKey"] == window_row(window_start(minute))]
        return entity["Revision"]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("azure-tables", marks=pytest.mark.azurite),
    ]
)
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[WindowStore, Backdoor]]:
    """A store of each kind, empty, and its backdoor; Azure's on a table of its own, dropped afterwards."""
    if request.param != "azure-tables":
        with migrated_engine(request, tmp_path, MIGRATIONS, "windows, inbox") as engine:
            yield SqlWindowStore(engine), SqlBackdoor(engine)
        return
    connection = request.getfixturevalue("azurite_connection_string")
    name = f"windows{uuid.uuid4().hex[:12]}"
    store = TableWindowStore.connect(connection, name)
    try:
        yield store, TableBackdoor(store.table)
    finally:
        with TableServiceClient.from_connection_string(connection) as service:
            service.delete_table(name)
        store.close()


@pytest.fixture
def store(adapter) -> WindowStore:
    return adapter[0]


@pytest.fixture
def backdoor(adapter) -> Backdoor:
    return adapter[1]


def served(store: WindowStore, limit: int = 100) -> list[dict[str, int]]:
    return [window.to_json() for window in usecases.recent_windows(store, limit=limit)]


def test_a_window_seen_twice_is_stored_once(store) -> None:
    events = [window_event(0, 2, 5), window_event(1, 3, 4)]
    first = usecases.record_results(store, events)
    again = usecases.record_results(store, events)
    assert first.outcomes == [Outcome.NEW, Outcome.NEW]
    assert again.outcomes == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert served(store) == as_served((1, 3, 4), (0, 2, 5))


def test_every_message_delivered_twice_leaves_the_same_windows_as_once(store, backdoor) -> None:
    events = [window_event(minute, minute + 1, 2 * minute + 3) for minute in range(30)]
    events.append(window_event(4, 9, 20, published_after_s=30))  # a correction among them
    usecases.record_results(store, events)
    once = served(store)
    for event in events:
        usecases.record_results(store, [event, event])
    assert served(store) == once
    assert backdoor.inbox_size() == len(events)


def test_a_corrected_window_replaces_the_old_one(store) -> None:
    usecases.record_results(store, [window_event(0, 2, 5)])
    tally = usecases.record_results(store, [window_event(0, 3, 7, published_after_s=10)])
    assert tally.outcomes == [Outcome.REPLACED]
    assert served(store) == as_served((0, 3, 7))


def test_an_older_copy_redelivered_after_a_correction_does_not_undo_it(store) -> None:
    original = window_event(0, 2, 5)
    correction = window_event(0, 3, 7, published_after_s=10)
    usecases.record_results(store, [correction])
    tally = usecases.record_results(store, [original])
    assert tally.outcomes == [Outcome.STALE]
    assert served(store) == as_served((0, 3, 7))


def test_the_same_copy_again_after_its_inbox_entry_was_purged_changes_nothing(store, backdoor) -> None:
    event = window_event(0, 2, 5)
    usecases.record_results(store, [event])
    backdoor.forget_inbox()
    assert usecases.record_results(store, [event]).outcomes == [Outcome.STALE]
    assert served(store) == as_served((0, 2, 5))


def test_copies_arriving_in_any_order_leave_the_newest(store, backdoor) -> None:
    copies = [window_event(0, n, 10 + n, published_after_s=n) for n in range(4)]
    for order in itertools.permutations(copies):
        backdoor.forget_all()
        for copy in order:
            usecases.record_results(store, [copy])
        assert served(store) == as_served((0, 3, 13)), order


def test_copies_published_at_the_same_moment_settle_on_the_greater_event_id(store) -> None:
    low, high = window_event(0, 1, 1, event_id="aaaa"), window_event(0, 2, 2, event_id="bbbb")
    usecases.record_results(store, [high, low])
    assert served(store) == as_served((0, 2, 2))


def test_a_batch_with_a_window_and_its_correction_keeps_the_correction(store) -> None:
    tally = usecases.record_results(store, [window_event(0, 1, 1), window_event(0, 2, 2, published_after_s=1)])
    assert tally.outcomes == [Outcome.NEW, Outcome.REPLACED]
    assert served(store) == as_served((0, 2, 2))


def test_windows_come_newest_first_up_to_the_limit(store) -> None:
    minutes = list(range(10))
    random.Random(7).shuffle(minutes)
    usecases.record_results(store, [window_event(minute, 1, minute + 1) for minute in minutes])
    assert served(store, limit=3) == as_served((9, 1, 10), (8, 1, 9), (7, 1, 8))
    assert [w["window_start"] for w in served(store)] == [window_start(m) for m in range(9, -1, -1)]


def test_an_empty_store_serves_no_windows(store) -> None:
    assert served(store) == []


def test_windows_stored_before_the_retention_and_old_inbox_entries_are_purged(store, backdoor) -> None:
    usecases.record_results(store, [window_event(minute, 1, 1) for minute in range(5)])
    backdoor.age_inbox(3)
    for minute, hours_ago in ((0, 5), (1, 2.01), (2, 1.99)):
        backdoor.age_window(minute, hours_ago)
    removed = usecases.purge_old_windows(store, retention=timedelta(hours=2))
    assert removed == 2
    assert [w["window_start"] for w in served(store)] == [window_start(m) for m in (4, 3, 2)]
    assert backdoor.inbox_size() == 0


def test_a_window_however_old_its_event_time_is_kept_while_recently_stored(store) -> None:
    usecases.record_results(store, [window_event(0, 1, 1)])
    assert usecases.purge_old_windows(store, retention=timedelta(minutes=1)) == 0
    assert served(store) == as_served((0, 1, 1))


def test_concurrent_writers_of_one_window_leave_the_newest_copy(store, backdoor) -> None:
    copies = [window_event(0, n, n, published_after_s=n) for n in range(1, 41)]
    random.Random(3).shuffle(copies)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(part: list) -> None:
        barrier.wait()
        try:
            for copy in part:
                usecases.record_results(store, [copy])
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(copies[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert served(store) == as_served((0, 40, 40))
    assert 1 <= backdoor.revision(0) <= 40


def test_the_stored_copy_keeps_its_event_as_version(store) -> None:
    event = window_event(0, 2, 5)
    usecases.record_results(store, [event])
    [stored] = store.recent(1)
    assert stored == window_from_event(event)


@pytest.mark.parametrize("event_id", ["a/b#c?d", "it's", "back\\slash", "100%", "ümlaut→✓", "tab\there", "x" * 64])
def test_an_event_id_of_any_characters_is_applied_once(store, event_id) -> None:
    event = window_event(0, 2, 5, event_id=event_id)
    assert usecases.record_results(store, [event]).outcomes == [Outcome.NEW]
    assert usecases.record_results(store, [event]).outcomes == [Outcome.DUPLICATE]
    assert store.recent(1)[0].event_id == event_id


def test_a_big_batch_across_midnight_is_applied_once_and_served_newest_first(store) -> None:
    # 24 hours of minutes ends at minute 1440; start 70 minutes before midnight and end 60 after it.
    minutes = list(range(1440 - 70, 1440 + 60))
    events = [window_event(minute, 1, 2) for minute in minutes]
    events += [window_event(1440 - 1, 5, 9, published_after_s=5), window_event(1440, 6, 9, published_after_s=5)]
    first = usecases.record_results(store, events)
    assert first.count(Outcome.NEW) == len(minutes) and first.count(Outcome.REPLACED) == 2
    assert usecases.record_results(store, events).outcomes == [Outcome.DUPLICATE] * len(events)
    assert [w["window_start"] for w in served(store, limit=200)] == [window_start(m) for m in reversed(minutes)]
    around_midnight = served(store, limit=len(minutes))[59:61]
    assert around_midnight == as_served((1440, 6, 9), (1439, 5, 9))


def test_windows_at_the_first_and_last_storable_times_are_kept_in_order(store) -> None:
    last = WINDOW_TIME_MAX_MS - WINDOW_SIZE_MS
    edges = [WindowRecord(0, WINDOW_SIZE_MS, 1, 1, "first", 1), WindowRecord(last, WINDOW_TIME_MAX_MS, 2, 2, "last", 2)]
    assert store.apply(usecases.GROUP, edges) == [Outcome.NEW, Outcome.NEW]
    assert store.recent(5) == edges[::-1]
