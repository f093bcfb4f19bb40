"""The analytics Azure Function run locally through the azure-functions package's own types."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import orjson
import pytest

from mce.functions.analytics import function_app
from tests.analytics_windows import as_served, window_event


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'analytics.db'}"
    monkeypatch.setenv("MCE_ANALYTICS_DATABASE_URL", url)
    yield url


@functools.cache
def registered() -> dict[str, Any]:
    """The app's functions by name, indexed once as the Functions host does (the library refuses a second index)."""
    return {fn.get_function_name(): fn for fn in function_app.app.get_functions()}


def handler(name: str):  # noqa: ANN201 - the user function the FunctionApp registered
    """The function the app registered under this name, as the Functions host would call it."""
    return registered()[name].get_user_function()


def deliver(*bodies: bytes) -> None:
    handler("store_windows")([func.EventHubEvent(body=body) for body in bodies])


def get_windows(**params: str) -> func.HttpResponse:
    request = func.HttpRequest("GET", "http://localhost/api/windows", params=params, body=b"")
    return handler("windows")(request)


def served(**params: str) -> list[dict[str, int]]:
    response = get_windows(**params)
    assert response.status_code == 200, response.get_body()
    assert response.mimetype == "application/json"
    return orjson.loads(response.get_body())["windows"]


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


def test_without_a_database_setting_the_route_says_what_is_missing(monkeypatch) -> None:
    monkeypatch.delenv("MCE_ANALYTICS_DATABASE_URL", raising=False)
    response = get_windows()
    assert response.status_code == 500
    assert "MCE_ANALYTICS_DATABASE_URL" in orjson.loads(response.get_body())["error"]["message"]


def test_the_function_and_the_service_share_one_database_and_one_inbox(database, tmp_path) -> None:
    from mce.services.analytics import usecases
    from mce.services.analytics.store.port import Outcome

    event = window_event(0, 1, 1)
    deliver(event.to_bytes())
    tally = usecases.record_results(function_app.current_store(), [event])
    assert tally.outcomes == [Outcome.DUPLICATE]
