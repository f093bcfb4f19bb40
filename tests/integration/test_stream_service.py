"""The stream deployable in-process: its job runs in the background, and its probes and metrics say how it does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.contracts import USER_ACTIVITY
from mce.kit.events import Event
from mce.kit.settings import SettingsError, load_settings
from mce.registry import BY_NAME
from mce.stream.app import create_app
from mce.stream.settings import StreamSettings
from tests.inprocess import IN_PROCESS
from tests.stream_vectors import load_case


def settings_for(tmp_path: Path, **overrides: object) -> StreamSettings:
    return load_settings(StreamSettings, data_dir=tmp_path, **{**IN_PROCESS, **overrides})


def metric(text: str, name: str) -> float:
    """A sample's value from the Prometheus text."""
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def wait_for(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_service_counts_activity_from_its_topic_into_its_results_topic(tmp_path: Path) -> None:
    case = load_case("late")
    settings = settings_for(tmp_path, user_events_topic="events", analytics_results_topic="results")
    bus = SqliteEventBus(tmp_path / "bus.db")
    bus.publish("events", [Event(type=USER_ACTIVITY, key=e["user_id"], data=e) for e in case.events])
    with TestClient(create_app(settings, bus=bus)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        wait_for(lambda: client.get("/stats").json()["events"] == len(case.events))
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        text = client.get("/metrics").text
        assert metric(text, "stream_events_total") == len(case.events)
        assert metric(text, "stream_late_events_dropped_total") == case.late_events
        # Without an end of input, the last window stays open: only the others are emitted.
        assert metric(text, "stream_windows_emitted_total") == len(case.expected) - 1
        assert metric(text, "stream_open_windows") == 1
        last_event_ms = max(e["timestamp"] for e in case.events) * 1000
        assert metric(text, "stream_watermark_ms") == last_event_ms - case.out_of_orderness_ms
    got = [d.event.data for d in bus.subscribe("results", "reader").poll(100, timeout=0)]
    assert got == case.expected[:-1]
    bus.close()


def test_a_restarted_service_carries_on_from_its_checkpoint(tmp_path: Path) -> None:
    case = load_case("in_order")
    settings = settings_for(tmp_path)
    bus = SqliteEventBus(tmp_path / "bus.db")
    events = [Event(type=USER_ACTIVITY, key=e["user_id"], data=e) for e in case.events]
    bus.publish(settings.user_events_topic, events[:5])
    with TestClient(create_app(settings, bus=bus)) as client:
        wait_for(lambda: client.get("/stats").json()["events"] == 5)
    bus.publish(settings.user_events_topic, events[5:])
    with TestClient(create_app(settings, bus=bus)) as client:
        wait_for(lambda: client.get("/stats").json()["events"] == len(events))
        stats = client.get("/stats").json()
    assert stats["late_dropped"] == 0
    got = [d.event.data for d in bus.subscribe(settings.analytics_results_topic, "reader").poll(100, timeout=0)]
    assert got == case.expected[:-1]
    bus.close()


def test_the_service_is_not_ready_when_its_job_has_stopped(tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path))) as client:
        client.app.state.runner.stop()
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"]["job"].startswith("failed")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("stream_out_of_orderness_ms", -1),
        ("user_events_topic", "has space"),
        ("analytics_results_topic", ""),
        ("stream_batch_size", 0),
    ],
)
def test_a_bad_setting_is_refused_naming_its_variable(tmp_path: Path, variable: str, value: object) -> None:
    with pytest.raises(SettingsError, match=f"MCE_{variable.upper()}"):
        settings_for(tmp_path, **{variable: value})


def test_the_topic_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCE_USER_EVENTS_TOPIC", "events")
    monkeypatch.setenv("MCE_ANALYTICS_RESULTS_TOPIC", "results")
    monkeypatch.setenv("MCE_STREAM_OUT_OF_ORDERNESS_MS", "2000")
    settings = load_settings(StreamSettings)
    assert (settings.user_events_topic, settings.analytics_results_topic) == ("events", "results")
    assert settings.stream_out_of_orderness_ms == 2000


def test_make_up_runs_the_stream_service() -> None:
    spec = BY_NAME["stream"]
    assert spec.default_port == 8006 and spec.settings_class() is StreamSettings
    assert spec.app_factory() is create_app
