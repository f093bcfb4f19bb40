"""Prometheus figures of the order service: checkouts by outcome and order status changes."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter

# The outcomes a dashboard plots; others (a code of a rarer failure) appear when they first happen.
KNOWN_OUTCOMES = ("paid", "out_of_stock", "payment_declined", "unavailable", "invalid", "replayed")


class OrderMetrics:
    """Counts checkouts by how they ended and every move of an order from one status to the next."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.checkouts = Counter(
            "order_checkouts_total",
            "Checkouts answered, by outcome: paid, or the error code (a replayed key's answer is 'replayed')",
            ["service", "outcome"],
            registry=registry,
        )
        self.status_changes = Counter(
            "order_status_changes_total",
            "Orders that reached a status, by the status they left ('none' for a new order) and the one reached",
            ["service", "from_status", "to_status"],
            registry=registry,
        )
        # Series that exist from the start, at 0, so rates and ratios are defined before the first of each.
        for outcome in KNOWN_OUTCOMES:
            self.checkouts.labels(service, outcome)

    def checkout(self, outcome: str) -> None:
        """Count one answered checkout."""
        self.checkouts.labels(self.service, outcome).inc()

    def moved(self, moves: Sequence[tuple[str | None, str]]) -> None:
        """Count status changes a unit of work committed."""
        for from_status, to_status in moves:
            self.status_changes.labels(self.service, from_status or "none", to_status).inc()
