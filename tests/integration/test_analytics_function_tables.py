"""The analytics Function on Azure Table and Blob storage (Azurite), through azure.functions' own types."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient

from mce.functions.analytics import function_app
from mce.services.analytics.store.azure_tables import TableWindowStore, partition_of, window_row
from mce.services.analytics.store.latest_blob import BLOB_NAME
from tests.analytics_function import deliver, get_windows, served
from tests.analytics_windows import as_served, window_event, window_start

STORE_SETTINGS = (
    function_app.DATABASE_URL_SETTING,
    function_app.TABLES_CONNECTION_SETTING,
    *function_app.HOST_STORAGE_SETTINGS,
)


@pytest.fixture(autouse=True)
def no_store_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in STORE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    yield
    function_app.release()


@dataclass
class Storage:
    """The table and the container the Function was told to use, read behind its back."""

    table: TableClient
    container: ContainerClient

    def windows(self) -> list[dict]:
        return [e for e in self.table.list_entities() if e["RowKey"].startswith("w:")]

    def etags(self) -> dict[str, str]:
        return {e["RowKey"]: e.metadata["etag"] for e in self.table.list_entities()}

    def latest(self) -> tuple[dict, str]:
        blob = self.container.get_blob_client(BLOB_NAME)
        return orjson.loads(blob.download_blob().readall()), blob.get_blob_properties().etag


@pytest.fixture
def storage(azurite_connection_string: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Storage]:
    suffix = uuid.uuid4().hex[:12]
    table, container = f"windows{suffix}", f"analytics-{suffix}"
    monkeypatch.setenv(function_app.TABLES_CONNECTION_SETTING, azurite_connection_string)
    monkeypatch.setenv(function_app.TABLE_SETTING, table)
    monkeypatch.setenv(function_app.CONTAINER_SETTING, container)
    tables = TableServiceClient.from_connection_string(azurite_connection_string)
    blobs = BlobServiceClient.from_connection_string(azurite_connection_string)
    yield Storage(tables.get_table_client(table), blobs.get_container_client(container))
    function_app.release()
    tables.delete_table(table)
    with contextlib.suppress(ResourceNotFoundError):  # a test that never stored a window made no container
        blobs.delete_container(container)


def test_a_batch_of_window_results_becomes_table_rows_and_the_latest_blob(storage) -> None:
    deliver(*(window_event(minute, minute + 1, 10).to_bytes() for minute in range(3)))
    rows = storage.windows()
    assert [(r["PartitionKey"], r["RowKey"]) for r in rows] == [
        (partition_of(window_start(m)), window_row(window_start(m))) for m in (2, 1, 0)
    ]
    assert [r["UniqueUsers"].value for r in rows] == [3, 2, 1]
    latest, _ = storage.latest()
    assert latest["windows"] == as_served((2, 3, 10), (1, 2, 10), (0, 1, 10))
    properties = storage.container.get_blob_client(BLOB_NAME).get_blob_properties()
    assert properties.content_settings.content_type == "application/json"
    assert "max-age" in properties.content_settings.cache_control


def test_a_replayed_batch_changes_neither_a_row_nor_the_blob(storage) -> None:
    batch = [window_event(minute, 2, 4).to_bytes() for minute in range(5)]
    deliver(*batch)
    rows, (latest, blob_etag) = storage.etags(), storage.latest()
    deliver(*batch)
    deliver(*reversed(batch), *batch)
    assert storage.etags() == rows
    assert storage.latest() == (latest, blob_etag)


def test_a_correction_replaces_its_row_and_rewrites_the_blob_and_an_older_copy_does_neither(storage) -> None:
    original, correction = window_event(0, 2, 5), window_event(0, 3, 8, published_after_s=15)
    deliver(original.to_bytes())
    deliver(correction.to_bytes())
    (row,) = storage.windows()
    assert row["Revision"] == 2 and row["EventId"] == correction.event_id
    _, etag = storage.latest()
    deliver(original.model_copy(update={"event_id": "re-published"}).to_bytes())
    assert storage.latest()[1] == etag
    assert served() == as_served((0, 3, 8))


def test_a_malformed_message_is_logged_and_skipped_and_never_fails_its_batch(storage, caplog) -> None:
    caplog.set_level(logging.ERROR)
    not_json, not_a_window = b"\x00\xffnot json", window_event(1, 9, 1).to_bytes()
    deliver(not_json, window_event(0, 1, 1).to_bytes(), not_a_window, b"", window_event(2, 1, 1).to_bytes())
    assert served() == as_served((2, 1, 1), (0, 1, 1))
    assert storage.latest()[0]["windows"] == as_served((2, 1, 1), (0, 1, 1))
    skipped = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(skipped) == 3


def test_a_batch_of_nothing_but_malformed_messages_writes_no_blob(storage) -> None:
    deliver(b"{}", b"[]")
    assert storage.windows() == []
    assert not storage.container.get_blob_client(BLOB_NAME).exists()


def test_the_route_serves_the_tables_windows_newest_first_up_to_the_limit(storage) -> None:
    deliver(*(window_event(minute, 1, minute + 1).to_bytes() for minute in (3, 0, 2, 1)))
    assert served() == as_served((3, 1, 4), (2, 1, 3), (1, 1, 2), (0, 1, 1))
    assert served(limit="2") == as_served((3, 1, 4), (2, 1, 3))


@pytest.mark.parametrize("limit", ["0", "1441", "x", "-1", "1e3", "9" * 40])
def test_a_bad_limit_is_a_422_with_the_platforms_error_body(storage, limit) -> None:
    response = get_windows(limit=limit)
    assert response.status_code == 422 and response.mimetype == "application/json"
    assert orjson.loads(response.get_body())["error"]["details"][0]["field"] == "limit"


def test_concurrent_batches_leave_every_window_in_the_blob(storage) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(part: int) -> None:
        barrier.wait()
        try:
            for minute in range(part, 40, 4):
                deliver(window_event(minute, 1, 1).to_bytes())
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(part,)) for part in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert storage.latest()[0]["windows"] == as_served(*((m, 1, 1) for m in range(39, -1, -1)))


def test_the_host_storage_setting_alone_chooses_table_storage(azurite_connection_string, monkeypatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", azurite_connection_string)
    monkeypatch.setenv(function_app.TABLE_SETTING, f"windows{uuid.uuid4().hex[:12]}")
    store = function_app.current_store()
    assert isinstance(store, TableWindowStore)
    store.table.delete_table()


def test_a_database_url_beside_the_host_storage_chooses_sql(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv(function_app.DATABASE_URL_SETTING, f"sqlite:///{tmp_path / 'a.db'}")
    assert type(function_app.current_store()).__name__ == "SqlWindowStore"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (
            {
                "MCE_ANALYTICS_TABLES_CONNECTION": "AccountKey=s3cret;nonsense",
                "MCE_ANALYTICS_DATABASE_URL": "sqlite://",
            },
            "set one of them",
        ),
        ({"MCE_ANALYTICS_TABLES_CONNECTION": "AccountKey=s3cret;nonsense"}, "MCE_ANALYTICS_TABLES_CONNECTION"),
        (
            {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "MCE_ANALYTICS_TABLE": "no_underscores"},
            "MCE_ANALYTICS_TABLE",
        ),
        (
            {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "MCE_ANALYTICS_CONTAINER": "Upper"},
            "MCE_ANALYTICS_CONTAINER",
        ),
    ],
)
def test_a_bad_store_setting_is_a_500_not_configured_naming_it_and_never_its_secret(monkeypatch, settings, named):
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    response = get_windows()
    assert response.status_code == 500
    error = orjson.loads(response.get_body())["error"]
    assert error["code"] == "not_configured" and named in error["message"] and "s3cret" not in error["message"]
    with pytest.raises(function_app.NotConfigured):
        deliver(window_event(0, 1, 1).to_bytes())


def test_storage_that_does_not_answer_is_a_503_naming_it_and_fails_the_batch_for_a_retry(monkeypatch) -> None:
    down = function_app.EMULATOR_CONNECTION.replace(":10000/", ":9/").replace(":10002/", ":9/")
    monkeypatch.setenv(function_app.TABLES_CONNECTION_SETTING, down)
    started = time.monotonic()
    response = get_windows()
    assert response.status_code == 503
    assert orjson.loads(response.get_body())["error"]["code"] == "unavailable"
    assert "table storage" in orjson.loads(response.get_body())["error"]["message"]
    assert time.monotonic() - started < 10
    with pytest.raises(function_app.Unavailable):
        deliver(window_event(0, 1, 1).to_bytes())
