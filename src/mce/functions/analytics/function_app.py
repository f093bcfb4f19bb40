"""The analytics consumer as an Azure Function (Python v2 programming model), on the service's own handling code.

An Event Hubs trigger on the hub `results` stores the windows in each batch of messages (the kit envelope's JSON,
as on the platform's bus) and an HTTP route serves them as the service's `GET /windows` does. Nothing is built at
import: the store is made from MCE_ANALYTICS_DATABASE_URL at the first call and kept for the worker's life.
"""

# No `from __future__ import annotations`: the Functions worker reads the handlers' annotations as real types.
import logging
import os
import threading
from typing import List  # noqa: UP035 - the form the Functions worker documents for cardinality many

import azure.functions as func
import orjson

from mce.kit.db import make_engine
from mce.kit.errors import DomainError, Unavailable
from mce.services.analytics import usecases
from mce.services.analytics.domain import parse_limit, windows_body
from mce.services.analytics.store.port import Outcome, WindowStore
from mce.services.analytics.store.sql import SqlWindowStore
from mce.services.analytics.store.tables import MIGRATIONS

log = logging.getLogger(__name__)

HUB = "results"
# The name of the app setting that holds the Event Hubs connection (a connection string, or `__fullyQualifiedNamespace`
# settings for a managed identity), not the connection itself.
CONNECTION_SETTING = "EVENTHUB_CONNECTION"
DATABASE_URL_SETTING = "MCE_ANALYTICS_DATABASE_URL"
MIGRATE_SETTING = "MCE_MIGRATE_ON_START"
JSON = "application/json"

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

_lock = threading.Lock()
_built: "tuple[str, SqlWindowStore] | None" = None


class NotConfigured(DomainError):
    """The function app lacks a setting it needs."""

    status = 500
    code = "not_configured"


def current_store() -> WindowStore:
    """The store at MCE_ANALYTICS_DATABASE_URL, migrated when behind (unless MCE_MIGRATE_ON_START=false), made once."""
    global _built
    url = os.environ.get(DATABASE_URL_SETTING, "")
    if not url:
        raise NotConfigured(f"{DATABASE_URL_SETTING}: must be set (e.g. postgresql://user:pass@host/analytics)")
    with _lock:
        if _built is not None and _built[0] == url:
            return _built[1]
        if _built is not None:
            _built[1].close()
            _built = None
        if os.environ.get(MIGRATE_SETTING, "true").lower() != "false" and not MIGRATIONS.is_current(url):
            MIGRATIONS.apply(url)
        store = SqlWindowStore(make_engine(url))
        _built = (url, store)
        return store


def _error(exc: DomainError) -> func.HttpResponse:
    """The platform's error body, `{"error": {"code", "message", "details"}}`."""
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    return func.HttpResponse(orjson.dumps(body), status_code=exc.status, mimetype=JSON, headers=exc.headers)


# A failing batch (the database down) is tried again with backoff; the inbox and the upsert make that harmless.
@app.retry(
    strategy="exponential_backoff", max_retry_count="8", minimum_interval="00:00:02", maximum_interval="00:01:00"
)
@app.event_hub_message_trigger(
    arg_name="events", event_hub_name=HUB, connection=CONNECTION_SETTING, cardinality=func.Cardinality.MANY
)
def store_windows(events: List[func.EventHubEvent]) -> None:  # noqa: UP006 - see the import
    """Store the windows in a batch of result messages; malformed ones are logged with their reason and skipped."""
    tally = usecases.record_messages(current_store(), [event.get_body() for event in events])
    log.info(
        "stored %d new and %d corrected windows from %d messages (%d redelivered, %d older copies, %d malformed)",
        tally.count(Outcome.NEW),
        tally.count(Outcome.REPLACED),
        len(events),
        tally.count(Outcome.DUPLICATE),
        tally.count(Outcome.STALE),
        tally.malformed,
    )


@app.route(route="windows", methods=[func.HttpMethod.GET])
def windows(req: func.HttpRequest) -> func.HttpResponse:
    """The most recent windows, newest first: `{"windows": [...]}`; `limit` 1 to 1440 (default 60), else 422."""
    try:
        limit = parse_limit(req.params.get("limit"))
        found = usecases.recent_windows(current_store(), limit=limit)
    except Unavailable as exc:
        log.warning("windows unavailable: %s", exc.message)
        return _error(exc)
    except DomainError as exc:
        return _error(exc)
    return func.HttpResponse(orjson.dumps(windows_body(found)), mimetype=JSON, headers={"cache-control": "no-store"})
