"""Publishing synthetic activity: a paced loop on a thread for the service, and a fixed count for the CLI."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from mce.kit.bus.port import EventBus
from mce.kit.contracts import activity_event
from mce.kit.events import Event
from mce.services.events_producer.domain import Pacer, ShopperSimulator

log = logging.getLogger(__name__)

BATCH_MAX = 500
# The loop sleeps at most this long at a time, so stop and rate changes take effect quickly.
MAX_NAP_S = 0.05
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 10.0
LOG_EVERY_S = 30.0
# The CLI must publish exactly N: a failing batch is tried this many times before the command gives up.
COUNT_ATTEMPTS = 5


class ProducerLoop:
    """Publishes the simulator's events at a rate, in batches, on a daemon thread; start, stop and re-rate it."""

    def __init__(
        self,
        bus: EventBus,
        topic: str,
        simulator: ShopperSimulator,
        *,
        rate: float,
        batch_max: int = BATCH_MAX,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.topic = topic
        self.simulator = simulator
        self.rate = rate
        self.batch_max = batch_max
        self.clock = clock
        self.wall = wall
        self.produced = 0
        self.dropped = 0
        self.skipped = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()
        # Held across a whole start or stop: a start waits for a stopping loop to end, so two never share the
        # simulator (a stop followed at once by a start, or concurrent calls to the API).
        self._lifecycle = threading.Lock()
        self._pacer: Pacer | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_complaint = -LOG_EVERY_S

    @property
    def running(self) -> bool:
        """Whether the loop is producing."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, rate: float | None = None) -> None:
        """Produce at the rate (or the current one); a running loop just takes the new rate."""
        with self._lifecycle, self._lock:
            if rate is not None:
                self._set_rate(rate)
            if self.running:
                return
            self._stop = threading.Event()
            self._pacer = Pacer(self.rate, self.clock())
            self._thread = threading.Thread(target=self._run, args=(self._stop,), name="events-producer", daemon=True)
            self._thread.start()
        log.info("producing synthetic activity at %g events/s", self.rate)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop producing and wait for the batch under way."""
        with self._lifecycle:
            with self._lock:
                thread, self._thread = self._thread, None
                self._stop.set()
            if thread is not None:
                thread.join(timeout)
                log.info("stopped producing synthetic activity")

    def set_rate(self, rate: float) -> None:
        """Produce at this rate from now on, running or not."""
        with self._lock:
            self._set_rate(rate)

    def _set_rate(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError("the rate must be above 0")
        self.rate = rate
        if self._pacer is not None:
            self._pacer.set_rate(rate, self.clock())

    def _run(self, stop: threading.Event) -> None:
        """Send what is due, in batches, then nap until the next event is due; back off while the bus fails."""
        backoff = FIRST_BACKOFF_S
        while not stop.is_set():
            with self._lock:
                pacer = self._pacer
                assert pacer is not None
                now = self.clock()
                count = min(pacer.due(now), self.batch_max)
                self.skipped = pacer.skipped
                nap = pacer.wait(now) if count == 0 else 0.0
            if count == 0:
                stop.wait(min(nap, MAX_NAP_S))
                continue
            base_s = int(self.wall())
            events = [activity_event(self.simulator.next(base_s)) for _ in range(count)]
            with self._lock:
                pacer.sent(count)
            if self._publish(events):
                backoff = FIRST_BACKOFF_S
            else:
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _publish(self, events: list[Event]) -> bool:
        """Publish one batch; a failure drops it, counted and logged now and then."""
        try:
            self.bus.publish(self.topic, events)
        except Exception as exc:
            self.dropped += len(events)
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            now = time.monotonic()
            if now - self._last_complaint >= LOG_EVERY_S:
                self._last_complaint = now
                log.warning("publishing synthetic activity failed; dropping until the bus answers: %s", self.last_error)
            return False
        self.produced += len(events)
        self.last_error = None
        return True


@dataclass(frozen=True)
class CountReport:
    """What a --count run did."""

    published: int
    seconds: float

    @property
    def rate(self) -> float:
        """Events published per second of the run."""
        return self.published / self.seconds if self.seconds > 0 else float("inf")


def produce_count(
    bus: EventBus,
    topic: str,
    simulator: ShopperSimulator,
    *,
    count: int,
    start_s: int,
    event_rate: float,
    rate: float = 0.0,
    out: IO[bytes] | None = None,
    batch_max: int = BATCH_MAX,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CountReport:
    """Publish exactly `count` events, paced at `rate` (0: as fast as the bus takes them), each batch also to `out`.

    Event times follow a schedule of their own, not the wall clock, so a seed and a start time give the same events
    on any machine: the i-th is based at start_s + floor(i / event_rate).
    """
    if event_rate <= 0:
        raise ValueError("the event rate must be above 0")
    began = clock()
    published = 0
    while published < count:
        size = min(batch_max, count - published)
        if rate > 0:
            # The schedule of the whole run: a late batch is followed by a bigger one, never by skipping.
            while (due := int((clock() - began) * rate) + 1 - published) <= 0:
                sleep(max(0.0, min(began + published / rate - clock(), MAX_NAP_S)))
            size = min(size, due)
        events = [activity_event(simulator.next(start_s + int((published + i) / event_rate))) for i in range(size)]
        _publish_surely(bus, topic, events, sleep)
        if out is not None:
            out.write(b"".join(event.to_bytes() + b"\n" for event in events))
        published += size
    return CountReport(published, clock() - began)


def _publish_surely(bus: EventBus, topic: str, events: list[Event], sleep: Callable[[float], None]) -> None:
    """Publish a batch, trying again a few times with pauses; the last failure is raised."""
    for attempt in range(1, COUNT_ATTEMPTS + 1):
        try:
            bus.publish(topic, events)
            return
        except Exception as exc:
            if attempt == COUNT_ATTEMPTS:
                raise
            log.warning("publishing a batch failed (attempt %d of %d): %s", attempt, COUNT_ATTEMPTS, exc)
            sleep(FIRST_BACKOFF_S * 2 ** (attempt - 1))
