"""Carts on DynamoDB: one item per cart keyed by cartId, written on condition of its version attribute.

A write and its events commit together: TransactWriteItems puts the cart and one outbox item per event, and
DynamoOutboxRelay (store/dynamo_relay.py) publishes the outbox. Numbers come back from boto3 as Decimal, never
float, so money stays exact.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from mce.kit.aws import error_code, translated_errors
from mce.kit.errors import Unavailable, problem
from mce.kit.events import Event
from mce.kit.money import CENTS
from mce.services.cart.domain import CARTS_TOPIC, Cart, CartLine, StaleVersion
from mce.services.cart.store.port import CartStore

log = logging.getLogger(__name__)

WHAT = "cart table"
# The cancellation reasons of a transaction that lost a race, not one the table could not take.
_LOST_RACE = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_THROTTLED = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def _stale(cart_id: str, expected_version: int | None) -> StaleVersion:
    """What a lost race answers with; the use cases read again and retry on it (and on nothing else)."""
    if expected_version is None:
        message = f"cart {cart_id} already exists"
    else:
        message = f"cart {cart_id} changed since version {expected_version} was read"
    return StaleVersion(message, details=[problem("version", "stale; read the cart again")])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cart_item(cart: Cart) -> dict[str, Any]:
    """The cart as the design's data model keeps it: cartId, userId, items, total, updatedAt, and its version."""
    item: dict[str, Any] = {
        "cartId": cart.cart_id,
        "items": [
            {"productId": line.product_id, "name": line.name, "quantity": line.quantity, "price": line.price}
            for line in cart.items
        ],
        "total": cart.total,
        "version": cart.version,
    }
    if cart.user_id is not None:
        item["userId"] = cart.user_id
    if cart.updated_at is not None:
        item["updatedAt"] = _iso(cart.updated_at)
    return {name: _serialize(value) for name, value in item.items()}


def cart_from_item(attributes: dict[str, Any]) -> Cart:
    """A cart from its item; prices as exact cents (DynamoDB keeps 0.10 as 0.1), the total computed again."""
    item = {name: _deserialize(value) for name, value in attributes.items()}
    updated = item.get("updatedAt")
    return Cart(
        cart_id=str(item["cartId"]),
        items=tuple(
            CartLine(
                int(line["productId"]), str(line["name"]), int(line["quantity"]), Decimal(line["price"]).quantize(CENTS)
            )
            for line in item.get("items", [])
        ),
        user_id=item.get("userId"),
        updated_at=None if updated is None else datetime.fromisoformat(updated),
        version=int(item["version"]),
    )


def outbox_item(topic: str, event: Event) -> dict[str, Any]:
    """One staged event, keyed by its event key and a sequence that orders one key's events (time, then id)."""
    return {
        "eventKey": {"S": event.key},
        # Nanoseconds first: a cart's next write starts after its previous one committed, so on clocks kept in step
        # (NTP, Amazon Time Sync) the sequence follows the cart's versions; the event id makes it unique.
        "seq": {"S": f"{time.time_ns():020d}#{event.event_id}"},
        "eventId": {"S": event.event_id},
        "topic": {"S": topic},
        "payload": {"B": event.to_bytes()},
    }


def _lost_race(exc: ClientError) -> bool:
    """Whether a conditional write or a transaction failed on a condition or another transaction, not on the table."""
    code = error_code(exc)
    if code == "ConditionalCheckFailedException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])]
    if not reasons:
        # Some endpoints name the reasons only in the message: "... reasons [None, ConditionalCheckFailed]".
        message = str(exc.response.get("Error", {}).get("Message", ""))
        return any(reason in message for reason in _LOST_RACE)
    return any(reason in _LOST_RACE for reason in reasons) and all(r in _LOST_RACE or r == "None" for r in reasons)


def _throttled(exc: ClientError) -> bool:
    """Whether a transaction was cancelled because the table was throttled: a later try can succeed."""
    if error_code(exc) != "TransactionCanceledException":
        return False
    reasons = {reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])}
    return bool(reasons & _THROTTLED)


class DynamoCartStore(CartStore):
    """Each write is one conditional PutItem/DeleteItem, or a transaction of those and the events' outbox items."""

    def __init__(self, client: Any, table: str, outbox_table: str, *, on_commit: Callable[[], None] = lambda: None):
        self.client = client
        self.table = table
        self.outbox_table = outbox_table
        self.on_commit = on_commit

    def get(self, cart_id: str) -> Cart | None:
        # Strongly consistent: a read-modify-write must start from the last committed version.
        with translated_errors(WHAT):
            answer = self.client.get_item(TableName=self.table, Key={"cartId": {"S": cart_id}}, ConsistentRead=True)
        item = answer.get("Item")
        return None if item is None else cart_from_item(item)

    def save(self, cart: Cart, *, expected_version: int | None, events: Sequence[Event] = ()) -> Cart:
        stored, put = self._put(cart, expected_version)
        self._write([put], events, lambda: _stale(cart.cart_id, expected_version))
        return stored

    def delete(self, cart_id: str, *, expected_version: int, events: Sequence[Event] = ()) -> None:
        self._write([self._delete(cart_id, expected_version)], events, lambda: _stale(cart_id, expected_version))

    def save_merged(
        self,
        cart: Cart,
        *,
        expected_version: int | None,
        absorbed_id: str,
        absorbed_version: int,
        events: Sequence[Event],
    ) -> Cart:
        stored, put = self._put(cart, expected_version)
        removal = self._delete(absorbed_id, absorbed_version)
        self._write([put, removal], events, lambda: _stale(cart.cart_id, expected_version))
        return stored

    def ping(self) -> None:
        """Raise unless both tables exist and are active (Terraform makes them in production)."""
        with translated_errors(WHAT):
            for name in (self.table, self.outbox_table):
                status = self.client.describe_table(TableName=name)["Table"]["TableStatus"]
                if status not in ("ACTIVE", "UPDATING"):
                    raise Unavailable(f"table {name} is {status}", service=WHAT)

    def _put(self, cart: Cart, expected_version: int | None) -> tuple[Cart, dict[str, Any]]:
        """The conditional put of the cart at its next version: new if none was read, else on the version read."""
        stored = replace(cart, version=1 if expected_version is None else expected_version + 1)
        put: dict[str, Any] = {"TableName": self.table, "Item": cart_item(stored)}
        if expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(cartId)"
        else:
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
        return stored, {"Put": put}

    def _delete(self, cart_id: str, expected_version: int) -> dict[str, Any]:
        """The conditional delete of a cart at the version read; a missing cart fails the condition too."""
        return {
            "Delete": {
                "TableName": self.table,
                "Key": {"cartId": {"S": cart_id}},
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        }

    def _write(self, writes: list[dict[str, Any]], events: Sequence[Event], stale: Callable[[], StaleVersion]) -> None:
        """One conditional write alone, or a transaction of the writes and the events' outbox puts."""
        staged = [
            {
                "Put": {
                    "TableName": self.outbox_table,
                    "Item": outbox_item(CARTS_TOPIC, event),
                    "ConditionExpression": "attribute_not_exists(seq)",
                }
            }
            for event in events
        ]
        try:
            with translated_errors(WHAT):
                if len(writes) == 1 and not staged:
                    ((kind, request),) = writes[0].items()
                    (self.client.put_item if kind == "Put" else self.client.delete_item)(**request)
                else:
                    self.client.transact_write_items(TransactItems=[*writes, *staged])
        except ClientError as exc:
            if _lost_race(exc):
                raise stale() from None
            if _throttled(exc):
                raise Unavailable(f"{WHAT} is unavailable: throttled", service=WHAT) from exc
            raise
        if events:
            self.on_commit()


# Each table's key: the carts by cartId; the outbox by event key, sorted by sequence so a Query reads one key in order.
_KEYS = {
    "carts": [("cartId", "HASH")],
    "outbox": [("eventKey", "HASH"), ("seq", "RANGE")],
}


def ensure_tables(client: Any, table: str, outbox_table: str, *, wait_s: float = 30.0) -> None:
    """Create the cart and outbox tables if missing (local mode only); safe when several processes start at once."""
    for name, keys in ((table, _KEYS["carts"]), (outbox_table, _KEYS["outbox"])):
        with translated_errors(WHAT):
            try:
                client.create_table(
                    TableName=name,
                    KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
                    AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
                    BillingMode="PAY_PER_REQUEST",
                )
                log.info("created DynamoDB table %s", name)
            except ClientError as exc:
                # Another process made it first, or it was there already: both are what we wanted.
                if error_code(exc) != "ResourceInUseException":
                    raise
            client.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": max(1, int(wait_s))}
            )
