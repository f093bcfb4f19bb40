"""The analytics Function's runner in-process: an embedded bus standing in for Event Hubs, Azurite for storage."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from fastapi.testclient import TestClient

from mce.functions.analytics import function_app
from mce.functions.analytics.runner import create_app
from mce.functions.analytics.settings import AnalyticsFunctionSettings
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.settings import SettingsError
from tests.analytics_windows import as_served, window_event
from tests.inprocess import IN_PROCESS

STORE_SETTINGS = (
    function_app.DATABASE_URL_SETTING,
    function_app.TABLES_CONNECTION_SETTING,
    *function_app.HOST_STORAGE_SETTINGS,
)


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(autouse=True)
def no_store_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in STORE_SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def runner(tmp_path: Path, azurite_connection_string: str, monkeypatch) -> Iterator[tuple[TestClient, SqliteEventBus]]:
    suffix = uuid.uuid4().hex[:12]
    table, container = f"windows{suffix}", f"analytics-{suffix}"
    monkeypatch.setenv("AzureWebJobsStorage", azurite_connection_string)
    monkeypatch.setenv(function_app.TABLE_SETTING, table)
    monkeypatch.setenv(function_app.CONTAINER_SETTING, container)
    bus = SqliteEventBus(tmp_path / "bus.db")
    settings = AnalyticsFunctionSettings(data_dir=tmp_path, analytics_function_batch_size=3, **IN_PROCESS)
    with TestClient(create_app(settings, bus=bus)) as client:
        yield client, bus
    bus.close()
    TableServiceClient.from_connection_string(azurite_connection_string).delete_table(table)
    with contextlib.suppress(ResourceNotFoundError):  # a test that never stored a window made no container
        BlobServiceClient.from_connection_string(azurite_connection_string).delete_container(container)


def windows_served(client: TestClient) -> list[dict[str, int]]:
    return client.get("/api/windows").json()["windows"]


def test_results_on_the_bus_reach_the_table_through_the_trigger_and_the_route_serves_them(runner) -> None:
    client, bus = runner
    assert client.get("/readyz").status_code == 200
    results = [window_event(minute, 1, minute + 1) for minute in range(7)]
    bus.publish("results", results[:4] + [window_event(9, 9, 1)] + results[4:])  # one not storable among them
    expected = as_served(*((m, 1, m + 1) for m in range(6, -1, -1)))
    assert eventually(lambda: windows_served(client) == expected)
    bus.publish("results", results)  # redelivered: nothing changes
    assert eventually(lambda: client.get("/stats").json()["trigger"]["messages"] == 15)
    assert windows_served(client) == expected
    latest = function_app.current_backend().latest.blob.download_blob().readall()
    assert orjson.loads(latest)["windows"] == expected
    assert client.get("/api/windows", params={"limit": "2"}).json()["windows"] == expected[:2]


def test_a_bad_query_on_the_route_is_a_422_json_error(runner) -> None:
    client, _ = runner
    response = client.get("/api/windows", params={"limit": "lots"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "limit"


def test_the_runner_will_not_start_without_a_store_setting(tmp_path) -> None:
    with pytest.raises(SettingsError, match="MCE_ANALYTICS_TABLES_CONNECTION"):
        create_app(AnalyticsFunctionSettings(data_dir=tmp_path))
