"""The consumer loop: handle batches, retry failures, dead-letter what still fails, then commit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from mce.kit.bus.port import Delivery, EventBus, Subscription, last_per_partition
from mce.kit.errors import Unavailable
from mce.kit.events import Event
from mce.kit.loop import BackgroundLoop

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[Event]], None]


def dead_letter_topic(topic: str) -> str:
    """Where a topic's unhandleable events go."""
    return f"{topic}.dlq"


MAX_OUTAGE_BACKOFF_S = 5.0
# How often a consumer measures its lag for /metrics (Prometheus scrapes every 10 s in production).
LAG_EVERY_S = 5.0


class Consumer(BackgroundLoop):
    """Feeds a topic to a handler in batches, in order, at least once; poison events go to the DLQ.

    A handler raising Unavailable means its backend is down, not that the event is bad: the batch is retried
    until the backend is back, and nothing is dead-lettered for it.
    """

    def __init__(
        self,
        bus: EventBus,
        topic: str,
        group: str,
        handle: BatchHandler,
        *,
        max_batch: int = 500,
        max_attempts: int = 4,
        backoff_s: float = 0.1,
        linger_s: float = 0.0,
    ) -> None:
        self.bus = bus
        self.topic = topic
        self.group = group
        self.handle = handle
        self.max_batch = max_batch
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.linger_s = linger_s
        self.handled = 0
        self.dead_lettered = 0
        # Partition -> events not yet committed, as last measured; read by the metrics collector.
        self.lag: dict[int, int] = {}
        self.last_error: str | None = None
        super().__init__(f"consumer-{group}-{topic}")

    def run(self) -> None:
        """Poll, handle, commit, until stopped; a broken bus is retried, never fatal."""
        subscription = None
        next_lag = 0.0
        while not self._stop.is_set():
            try:
                if subscription is None:
                    subscription = self.bus.subscribe(self.topic, self.group)
                deliveries = subscription.poll(self.max_batch, timeout=0.5)
                if deliveries and len(deliveries) < self.max_batch and self.linger_s:
                    # Events trickling in one by one would each cost the handler a whole batch (a search index
                    # commit each); waiting a moment for the rest of the trickle makes one batch of them.
                    self._stop.wait(self.linger_s)
                    deliveries += subscription.poll(self.max_batch - len(deliveries), timeout=0)
                if deliveries:
                    # Commit only after handling: a crash in between delivers the batch again (at least once).
                    self._handle_batch(deliveries)
                    for delivery in last_per_partition(deliveries):
                        subscription.commit(delivery)
                if time.monotonic() >= next_lag:
                    next_lag = time.monotonic() + LAG_EVERY_S
                    self._measure_lag(subscription)
            except Exception as exc:
                # The uncommitted batch comes again once the bus answers.
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("consumer %s on %s failed; retrying", self.group, self.topic)
                if subscription is not None:
                    subscription.close()
                    subscription = None
                self._stop.wait(1.0)
        if subscription is not None:
            subscription.close()

    def _measure_lag(self, subscription: Subscription) -> None:
        """Refresh the lag; a bus that cannot say now keeps the last figure, and consuming goes on regardless."""
        try:
            self.lag = subscription.lag()
        except Exception as exc:
            log.warning("could not read the lag of %s on %s: %s", self.group, self.topic, exc)

    def _handle_batch(self, deliveries: Sequence[Delivery]) -> None:
        """Handle the batch whole, or else one event at a time so only the poison one is dead-lettered."""
        for delivery in deliveries:
            if delivery.event is None:
                self._dead_letter_raw(delivery)
        events = [d.event for d in deliveries if d.event is not None]
        if not events:
            return
        if self._attempt(events, attempts=self.max_attempts if len(events) == 1 else 2):
            self.handled += len(events)
            return
        for event in events:
            if self._attempt([event], attempts=self.max_attempts):
                self.handled += 1
            else:
                self._dead_letter(event)

    def _attempt(self, events: Sequence[Event], *, attempts: int) -> bool:
        """Try the handler up to attempts times with growing pauses; True when it succeeded."""
        attempt = 0
        outage_pause = self.backoff_s
        while attempt < attempts:
            try:
                self.handle(events)
                return True
            except Unavailable as exc:
                # An outage is not the event's fault: wait it out without using up attempts.
                self.last_error = f"Unavailable: {exc.message}"
                log.warning("backend unavailable while handling %s; retrying: %s", self.topic, exc.message)
                if self._stop.wait(outage_pause):
                    raise
                outage_pause = min(outage_pause * 2, MAX_OUTAGE_BACKOFF_S)
                continue
            except Exception as exc:
                attempt += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "handling %d event(s) from %s failed (attempt %d/%d): %s",
                    len(events),
                    self.topic,
                    attempt,
                    attempts,
                    self.last_error,
                )
                if attempt < attempts:
                    time.sleep(self.backoff_s * 2 ** (attempt - 1))
        return False

    def _dead_letter_raw(self, delivery: Delivery) -> None:
        """Park bytes that are not an event at all."""
        self.last_error = "not a valid event envelope"
        parked = Event(
            type="DeadLettered",
            key=delivery.key or f"offset-{delivery.offset}",
            data={"raw": delivery.raw.decode("utf-8", errors="replace"), "group": self.group, "error": self.last_error},
        )
        self.bus.publish(dead_letter_topic(self.topic), [parked])
        self.dead_lettered += 1
        log.error(
            "dead-lettered a malformed message at partition %d offset %d of %s",
            delivery.partition,
            delivery.offset,
            self.topic,
        )

    def _dead_letter(self, event: Event) -> None:
        """Park an event that keeps failing, with the reason, and say so in the log."""
        parked = Event(
            type="DeadLettered",
            key=event.key,
            data={"event": event.model_dump(mode="json"), "group": self.group, "error": self.last_error},
        )
        self.bus.publish(dead_letter_topic(self.topic), [parked])
        self.dead_lettered += 1
        log.error(
            "dead-lettered event %s (%s) from %s to %s: %s",
            event.event_id,
            event.type,
            self.topic,
            dead_letter_topic(self.topic),
            self.last_error,
        )
