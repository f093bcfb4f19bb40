"""Windows on Azure Table storage, the analytics Function's store in production: an entity per window, its inbox beside.

Keys: a window lives in the partition of its day and an inbox entry in the partition of the window it brought, so a
step's inbox entries and window writes commit in one entity group transaction. Both keys are inverted
(`DAYS_MAX - day`, `WINDOW_TIME_MAX_MS - start`), zero-padded, so the table's own order (PartitionKey, then RowKey)
is newest first and the latest windows are the first rows a query returns. Inbox rows (`z:`) sort after a day's
windows (`w:`), so reading the newest windows never walks over them.

Concurrent writers (Function instances, replicas) read, decide, and write with the ETags they read: a window is
created only if absent and replaced only if unchanged since read, and an inbox entry only created; a writer that
loses a race reads again and decides again, so the newest `(occurred_at, event_id)` copy is the one left.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import EdmType, EntityProperty, TableClient, TableServiceClient, UpdateMode

from mce.kit.errors import Unavailable
from mce.services.analytics.domain import WINDOW_TIME_MAX_MS, WindowRecord
from mce.services.analytics.store.port import Outcome, WindowStore

log = logging.getLogger(__name__)

WHAT = "analytics table storage"
TABLE_DEFAULT = "analyticswindows"
DAY_MS = 86_400_000
DAYS_MAX = WINDOW_TIME_MAX_MS // DAY_MS + 1
WINDOW_ROW = "w:"
INBOX_ROW = "z:"
# An entity group transaction holds at most 100 operations: 50 results give at most 50 inbox entries and 50 windows.
STEP_MAX = 50
# Azure Table storage allows 15 comparisons in a filter: the partition and 14 row keys.
KEYS_PER_READ = 14
RACES_MAX = 40
# Fail fast when storage is down (the Function's retry policy and the runner try the batch again), not after minutes.
CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 2,
    "retry_backoff_factor": 0.2,
    "connection_timeout": 3,
    "read_timeout": 20,
}
_WINDOW_FIELDS = ["WindowStart", "WindowEnd", "UniqueUsers", "EventCount", "EventId", "OccurredAtUs"]


def partition_of(window_start: int) -> str:
    """The window's day, inverted and zero-padded so later days sort first."""
    return f"{DAYS_MAX - window_start // DAY_MS:08d}"


def window_row(window_start: int) -> str:
    """The window's start, inverted and zero-padded so later windows sort first in their day."""
    return f"{WINDOW_ROW}{WINDOW_TIME_MAX_MS - window_start:016d}"


def inbox_row(group: str, event_id: str) -> str:
    """The inbox key of (group, event id), percent-encoded: keys may not hold '/', '\\', '#', '?' or controls."""
    return f"{INBOX_ROW}{quote(group, safe='')}|{quote(event_id, safe='')}"


def _int64(value: int) -> EntityProperty:
    return EntityProperty(value, EdmType.INT64)


def _window_entity(window: WindowRecord, revision: int, stored_at: datetime) -> dict[str, Any]:
    return {
        "PartitionKey": partition_of(window.window_start),
        "RowKey": window_row(window.window_start),
        "WindowStart": _int64(window.window_start),
        "WindowEnd": _int64(window.window_end),
        "UniqueUsers": _int64(window.unique_users),
        "EventCount": _int64(window.event_count),
        "EventId": window.event_id,
        "OccurredAtUs": _int64(window.occurred_at_us),
        # How many copies have been kept: 1, then one more per correction (as the SQL store's column).
        "Revision": revision,
        # Retention counts from when a copy was stored, as in the SQL store.
        "StoredAt": stored_at,
    }


def _int(value: Any) -> int:
    """A whole number as read: the SDK hands Edm.Int64 back wrapped in an EntityProperty."""
    return int(value.value if isinstance(value, EntityProperty) else value)


def _record(entity: dict[str, Any]) -> WindowRecord:
    numbers = [_int(entity[name]) for name in _WINDOW_FIELDS[:4]]
    return WindowRecord(*numbers, event_id=entity["EventId"], occurred_at_us=_int(entity["OccurredAtUs"]))


@contextmanager
def translated_errors(what: str = WHAT) -> Iterator[None]:
    """Storage that cannot be reached, refuses our key or answers 5xx becomes Unavailable, naming it."""
    try:
        yield
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise Unavailable(f"{what} is unavailable: {type(exc).__name__}", service=what) from exc
    except HttpResponseError as exc:
        status = exc.status_code or 0
        if status >= 500 or status in (401, 403, 408, 429):
            raise Unavailable(f"{what} is unavailable: HTTP {status} {exc.reason or ''}".strip(), service=what) from exc
        raise


@dataclass
class _Kept:
    """A window as this step sees it: the copy, its revision, and the ETag it was read with (None: not stored)."""

    window: WindowRecord
    revision: int
    etag: str | None
    changed: bool = False


class _Lost(Exception):
    """Another writer changed what this step read; read again."""


class TableWindowStore(WindowStore):
    """A batch is applied in steps of up to 50 results of one day, each one entity group transaction.

    Table storage has no transaction across partitions, so a batch that spans days (or holds more than 50 results)
    commits step by step: if it fails midway the committed steps stay, and its redelivery finds their events in the
    inbox. The effect is the one promised (each result once, the newest copy kept), but not all-or-nothing.
    """

    def __init__(self, table: TableClient) -> None:
        self.table = table

    @classmethod
    def connect(
        cls, connection_string: str, table_name: str = TABLE_DEFAULT, *, create: bool = True
    ) -> TableWindowStore:
        """The store on this account's table, made first when `create` and absent."""
        with translated_errors(WHAT):
            service = TableServiceClient.from_connection_string(connection_string, **CLIENT_OPTIONS)
            if create:
                service.create_table_if_not_exists(table_name)
            return cls(service.get_table_client(table_name))

    def apply(self, group: str, windows: Sequence[WindowRecord]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(windows)
        by_day: dict[str, list[int]] = {}
        for index, window in enumerate(windows):
            by_day.setdefault(partition_of(window.window_start), []).append(index)
        with translated_errors(WHAT):
            for day, indices in by_day.items():
                for start in range(0, len(indices), STEP_MAX):
                    self._apply_step(group, day, windows, indices[start : start + STEP_MAX], outcomes)
        return [outcome for outcome in outcomes if outcome is not None]

    def _apply_step(
        self, group: str, day: str, windows: Sequence[WindowRecord], indices: list[int], outcomes: list[Outcome | None]
    ) -> None:
        """Decide and commit one transaction's results, reading again each time another writer got there first."""
        for race in range(RACES_MAX):
            try:
                decided = self._try_step(group, day, windows, indices)
            except _Lost:
                # Spread the retries of writers that collided, so they do not collide again in step.
                time.sleep(random.uniform(0, 0.005 * (race + 1)))
                continue
            for index, outcome in zip(indices, decided, strict=True):
                outcomes[index] = outcome
            return
        raise Unavailable(f"{WHAT}: lost {RACES_MAX} races for the same windows in a row", service=WHAT)

    def _try_step(self, group: str, day: str, windows: Sequence[WindowRecord], indices: list[int]) -> list[Outcome]:
        """The outcomes of one step, committed; _Lost when a condition failed."""
        step = [windows[index] for index in indices]
        inbox_keys = {window.event_id: inbox_row(group, window.event_id) for window in step}
        window_keys = {window_row(window.window_start) for window in step}
        found = self._read(day, [*inbox_keys.values(), *window_keys])
        kept: dict[str, _Kept] = {}
        for key in window_keys:
            if key in found:
                entity = found[key]
                kept[key] = _Kept(_record(entity), int(entity["Revision"]), entity.metadata["etag"])
        now = datetime.now(UTC)
        applied: set[str] = set()
        operations: list[Any] = []
        decided = []
        for window in step:
            key = inbox_keys[window.event_id]
            if key in found or window.event_id in applied:
                decided.append(Outcome.DUPLICATE)
                continue
            applied.add(window.event_id)
            inbox = {"PartitionKey": day, "RowKey": key, "Group": group, "EventId": window.event_id, "StoredAt": now}
            operations.append(("create", inbox))
            row = window_row(window.window_start)
            current = kept.get(row)
            if current is None:
                kept[row] = _Kept(window, 1, None, changed=True)
                decided.append(Outcome.NEW)
            elif window.newer_than(current.window):
                current.window, current.revision, current.changed = window, current.revision + 1, True
                decided.append(Outcome.REPLACED)
            else:
                decided.append(Outcome.STALE)
        for current in kept.values():
            if not current.changed:
                continue
            entity = _window_entity(current.window, current.revision, now)
            if current.etag is None:
                operations.append(("create", entity))
            else:
                condition = {
                    "mode": UpdateMode.REPLACE,
                    "etag": current.etag,
                    "match_condition": MatchConditions.IfNotModified,
                }
                operations.append(("update", entity, condition))
        if operations:
            try:
                self.table.submit_transaction(operations)
            except HttpResponseError as exc:
                # 409: an inbox entry or a window another writer created since the read; 412: a window it replaced.
                if exc.status_code in (409, 412):
                    raise _Lost from exc
                raise
        return decided

    def _read(self, day: str, keys: list[str]) -> dict[str, Any]:
        """The entities of this day stored under these row keys, by row key."""
        found = {}
        for start in range(0, len(keys), KEYS_PER_READ):
            chunk = keys[start : start + KEYS_PER_READ]
            parameters = {"day": day, **{f"k{n}": key for n, key in enumerate(chunk)}}
            rows = " or ".join(f"RowKey eq @k{n}" for n in range(len(chunk)))
            for entity in self.table.query_entities(f"PartitionKey eq @day and ( {rows} )", parameters=parameters):
                found[entity["RowKey"]] = entity
        return found

    def recent(self, limit: int) -> list[WindowRecord]:
        if limit <= 0:
            return []
        with translated_errors(WHAT):
            rows = self.table.query_entities(
                "RowKey ge @low and RowKey lt @high",
                parameters={"low": WINDOW_ROW, "high": WINDOW_ROW[:-1] + chr(ord(WINDOW_ROW[-1]) + 1)},
                select=_WINDOW_FIELDS,
                results_per_page=min(limit, 1000),
            )
            return [_record(entity) for entity in islice(rows, limit)]

    def purge(self, older_than: timedelta) -> int:
        removed = 0
        cutoff = datetime.now(UTC) - older_than
        with translated_errors(WHAT):
            old = self.table.query_entities(
                "StoredAt lt @cutoff", parameters={"cutoff": cutoff}, select=["PartitionKey", "RowKey"]
            )
            for entity in list(old):
                try:
                    # Only the copy read: a window corrected since then was stored again and stays.
                    self.table.delete_entity(
                        entity["PartitionKey"],
                        entity["RowKey"],
                        etag=entity.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                except (ResourceModifiedError, ResourceNotFoundError):
                    continue
                removed += entity["RowKey"].startswith(WINDOW_ROW)
        return removed

    def ping(self) -> None:
        with translated_errors(WHAT):
            next(
                iter(self.table.query_entities("PartitionKey eq @p", parameters={"p": "ping"}, results_per_page=1)),
                None,
            )

    def close(self) -> None:
        self.table.close()
