"""The events producer's API and `mce produce-events`, on the embedded bus, with a fake catalog behind them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from mce.cli import main
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.contracts import USER_EVENTS_TOPIC, ActivityPayload
from mce.kit.events import Event
from mce.kit.http import AsgiTransport
from mce.services.events_producer.app import create_app
from mce.services.events_producer.settings import ProducerSettings
from tests.fakes.bus import DownBus
from tests.fakes.catalog import FakeCatalog
from tests.inprocess import ADMIN, ADMIN_TOKEN, IN_PROCESS


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    for n in range(150):  # more than one page of the catalog
        catalog.add(f"Thing {n}", price="2.00")
    return catalog


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[SqliteEventBus]:
    log = SqliteEventBus(tmp_path / "bus.db")
    yield log
    log.close()


def on_the_bus(bus: SqliteEventBus, topic: str = USER_EVENTS_TOPIC) -> list[Event]:
    subscription = bus.subscribe(topic, f"reader-{time.monotonic_ns()}")
    events: list[Event] = []
    while batch := subscription.poll(5000, timeout=0.05):
        events += [delivery.event for delivery in batch if delivery.event is not None]
    subscription.close()
    return events


def producer(tmp_path: Path, catalog: FakeCatalog, bus, **overrides) -> TestClient:
    settings = ProducerSettings(
        data_dir=tmp_path / "producer",
        admin_token=ADMIN_TOKEN,
        **{"producer_autostart": False, "producer_seed": 7, **IN_PROCESS, **overrides},
    )
    return TestClient(create_app(settings, bus=bus, product_transport=AsgiTransport(catalog.app())))


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_it_reads_the_whole_catalog_and_waits_to_be_started(tmp_path, catalog, bus) -> None:
    with producer(tmp_path, catalog, bus) as client:
        assert wait_until(lambda: client.get("/producer").json()["catalog"]["products"] == 150)
        status = client.get("/producer").json()
    assert status["running"] is False and status["produced"] == 0 and status["catalog"]["fallback"] is False
    assert status["users"] == 50 and status["seed"] == 7 and status["topic"] == USER_EVENTS_TOPIC
    assert on_the_bus(bus) == []


def test_start_change_rate_and_stop_over_the_api(tmp_path, catalog, bus) -> None:
    with producer(tmp_path, catalog, bus) as client:
        wait_until(lambda: client.get("/producer").json()["catalog"]["products"] == 150)
        started = client.post("/producer/start", json={"rate": 200}, headers=ADMIN)
        assert wait_until(lambda: client.get("/producer").json()["produced"] >= 50)
        rated = client.put("/producer/rate", json={"rate": 400}, headers=ADMIN)
        stopped = client.post("/producer/stop", headers=ADMIN)
        after_stop = stopped.json()["produced"]
        time.sleep(0.2)
        later = client.get("/producer").json()
    assert started.status_code == 200 and started.json()["running"] is True and started.json()["rate"] == 200
    assert rated.status_code == 200 and rated.json()["rate"] == 400
    assert stopped.json()["running"] is False and later["produced"] == after_stop
    events = on_the_bus(bus)
    assert len(events) == after_stop
    payloads = [ActivityPayload.model_validate(event.data) for event in events]
    known = {str(product_id) for product_id in catalog.products}
    assert {p.product_id for p in payloads} - {None} <= known


def test_it_produces_at_the_asked_rate(tmp_path, catalog, bus) -> None:
    with producer(tmp_path, catalog, bus) as client:
        client.post("/producer/start", json={"rate": 1000}, headers=ADMIN)
        begun = client.get("/producer").json()["produced"]
        time.sleep(2.0)
        produced = client.get("/producer").json()["produced"] - begun
        client.post("/producer/stop", headers=ADMIN)
    assert produced == pytest.approx(2000, rel=0.1)


def test_writes_need_the_admin_token_and_reads_do_not(tmp_path, catalog, bus) -> None:
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    with producer(tmp_path, catalog, bus) as client:
        answers = [
            client.post("/producer/start").status_code,
            client.post("/producer/start", headers=wrong).status_code,
            client.put("/producer/rate", json={"rate": 5}).status_code,
            client.post("/producer/stop").status_code,
        ]
        status = client.get("/producer")
    assert answers == [401, 401, 401, 401]
    assert status.status_code == 200 and status.json()["running"] is False


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/producer/rate", {"rate": 0}),
        ("PUT", "/producer/rate", {"rate": -3}),
        ("PUT", "/producer/rate", {"rate": 1e9}),
        ("PUT", "/producer/rate", {"rate": "fast"}),
        ("PUT", "/producer/rate", {}),
        ("PUT", "/producer/rate", {"rate": 5, "extra": 1}),
        ("POST", "/producer/start", {"rate": 0}),
        ("POST", "/producer/start", {"rate": "nan"}),
        ("POST", "/producer/start", [1, 2]),
    ],
)
def test_bad_input_is_422_with_the_standard_error_body(tmp_path, catalog, bus, method, path, body) -> None:
    with producer(tmp_path, catalog, bus) as client:
        answer = client.request(method, path, json=body, headers=ADMIN)
        running = client.get("/producer").json()["running"]
    assert answer.status_code == 422 and "error" in answer.json()
    assert running is False


def test_starting_twice_runs_one_producer_at_the_new_rate(tmp_path, catalog, bus) -> None:
    with producer(tmp_path, catalog, bus) as client:
        client.post("/producer/start", json={"rate": 50}, headers=ADMIN)
        again = client.post("/producer/start", json={"rate": 80}, headers=ADMIN).json()
        client.post("/producer/stop", headers=ADMIN)
    assert again["running"] is True and again["rate"] == 80


def test_stops_and_starts_from_many_callers_at_once_never_run_two_producers(tmp_path, catalog, bus) -> None:
    with producer(tmp_path, catalog, bus) as client:
        calls = [("/producer/start", {"rate": 500}), ("/producer/stop", None)] * 10

        def call(path_and_body: tuple[str, dict | None]) -> int:
            path, body = path_and_body
            return client.post(path, json=body, headers=ADMIN).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(call, calls)) == {200}
        assert sum(t.name == "events-producer" and t.is_alive() for t in threading.enumerate()) <= 1
        client.post("/producer/stop", headers=ADMIN)
        assert not any(t.name == "events-producer" and t.is_alive() for t in threading.enumerate())


def test_it_starts_by_itself_when_told_to(tmp_path, catalog, bus) -> None:
    with producer(tmp_path, catalog, bus, producer_autostart=True, producer_rate=100) as client:
        assert wait_until(lambda: client.get("/producer").json()["produced"] > 0)
        status = client.get("/producer").json()
    assert status["running"] is True and status["rate"] == 100 and status["catalog"]["fallback"] is False


def test_an_empty_catalog_falls_back_to_made_up_ids_and_says_so(tmp_path, bus) -> None:
    with producer(tmp_path, FakeCatalog(), bus) as client:
        status = client.get("/producer").json()
    assert status["catalog"] == {"products": 100, "fallback": True}


def test_while_the_bus_is_down_events_are_dropped_and_counted(tmp_path, catalog) -> None:
    down = DownBus()
    with producer(tmp_path, catalog, down) as client:
        client.post("/producer/start", json={"rate": 100}, headers=ADMIN)
        assert wait_until(lambda: client.get("/producer").json()["dropped"] > 0)
        status = client.post("/producer/stop", headers=ADMIN).json()
    assert status["produced"] == 0 and status["last_error"].startswith("ConnectionError")


def produce(tmp_path: Path, monkeypatch, *args: str) -> int:
    monkeypatch.setenv("MCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MCE_PRODUCT_URL", "http://127.0.0.1:9")  # nothing there: the catalog falls back
    return main(["produce-events", *args])


def test_the_cli_publishes_exactly_n_events_and_writes_what_it_published(tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / "events.jsonl"
    status = produce(
        tmp_path, monkeypatch, "--count", "1234", "--seed", "3", "--start", "1750000000", "--out", str(out)
    )
    printed = capsys.readouterr().out
    bus = SqliteEventBus(tmp_path / "bus.db")
    try:
        published = on_the_bus(bus)
    finally:
        bus.close()
    written = [Event.from_bytes(line) for line in out.read_bytes().splitlines()]
    assert status == 0 and len(published) == 1234 and written == published
    assert "published 1234 events" in printed and "events/s" in printed and "catalog fallback" in printed
    times = [event.data["timestamp"] for event in published]
    assert times[0] == 1750000000 and times[-1] == 1750000000 + 1233 // 100


def test_the_cli_tells_the_same_story_for_the_same_seed_and_start(tmp_path, monkeypatch) -> None:
    common = ["--count", "500", "--no-catalog", "--start", "1750000000", "--late-fraction", "0.1"]
    produce(tmp_path / "a", monkeypatch, *common, "--seed", "9", "--out", str(tmp_path / "a.jsonl"))
    produce(tmp_path / "b", monkeypatch, *common, "--seed", "9", "--out", str(tmp_path / "b.jsonl"))
    produce(tmp_path / "c", monkeypatch, *common, "--seed", "10", "--out", str(tmp_path / "c.jsonl"))

    def stories(name: str) -> list[dict]:
        return [json.loads(line)["data"] for line in (tmp_path / name).read_text().splitlines()]

    assert stories("a.jsonl") == stories("b.jsonl") != stories("c.jsonl")
    late = [e for e in stories("a.jsonl") if e["timestamp"] < 1750000000]
    assert 25 <= len(late) <= 80


def test_the_cli_paces_itself_at_a_rate(tmp_path, monkeypatch, capsys) -> None:
    status = produce(tmp_path, monkeypatch, "--count", "300", "--rate", "300", "--no-catalog")
    seconds = float(capsys.readouterr().out.split(" in ")[1].split(" s")[0])
    assert status == 0 and seconds == pytest.approx(299 / 300, abs=0.15)


@pytest.mark.parametrize(
    "args",
    [
        ["--count", "-1"],
        ["--count", "5", "--rate", "-1"],
        ["--count", "5", "--users", "0"],
        ["--count", "5", "--mix", "click=1"],
        ["--count", "5", "--late-fraction", "0.8", "--out-of-order-fraction", "0.5"],
    ],
)
def test_the_cli_refuses_bad_options_before_publishing_anything(tmp_path, monkeypatch, capsys, args) -> None:
    status = produce(tmp_path, monkeypatch, *args, "--no-catalog")
    assert status == 2 and capsys.readouterr().err.startswith("mce: ")
    assert not (tmp_path / "bus.db").exists()


def test_written_events_are_json_lines_of_valid_activity(tmp_path, monkeypatch) -> None:
    out = tmp_path / "e.jsonl"
    produce(tmp_path, monkeypatch, "--count", "50", "--no-catalog", "--out", str(out))
    for line in out.read_bytes().splitlines():
        ActivityPayload.model_validate(orjson.loads(line)["data"])
