"""Prometheus figures of the analytics service: the last closed window and the results it stored."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from mce.services.analytics.domain import WindowRecord
from mce.services.analytics.store.port import Outcome
from mce.services.analytics.usecases import Tally


class WindowMetrics:
    """Gauges of the newest stored window (absent until there is one) and counters of what results did."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        labels = ["service"]
        self.unique_users = Gauge(
            "analytics_last_window_unique_users", "Distinct users in the last closed window", labels, registry=registry
        )
        self.events = Gauge(
            "analytics_last_window_events", "Events in the last closed window", labels, registry=registry
        )
        self.window_end = Gauge(
            "analytics_last_window_end_seconds",
            "End of the last closed window, in seconds since the epoch",
            labels,
            registry=registry,
        )
        self.stored = Counter(
            "analytics_windows_stored_total",
            "Windows stored: new ones, and newer copies that replaced a stored one",
            ["service", "outcome"],
            registry=registry,
        )
        self.skipped = Counter(
            "analytics_results_skipped_total",
            "Results that changed nothing: redelivered, older than the stored copy, or of another type",
            ["service", "reason"],
            registry=registry,
        )

    def count(self, tally: Tally) -> None:
        """Count what a batch did."""
        for outcome in (Outcome.NEW, Outcome.REPLACED):
            if n := tally.count(outcome):
                self.stored.labels(self.service, outcome.value).inc(n)
        for outcome in (Outcome.STALE, Outcome.DUPLICATE):
            if n := tally.count(outcome):
                self.skipped.labels(self.service, outcome.value).inc(n)
        if tally.ignored:
            self.skipped.labels(self.service, "other_type").inc(tally.ignored)

    def show_latest(self, window: WindowRecord | None) -> None:
        """Set the gauges to the newest stored window."""
        if window is None:
            return
        self.unique_users.labels(self.service).set(window.unique_users)
        self.events.labels(self.service).set(window.event_count)
        self.window_end.labels(self.service).set(window.window_end / 1000)
