"""A bounded in-memory queue of events that a thread of its own publishes in batches, so a request never waits on it.

The caller's side never blocks and never raises: an event that finds the queue full is dropped and counted, and so
is a batch the bus refuses. The thread connects to the bus on first use (a bus that cannot be reached at start
costs events, not the storefront), backs off while the bus fails, and at shutdown publishes what is queued within a
bounded time; what is still queued after that is counted as lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from mce.kit.bus.port import EventBus
from mce.kit.events import Event

log = logging.getLogger(__name__)

# An item is an event, or a function that makes one on the publishing thread (work kept off the request, e.g. a
# session lookup); it may return None to publish nothing.
Item = Event | Callable[[], Event | None]

BATCH_MAX = 500
# After the first event of a batch, wait this long for more: at 200 adds a second, publishing each event as it came
# woke the thread and wrote the bus 200 times a second, each pass contending for the GIL with the request loop.
LINGER_S = 0.05
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 10.0
# A bus that keeps failing is logged at most this often; the counter says how much was lost in between.
LOG_EVERY_S = 30.0
QUEUE_FULL, BUS_ERROR, INVALID, SHUTDOWN = "queue_full", "bus_error", "invalid", "shutdown"


class ActivityMetrics:
    """Events published and dropped (by reason), and how many wait, on the service's registry."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.published = Counter(
            "activity_events_published_total", "Activity events published", ["service"], registry=registry
        ).labels(service)
        dropped = Counter(
            "activity_events_dropped_total",
            "Activity events lost: queue_full, bus_error, invalid or shutdown",
            ["service", "reason"],
            registry=registry,
        )
        self.dropped = {
            reason: dropped.labels(service, reason) for reason in (QUEUE_FULL, BUS_ERROR, INVALID, SHUTDOWN)
        }
        self.queued = Gauge(
            "activity_events_queued", "Activity events waiting to be published", ["service"], registry=registry
        )
        self._service = service

    def watch(self, pending: Callable[[], int]) -> None:
        """Report the queue's length when scraped."""
        self.queued.labels(self._service).set_function(pending)


class BackgroundPublisher:
    """Publishes offered events to one topic from a bounded queue, in batches, on a daemon thread."""

    def __init__(
        self,
        connect: Callable[[], EventBus],
        topic: str,
        metrics: ActivityMetrics,
        *,
        max_queued: int,
        batch_max: int = BATCH_MAX,
        linger_s: float = LINGER_S,
        close_bus: bool = True,
    ) -> None:
        self.connect = connect
        self.close_bus = close_bus
        self.topic = topic
        self.metrics = metrics
        self.batch_max = batch_max
        self.linger_s = linger_s
        self.bus: EventBus | None = None
        self._queue: queue.Queue[Item] = queue.Queue(max_queued)
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._last_complaint = -LOG_EVERY_S
        metrics.watch(self._queue.qsize)

    def offer(self, item: Item) -> bool:
        """Queue an item for publishing; False (and counted) when the queue is full or the publisher has stopped."""
        if self._stopping.is_set():
            self.metrics.dropped[SHUTDOWN].inc()
            return False
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.metrics.dropped[QUEUE_FULL].inc()
            return False
        return True

    def start(self) -> None:
        """Start the publishing thread."""
        self._thread = threading.Thread(target=self._run, name=f"publisher-{self.topic}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Publish what is queued for at most `timeout` seconds, then count whatever is left as lost."""
        self._deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout + 0.1)
            if self._thread.is_alive():
                log.warning("the activity publisher did not finish in %.1f s (the bus is stuck); leaving it", timeout)
        lost = self._discard_queued()
        if lost:
            log.warning("%d activity event(s) were still queued at shutdown and are lost", lost)
        if self.close_bus and self.bus is not None and (self._thread is None or not self._thread.is_alive()):
            self.bus.close()

    @property
    def pending(self) -> int:
        """Items waiting to be published."""
        return self._queue.qsize()

    def _run(self) -> None:
        """Take batches off the queue and publish them until stopped and drained (or out of time)."""
        backoff = FIRST_BACKOFF_S
        while True:
            stopping = self._stopping.is_set()
            if stopping and (self._queue.empty() or time.monotonic() >= self._deadline):
                return
            batch = self._take_batch(wait=not stopping)
            if not batch:
                continue
            events = self._materialise(batch)
            if not events:
                continue
            if self._publish(events):
                backoff = FIRST_BACKOFF_S
            elif not stopping:
                # A failing bus is asked again later, not at once: the queue meanwhile overflows and is counted.
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _take_batch(self, *, wait: bool) -> list[Item]:
        """Up to batch_max items: waits a moment for the first one unless stopping, then up to linger_s for more."""
        try:
            first = self._queue.get(timeout=0.25) if wait else self._queue.get_nowait()
        except queue.Empty:
            return []
        if wait and self.linger_s > 0:
            # One sleep, not a wake-up per event that arrives meanwhile; stopping cuts it short.
            self._stopping.wait(self.linger_s)
        batch = [first]
        while len(batch) < self.batch_max:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _materialise(self, batch: list[Item]) -> list[Event]:
        """The events of a batch; a maker that fails is counted as invalid and logged, never fatal."""
        events: list[Event] = []
        for item in batch:
            if isinstance(item, Event):
                events.append(item)
                continue
            try:
                made = item()
            except Exception:
                self.metrics.dropped[INVALID].inc()
                log.exception("could not make an activity event; dropped it")
                continue
            if made is not None:
                events.append(made)
        return events

    def _publish(self, events: list[Event]) -> bool:
        """Publish one batch; a failure drops it and is counted."""
        try:
            if self.bus is None:
                self.bus = self.connect()
            self.bus.publish(self.topic, events)
        except Exception as exc:
            self.metrics.dropped[BUS_ERROR].inc(len(events))
            now = time.monotonic()
            if now - self._last_complaint >= LOG_EVERY_S:
                self._last_complaint = now
                log.warning(
                    "publishing activity to %s failed; dropping events until the bus answers: %s: %s",
                    self.topic,
                    type(exc).__name__,
                    exc,
                )
            return False
        self.metrics.published.inc(len(events))
        return True

    def _discard_queued(self) -> int:
        """Empty the queue, counting each item as lost at shutdown."""
        lost = 0
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            lost += 1
        if lost:
            self.metrics.dropped[SHUTDOWN].inc(lost)
        return lost
