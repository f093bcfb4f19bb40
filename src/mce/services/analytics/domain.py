"""What a stored window is and which results may be stored: rules with no I/O, shared by the service and the function.

A window is identified by its start. The stream job may publish a window again (a re-run, a correction): the
version that wins is the one with the latest `(occurred_at, event_id)` of its event, whatever order the copies
arrive in, so replicas and redeliveries converge on the same stored window and an older copy never undoes a newer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from mce.kit.contracts import WINDOW_COUNTED, WINDOW_SIZE_MS, WindowPayload
from mce.kit.errors import Invalid, problem
from mce.kit.events import Event

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
# Event time up to the activity contract's bound (2**40 s), in ms: well inside JavaScript's exact integers.
WINDOW_TIME_MAX_MS = 2**40 * 1000
EVENT_ID_MAX = 64  # the inbox's column
WINDOWS_LIMIT_DEFAULT = 60
WINDOWS_LIMIT_MAX = 1440  # a day of one-minute windows


class MalformedWindow(Invalid):
    """A result that cannot be stored: not an envelope, or not a one-minute window keyed by its start."""


@dataclass(frozen=True)
class WindowRecord:
    """One window as stored, with the version of the event that brought it."""

    window_start: int
    window_end: int
    unique_users: int
    event_count: int
    event_id: str
    occurred_at_us: int

    def newer_than(self, other: WindowRecord) -> bool:
        """Whether this copy of a window replaces the other: a later event wins, ties go to the greater event id."""
        return (self.occurred_at_us, self.event_id) > (other.occurred_at_us, other.event_id)

    def to_json(self) -> dict[str, int]:
        """The design doc's window: times in milliseconds."""
        return {
            "window_start": self.window_start,
            "window_end": self.window_end,
            "unique_users": self.unique_users,
            "event_count": self.event_count,
        }


def microseconds(moment: datetime) -> int:
    """Microseconds since the epoch, exactly; a time without a zone is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // ONE_MICROSECOND


def _malformed(event_id: str, message: str, field: str = "data") -> MalformedWindow:
    return MalformedWindow(f"event {event_id}: {message}", details=[problem(field, message)])


def window_from_event(event: Event) -> WindowRecord | None:
    """The window a result event carries; None for another type of event; MalformedWindow when it cannot be stored."""
    if event.type != WINDOW_COUNTED:
        return None
    if not 1 <= len(event.event_id) <= EVENT_ID_MAX:
        message = f"the event id must be 1 to {EVENT_ID_MAX} characters"
        raise _malformed(event.event_id[:EVENT_ID_MAX], message, "event_id")
    try:
        payload = WindowPayload.model_validate(event.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in ("data", *first["loc"]))
        raise _malformed(event.event_id, f"not a window: {first['msg']}", field) from None
    if payload.window_start % WINDOW_SIZE_MS or payload.window_end != payload.window_start + WINDOW_SIZE_MS:
        raise _malformed(event.event_id, f"not a one-minute window aligned on the minute ({WINDOW_SIZE_MS} ms)")
    if payload.window_end > WINDOW_TIME_MAX_MS:
        raise _malformed(event.event_id, f"window_end is after {WINDOW_TIME_MAX_MS} ms", "data.window_end")
    if payload.unique_users > payload.event_count:
        raise _malformed(event.event_id, "more unique users than events", "data.unique_users")
    if event.key != str(payload.window_start):
        # The key orders one window's corrections on the bus; a result keyed otherwise could overtake them.
        raise _malformed(event.event_id, "the key must be the window's start", "key")
    return WindowRecord(
        window_start=payload.window_start,
        window_end=payload.window_end,
        unique_users=payload.unique_users,
        event_count=payload.event_count,
        event_id=event.event_id,
        occurred_at_us=microseconds(event.occurred_at),
    )


def event_from_message(raw: bytes | str) -> Event:
    """The envelope in a message's bytes (an Event Hubs body); MalformedWindow when it is not one."""
    try:
        return Event.from_bytes(raw)
    except ValidationError as exc:
        raise MalformedWindow(f"not an event envelope: {exc.errors()[0]['msg']}") from None


def windows_body(windows: list[WindowRecord]) -> dict[str, Any]:
    """The API's answer: `{"windows": [...]}` in the order given (newest first)."""
    return {"windows": [window.to_json() for window in windows]}


def parse_limit(raw: str | None) -> int:
    """The `limit` query parameter: a whole number from 1 to WINDOWS_LIMIT_MAX, WINDOWS_LIMIT_DEFAULT when absent."""
    if raw is None or raw == "":
        return WINDOWS_LIMIT_DEFAULT
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or not 1 <= int(text) <= WINDOWS_LIMIT_MAX:
        message = f"must be a whole number from 1 to {WINDOWS_LIMIT_MAX}"
        raise Invalid(f"limit {message}", details=[problem("limit", message)])
    return int(text)
