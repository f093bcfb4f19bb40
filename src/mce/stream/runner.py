"""The embedded stream job: user-events from the bus -> unique-users windows -> analytics-results on the bus.

Like a Flink job with checkpoints: the open windows and the offsets they cover are saved together, then the bus
offset is committed; after a crash the runner restores the last checkpoint and skips what it already holds, so no
event is lost or counted twice. A window closed after the last checkpoint is published again after a crash, with
the same event id and the same counts (the windows are deterministic), which consumers drop by its id.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Sequence

import orjson

from mce.kit.bus.consumer import dead_letter_topic
from mce.kit.bus.port import Delivery, EventBus, Subscription
from mce.kit.contracts import (
    ACTIVITY_USER_ID_PATTERN,
    ANALYTICS_RESULTS_TOPIC,
    USER_ACTIVITY,
    USER_EVENTS_TOPIC,
    WINDOW_COUNTED,
)
from mce.kit.events import Event
from mce.stream.checkpoint import Checkpoint, SqliteCheckpointStore
from mce.stream.windows import ClosedWindow, UniqueUsersWindows

log = logging.getLogger(__name__)

# ActivityPayload's own limits, checked by hand: pydantic per event would cost more than the whole job.
_USER_ID = re.compile(ACTIVITY_USER_ID_PATTERN.removeprefix("^").removesuffix("$"))
MAX_TIMESTAMP_S = 2**40
_WINDOW_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "https://mce.invalid/stream/window")
# Dead letters keep this much of a malformed message: enough to see what it was.
DEAD_LETTER_RAW_CHARS = 10_000
KNOWN_USERS_MAX = 200_000


def window_event_id(group: str, topic: str, window_start: int) -> str:
    """The same id each time a job emits a window, so a re-emission after a crash is recognisably the same."""
    return uuid.uuid5(_WINDOW_IDS, f"{group}/{topic}/{window_start}").hex


class StreamRunner:
    """Consumes the activity topic as a consumer group, publishes each closed window, checkpoints its state."""

    def __init__(
        self,
        bus: EventBus,
        checkpoints: SqliteCheckpointStore,
        *,
        source_topic: str = USER_EVENTS_TOPIC,
        results_topic: str = ANALYTICS_RESULTS_TOPIC,
        group: str = "stream",
        out_of_orderness_ms: int = 5000,
        batch_size: int = 10_000,
        checkpoint_interval_s: float = 1.0,
        poll_timeout_s: float = 0.5,
    ) -> None:
        self.bus = bus
        self.checkpoints = checkpoints
        self.source_topic = source_topic
        self.results_topic = results_topic
        self.group = group
        self.out_of_orderness_ms = out_of_orderness_ms
        self.batch_size = batch_size
        self.checkpoint_interval_s = checkpoint_interval_s
        self.poll_timeout_s = poll_timeout_s
        self.windows = UniqueUsersWindows(out_of_orderness_ms)
        self.malformed = 0
        self.published = 0
        self.checkpoints_saved = 0
        self.last_error: str | None = None
        self._offsets: dict[int, int] = {}
        # Offsets a restored checkpoint already holds, per partition: deliveries up to them are skipped once.
        self._restored: dict[int, int] = {}
        self._subscription: Subscription | None = None
        self._dirty = False
        self._last_checkpoint = time.monotonic()
        self._known_users: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        """Restore the last checkpoint (or start empty) and join the consumer group."""
        saved = self.checkpoints.load(self.group, self.source_topic)
        if saved is None:
            self.windows = UniqueUsersWindows(self.out_of_orderness_ms)
            self._offsets = {}
        else:
            self.windows = UniqueUsersWindows.restore(saved.state, out_of_orderness_ms=self.out_of_orderness_ms)
            self._offsets = dict(saved.offsets)
        self._restored = dict(self._offsets)
        self._dirty = False
        self._last_checkpoint = time.monotonic()
        self._subscription = self.bus.subscribe(self.source_topic, self.group)
        log.info(
            "stream job %r on %r resumes after offsets %s with %d open window(s)",
            self.group,
            self.source_topic,
            self._offsets or "(none: from the group's committed offset)",
            self.windows.open_windows,
        )

    def step(self, timeout: float = 0.0) -> int:
        """Poll one batch, count it, publish the windows it closes, checkpoint when due; returns how many it polled."""
        if self._subscription is None:
            self.open()
        assert self._subscription is not None
        rows = self._subscription.poll_raw(self.batch_size, timeout)
        polled = len(rows)
        if not rows:
            self._checkpoint_if_due()
            return 0
        if self._restored:
            rows = self._skip_restored(rows)
        pairs, rejected = self._parse(rows)
        closed = self.windows.add_many(pairs)
        if rejected:
            self._dead_letter(rejected)
        if closed:
            self._publish(closed)
        # Each partition's rows come in offset order, so the last one seen per partition is where it stands.
        self._offsets.update({partition: offset for partition, offset, _ in rows})
        self._dirty = self._dirty or bool(rows)
        self._checkpoint_if_due()
        return polled

    def run_to_end(self, *, flush: bool = True) -> None:
        """Consume what the topic holds now; with flush (a bounded input's end) emit every open window; checkpoint.

        A flushed job is finished, like Flink's at its end-of-input watermark: it, and a runner restored from its
        checkpoint, count any later event as late.
        """
        while self.step(0.0):
            pass
        if flush:
            closed = self.windows.flush()
            if closed:
                self._publish(closed)
            self._dirty = True
        self.checkpoint()

    def checkpoint(self) -> None:
        """Save the windows with the offsets they cover, then commit those offsets to the group."""
        if self._subscription is None or not self._dirty:
            return
        offsets = dict(self._offsets)
        self.checkpoints.save(self.group, self.source_topic, Checkpoint(offsets, self.windows.snapshot()))
        # After the save: a crash in between leaves the group behind the checkpoint, and the skip covers that.
        for partition, offset in offsets.items():
            self._subscription.commit(Delivery(self.source_topic, partition, offset, "", None))
        self.checkpoints_saved += 1
        self._dirty = False
        self._last_checkpoint = time.monotonic()

    def close(self) -> None:
        """Leave without a checkpoint, as a crash would: the next runner redoes what came after the last one."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    def start(self) -> None:
        """Run the job in a daemon thread until stop()."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"stream-{self.group}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand, checkpoint, and leave."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def offsets(self) -> dict[int, int]:
        """Where the job stands: per partition, the last offset its windows hold."""
        return dict(self._offsets)

    @property
    def alive(self) -> bool:
        """Whether the job's thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        """Step until stopped; on any failure, start again from the last checkpoint."""
        while not self._stop.is_set():
            try:
                self.step(self.poll_timeout_s)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("stream job %r failed; restarting from its last checkpoint", self.group)
                self.close()
                self._stop.wait(1.0)
        try:
            self.checkpoint()
        except Exception:
            log.exception("stream job %r could not checkpoint on stop; the next start redoes the rest", self.group)
        finally:
            self.close()

    def _checkpoint_if_due(self) -> None:
        if self._dirty and time.monotonic() - self._last_checkpoint >= self.checkpoint_interval_s:
            self.checkpoint()

    def _skip_restored(self, rows: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
        """Drop deliveries the restored checkpoint already counted; stop looking once a partition is past it."""
        restored = self._restored
        kept = [row for row in rows if row[1] > restored.get(row[0], -1)]
        for row in kept:
            restored.pop(row[0], None)
        if len(kept) < len(rows):
            log.info("skipped %d event(s) the checkpoint already held", len(rows) - len(kept))
        return kept

    def _parse(self, rows: Sequence[tuple[int, int, bytes]]) -> tuple[list[tuple[str, int]], list[tuple]]:
        """(user_id, event time in ms) of each valid activity event; the rest as (partition, offset, raw, reason)."""
        loads = orjson.loads
        valid_user = _USER_ID.fullmatch
        # Shoppers repeat: a set lookup is cheaper than the pattern for one already checked. Bounded against floods.
        known = self._known_users
        if len(known) > KNOWN_USERS_MAX:
            known.clear()
        activity = USER_ACTIVITY
        pairs: list[tuple[str, int]] = []
        rejected: list[tuple] = []
        for partition, offset, raw in rows:
            try:
                envelope = loads(raw)
                kind = envelope["type"]
                data = envelope["data"]
                user = data["user_id"]
                ts = data["timestamp"]
            except (ValueError, TypeError, KeyError, IndexError):
                rejected.append((partition, offset, raw, "not an activity event envelope"))
                continue
            if kind != activity:
                rejected.append((partition, offset, raw, f"event type {str(kind)[:100]!r} is not {activity}"))
            elif type(ts) is not int or not 0 <= ts <= MAX_TIMESTAMP_S:
                rejected.append((partition, offset, raw, "timestamp must be whole seconds from 0 to 2**40"))
            elif type(user) is str and (user in known or (valid_user(user) is not None and known.add(user) is None)):
                pairs.append((user, ts * 1000))
            else:
                rejected.append((partition, offset, raw, "user_id must be 1-100 of A-Z a-z 0-9 _ . : @ -"))
        return pairs, rejected

    def _publish(self, closed: Sequence[ClosedWindow]) -> None:
        """Publish closed windows, in window_start order, in one batch."""
        self.bus.publish(
            self.results_topic,
            [
                Event(
                    event_id=window_event_id(self.group, self.source_topic, window.window_start),
                    type=WINDOW_COUNTED,
                    key=str(window.window_start),
                    data=window.payload(),
                )
                for window in closed
            ],
        )
        self.published += len(closed)

    def _dead_letter(self, rejected: Sequence[tuple]) -> None:
        """Park malformed events on the topic's dead-letter topic and say so once per batch."""
        parked = [
            Event(
                type="DeadLettered",
                key=f"offset-{offset}",
                data={
                    "raw": bytes(raw).decode("utf-8", errors="replace")[:DEAD_LETTER_RAW_CHARS],
                    "group": self.group,
                    "error": reason,
                    "partition": partition,
                    "offset": offset,
                },
            )
            for partition, offset, raw, reason in rejected
        ]
        self.bus.publish(dead_letter_topic(self.source_topic), parked)
        self.malformed += len(rejected)
        _, first_offset, _, first_reason = rejected[0]
        self.last_error = f"malformed event at offset {first_offset}: {first_reason}"
        log.warning(
            "skipped %d malformed event(s) on %s (first at offset %d: %s); dead-lettered to %s",
            len(rejected),
            self.source_topic,
            first_offset,
            first_reason,
            dead_letter_topic(self.source_topic),
        )
