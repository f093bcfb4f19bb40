"""The EventBus port, its adapters, and the consumer loop that retries and dead-letters."""

from mce.kit.bus.port import Delivery, EventBus, Subscription

__all__ = ["Delivery", "EventBus", "Subscription"]
