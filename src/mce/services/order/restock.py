"""Stock goes back when an order ends before its parcel left: followed from the order's own events, so it happens.

Checkout releases a failed order's reservation at once, but a release that meets product down was only logged,
and a staff cancel or refund of a paid order released nothing. Both now follow from the `orders` topic: an order
cancelled (from any status) or refunded while still paid has its reservation released at product. The release
applies once per reference, so a redelivered event or checkout's own earlier release changes nothing; while
product is down the consumer retries the event until it answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from mce.kit.errors import Unavailable
from mce.kit.events import Event
from mce.services.order.domain import event_type
from mce.services.order.lifecycle import Status

log = logging.getLogger(__name__)

RESTOCK_GROUP = "order-restock"
CANCELLED, REFUNDED = event_type(Status.CANCELLED), event_type(Status.REFUNDED)
# A refund after shipping gives money back, not goods: what comes back is for staff to count in, by hand.
STOCK_STILL_HERE = frozenset({Status.CREATED.value, Status.PAID.value})


def reservation_to_release(event: Event) -> str | None:
    """The reservation an order event frees: its order's, when the order ended before the parcel left."""
    data = event.data
    if event.type not in (CANCELLED, REFUNDED) or data.get("previous_status") not in STOCK_STILL_HERE:
        return None
    order_id = data.get("order_id")
    if type(order_id) is not int:
        raise ValueError(f"{event.type} {event.event_id} has no order id")
    return f"order-{order_id}"


class Restocker:
    """Releases the reservations of ended orders; called by the kit Consumer in its thread."""

    def __init__(self, release: Callable[[str], Awaitable[None]], loop: asyncio.AbstractEventLoop, timeout_s: float):
        self.release = release
        self.loop = loop
        self.timeout_s = timeout_s
        self.released = 0

    def __call__(self, events: Sequence[Event]) -> None:
        """Release each ended order's reservation, in order; Unavailable (retried) while product does not answer."""
        for event in events:
            reference = reservation_to_release(event)
            if reference is None:
                continue
            # The product client lives on the app's event loop; this thread waits for the call made there.
            future = asyncio.run_coroutine_threadsafe(self.release(reference), self.loop)
            try:
                future.result(self.timeout_s)
            except TimeoutError:
                future.cancel()
                raise Unavailable(f"product did not answer the release of {reference}", service="product") from None
            self.released += 1
            log.info("released reservation %s: order %s", reference, event.data["status"])
