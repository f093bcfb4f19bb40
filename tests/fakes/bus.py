"""Buses that are down: one refuses every publish, one hangs in publish until released."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from mce.kit.bus.port import EventBus, Subscription
from mce.kit.events import Event


class DownBus(EventBus):
    """A bus that cannot be reached: every call raises ConnectionError."""

    def __init__(self) -> None:
        self.attempts = 0

    def publish(self, topic: str, events: Sequence[Event]) -> None:
        self.attempts += 1
        raise ConnectionError("the bus is down")

    def subscribe(self, topic: str, group: str) -> Subscription:
        raise ConnectionError("the bus is down")

    def ping(self) -> None:
        raise ConnectionError("the bus is down")

    def close(self) -> None:
        return None


class StuckBus(DownBus):
    """A bus whose publish hangs until `release()` (then fails), like a broker that stopped answering."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()
        self.entered = threading.Event()

    def publish(self, topic: str, events: Sequence[Event]) -> None:
        self.attempts += 1
        self.entered.set()
        self.released.wait(30)
        raise ConnectionError("the bus stopped answering")

    def release(self) -> None:
        self.released.set()
