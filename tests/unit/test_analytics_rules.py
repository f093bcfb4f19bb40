"""The analytics rules: which results are windows it may store, which copy of a window wins, the limit's range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mce.kit.errors import Invalid
from mce.kit.events import Event
from mce.services.analytics.domain import (
    WINDOWS_LIMIT_DEFAULT,
    MalformedWindow,
    event_from_message,
    microseconds,
    parse_limit,
    window_from_event,
)
from tests.analytics_windows import PUBLISHED, window_event, window_start


def _with(event: Event, **changes: object) -> Event:
    return event.model_copy(update=changes)


def test_a_result_becomes_the_window_it_counts_with_its_events_version() -> None:
    event = window_event(3, users=4, events=9)
    window = window_from_event(event)
    assert window is not None
    assert window.to_json() == {
        "window_start": window_start(3),
        "window_end": window_start(4),
        "unique_users": 4,
        "event_count": 9,
    }
    assert window.event_id == event.event_id
    assert window.occurred_at_us == microseconds(event.occurred_at)


def test_an_event_of_another_type_is_not_a_window() -> None:
    assert window_from_event(_with(window_event(0, 1, 1), type="SomethingElse")) is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"window_start": -60_000}, "data.window_start"),
        ({"unique_users": -1}, "data.unique_users"),
        ({"event_count": "many"}, "data.event_count"),
        ({"extra": 1}, "data.extra"),
        ({"window_end": window_start(0)}, "data.window_end"),
    ],
)
def test_a_payload_that_is_not_a_window_is_malformed(data: dict, field: str) -> None:
    event = window_event(0, 1, 1)
    with pytest.raises(MalformedWindow) as caught:
        window_from_event(_with(event, data={**event.data, **data}))
    assert caught.value.details[0]["field"] == field


def test_a_window_not_one_minute_long_or_not_on_the_minute_is_malformed() -> None:
    event = window_event(0, 1, 1)
    start = event.data["window_start"]
    for data in ({"window_end": start + 30_000}, {"window_start": start + 1, "window_end": start + 60_001}):
        with pytest.raises(MalformedWindow, match="one-minute"):
            window_from_event(_with(event, data={**event.data, **data}, key=str(data.get("window_start", start))))


def test_more_users_than_events_or_a_key_other_than_the_start_is_malformed() -> None:
    with pytest.raises(MalformedWindow, match="more unique users"):
        window_from_event(window_event(0, users=3, events=2))
    with pytest.raises(MalformedWindow, match="key"):
        window_from_event(_with(window_event(0, 1, 1), key="0"))


def test_a_window_beyond_the_exact_integers_of_a_browser_or_an_overlong_event_id_is_malformed() -> None:
    event = window_event(0, 1, 1)
    far = 2**60 - 2**60 % 60_000
    with pytest.raises(MalformedWindow, match="window_end"):
        window_from_event(
            _with(event, key=str(far), data={**event.data, "window_start": far, "window_end": far + 60_000})
        )
    with pytest.raises(MalformedWindow, match="event id"):
        window_from_event(_with(event, event_id="x" * 65))


def test_the_later_event_wins_and_a_tie_goes_to_the_greater_event_id() -> None:
    first = window_from_event(window_event(0, 1, 1, event_id="b"))
    later = window_from_event(window_event(0, 2, 2, published_after_s=0.000001, event_id="a"))
    twin = window_from_event(window_event(0, 3, 3, event_id="c"))
    assert later.newer_than(first) and not first.newer_than(later)
    assert twin.newer_than(first) and not first.newer_than(twin)
    assert not first.newer_than(first)


def test_event_times_become_exact_microseconds_whatever_their_zone() -> None:
    moment = datetime(2025, 1, 1, 1, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert microseconds(moment) == microseconds(PUBLISHED.replace(minute=0, second=0, microsecond=123456))
    assert microseconds(datetime(1970, 1, 1, 0, 0, 0, 1)) == 1
    assert microseconds(datetime(2286, 11, 20, 17, 46, 40, tzinfo=UTC)) == 10**16


def test_a_message_that_is_not_an_envelope_is_malformed() -> None:
    for raw in (b"not json", b"{}", b'{"type": "x"}', "\u00ff".encode("latin-1")):
        with pytest.raises(MalformedWindow, match="not an event envelope"):
            event_from_message(raw)
    assert event_from_message(window_event(0, 1, 1).to_bytes()).type == window_event(0, 1, 1).type


@pytest.mark.parametrize("raw", ["0", "1441", "-1", "1.5", "ten", "٣", "99999999999", " "])
def test_a_limit_outside_1_to_1440_or_not_a_whole_number_is_refused(raw: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_limit(raw)
    assert caught.value.status == 422 and caught.value.details[0]["field"] == "limit"


def test_a_missing_limit_is_sixty_and_the_bounds_are_allowed() -> None:
    assert parse_limit(None) == WINDOWS_LIMIT_DEFAULT == 60
    assert [parse_limit(raw) for raw in ("1", "1440", "007")] == [1, 1440, 7]
