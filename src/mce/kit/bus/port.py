"""EventBus port: named topics split into partitions, consumer groups with committed offsets, at-least-once delivery.

Events with the same key land in the same partition, so one key's events are delivered in the order published;
events of different keys may arrive in any order. A group commits per partition. Members of one group may split
the partitions between them (Kafka) or each read all of them (the embedded log, which has one partition and no
assignment): either way a consumer must apply each event once by its id.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from mce.kit.events import Event


@dataclass(frozen=True)
class Delivery:
    """One event as read from a topic: where it sits (partition, offset) and its key.

    `event` is None when the stored bytes are not a valid event; `raw` always holds them, for the dead-letter topic.
    """

    topic: str
    partition: int
    offset: int
    key: str
    event: Event | None
    raw: bytes = b""


class Subscription(ABC):
    """One member of a consumer group reading a topic."""

    @abstractmethod
    def poll(self, max_events: int = 100, timeout: float = 1.0) -> list[Delivery]:
        """Next events after those already polled, in order within each partition; waits up to timeout for one."""

    def poll_raw(self, max_events: int = 100, timeout: float = 1.0) -> list[tuple[int, int, bytes]]:
        """As poll, unparsed: (partition, offset, stored bytes) of each, for a consumer that reads only a few fields.

        Commit one with a Delivery of its partition and offset. Adapters whose parse is costly override this.
        """
        return [(d.partition, d.offset, d.raw) for d in self.poll(max_events, timeout)]

    def lag(self) -> dict[int, int]:
        """Events of each partition this member reads that its group has not committed yet (log end minus committed).

        For metrics, asked now and then from the consumer's own thread; an adapter that cannot tell returns {}.
        """
        return {}

    @abstractmethod
    def commit(self, delivery: Delivery) -> None:
        """Record that the group has handled this delivery and every earlier one in its partition."""

    @abstractmethod
    def close(self) -> None:
        """Release the subscription; uncommitted deliveries come again to the group's next subscription."""


def last_per_partition(deliveries: Sequence[Delivery]) -> list[Delivery]:
    """The last delivery of each partition in a batch: what a consumer commits once the batch is handled."""
    last: dict[int, Delivery] = {}
    for delivery in deliveries:
        last[delivery.partition] = delivery
    return list(last.values())


class EventBus(ABC):
    """A durable, partitioned log of events shared by the services."""

    @abstractmethod
    def publish(self, topic: str, events: Sequence[Event]) -> None:
        """Append events to the topic, each to its key's partition, in the given order; returns once they are stored."""

    @abstractmethod
    def subscribe(self, topic: str, group: str) -> Subscription:
        """Read the topic as a member of the group from its committed offsets; a new group starts at the oldest kept."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the bus cannot be reached."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
