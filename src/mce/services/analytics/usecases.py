"""Use cases of the analytics consumer, shared by the service and the Azure Function: store results, read windows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from mce.kit.events import Event
from mce.services.analytics.domain import (
    MalformedWindow,
    WindowRecord,
    event_from_message,
    window_from_event,
)
from mce.services.analytics.store.port import Outcome, WindowStore

log = logging.getLogger(__name__)

# One group whichever runs it (the service or the function): the windows they write are the same effect.
GROUP = "analytics"
MESSAGE_LOGGED_MAX = 500


@dataclass
class Tally:
    """What a batch of results did."""

    outcomes: list[Outcome] = field(default_factory=list)
    ignored: int = 0  # events of another type
    malformed: int = 0  # messages that were not storable windows (the function only; the service dead-letters them)

    def count(self, outcome: Outcome) -> int:
        """How many results had this outcome."""
        return self.outcomes.count(outcome)


def record_results(store: WindowStore, events: Sequence[Event], *, group: str = GROUP) -> Tally:
    """Store the windows the events carry, all or none; MalformedWindow names the first that cannot be stored."""
    tally = Tally()
    windows = []
    for event in events:
        window = window_from_event(event)
        if window is None:
            # Another type of event on the topic is not ours to judge: skip it, as a newer consumer would use it.
            log.warning("skipped event %s of type %r: not a window result", event.event_id, event.type)
            tally.ignored += 1
        else:
            windows.append(window)
    tally.outcomes = store.apply(group, windows)
    return tally


def record_messages(store: WindowStore, bodies: Sequence[bytes], *, group: str = GROUP) -> Tally:
    """Store the windows in raw messages (Event Hubs bodies); a malformed one is logged with its reason and skipped.

    Event Hubs has no dead-letter queue and a failed batch would come again with the same poison message, so the
    message goes to the log (Application Insights keeps it) and the rest of the batch is stored.
    """
    events = []
    malformed = 0
    for body in bodies:
        try:
            event = event_from_message(body)
            window_from_event(event)
        except MalformedWindow as exc:
            malformed += 1
            text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
            log.error("skipped a malformed result: %s; message: %s", exc.message, text[:MESSAGE_LOGGED_MAX])
            continue
        events.append(event)
    tally = record_results(store, events, group=group)
    tally.malformed = malformed
    return tally


def recent_windows(store: WindowStore, *, limit: int) -> list[WindowRecord]:
    """The newest `limit` windows, newest first."""
    return store.recent(limit)


def purge_old_windows(store: WindowStore, *, retention: timedelta) -> int:
    """Forget windows stored longer ago than `retention`, and inbox entries as old; how many windows went.

    Retention counts from when a window was stored, not from its event time: in production the two differ by
    seconds, and a replay of old events (a backfill, the test vectors) is then kept as long as fresh windows.
    """
    return store.purge(retention)
