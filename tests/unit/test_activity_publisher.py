"""The activity publisher batches what arrives within its linger, and a stop never waits the linger out."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from mce.kit.events import Event
from mce.services.frontend.activity_queue import ActivityMetrics, BackgroundPublisher
from tests.fakes.bus import DownBus


class RecordingBus(DownBus):
    """A bus that keeps each publish call's events, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []
        self.published = threading.Event()

    def publish(self, topic: str, events: Sequence[Event]) -> None:
        self.batches.append([event.key for event in events])
        self.published.set()


def publisher(bus: RecordingBus, linger_s: float) -> BackgroundPublisher:
    metrics = ActivityMetrics(CollectorRegistry(), "frontend")
    return BackgroundPublisher(lambda: bus, "user-events", metrics, max_queued=100, linger_s=linger_s)


def event(key: str) -> Event:
    return Event(type="UserActivity", key=key)


def test_events_offered_within_the_linger_go_out_in_one_publish() -> None:
    bus = RecordingBus()
    running = publisher(bus, linger_s=0.3)
    running.start()
    try:
        for key in ("a", "b", "c"):
            running.offer(event(key))
            time.sleep(0.02)
        assert bus.published.wait(5)
    finally:
        running.stop()
    assert bus.batches == [["a", "b", "c"]]


def test_without_a_linger_each_event_that_finds_the_thread_idle_goes_out_at_once() -> None:
    bus = RecordingBus()
    running = publisher(bus, linger_s=0)
    running.start()
    try:
        running.offer(event("a"))
        assert bus.published.wait(5)
        bus.published.clear()
        running.offer(event("b"))
        assert bus.published.wait(5)
    finally:
        running.stop()
    assert bus.batches == [["a"], ["b"]]


def test_a_stop_publishes_what_is_lingering_without_waiting_the_linger_out() -> None:
    bus = RecordingBus()
    running = publisher(bus, linger_s=30)
    running.start()
    running.offer(event("a"))
    time.sleep(0.1)
    started = time.monotonic()
    running.stop(timeout=5)
    assert time.monotonic() - started < 5
    assert bus.batches == [["a"]]
