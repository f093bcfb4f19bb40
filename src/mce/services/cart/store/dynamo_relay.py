"""DynamoOutboxRelay: publishes the cart's DynamoDB outbox to the bus, then deletes what it published.

A scan finds the event keys that have staged events; a Query per key reads that key's events in sequence order
(a Scan promises no order, and its pages could split one cart's events). Several relays may run at once (one per
replica) without a lease: each publishes what it finds, a key's events always in order, and deletes each item on
condition that it is still there, so at most one counts it. Two relays may publish the same event, which delivery
at least once allows: consumers apply an event once by its event_id, and its first delivery is in order.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from botocore.exceptions import ClientError

from mce.kit.aws import error_code, translated_errors
from mce.kit.bus.port import EventBus
from mce.kit.events import Event
from mce.kit.loop import BackgroundLoop
from mce.kit.outbox import BacklogCount
from mce.services.cart.store.dynamo import WHAT

log = logging.getLogger(__name__)


class DynamoOutboxRelay(BackgroundLoop):
    """Publishes staged events grouped by topic, each key's in order, then deletes them on condition."""

    def __init__(
        self,
        client: Any,
        table: str,
        bus: EventBus,
        *,
        batch: int = 100,
        idle_poll_s: float = 0.5,
        coalesce_s: float = 0.0,
    ) -> None:
        self.client = client
        self.table = table
        self.bus = bus
        self.batch = batch
        self.idle_poll_s = idle_poll_s
        self.coalesce_s = coalesce_s
        self.published = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        # A Scan with Select=COUNT reads the whole table; the outbox keeps only what waits, so it stays small.
        self._backlog = BacklogCount(self.backlog)
        super().__init__("dynamo-outbox-relay")
        self._more = False

    def relay_once(self) -> int:
        """Publish the staged events of one scan page's keys, each key's in order, and delete them; how many."""
        with translated_errors(WHAT):
            # Consistent, so an event committed before this scan began is seen by it.
            page = self.client.scan(
                TableName=self.table, Limit=self.batch, ConsistentRead=True, ProjectionExpression="eventKey"
            )
        self._more = "LastEvaluatedKey" in page
        keys = list(dict.fromkeys(item["eventKey"]["S"] for item in page.get("Items", [])))
        items = [item for key in keys for item in self._staged(key)]
        if not items:
            return 0
        by_topic: dict[str, list[Event]] = {}
        for item in items:
            by_topic.setdefault(item["topic"]["S"], []).append(Event.from_bytes(item["payload"]["B"]))
        for topic, events in by_topic.items():
            self.bus.publish(topic, events)
        # A crash between publish and these deletes publishes again: consumers apply an event once by its id.
        for item in items:
            self._delete(item["eventKey"], item["seq"])
        return len(items)

    def _staged(self, key: str) -> list[dict[str, Any]]:
        """One key's staged events in sequence order (all of them: a key has few)."""
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "eventKey = :key",
            "ExpressionAttributeValues": {":key": {"S": key}},
            "ConsistentRead": True,
        }
        with translated_errors(WHAT):
            while True:
                page = self.client.query(**request)
                found += page.get("Items", [])
                if "LastEvaluatedKey" not in page:
                    return found
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete(self, event_key: dict[str, str], seq: dict[str, str]) -> None:
        """Delete one published item if no other relay did; count it only then."""
        try:
            with translated_errors(WHAT):
                self.client.delete_item(
                    TableName=self.table,
                    Key={"eventKey": event_key, "seq": seq},
                    ConditionExpression="attribute_exists(seq)",
                )
            self.published += 1
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def backlog(self) -> int:
        """How many events wait to be published."""
        with translated_errors(WHAT):
            pages = self.client.get_paginator("scan").paginate(TableName=self.table, Select="COUNT")
            return sum(page["Count"] for page in pages)

    @property
    def pending(self) -> int | None:
        """The backlog as last counted by the relay's thread (None before its first count)."""
        return self._backlog.value

    def wake(self) -> None:
        """Tell the relay that new events were just committed."""
        if not self._wake.is_set():
            self._wake.set()

    def _interrupt(self) -> None:
        self._wake.set()

    def run(self) -> None:
        """Drain the outbox, then sleep until woken or the idle poll comes round."""
        while not self._stop.is_set():
            self._wake.clear()
            try:
                # A last page drained the outbox (a commit meanwhile wakes the relay again).
                while self.relay_once() and self._more and not self._stop.is_set():
                    pass
                self.last_error = None
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("DynamoDB outbox relay failed; will retry")
                self._stop.wait(1.0)
            self._backlog.tick()
            if self._wake.wait(self.idle_poll_s) and self.coalesce_s:
                # Commits that land within the window share one scan and publish instead of one each.
                self._stop.wait(self.coalesce_s)
