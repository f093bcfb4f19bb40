"""The analytics consumer as an Azure Function (Python v2 programming model), on the service's own handling code.

An Event Hubs trigger on the hub `results` stores the windows in each batch of messages (the kit envelope's JSON,
as on the platform's bus), then writes the newest as one JSON blob for a static dashboard; an HTTP route serves them
as the service's `GET /windows` does. The store comes from the app settings (Table storage as in production, or a
SQL database), made at the first call and kept for the worker's life; nothing is built at import.
"""

# No `from __future__ import annotations`: the Functions worker reads the handlers' annotations as real types.
import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import List  # noqa: UP035 - the form the Functions worker documents for cardinality many

import azure.functions as func
import orjson

from mce.kit.db import make_engine
from mce.kit.errors import DomainError, Unavailable
from mce.services.analytics import usecases
from mce.services.analytics.domain import parse_limit, windows_body
from mce.services.analytics.store.azure_tables import TABLE_DEFAULT, TableWindowStore
from mce.services.analytics.store.latest_blob import CONTAINER_DEFAULT, LatestWindowsBlob
from mce.services.analytics.store.port import Outcome, WindowStore
from mce.services.analytics.store.sql import SqlWindowStore
from mce.services.analytics.store.tables import MIGRATIONS

log = logging.getLogger(__name__)

HUB = "results"
# The name of the app setting that holds the Event Hubs connection (a connection string, or `__fullyQualifiedNamespace`
# settings for a managed identity), not the connection itself.
CONNECTION_SETTING = "EVENTHUB_CONNECTION"
# Where windows are kept, in this order: an explicit storage account for the windows, else a SQL database, else the
# storage account every Function App has (the host's own), else the one the Azure tools and deploy/local/azurite.sh use.
TABLES_CONNECTION_SETTING = "MCE_ANALYTICS_TABLES_CONNECTION"
DATABASE_URL_SETTING = "MCE_ANALYTICS_DATABASE_URL"
HOST_STORAGE_SETTINGS = ("AzureWebJobsStorage", "AZURE_STORAGE_CONNECTION_STRING")
TABLE_SETTING = "MCE_ANALYTICS_TABLE"
CONTAINER_SETTING = "MCE_ANALYTICS_CONTAINER"
MIGRATE_SETTING = "MCE_MIGRATE_ON_START"
# What local.settings.json says for the storage emulator; the SDK wants the emulator's full connection string.
DEVELOPMENT_STORAGE = "usedevelopmentstorage=true"
EMULATOR_CONNECTION = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)
TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
CONTAINER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
JSON = "application/json"

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

_lock = threading.Lock()


class NotConfigured(DomainError):
    """The function app lacks a setting it needs."""

    status = 500
    code = "not_configured"


@dataclass
class Backend:
    """The store, and the latest-windows blob beside a Table store; `stale` when the last write of the blob failed."""

    store: WindowStore
    latest: "LatestWindowsBlob | None" = None
    stale: bool = False

    def close(self) -> None:
        """Release connections."""
        self.store.close()
        if self.latest is not None:
            self.latest.close()


_built: "tuple[tuple[str, ...], Backend] | None" = None


def current_configuration() -> "tuple[str, ...]":
    """(kind, the setting that chose it, its value, ...): what the app settings ask for, or NotConfigured."""
    tables = os.environ.get(TABLES_CONNECTION_SETTING, "").strip()
    url = os.environ.get(DATABASE_URL_SETTING, "").strip()
    if tables and url:
        raise NotConfigured(f"{TABLES_CONNECTION_SETTING} and {DATABASE_URL_SETTING}: set one of them, not both")
    if url:
        return ("sql", DATABASE_URL_SETTING, url)
    chosen = [(TABLES_CONNECTION_SETTING, tables)] if tables else []
    chosen += [(name, os.environ.get(name, "").strip()) for name in HOST_STORAGE_SETTINGS]
    for setting, connection in chosen:
        if connection:
            table = os.environ.get(TABLE_SETTING, "").strip() or TABLE_DEFAULT
            container = os.environ.get(CONTAINER_SETTING, "").strip() or CONTAINER_DEFAULT
            if not TABLE_NAME.fullmatch(table):
                raise NotConfigured(f"{TABLE_SETTING}: 3 to 63 letters and digits, starting with a letter")
            if not CONTAINER_NAME.fullmatch(container):
                raise NotConfigured(f"{CONTAINER_SETTING}: 3 to 63 lowercase letters, digits and single hyphens")
            return ("tables", setting, connection, table, container)
    raise NotConfigured(
        f"{TABLES_CONNECTION_SETTING} (or AzureWebJobsStorage) for Azure Table storage, or {DATABASE_URL_SETTING} "
        "for a SQL database (e.g. postgresql://user:pass@host/analytics): one must be set"
    )


def _build(configuration: "tuple[str, ...]") -> Backend:
    """The backend the configuration names, its table, container or schema made when missing."""
    kind, setting, value, *names = configuration
    if kind == "sql":
        if os.environ.get(MIGRATE_SETTING, "true").lower() != "false" and not MIGRATIONS.is_current(value):
            MIGRATIONS.apply(value)
        return Backend(SqlWindowStore(make_engine(value)))
    # The SDK logs every request and response at INFO: a line per storage call in Application Insights otherwise.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    connection = EMULATOR_CONNECTION if value.replace(" ", "").lower() == DEVELOPMENT_STORAGE else value
    table, container = names
    try:
        store = TableWindowStore.connect(connection, table)
    except ValueError:
        # The SDK's message may quote the connection string, key and all: name the setting instead.
        raise NotConfigured(f"{setting}: not a storage account connection string") from None
    try:
        return Backend(store, LatestWindowsBlob.connect(connection, container))
    except BaseException:
        store.close()
        raise


def current_backend() -> Backend:
    """The backend the app settings name, made once (again if they change)."""
    global _built
    configuration = current_configuration()
    with _lock:
        if _built is not None and _built[0] == configuration:
            return _built[1]
        if _built is not None:
            _built[1].close()
            _built = None
        backend = _build(configuration)
        _built = (configuration, backend)
        return backend


def release() -> None:
    """Close the backend made so far (the runner's shutdown, tests); the next call makes one again."""
    global _built
    with _lock:
        if _built is not None:
            _built[1].close()
            _built = None


def current_store() -> WindowStore:
    """The store the app settings name (see current_backend)."""
    return current_backend().store


def _error(exc: DomainError) -> func.HttpResponse:
    """The platform's error body, `{"error": {"code", "message", "details"}}`."""
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    return func.HttpResponse(orjson.dumps(body), status_code=exc.status, mimetype=JSON, headers=exc.headers)


# A failing batch (storage or the database down) is tried again with backoff; the inbox makes that harmless.
@app.retry(
    strategy="exponential_backoff", max_retry_count="8", minimum_interval="00:00:02", maximum_interval="00:01:00"
)
@app.event_hub_message_trigger(
    arg_name="events", event_hub_name=HUB, connection=CONNECTION_SETTING, cardinality=func.Cardinality.MANY
)
def store_windows(events: List[func.EventHubEvent]) -> None:  # noqa: UP006 - see the import
    """Store the windows in a batch of result messages (malformed ones logged and skipped), then the latest blob."""
    backend = current_backend()
    tally = usecases.record_messages(backend.store, [event.get_body() for event in events])
    log.info(
        "stored %d new and %d corrected windows from %d messages (%d redelivered, %d older copies, %d malformed)",
        tally.count(Outcome.NEW),
        tally.count(Outcome.REPLACED),
        len(events),
        tally.count(Outcome.DUPLICATE),
        tally.count(Outcome.STALE),
        tally.malformed,
    )
    if backend.latest is not None and (tally.count(Outcome.NEW) or tally.count(Outcome.REPLACED) or backend.stale):
        # A failed write leaves the blob stale; the batch's retry changes no window, so `stale` asks for the write.
        backend.stale = True
        backend.latest.publish(backend.store)
        backend.stale = False


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
