"""The analytics Azure Function run locally through the azure-functions package's own types."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from mce.functions.analytics import function_app
from mce.functions.analytics.runner import registered
from tests.analytics_function import deliver, get_windows, served
from tests.analytics_windows import as_served, window_event


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'analytics.db'}"
    monkeypatch.setenv("MCE_ANALYTICS_DATABASE_URL", url)
    yield url
    function_app.release()


def test_the_app_declares_a_batched_event_hubs_trigger_on_results_and_an_http_route() -> None:
    bindings = {name: orjson.loads(fn.get_function_json())["bindings"] for name, fn in registered().items()}
    (trigger,) = bindings["store_windows"]
    assert trigger["type"] == "eventHubTrigger" and trigger["eventHubName"] == "results"
    assert trigger["cardinality"].lower() == "many" and trigger["connection"] == "EVENTHUB_CONNECTION"
    http = next(b for b in bindings["windows"] if b["type"] == "httpTrigger")
    assert http["route"] == "windows" and http["methods"] == ["GET"]


def test_a_batch_of_results_is_stored_and_served_newest_first(database) -> None:
    deliver(*(window_event(minute, minute + 1, 10).to_bytes() for minute in range(3)))
    assert served() == as_served((2, 3, 10), (1, 2, 10), (0, 1, 10))
    assert served(limit="1") == as_served((2, 3, 10))


def test_every_message_delivered_twice_leaves_the_same_windows(database) -> None:
    bodies = [window_event(minute, 2, 4).to_bytes() for minute in range(4)]
    deliver(*bodies)
    once = served()
    deliver(*bodies, *bodies)
    for body in bodies:
        deliver(body)
    assert served() == once == as_served(*((m, 2, 4) for m in range(3, -1, -1)))


def test_a_correction_wins_and_an_older_copy_delivered_after_it_does_not(database) -> None:
    original, correction = window_event(0, 2, 5), window_event(0, 3, 8, published_after_s=15)
    deliver(original.to_bytes(), correction.to_bytes())
    deliver(original.model_copy(update={"event_id": "re-published"}).to_bytes())
    assert served() == as_served((0, 3, 8))


def test_a_malformed_message_is_logged_and_skipped_and_the_rest_of_its_batch_stored(database, caplog) -> None:
    caplog.set_level(logging.ERROR)
    not_json = b"\x00\xffnot json"
    not_a_window = window_event(1, 9, 1).to_bytes()  # more users than events
    deliver(not_json, window_event(0, 1, 1).to_bytes(), not_a_window, window_event(2, 1, 1).to_bytes())
    assert served() == as_served((2, 1, 1), (0, 1, 1))
    skipped = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(skipped) == 2
    assert any("not an event envelope" in line for line in skipped)
    assert any("more unique users than events" in line for line in skipped)


@pytest.mark.parametrize("limit", ["0", "1441", "x", "-1", "1e3"])
def test_a_bad_limit_is_a_422_with_the_platforms_error_body(database, limit) -> None:
    response = get_windows(limit=limit)
    assert response.status_code == 422
    body = orjson.loads(response.get_body())
    assert body["error"]["code"] == "invalid" and body["error"]["details"][0]["field"] == "limit"


def test_without_a_store_setting_the_route_says_what_is_missing(monkeypatch) -> None:
    for name in (
        function_app.DATABASE_URL_SETTING,
        function_app.TABLES_CONNECTION_SETTING,
        *function_app.HOST_STORAGE_SETTINGS,
    ):
        monkeypatch.delenv(name, raising=False)
    response = get_windows()
    assert response.status_code == 500
    error = orjson.loads(response.get_body())["error"]
    assert error["code"] == "not_configured"
    assert "MCE_ANALYTICS_DATABASE_URL" in error["message"] and "MCE_ANALYTICS_TABLES_CONNECTION" in error["message"]


def test_the_function_and_the_service_share_one_database_and_one_inbox(database, tmp_path) -> None:
    from mce.services.analytics import usecases
    from mce.services.analytics.store.port import Outcome

    event = window_event(0, 1, 1)
    deliver(event.to_bytes())
    tally = usecases.record_results(function_app.current_store(), [event])
    assert tally.outcomes == [Outcome.DUPLICATE]
