"""Prometheus metrics for HTTP traffic, one registry per app so tests can build many apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Buckets tuned for in-cluster calls: most answers take milliseconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


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
