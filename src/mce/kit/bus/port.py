"""EventBus port: named topics, consumer groups with committed offsets, at-least-once delivery."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from mce.kit.events import Event


@dataclass(frozen=True)
class Delivery:
    """One event as read from a topic, with the offset a group commits to move past it.

    `event` is None when the stored bytes are not a valid event; `raw` always holds them, for the dead-letter topic.
    """

    topic: str
    offset: int
    event: Event | None
    raw: bytes = b""


class Subscription(ABC):
    """One consumer of a topic in a consumer group."""

    @abstractmethod
    def poll(self, max_events: int = 100, timeout: float = 1.0) -> list[Delivery]:
        """Next events in topic order after those already polled; waits up to timeout for the first one."""

    @abstractmethod
    def commit(self, delivery: Delivery) -> None:
        """Record that the group has handled this delivery and every earlier one in its topic."""

    @abstractmethod
    def close(self) -> None:
        """Release the subscription; uncommitted deliveries come again to the group's next subscription."""


class EventBus(ABC):
    """A durable, ordered log of events shared by the services."""

    @abstractmethod
    def publish(self, topic: str, events: Sequence[Event]) -> None:
        """Append events to the topic in the given order; returns only once they are stored."""

    @abstractmethod
    def subscribe(self, topic: str, group: str) -> Subscription:
        """Read the topic as a member of the group, from its committed offset or, for a new group, the start."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the bus cannot be reached."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
