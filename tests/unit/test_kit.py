"""Rules of the shared kit: settings errors, the error body, events, secrets, the HTTP client's retries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import pytest

from mce.kit.context import request_id_var
from mce.kit.errors import Unavailable, error_body
from mce.kit.events import Event
from mce.kit.http import HttpResponse, NotSent, SendFailed, ServiceClient
from mce.kit.secrets import resolve_secret
from mce.kit.settings import BaseServiceSettings, SettingsError, load_settings


class _Choice(BaseServiceSettings):
    bus: Literal["local"] = "local"


def test_an_unknown_backend_choice_names_the_variable_and_the_allowed_values(monkeypatch) -> None:
    monkeypatch.setenv("MCE_BUS", "rabbit")
    with pytest.raises(SettingsError) as raised:
        load_settings(_Choice)
    assert "MCE_BUS" in str(raised.value) and "'local'" in str(raised.value) and "rabbit" in str(raised.value)


def test_settings_come_from_mce_prefixed_variables(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MCE_MAX_BODY_BYTES", "2048")
    settings = load_settings(BaseServiceSettings)
    assert settings.data_dir == tmp_path and settings.max_body_bytes == 2048


def test_the_error_body_has_code_message_and_details_always_a_list() -> None:
    assert error_body("not_found", "nope") == {"error": {"code": "not_found", "message": "nope", "details": []}}
    problem = {"field": "price", "message": "must not be negative"}
    assert error_body("invalid", "bad", [problem])["error"]["details"] == [problem]


def test_events_round_trip_through_bytes_with_a_fresh_id_each() -> None:
    one, two = Event(type="X", key="1", data={"a": 1}), Event(type="X", key="1", data={"a": 1})
    assert one.event_id != two.event_id
    assert Event.from_bytes(one.to_bytes()) == one
    assert one.version == 1 and one.occurred_at.tzinfo is not None


def test_a_local_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = resolve_secret(None, name="admin-token", data_dir=tmp_path, production=False)
    assert len(first) >= 24
    assert resolve_secret(None, name="admin-token", data_dir=tmp_path, production=False) == first
    assert (tmp_path / "secrets" / "admin-token").stat().st_mode & 0o077 == 0
    given = "a-given-secret-of-enough-length"
    assert resolve_secret(given, name="admin-token", data_dir=tmp_path, production=False) == given


def test_production_generates_no_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        resolve_secret(None, name="admin-token", data_dir=tmp_path, production=True)
    assert "MCE_ADMIN_TOKEN" in str(raised.value)


Handler = Callable[[str, Mapping[str, str]], HttpResponse]


class ScriptedTransport:
    """Answers each request with what the handler returns or raises."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def send(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HttpResponse:
        return self.handler(method, headers)

    async def aclose(self) -> None:
        return None


def _client(handler: Handler, retries: int = 2) -> ServiceClient:
    return ServiceClient("thing", "http://thing", retries=retries, backoff_s=0, transport=ScriptedTransport(handler))


def test_idempotent_calls_are_retried_through_a_blip() -> None:
    calls = []

    def handler(method: str, headers: Mapping[str, str]) -> HttpResponse:
        calls.append(method)
        if len(calls) < 3:
            raise NotSent("refused")
        return HttpResponse(200, {}, b'{"ok": true}')

    assert asyncio.run(_client(handler).get("/x")).json() == {"ok": True}
    assert calls == ["GET", "GET", "GET"]


def test_posts_are_never_retried() -> None:
    calls = []

    def handler(method: str, headers: Mapping[str, str]) -> HttpResponse:
        calls.append(method)
        return HttpResponse(503)

    assert asyncio.run(_client(handler).request("POST", "/x", json={})).status == 503
    assert calls == ["POST"]


def test_a_service_that_stays_down_is_unavailable() -> None:
    def handler(method: str, headers: Mapping[str, str]) -> HttpResponse:
        raise NotSent("refused")

    with pytest.raises(Unavailable) as raised:
        asyncio.run(_client(handler).get("/x"))
    assert "thing" in raised.value.message
    assert raised.value.service == "thing"


def test_the_request_id_travels_to_the_next_service() -> None:
    seen = []

    def handler(method: str, headers: Mapping[str, str]) -> HttpResponse:
        seen.append(headers.get("x-request-id"))
        return HttpResponse(200)

    async def call() -> None:
        request_id_var.set("req-7")
        await _client(handler).get("/x")

    asyncio.run(call())
    assert seen == ["req-7"]


def test_a_write_is_retried_when_the_connection_was_never_made() -> None:
    calls = []

    def handler(method: str, headers: Mapping[str, str]) -> HttpResponse:
        calls.append(method)
        if len(calls) == 1:
            raise NotSent("refused")
        return HttpResponse(200)

    assert asyncio.run(_client(handler).request("PUT", "/x", json={})).status == 200
    assert calls == ["PUT", "PUT"]


def test_a_write_whose_answer_was_lost_is_not_sent_again() -> None:
    calls = []

    def handler(method: str, headers: Mapping[str, str]) -> HttpResponse:
        calls.append(method)
        raise SendFailed("no answer")

    with pytest.raises(Unavailable):
        asyncio.run(_client(handler).request("PUT", "/x", json={}))
    assert calls == ["PUT"]
