"""Unique users per one-minute tumbling event-time window, with a bounded-out-of-orderness watermark.

The rules, shared exactly by this module, the embedded runner and the Flink job:

* an event at `ts` ms belongs to the window [s, s + size) with s = floor(ts / size) * size;
* the watermark is the largest event time seen so far minus `out_of_orderness_ms`, advanced after each event
  (so it never goes back); before the first event there is none;
* a window [s, e) is emitted once the watermark >= e - 1 (its last millisecond), never before and never twice;
* an event is late, dropped and counted, when its window's e - 1 <= the watermark at the moment it arrives
  (whether or not that window ever held an event);
* at the end of a bounded input, `flush()` emits every open window (Flink's end-of-input watermark);
* windows are emitted in window_start order, and only those that hold at least one event.

Pure Python, no I/O: the caller validates its input, this module only counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from mce.kit.contracts import WINDOW_SIZE_MS

# Flink's Long.MIN_VALUE / Long.MAX_VALUE: no watermark yet, and the end-of-input watermark.
NO_WATERMARK = -(2**63)
END_OF_INPUT = 2**63 - 1
SNAPSHOT_VERSION = 1


class ClosedWindow(NamedTuple):
    """One emitted window: distinct users and events in [window_start, window_end), times in ms."""

    window_start: int
    window_end: int
    unique_users: int
    event_count: int

    def payload(self) -> dict[str, int]:
        """The WindowPayload dict the results topic carries."""
        return {
            "window_start": self.window_start,
            "window_end": self.window_end,
            "unique_users": self.unique_users,
            "event_count": self.event_count,
        }


class UniqueUsersWindows:
    """Feed (user_id, timestamp_ms) in arrival order; get back the windows each event (or the flush) closes."""

    __slots__ = (
        "out_of_orderness_ms",
        "size_ms",
        "events",
        "late_dropped",
        "windows_emitted",
        "_users",
        "_counts",
        "_max_ts",
        "_watermark",
        "_next_close",
    )

    def __init__(self, out_of_orderness_ms: int = 5000, *, size_ms: int = WINDOW_SIZE_MS) -> None:
        if out_of_orderness_ms < 0:
            raise ValueError("out_of_orderness_ms must be >= 0")
        if size_ms <= 0:
            raise ValueError("size_ms must be > 0")
        self.out_of_orderness_ms = out_of_orderness_ms
        self.size_ms = size_ms
        self.events = 0
        self.late_dropped = 0
        self.windows_emitted = 0
        self._users: dict[int, set[str]] = {}
        self._counts: dict[int, int] = {}
        self._max_ts = NO_WATERMARK
        self._watermark = NO_WATERMARK
        # The last millisecond of the earliest open window: the watermark must reach it before anything closes.
        self._next_close = END_OF_INPUT

    @property
    def watermark(self) -> int | None:
        """The current watermark in ms; None before the first event."""
        return None if self._watermark == NO_WATERMARK else self._watermark

    @property
    def counted(self) -> int:
        """Events that went into a window (not late)."""
        return self.events - self.late_dropped

    @property
    def open_windows(self) -> int:
        """Windows holding events that are not emitted yet."""
        return len(self._counts)

    def add(self, user_id: str, timestamp_ms: int) -> list[ClosedWindow]:
        """Take one event; returns the windows it closes, in window_start order (usually none)."""
        return self.add_many(((user_id, timestamp_ms),))

    def add_many(self, events: Iterable[tuple[str, int]]) -> list[ClosedWindow]:
        """Take events in arrival order, exactly as `add` one at a time would; returns the windows they close."""
        # Locals, not attributes, in the loop: this is the runner's hot path.
        size = self.size_ms
        last = size - 1
        lag = self.out_of_orderness_ms
        users_by_start = self._users
        counts = self._counts
        max_ts = self._max_ts
        watermark = self._watermark
        next_close = self._next_close
        seen = late = 0
        closed: list[ClosedWindow] = []
        for user_id, ts in events:
            seen += 1
            start = ts - ts % size
            if start + last <= watermark:
                late += 1
                continue
            users = users_by_start.get(start)
            if users is None:
                users_by_start[start] = {user_id}
                counts[start] = 1
                if start + last < next_close:
                    next_close = start + last
            else:
                users.add(user_id)
                counts[start] += 1
            if ts > max_ts:
                max_ts = ts
                if ts - lag > watermark:
                    watermark = ts - lag
                    if watermark >= next_close:
                        next_close = self._close_through(watermark, closed)
        self._max_ts = max_ts
        self._watermark = watermark
        self._next_close = next_close
        self.events += seen
        self.late_dropped += late
        return closed

    def flush(self) -> list[ClosedWindow]:
        """End of input: emit every open window; any event after this is late."""
        closed: list[ClosedWindow] = []
        self._close_through(END_OF_INPUT, closed)
        self._watermark = END_OF_INPUT
        self._next_close = END_OF_INPUT
        return closed

    def _close_through(self, watermark: int, closed: list[ClosedWindow]) -> int:
        """Emit the open windows whose last ms <= watermark into `closed`; returns the new earliest last ms."""
        last = self.size_ms - 1
        for start in sorted(s for s in self._counts if s + last <= watermark):
            users = self._users.pop(start)
            count = self._counts.pop(start)
            closed.append(ClosedWindow(start, start + self.size_ms, len(users), count))
            self.windows_emitted += 1
        return min(self._counts, default=END_OF_INPUT - last) + last

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain JSON-ready values, for a checkpoint."""
        return {
            "version": SNAPSHOT_VERSION,
            "out_of_orderness_ms": self.out_of_orderness_ms,
            "size_ms": self.size_ms,
            "max_ts": self._max_ts,
            "watermark": self._watermark,
            "events": self.events,
            "late_dropped": self.late_dropped,
            "windows_emitted": self.windows_emitted,
            "windows": [[start, self._counts[start], sorted(self._users[start])] for start in sorted(self._counts)],
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any], *, out_of_orderness_ms: int | None = None) -> UniqueUsersWindows:
        """The state a snapshot holds; a new out_of_orderness_ms applies from the next event on."""
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unknown window snapshot version {snapshot.get('version')!r}")
        lag = snapshot["out_of_orderness_ms"] if out_of_orderness_ms is None else out_of_orderness_ms
        windows = cls(lag, size_ms=snapshot["size_ms"])
        windows._max_ts = snapshot["max_ts"]
        windows._watermark = snapshot["watermark"]
        windows.events = snapshot["events"]
        windows.late_dropped = snapshot["late_dropped"]
        windows.windows_emitted = snapshot["windows_emitted"]
        for start, count, users in snapshot["windows"]:
            windows._counts[start] = count
            windows._users[start] = set(users)
        windows._next_close = min(windows._counts, default=END_OF_INPUT - windows.size_ms + 1) + windows.size_ms - 1
        return windows
