"""The unique-users window rules, one at a time."""

from __future__ import annotations

import random

import pytest

from mce.stream.windows import ClosedWindow, UniqueUsersWindows

MIN = 60_000
SEC = 1_000


def feed(windows: UniqueUsersWindows, events: list[tuple[str, int]]) -> list[ClosedWindow]:
    """Every window the events close, one event at a time."""
    closed: list[ClosedWindow] = []
    for user, ts in events:
        closed.extend(windows.add(user, ts))
    return closed


def test_an_event_belongs_to_the_minute_that_holds_it() -> None:
    windows = UniqueUsersWindows(0)
    windows.add("a", 2 * MIN + 17 * SEC)
    assert windows.flush() == [ClosedWindow(2 * MIN, 3 * MIN, 1, 1)]


def test_an_event_exactly_on_a_boundary_opens_the_next_window() -> None:
    windows = UniqueUsersWindows(5000)
    feed(windows, [("a", MIN - 1), ("b", MIN)])
    assert windows.flush() == [ClosedWindow(0, MIN, 1, 1), ClosedWindow(MIN, 2 * MIN, 1, 1)]


def test_duplicate_users_count_once_but_every_event_counts() -> None:
    windows = UniqueUsersWindows(5000)
    feed(windows, [("a", 1), ("a", 2), ("b", 3), ("a", 4)])
    assert windows.flush() == [ClosedWindow(0, MIN, 2, 4)]


def test_a_window_stays_open_until_the_watermark_reaches_its_last_millisecond() -> None:
    windows = UniqueUsersWindows(5000)
    assert windows.add("a", 10 * SEC) == []
    # watermark = 64_998 - 5_000 = 59_998: one millisecond short of the window's last, 59_999
    assert windows.add("b", MIN + 4998) == []
    assert windows.watermark == MIN - 2
    assert windows.add("c", MIN + 4999) == [ClosedWindow(0, MIN, 1, 1)]
    assert windows.watermark == MIN - 1


def test_an_event_whose_window_ends_exactly_at_the_watermark_is_late() -> None:
    windows = UniqueUsersWindows(5000)
    feed(windows, [("a", 10 * SEC), ("b", MIN + 4999)])
    assert windows.watermark == MIN - 1
    assert windows.add("late", MIN - 1) == []
    assert windows.late_dropped == 1
    assert windows.flush() == [ClosedWindow(MIN, 2 * MIN, 1, 1)]


def test_an_event_behind_the_watermark_still_counts_while_its_window_is_open() -> None:
    windows = UniqueUsersWindows(5000)
    feed(windows, [("a", MIN + 10 * SEC)])
    assert windows.watermark == MIN + 5 * SEC
    windows.add("b", MIN + 1 * SEC)
    assert windows.late_dropped == 0
    assert windows.flush() == [ClosedWindow(MIN, 2 * MIN, 2, 2)]


def test_out_of_order_events_within_the_bound_are_counted() -> None:
    windows = UniqueUsersWindows(5000)
    closed = feed(windows, [("a", 58 * SEC), ("b", 63 * SEC), ("c", 59 * SEC), ("d", 61 * SEC), ("e", 65 * SEC)])
    assert closed == [ClosedWindow(0, MIN, 2, 2)]
    assert windows.late_dropped == 0
    assert windows.flush() == [ClosedWindow(MIN, 2 * MIN, 3, 3)]


def test_events_later_than_the_bound_are_dropped_and_counted() -> None:
    windows = UniqueUsersWindows(5000)
    closed = feed(windows, [("a", 10 * SEC), ("b", 70 * SEC), ("c", 30 * SEC), ("a", 59 * SEC)])
    assert closed == [ClosedWindow(0, MIN, 1, 1)]
    assert (windows.events, windows.late_dropped, windows.counted) == (4, 2, 2)
    assert windows.flush() == [ClosedWindow(MIN, 2 * MIN, 1, 1)]


def test_a_late_event_for_a_window_that_never_opened_is_still_late() -> None:
    windows = UniqueUsersWindows(5000)
    feed(windows, [("a", 10 * MIN)])
    assert windows.add("b", 3 * MIN) == []
    assert windows.late_dropped == 1
    assert windows.flush() == [ClosedWindow(10 * MIN, 11 * MIN, 1, 1)]


def test_the_watermark_never_goes_back() -> None:
    windows = UniqueUsersWindows(5000)
    feed(windows, [("a", 50 * SEC), ("b", 20 * SEC)])
    assert windows.watermark == 45 * SEC


def test_there_is_no_watermark_before_the_first_event() -> None:
    assert UniqueUsersWindows(5000).watermark is None


def test_an_idle_gap_of_many_windows_emits_no_empty_windows() -> None:
    windows = UniqueUsersWindows(5000)
    closed = feed(windows, [("a", 1 * SEC), ("b", 61 * SEC), ("c", 500 * MIN)])
    assert closed == [ClosedWindow(0, MIN, 1, 1), ClosedWindow(MIN, 2 * MIN, 1, 1)]
    assert windows.flush() == [ClosedWindow(500 * MIN, 501 * MIN, 1, 1)]
    assert windows.windows_emitted == 3


def test_one_event_may_close_several_windows_in_start_order() -> None:
    windows = UniqueUsersWindows(3 * MIN)
    feed(windows, [("a", 2 * MIN + 1), ("b", 1), ("c", MIN + 1)])
    assert windows.add("d", 9 * MIN) == [
        ClosedWindow(0, MIN, 1, 1),
        ClosedWindow(MIN, 2 * MIN, 1, 1),
        ClosedWindow(2 * MIN, 3 * MIN, 1, 1),
    ]


def test_a_window_is_emitted_once() -> None:
    windows = UniqueUsersWindows(5000)
    first = feed(windows, [("a", 1), ("b", 2 * MIN)])
    again = feed(windows, [("c", 3 * MIN), ("d", 4 * MIN)]) + windows.flush()
    assert [w.window_start for w in first + again] == [0, 2 * MIN, 3 * MIN, 4 * MIN]


def test_with_no_out_of_orderness_an_event_on_a_windows_last_millisecond_closes_it() -> None:
    windows = UniqueUsersWindows(0)
    assert windows.add("a", MIN - 1) == [ClosedWindow(0, MIN, 1, 1)]


def test_empty_input_emits_nothing() -> None:
    windows = UniqueUsersWindows(5000)
    assert windows.add_many([]) == []
    assert windows.flush() == []
    assert (windows.events, windows.late_dropped, windows.windows_emitted, windows.open_windows) == (0, 0, 0, 0)


def test_after_the_flush_every_event_is_late() -> None:
    windows = UniqueUsersWindows(5000)
    windows.add("a", 1)
    windows.flush()
    assert windows.add("b", 10 * MIN) == []
    assert windows.late_dropped == 1


def test_the_batch_method_agrees_with_one_at_a_time() -> None:
    rng = random.Random(7)
    events = [(f"u{rng.randrange(50)}", max(0, i * 200 + rng.randrange(-9000, 3000))) for i in range(5000)]
    one, batch = UniqueUsersWindows(5000), UniqueUsersWindows(5000)
    assert feed(one, events) + one.flush() == batch.add_many(events) + batch.flush()
    counters = (one.events, one.late_dropped, one.windows_emitted)
    assert counters == (batch.events, batch.late_dropped, batch.windows_emitted)
    assert one.late_dropped > 0


def test_a_restored_snapshot_carries_on_exactly_where_it_stopped() -> None:
    rng = random.Random(11)
    events = [(f"u{rng.randrange(30)}", max(0, i * 300 + rng.randrange(-8000, 2000))) for i in range(3000)]
    whole = UniqueUsersWindows(5000)
    expected = whole.add_many(events) + whole.flush()
    first = UniqueUsersWindows(5000)
    got = first.add_many(events[:1234])
    second = UniqueUsersWindows.restore(first.snapshot())
    got += second.add_many(events[1234:]) + second.flush()
    assert got == expected
    assert (second.events, second.late_dropped) == (whole.events, whole.late_dropped)


def test_a_snapshot_of_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        UniqueUsersWindows.restore({"version": 99})


def test_a_negative_out_of_orderness_is_refused() -> None:
    with pytest.raises(ValueError):
        UniqueUsersWindows(-1)


def test_a_closed_window_gives_the_results_payload() -> None:
    assert ClosedWindow(0, MIN, 2, 3).payload() == {
        "window_start": 0,
        "window_end": MIN,
        "unique_users": 2,
        "event_count": 3,
    }
