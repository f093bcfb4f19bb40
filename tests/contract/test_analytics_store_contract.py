"""The WindowStore contract, run on SQLite always and on PostgreSQL when it is up: once per event, newest copy wins."""

from __future__ import annotations

import itertools
import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from mce.services.analytics import usecases
from mce.services.analytics.domain import window_from_event
from mce.services.analytics.store.port import Outcome, WindowStore
from mce.services.analytics.store.sql import SqlWindowStore
from mce.services.analytics.store.tables import MIGRATIONS, inbox, windows
from tests.analytics_windows import as_served, window_event, window_start
from tests.dbs import engine_fixtures

postgres_engine, engine = engine_fixtures(MIGRATIONS, "windows, inbox")


@pytest.fixture
def store(engine: Engine) -> WindowStore:
    return SqlWindowStore(engine)


def served(store: WindowStore, limit: int = 100) -> list[dict[str, int]]:
    return [window.to_json() for window in usecases.recent_windows(store, limit=limit)]


def test_a_window_seen_twice_is_stored_once(store) -> None:
    events = [window_event(0, 2, 5), window_event(1, 3, 4)]
    first = usecases.record_results(store, events)
    again = usecases.record_results(store, events)
    assert first.outcomes == [Outcome.NEW, Outcome.NEW]
    assert again.outcomes == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert served(store) == as_served((1, 3, 4), (0, 2, 5))


def test_every_message_delivered_twice_leaves_the_same_windows_as_once(engine, store) -> None:
    events = [window_event(minute, minute + 1, 2 * minute + 3) for minute in range(30)]
    events.append(window_event(4, 9, 20, published_after_s=30))  # a correction among them
    usecases.record_results(store, events)
    once = served(store)
    for event in events:
        usecases.record_results(store, [event, event])
    assert served(store) == once
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(inbox)).scalar_one() == len(events)


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


def test_the_same_copy_again_after_its_inbox_entry_was_purged_changes_nothing(engine, store) -> None:
    event = window_event(0, 2, 5)
    usecases.record_results(store, [event])
    with engine.begin() as conn:
        conn.execute(inbox.delete())
    assert usecases.record_results(store, [event]).outcomes == [Outcome.STALE]
    assert served(store) == as_served((0, 2, 5))


def test_copies_arriving_in_any_order_leave_the_newest(engine, store) -> None:
    copies = [window_event(0, n, 10 + n, published_after_s=n) for n in range(4)]
    for order in itertools.permutations(copies):
        with engine.begin() as conn:
            conn.execute(windows.delete())
            conn.execute(inbox.delete())
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


def test_windows_stored_before_the_retention_and_old_inbox_entries_are_purged(engine, store) -> None:
    usecases.record_results(store, [window_event(minute, 1, 1) for minute in range(5)])
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(update(inbox).values(processed_at=now - timedelta(hours=3)))
        for minute, hours_ago in ((0, 5), (1, 2.01), (2, 1.99)):
            stored_at = now - timedelta(hours=hours_ago)
            conn.execute(
                update(windows).where(windows.c.window_start == window_start(minute)).values(stored_at=stored_at)
            )
    removed = usecases.purge_old_windows(store, retention=timedelta(hours=2))
    assert removed == 2
    assert [w["window_start"] for w in served(store)] == [window_start(m) for m in (4, 3, 2)]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(inbox)).scalar_one() == 0


def test_a_window_however_old_its_event_time_is_kept_while_recently_stored(store) -> None:
    usecases.record_results(store, [window_event(0, 1, 1)])
    assert usecases.purge_old_windows(store, retention=timedelta(minutes=1)) == 0
    assert served(store) == as_served((0, 1, 1))


def test_concurrent_writers_of_one_window_leave_the_newest_copy(engine, store) -> None:
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
    with engine.connect() as conn:
        revision = conn.execute(select(windows.c.revision)).scalar_one()
    assert 1 <= revision <= 40


def test_the_stored_copy_keeps_its_event_as_version(store) -> None:
    event = window_event(0, 2, 5)
    usecases.record_results(store, [event])
    [stored] = store.recent(1)
    assert stored == window_from_event(event)
