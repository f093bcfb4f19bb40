"""Rules of the shared kit: settings errors, secrets, the error body, events, money, the HTTP client's retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

import orjson
import pytest

from mce.kit.context import TIMEOUT_HEADER, deadline_var, request_id_var
from mce.kit.errors import Unavailable, describe_validation, error_body
from mce.kit.events import Event
from mce.kit.http import HttpResponse, NotSent, SendFailed, ServiceClient
from mce.kit.money import MoneyError, format_amount, parse_amount
from mce.kit.secrets import MIN_SECRET_CHARS, resolve_secret
from mce.kit.settings import BaseServiceSettings, SettingsError, load_settings


class _Choice(BaseServiceSettings):
    bus: Literal["local"] = "local"
    admin_token: str | None = None


def test_an_unknown_backend_choice_names_the_variable_and_the_allowed_values(monkeypatch) -> None:
    monkeypatch.setenv("MCE_BUS", "rabbit")
    with pytest.raises(SettingsError) as raised:
        load_settings(_Choice)
    assert "MCE_BUS" in str(raised.value) and "'local'" in str(raised.value) and "rabbit" in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("MCE_LOG_LEVEL", "LOUD", "'INFO'"),
        ("MCE_MAX_BODY_BYTES", "-5", "greater than or equal to 1024"),
        ("MCE_HTTP_TIMEOUT", "0", "greater than 0"),
        ("MCE_ENV", "staging", "'production'"),
        ("MCE_MAX_IN_FLIGHT", "lots", "integer"),
    ],
)
def test_every_bad_setting_is_one_line_naming_the_variable(monkeypatch, variable, value, says) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings(BaseServiceSettings)
    message = str(raised.value)
    assert message.startswith(variable) and says in message and "\n" not in message


def test_a_log_level_is_read_in_any_case(monkeypatch) -> None:
    monkeypatch.setenv("MCE_LOG_LEVEL", "debug")
    assert load_settings(BaseServiceSettings).log_level == "DEBUG"


def test_a_bad_secret_setting_is_named_but_never_echoed(monkeypatch) -> None:
    monkeypatch.setenv("MCE_ADMIN_TOKEN", "hunter2hunter2")
    monkeypatch.setenv("MCE_BUS", "nope")
    with pytest.raises(SettingsError) as raised:
        load_settings(_Choice)
    assert "hunter2" not in str(raised.value)


def test_settings_come_from_mce_prefixed_variables(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MCE_MAX_BODY_BYTES", "2048")
    settings = load_settings(BaseServiceSettings)
    assert settings.data_dir == tmp_path and settings.max_body_bytes == 2048


def test_the_error_body_always_has_a_list_of_details() -> None:
    assert error_body("not_found", "nope") == {"error": {"code": "not_found", "message": "nope", "details": []}}
    detail = {"field": "price", "message": "too big"}
    assert error_body("invalid", "bad", [detail])["error"]["details"] == [detail]


def test_validation_errors_name_the_field_and_unreadable_bodies_are_malformed_json() -> None:
    invalid = describe_validation([{"loc": ("body", "price"), "msg": "too big", "type": "less_than_equal"}])
    assert (invalid.status, invalid.code, invalid.details) == (
        422,
        "invalid",
        [{"field": "price", "message": "too big"}],
    )
    for unreadable in (
        {"loc": ("body", 3), "msg": "JSON decode error", "type": "json_invalid"},
        {"loc": ("body",), "msg": "Field required", "type": "missing"},
        {"loc": ("body",), "msg": "not a dict", "type": "model_attributes_type", "input": b"name=x"},
    ):
        error = describe_validation([unreadable])
        assert (error.status, error.code) == (400, "malformed_json")


def test_events_round_trip_through_bytes_with_a_fresh_id_each() -> None:
    one, two = Event(type="X", key="1", data={"a": 1}), Event(type="X", key="1", data={"a": 1})
    assert one.event_id != two.event_id
    assert Event.from_bytes(one.to_bytes()) == one
    assert one.version == 1 and one.occurred_at.tzinfo is not None


def test_an_events_wire_bytes_are_the_compact_json_of_its_json_dump() -> None:
    data = {"price": 1.5, "name": "Ä", "amount": Decimal("1.50"), "at": datetime(2024, 1, 1, tzinfo=UTC), "n": None}
    event = Event(type="Thing", key="k", data=data)
    assert event.to_bytes() == orjson.dumps(event.model_dump(mode="json"))


def test_money_is_read_exactly_and_written_as_two_decimals() -> None:
    assert parse_amount(19.99) == Decimal("19.99")
    assert parse_amount("0.1") == Decimal("0.10")
    assert parse_amount(7) == Decimal("7.00")
    assert format_amount(Decimal("5")) == "5.00"
    for bad in ("1,50", "1.234", -1, "1e3", "NaN", float("inf"), True, None, "", " 1", "100000000", 1.79e308, 10**400):
        with pytest.raises(MoneyError):
            parse_amount(bad)


def test_a_local_secret_is_generated_once_kept_private_and_reused(tmp_path: Path) -> None:
    first = resolve_secret(None, name="admin-token", data_dir=tmp_path, production=False)
    assert len(first) >= MIN_SECRET_CHARS
    assert resolve_secret(None, name="admin-token", data_dir=tmp_path, production=False) == first
    assert (tmp_path / "secrets" / "admin-token").stat().st_mode & 0o077 == 0
    assert resolve_secret("given-and-long-enough", name="admin-token", data_dir=tmp_path, production=False) == (
        "given-and-long-enough"
    )


@pytest.mark.parametrize("stored", ["", "\n", "short"])
def test_an_empty_or_short_secrets_file_stops_the_service(tmp_path: Path, stored: str) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "admin-token").write_text(stored)
    with pytest.raises(SettingsError) as raised:
        resolve_secret(None, name="admin-token", data_dir=tmp_path, production=False)
    assert "MCE_ADMIN_TOKEN" in str(raised.value) and "delete the file" in str(raised.value)


@pytest.mark.parametrize("given", ["", "   ", "x" * (MIN_SECRET_CHARS - 1)])
def test_a_short_configured_secret_is_refused(tmp_path: Path, given: str) -> None:
    with pytest.raises(SettingsError) as raised:
        resolve_secret(given, name="session-secret", data_dir=tmp_path, production=False)
    assert "MCE_SESSION_SECRET" in str(raised.value)


def test_nothing_is_generated_in_production(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        resolve_secret(None, name="admin-token", data_dir=tmp_path, production=True)
    assert "MCE_ADMIN_TOKEN" in str(raised.value) and "production" in str(raised.value)
    assert not (tmp_path / "secrets").exists()


def test_processes_racing_to_make_a_secret_all_get_the_same_one(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        made = set(pool.map(lambda _: resolve_secret(None, name="s", data_dir=tmp_path, production=False), range(16)))
    assert len(made) == 1 and len(made.pop()) >= MIN_SECRET_CHARS


Handler = Callable[[str, str, dict, float], HttpResponse]


class _Transport:
    """A transport whose behaviour a test scripts, recording every attempt."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.calls: list[tuple[str, dict, float]] = []

    async def send(self, method: str, url: str, *, headers, body, timeout: float) -> HttpResponse:
        self.calls.append((method, dict(headers), timeout))
        return self.handler(method, url, dict(headers), timeout)

    async def aclose(self) -> None:
        return None


def _client(handler: Handler, retries: int = 2, timeout: float = 5.0) -> tuple[ServiceClient, _Transport]:
    transport = _Transport(handler)
    return ServiceClient(
        "thing", "http://thing", retries=retries, backoff_s=0, timeout=timeout, transport=transport
    ), transport


def test_idempotent_calls_are_retried_through_a_blip() -> None:
    answers = iter([NotSent("refused"), SendFailed("reset"), HttpResponse(200, {}, b'{"ok": true}')])

    def handler(*_):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client, transport = _client(handler)
    assert asyncio.run(client.get("/x")).json() == {"ok": True}
    assert len(transport.calls) == 3


def test_posts_are_not_retried_after_an_answer() -> None:
    client, transport = _client(lambda *_: HttpResponse(503))
    assert asyncio.run(client.request("POST", "/x", json={})).status == 503
    assert len(transport.calls) == 1


def test_a_service_that_stays_down_is_unavailable_naming_it() -> None:
    def handler(*_):
        raise NotSent("refused")

    client, _ = _client(handler)
    with pytest.raises(Unavailable) as raised:
        asyncio.run(client.get("/x"))
    assert raised.value.service == "thing" and "thing" in raised.value.message


def test_the_request_id_and_the_remaining_budget_travel_to_the_next_service() -> None:
    client, transport = _client(lambda *_: HttpResponse(200))

    async def call() -> None:
        request_id_var.set("req-7")
        deadline_var.set(time.monotonic() + 2.0)
        await client.get("/x")

    asyncio.run(call())
    ((_, headers, timeout),) = transport.calls
    assert headers["x-request-id"] == "req-7"
    assert 1.5 < float(headers[TIMEOUT_HEADER]) <= 2.0 and timeout <= 2.0


def test_retries_stop_at_the_request_deadline() -> None:
    class Frozen(_Transport):
        async def send(self, method, url, *, headers, body, timeout):
            self.calls.append((method, dict(headers), timeout))
            await asyncio.sleep(timeout)
            raise SendFailed("no answer in time")

    transport = Frozen(lambda *_: HttpResponse(200))
    client = ServiceClient("thing", "http://thing", retries=50, backoff_s=0, timeout=5.0, transport=transport)

    async def call() -> None:
        deadline_var.set(time.monotonic() + 0.3)
        await client.get("/x")

    started = time.monotonic()
    with pytest.raises(Unavailable):
        asyncio.run(call())
    # The whole budget is spent once, not per try: each try gets only what is left of it.
    assert time.monotonic() - started < 0.6
    assert sum(timeout for _, _, timeout in transport.calls) <= 0.31


def test_a_write_is_retried_when_the_request_was_never_sent() -> None:
    answers = iter([NotSent("refused"), HttpResponse(200)])

    def handler(*_):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client, transport = _client(handler)
    assert asyncio.run(client.request("PUT", "/x", json={})).status == 200
    assert len(transport.calls) == 2


def test_a_write_whose_answer_was_lost_is_not_sent_again_unless_it_carries_a_key() -> None:
    def handler(*_):
        raise SendFailed("no answer")

    client, transport = _client(handler)
    with pytest.raises(Unavailable):
        asyncio.run(client.request("PUT", "/x", json={}))
    assert len(transport.calls) == 1
    keyed, keyed_transport = _client(handler)
    with pytest.raises(Unavailable):
        asyncio.run(keyed.request("PUT", "/x", json={}, headers={"idempotency-key": "k"}, idempotent=True))
    assert len(keyed_transport.calls) == 3


def test_decimals_are_sent_as_their_exact_text() -> None:
    sent: list[bytes] = []

    class Recording(_Transport):
        async def send(self, method, url, *, headers, body, timeout):
            sent.append(body)
            return HttpResponse(200)

    client = ServiceClient("thing", "http://thing", transport=Recording(lambda *_: HttpResponse(200)))
    asyncio.run(client.request("POST", "/x", json={"price": Decimal("19.90")}))
    assert sent == [b'{"price":"19.90"}']


def test_shedding_starts_when_the_loop_keeps_running_late_and_stops_once_it_keeps_time() -> None:
    from mce.kit.shedding import LoadShedder

    shedder = LoadShedder(max_in_flight=10, max_lag_s=0.1)
    shedder.observe_lag(5.0)
    assert not shedder.overloaded, "one late timer, however late, is a hiccup"
    for _ in range(5):
        shedder.observe_lag(0.0)
    for _ in range(5):
        shedder.observe_lag(0.2)
    assert shedder.overloaded
    shedder.observe_lag(0.06)
    assert shedder.overloaded, "still well behind"
    for _ in range(10):
        shedder.observe_lag(0.0)
    assert not shedder.overloaded
    shedder.in_flight = 10
    assert shedder.overloaded


def test_the_lag_watch_sees_a_blocked_event_loop() -> None:
    from mce.kit.shedding import LoadShedder

    shedder = LoadShedder(max_in_flight=10, max_lag_s=0.1)

    seen: list[float] = []

    async def block_the_loop() -> None:
        watch = asyncio.create_task(shedder.watch_loop())
        await asyncio.sleep(0.01)
        for _ in range(4):
            time.sleep(0.2)
            await asyncio.sleep(0.001)
            seen.append(shedder.lag_s)
        overloaded = shedder.overloaded
        watch.cancel()
        assert overloaded

    asyncio.run(block_the_loop())
    assert max(seen) >= 0.1


def test_a_fast_read_takes_only_requests_its_route_would_take() -> None:
    from mce.kit.contracts import ProductListQuery
    from mce.kit.fastpath import path_id, query_model

    def scope(path: str, query: bytes = b"") -> dict:
        return {"path": path, "query_string": query}

    assert query_model(scope("/products", b"limit=5&limit=7&junk=1"), "/products", ProductListQuery).limit == 7
    assert query_model(scope("/products", b"limit=0"), "/products", ProductListQuery) is None
    assert query_model(scope("/product", b""), "/products", ProductListQuery) is None
    assert path_id(scope("/products/42"), "/products/", 100) == 42
    for path in ("/products/0", "/products/101", "/products/4x", "/products/", "/products/-1"):
        assert path_id(scope(path), "/products/", 100) is None, path


def test_a_shedding_service_is_not_asked_again_before_its_retry_after() -> None:
    client, transport = _client(lambda *_: HttpResponse(503, {"retry-after": "30"}), retries=3)

    async def call() -> HttpResponse:
        deadline_var.set(time.monotonic() + 2.0)
        return await client.get("/x")

    started = time.monotonic()
    answer = asyncio.run(call())
    assert answer.status == 503 and answer.headers["retry-after"] == "30"
    assert len(transport.calls) == 1 and time.monotonic() - started < 0.5
