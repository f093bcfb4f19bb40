"""Calling the analytics Function's handlers as the Functions host does, with azure.functions' own types."""

from __future__ import annotations

import azure.functions as func
import orjson

from mce.functions.analytics.runner import user_function


def deliver(*bodies: bytes) -> None:
    """One Event Hubs batch of these message bodies to the trigger."""
    user_function("store_windows")([func.EventHubEvent(body=body) for body in bodies])


def get_windows(**params: str) -> func.HttpResponse:
    """The HTTP route's answer to GET /api/windows with these query parameters."""
    request = func.HttpRequest("GET", "http://localhost/api/windows", params=params, body=b"")
    return user_function("windows")(request)


def served(**params: str) -> list[dict[str, int]]:
    """The windows the route serves; it must answer 200 with JSON."""
    response = get_windows(**params)
    assert response.status_code == 200, response.get_body()
    assert response.mimetype == "application/json"
    return orjson.loads(response.get_body())["windows"]
