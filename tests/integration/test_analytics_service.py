"""The analytics service in-process: results published on the embedded bus are stored, served and measured."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mce.kit.bus.consumer import dead_letter_topic
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.contracts import ANALYTICS_RESULTS_TOPIC
from mce.kit.events import Event
from mce.services.analytics.app import create_app
from mce.services.analytics.settings import AnalyticsSettings
from tests.analytics_windows import as_served, window_event, window_start
from tests.inprocess import IN_PROCESS


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[SqliteEventBus]:
    bus = SqliteEventBus(tmp_path / "bus.db")
    yield bus
    bus.close()


@pytest.fixture
def client(tmp_path: Path, bus: SqliteEventBus) -> Iterator[TestClient]:
    with TestClient(create_app(AnalyticsSettings(data_dir=tmp_path, **IN_PROCESS))) as client:
        yield client


def windows(client: TestClient, **params: object) -> list[dict[str, int]]:
    response = client.get("/windows", params=params)
    assert response.status_code == 200, response.text
    return response.json()["windows"]


def metric(client: TestClient, name: str, **labels: str) -> float | None:
    """A sample's value from /metrics, or None when it is not there."""
    wanted = {"service": "analytics", **labels}
    for found in re.finditer(rf"^{name}\{{(.*)\}} (\S+)$", client.get("/metrics").text, re.MULTILINE):
        if dict(re.findall(r'(\w+)="([^"]*)"', found.group(1))) == wanted:
            return float(found.group(2))
    return None


def test_published_windows_are_served_newest_first(client, bus) -> None:
    bus.publish(ANALYTICS_RESULTS_TOPIC, [window_event(minute, minute + 1, minute + 2) for minute in range(5)])
    assert wait_for(lambda: len(windows(client)) == 5)
    assert windows(client) == as_served(*((m, m + 1, m + 2) for m in range(4, -1, -1)))
    assert windows(client, limit=2) == as_served((4, 5, 6), (3, 4, 5))


def test_every_result_delivered_twice_is_stored_once(client, bus) -> None:
    events = [window_event(minute, 2, 3) for minute in range(6)]
    for event in events:
        bus.publish(ANALYTICS_RESULTS_TOPIC, [event, event])
    bus.publish(ANALYTICS_RESULTS_TOPIC, events)
    assert wait_for(lambda: client.app.state.consumer.handled == 18)
    assert windows(client) == as_served(*((m, 2, 3) for m in range(5, -1, -1)))
    assert metric(client, "analytics_windows_stored_total", outcome="new") == 6
    assert metric(client, "analytics_results_skipped_total", reason="duplicate") == 12


def test_a_correction_replaces_the_window_and_an_older_copy_after_it_does_not(client, bus) -> None:
    original, correction = window_event(0, 2, 5), window_event(0, 4, 9, published_after_s=20)
    bus.publish(ANALYTICS_RESULTS_TOPIC, [original, correction])
    assert wait_for(lambda: windows(client) == as_served((0, 4, 9)))
    # A redelivery of the original with a fresh envelope id (a re-run that published the same old copy again).
    bus.publish(ANALYTICS_RESULTS_TOPIC, [original.model_copy(update={"event_id": "replayed-original"})])
    assert wait_for(lambda: client.app.state.consumer.handled == 3)
    assert windows(client) == as_served((0, 4, 9))
    assert metric(client, "analytics_windows_stored_total", outcome="replaced") == 1
    assert metric(client, "analytics_results_skipped_total", reason="stale") == 1


def test_malformed_results_are_dead_lettered_not_stored_and_the_rest_flow(client, bus, tmp_path) -> None:
    good = window_event(1, 1, 1)
    bad_payload = window_event(2, 5, 1)  # more users than events
    mis_keyed = window_event(3, 1, 1).model_copy(update={"key": "3"})
    bus.publish(ANALYTICS_RESULTS_TOPIC, [bad_payload, good, mis_keyed])
    consumer = client.app.state.consumer
    assert wait_for(lambda: consumer.dead_lettered == 2 and consumer.handled == 1)
    assert windows(client) == as_served((1, 1, 1))
    parked = bus.subscribe(dead_letter_topic(ANALYTICS_RESULTS_TOPIC), "ops").poll(10, timeout=1)
    assert sorted(p.event.data["event"]["event_id"] for p in parked) == sorted(
        [bad_payload.event_id, mis_keyed.event_id]
    )


def test_an_event_of_another_type_is_skipped(client, bus) -> None:
    bus.publish(ANALYTICS_RESULTS_TOPIC, [Event(type="SomethingNew", key="x", data={}), window_event(0, 1, 1)])
    assert wait_for(lambda: client.app.state.consumer.handled == 2)
    assert windows(client) == as_served((0, 1, 1)) and client.app.state.consumer.dead_lettered == 0
    assert metric(client, "analytics_results_skipped_total", reason="other_type") == 1


def test_the_gauges_show_the_last_closed_window(client, bus) -> None:
    assert metric(client, "analytics_last_window_unique_users") is None
    bus.publish(ANALYTICS_RESULTS_TOPIC, [window_event(7, 12, 40), window_event(3, 2, 2)])
    assert wait_for(lambda: metric(client, "analytics_last_window_unique_users") == 12)
    assert metric(client, "analytics_last_window_events") == 40
    assert metric(client, "analytics_last_window_end_seconds") == window_start(8) / 1000


@pytest.mark.parametrize("limit", ["0", "1441", "-3", "abc", "2.5", ""])
def test_a_limit_outside_1_to_1440_is_a_422_with_a_json_error(client, limit) -> None:
    response = client.get("/windows", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["details"][0]["field"] == "limit"


def test_the_limit_defaults_to_sixty_and_reaches_1440(client, bus) -> None:
    bus.publish(ANALYTICS_RESULTS_TOPIC, [window_event(minute, 1, 1) for minute in range(70)])
    assert wait_for(lambda: client.app.state.consumer.handled == 70)
    assert len(windows(client)) == 60
    assert len(windows(client, limit=1440)) == 70


def test_ready_when_its_database_and_bus_answer(client) -> None:
    body = client.get("/readyz").json()
    assert body["status"] == "ready" and body["checks"] == {"database": "ok", "bus": "ok"}


def test_a_restart_keeps_the_windows_and_does_not_store_them_again(tmp_path, bus) -> None:
    settings = AnalyticsSettings(data_dir=tmp_path, **IN_PROCESS)
    bus.publish(ANALYTICS_RESULTS_TOPIC, [window_event(0, 1, 2)])
    with TestClient(create_app(settings)) as first:
        assert wait_for(lambda: windows(first) == as_served((0, 1, 2)))
    with TestClient(create_app(settings)) as second:
        assert windows(second) == as_served((0, 1, 2))
        assert wait_for(lambda: metric(second, "analytics_last_window_unique_users") == 1)
        assert metric(second, "analytics_windows_stored_total", outcome="new") is None
