"""Prometheus metrics, one registry per app so tests can build many apps: HTTP traffic, and the consumers' and
outbox relays' figures, read from them at each scrape (they measure their own lag and backlog in their threads)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

# Buckets tuned for in-cluster calls: most answers take milliseconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WatchedConsumer(Protocol):
    """What a bus consumer tells: its group and topic, what it handled and dead-lettered, its lag per partition."""

    group: str
    topic: str
    handled: int
    dead_lettered: int
    lag: dict[int, int]


class WatchedRelay(Protocol):
    """What an outbox relay tells: events published, and events waiting (None until first counted)."""

    published: int

    @property
    def pending(self) -> int | None: ...


class BackgroundCollector(Collector):
    """The consumers' and relays' figures, as they were last measured by their own threads."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.consumers: list[WatchedConsumer] = []
        self.relays: list[WatchedRelay] = []

    def collect(self) -> Iterator[Metric]:
        service = self.service
        if self.consumers:
            lag = GaugeMetricFamily(
                "bus_consumer_lag",
                "Events of a partition the group has not committed yet: log end minus committed offset",
                labels=["service", "group", "topic", "partition"],
            )
            handled = CounterMetricFamily(
                "bus_events_handled", "Events a consumer handled", labels=["service", "group", "topic"]
            )
            dead = CounterMetricFamily(
                "bus_events_dead_lettered",
                "Events a consumer could not handle and parked on the topic's .dlq",
                labels=["service", "group", "topic"],
            )
            for consumer in self.consumers:
                names = [service, consumer.group, consumer.topic]
                for partition, behind in sorted(consumer.lag.items()):
                    lag.add_metric([*names, str(partition)], behind)
                handled.add_metric(names, consumer.handled)
                dead.add_metric(names, consumer.dead_lettered)
            yield from (lag, handled, dead)
        if self.relays:
            backlog = GaugeMetricFamily(
                "outbox_backlog", "Events written to the outbox and not yet published", labels=["service"]
            )
            published = CounterMetricFamily(
                "outbox_events_published", "Events the outbox relay published", labels=["service"]
            )
            pending = [relay.pending for relay in self.relays]
            if any(count is not None for count in pending):
                backlog.add_metric([service], max(count for count in pending if count is not None))
            published.add_metric([service], sum(relay.published for relay in self.relays))
            yield from (backlog, published)


class HttpMetrics:
    """Request count and latency by service, route template, method and status."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        labels = ("service", "route", "method", "status")
        self.requests = Counter("http_requests_total", "HTTP requests served", labels, registry=self.registry)
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to serve an HTTP request",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.background = BackgroundCollector(service)
        self.registry.register(self.background)

    def watch_consumer(self, consumer: WatchedConsumer) -> None:
        """Export a bus consumer's lag, handled and dead-lettered events; call from the lifespan that starts it."""
        self.background.consumers.append(consumer)

    def watch_outbox(self, relay: WatchedRelay) -> None:
        """Export an outbox relay's backlog and published events; call from the lifespan that starts it."""
        self.background.relays.append(relay)

    def forget_background(self) -> None:
        """Stop exporting the last run's consumers and relays (each start of the app watches its own)."""
        self.background.consumers.clear()
        self.background.relays.clear()

    def watch_shedding(self, shedder: object) -> None:
        """Export the load shedder's state: requests in flight, event-loop lag, and a count of requests refused."""
        labels = ["service"]
        in_flight = Gauge("http_requests_in_flight", "Requests being handled", labels, registry=self.registry)
        in_flight.labels(self.service).set_function(lambda: shedder.in_flight)
        lag = Gauge(
            "event_loop_lag_seconds", "How late the event loop last ran a timer", labels, registry=self.registry
        )
        lag.labels(self.service).set_function(lambda: shedder.lag_s)
        self._shed = Counter(
            "http_requests_shed_total", "Requests refused to shed load", labels, registry=self.registry
        )

    def count_shed(self) -> None:
        """Count one request refused to shed load."""
        self._shed.labels(self.service).inc()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Record one served request."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            values = (self.service, route, method, str(status))
            children = (self.requests.labels(*values), self.duration.labels(*values))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
