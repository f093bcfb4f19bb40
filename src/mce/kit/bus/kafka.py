"""Kafka EventBus on confluent-kafka: Amazon MSK, or Azure Event Hubs through its Kafka endpoint.

The producer is idempotent with acks=all, so a retried batch is stored once and in order; keys go to partitions by
murmur2 as the Java clients do (Flink and MirrorMaker 2 put a key where we do). Consumers are group members that
commit by hand, per partition, only what their handler finished.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from mce.kit.bus.port import Delivery, EventBus, Subscription
from mce.kit.errors import Unavailable
from mce.kit.events import Event

log = logging.getLogger(__name__)

# Errors that mean the credentials are wrong: waiting will not help, so publish and ping say so at once.
_REFUSED = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED})
# A commit that lost a rebalance: the partition's new owner gets those deliveries again, which the port allows.
_LOST_TO_REBALANCE = frozenset(
    {
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError._ASSIGNMENT_LOST,
        KafkaError._NO_OFFSET,
    }
)
# librdkafka's own log lines (every failed reconnect, for one) go through logging, not straight to stderr.
_librdkafka_log = logging.getLogger(f"{__name__}.librdkafka")
# How long a publish waits for room when librdkafka's queue is full before it counts as the bus being stuck.
_QUEUE_FULL_PAUSE_S = 0.005


@dataclass(frozen=True)
class KafkaConnection:
    """Where the cluster is and how to log in; `name` names the bus in errors (kafka, eventhubs)."""

    name: str
    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)

    def client_config(self) -> dict[str, Any]:
        """The librdkafka settings every client of this cluster shares."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
            # Event Hubs closes idle connections after 240 s; keepalives and a shorter metadata age avoid the resets
            # it would cause, as its Kafka guide recommends.
            "socket.keepalive.enable": True,
            "metadata.max.age.ms": 180_000,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username or ""
            config["sasl.password"] = self.sasl_password or ""
        return config


@dataclass(frozen=True)
class KafkaTuning:
    """Batching, time bounds and topic creation; the defaults suit production, tests shorten the timeouts."""

    linger_ms: float = 5.0
    batch_bytes: int = 1_000_000
    compression: str = "lz4"
    # A publish not stored within this long raises Unavailable (the outbox keeps the events; the relay retries).
    publish_timeout_s: float = 10.0
    ping_timeout_s: float = 1.5
    session_timeout_ms: int = 10_000
    # Topics are created on first use with this many partitions when they do not exist (create_topics=False: never).
    partitions: int = 3
    replication: int = -1
    create_topics: bool = True


def _is_refusal(error: KafkaError | None) -> bool:
    return error is not None and error.code() in _REFUSED


class KafkaEventBus(EventBus):
    """One idempotent producer shared by every publishing thread; a consumer of its own for each subscription."""

    def __init__(self, connection: KafkaConnection, tuning: KafkaTuning | None = None) -> None:
        self.connection = connection
        self.tuning = tuning or KafkaTuning()
        self._refused: str | None = None
        # Set when librdkafka reports every broker down; a publish then checks (within the ping bound) before
        # queueing anything, so it fails fast and leaves nothing behind to be sent later.
        self._brokers_down = False
        self._known_topics: set[str] = set()
        self._topics_lock = threading.Lock()
        self._producer = Producer(self._producer_config())
        self._admin: AdminClient | None = None

    def _producer_config(self) -> dict[str, Any]:
        t = self.tuning
        return {
            **self.connection.client_config(),
            "enable.idempotence": True,
            "acks": "all",
            # The Java clients' partitioner (murmur2 of the key bytes), so every Kafka client agrees on a key's home.
            "partitioner": "murmur2_random",
            "linger.ms": t.linger_ms,
            "batch.size": t.batch_bytes,
            "compression.type": t.compression,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
            # librdkafka gives up on a message after this, so nothing it still holds is retried behind our back.
            "message.timeout.ms": int(t.publish_timeout_s * 1000),
            "error_cb": self._on_error,
            "logger": _librdkafka_log,
        }

    def _on_error(self, error: KafkaError) -> None:
        """Remember refused credentials (waiting will not cure them); the rest is logged by its kind."""
        if _is_refusal(error):
            self._refused = "the bus refused the credentials (SASL authentication failed)"
        elif error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._brokers_down = True
            log.warning("%s: %s", self.connection.name, error.str())
        elif error.code() == KafkaError._TRANSPORT:
            log.debug("%s: %s", self.connection.name, error.str())
        else:
            log.warning("%s: %s", self.connection.name, error.str())

    def _unavailable(self, what: str) -> Unavailable:
        """The error a caller sees: the bus by name and address, never its credentials."""
        c = self.connection
        return Unavailable(f"{c.name} at {c.bootstrap}: {what}", service=c.name)

    def publish(self, topic: str, events: Sequence[Event]) -> None:
        if not events:
            return
        self._producer.poll(0)
        if self._refused or self._brokers_down:
            self.ping()
        self.ensure_topic(topic)
        pending = [len(events)]
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            pending[0] -= 1
            if error is not None:
                failures.append(error)
            else:
                self._brokers_down = False

        producer = self._producer
        deadline = time.monotonic() + self.tuning.publish_timeout_s + 1.0
        for event in events:
            value = event.to_bytes()
            key = event.key.encode()
            while True:
                try:
                    producer.produce(topic, value, key, on_delivery=delivered)
                    break
                except BufferError:
                    # The local queue is full: serve deliveries to make room, within the publish's time.
                    producer.poll(_QUEUE_FULL_PAUSE_S)
                    if time.monotonic() > deadline:
                        raise self._unavailable(f"{pending[0]} events not stored in time (local queue full)") from None
        # flush() serves the delivery reports of every thread's messages, ours among them, and returns early once
        # the queue is empty; poll() alone would wait for its whole timeout when no report is due.
        while pending[0] > 0 and not failures:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._refused:
                break
            producer.flush(min(remaining, 0.1))
        if failures:
            raise self._unavailable(f"{len(failures)} of {len(events)} events not stored: {failures[0].str()}")
        if pending[0] > 0:
            raise self._unavailable(self._refused or f"{pending[0]} of {len(events)} events not stored in time")

    def ensure_topic(self, topic: str) -> None:
        """Create the topic with the configured partitions if it does not exist yet; checked once per process."""
        if topic in self._known_topics or not self.tuning.create_topics:
            return
        with self._topics_lock:
            if topic in self._known_topics:
                return
            admin = self._admin_client()
            try:
                existing = admin.list_topics(topic=None, timeout=self.tuning.ping_timeout_s).topics
            except KafkaException as exc:
                admin.poll(0)
                raise self._unavailable(self._refused or f"no metadata: {exc.args[0].str()}") from None
            if topic not in existing or existing[topic].error is not None:
                self._create(admin, topic)
            self._known_topics.add(topic)

    def _create(self, admin: AdminClient, topic: str) -> None:
        """Create one topic; another process creating it first is fine."""
        new = NewTopic(topic, num_partitions=self.tuning.partitions, replication_factor=self.tuning.replication)
        future = admin.create_topics([new], operation_timeout=self.tuning.publish_timeout_s)[topic]
        try:
            future.result(timeout=self.tuning.publish_timeout_s)
            log.info("created topic %s on %s with %d partitions", topic, self.connection.name, self.tuning.partitions)
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise self._unavailable(f"cannot create topic {topic}: {error.str()}") from None

    def _admin_client(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(
                {**self.connection.client_config(), "error_cb": self._on_error, "logger": _librdkafka_log}
            )
        return self._admin

    def subscribe(self, topic: str, group: str) -> Subscription:
        self.ensure_topic(topic)
        return KafkaSubscription(self, topic, group)

    def ping(self) -> None:
        try:
            # A metadata request to a live broker: cheap, and it fails within the timeout when none answers.
            self._producer.list_topics(timeout=self.tuning.ping_timeout_s)
        except KafkaException as exc:
            self._producer.poll(0)  # serves the error callbacks, which say whether the login was refused
            raise self._unavailable(self._refused or f"no broker answers: {exc.args[0].str()}") from None
        self._brokers_down = False
        self._refused = None

    def close(self) -> None:
        # Whatever is still queued gets a moment; a publish that returned has already been stored.
        self._producer.flush(1.0)

    def consumer_config(self, group: str, topic: str) -> dict[str, Any]:
        """A group member's settings: offsets committed by hand, a new group starting at the oldest kept."""
        return {
            **self.connection.client_config(),
            "group.id": kafka_group(group, topic),
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": self.tuning.session_timeout_ms,
            "heartbeat.interval.ms": max(100, self.tuning.session_timeout_ms // 5),
            # A consumer needs no topic to be created behind its back: ensure_topic made it with our partitions.
            "allow.auto.create.topics": False,
            "error_cb": self._on_error,
            "logger": _librdkafka_log,
        }


def kafka_group(group: str, topic: str) -> str:
    """The Kafka consumer group of one group's subscriptions to one topic.

    The port's unit is a group reading a topic, with offsets of its own (as the embedded log keeps them). One Kafka
    group per pair keeps it so: a member of the group on another topic that is slow to poll, or gone, never holds up
    this topic's rebalances.
    """
    return f"{group}.{topic}"


class KafkaSubscription(Subscription):
    """One consumer group member; a lock keeps the consumer, which is not thread-safe, to one thread at a time."""

    def __init__(self, bus: KafkaEventBus, topic: str, group: str) -> None:
        self.bus = bus
        self.topic = topic
        self.group = group
        self._lock = threading.Lock()
        # The highest offset this member committed per partition, so a late, lower commit never moves a group back.
        self._committed: dict[int, int] = {}
        self._consumer = Consumer(bus.consumer_config(group, topic))
        self._consumer.subscribe([topic])
        self._closed = False

    def _messages(self, max_events: int, timeout: float) -> list[Message]:
        """What is already fetched, else the first to arrive within timeout and what came with it."""
        consumer = self._consumer
        try:
            # consume() waits its whole timeout unless the batch fills: take what is there, then wait for one.
            messages = consumer.consume(max_events, 0)
            if not messages and timeout > 0:
                first = consumer.poll(timeout)
                if first is not None:
                    messages = [first, *consumer.consume(max_events - 1, 0)] if max_events > 1 else [first]
        except KafkaException as exc:
            raise self.bus._unavailable(f"consuming {self.topic}: {exc.args[0].str()}") from None
        kept = []
        for message in messages:
            error = message.error()
            if error is None:
                kept.append(message)
            elif error.fatal() or _is_refusal(error):
                raise self.bus._unavailable(f"consuming {self.topic}: {error.str()}")
            else:
                log.warning("%s: consuming %s: %s", self.bus.connection.name, self.topic, error.str())
        return kept

    def poll(self, max_events: int = 100, timeout: float = 1.0) -> list[Delivery]:
        with self._lock:
            messages = self._messages(max_events, timeout)
        deliveries = []
        for m in messages:
            raw = m.value() or b""
            try:
                event: Event | None = Event.from_bytes(raw)
            except ValueError:
                event = None
            key = m.key()
            deliveries.append(Delivery(self.topic, m.partition(), m.offset(), key.decode() if key else "", event, raw))
        return deliveries

    def poll_raw(self, max_events: int = 100, timeout: float = 1.0) -> list[tuple[int, int, bytes]]:
        with self._lock:
            messages = self._messages(max_events, timeout)
        return [(m.partition(), m.offset(), m.value() or b"") for m in messages]

    def lag(self) -> dict[int, int]:
        # High watermark minus the group's committed offset, for the partitions this member holds now; a partition
        # the group never committed counts from the oldest kept (where auto.offset.reset=earliest starts it).
        timeout = self.bus.tuning.ping_timeout_s
        behind: dict[int, int] = {}
        with self._lock:
            try:
                assigned = self._consumer.assignment()
                if not assigned:
                    return behind
                for tp in self._consumer.committed(assigned, timeout=timeout):
                    low, high = self._consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
                    start = tp.offset if tp.offset >= 0 else low
                    behind[tp.partition] = max(0, high - start)
            except KafkaException as exc:
                raise self.bus._unavailable(f"reading the lag of {self.topic}: {exc.args[0].str()}") from None
        return behind

    def commit(self, delivery: Delivery) -> None:
        next_offset = delivery.offset + 1
        if next_offset <= self._committed.get(delivery.partition, -1):
            return
        with self._lock:
            try:
                self._consumer.commit(
                    offsets=[TopicPartition(self.topic, delivery.partition, next_offset)], asynchronous=False
                )
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.code() in _LOST_TO_REBALANCE:
                    log.info("commit on %s[%d] lost to a rebalance: %s", self.topic, delivery.partition, error.str())
                    return
                raise self.bus._unavailable(f"committing {self.topic}[{delivery.partition}]: {error.str()}") from None
        self._committed[delivery.partition] = next_offset

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("closing a consumer of %s: %s", self.topic, exc)
