"""Window results as the stream job publishes them, for the analytics tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mce.kit.contracts import WINDOW_COUNTED, WINDOW_SIZE_MS
from mce.kit.events import Event

# A minute boundary: 2025-01-01T00:00:00Z.
BASE_MS = 1_735_689_600_000
PUBLISHED = datetime(2025, 1, 1, 0, 1, 5, tzinfo=UTC)


def window_start(minute: int) -> int:
    """The start of the given minute after BASE_MS, in ms."""
    return BASE_MS + minute * WINDOW_SIZE_MS


def window_event(
    minute: int, users: int, events: int, *, published_after_s: float = 0.0, event_id: str | None = None
) -> Event:
    """The result for one minute's window, published `published_after_s` seconds after PUBLISHED."""
    start = window_start(minute)
    data = {"window_start": start, "window_end": start + WINDOW_SIZE_MS, "unique_users": users, "event_count": events}
    extra = {"event_id": event_id} if event_id else {}
    occurred_at = PUBLISHED + timedelta(minutes=minute, seconds=published_after_s)
    return Event(type=WINDOW_COUNTED, key=str(start), data=data, occurred_at=occurred_at, **extra)


def as_served(*windows: tuple[int, int, int]) -> list[dict[str, int]]:
    """The API's JSON for (minute, users, events) windows, in the order given."""
    return [
        {
            "window_start": window_start(minute),
            "window_end": window_start(minute) + WINDOW_SIZE_MS,
            "unique_users": users,
            "event_count": events,
        }
        for minute, users, events in windows
    ]
