"""Trace context: a caller's traceparent reaches the log lines and the calls a request makes; spans when exporting."""

from __future__ import annotations

import io
import logging
import subprocess
import sys

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mce.kit.app import create_service_app
from mce.kit.http import HttpResponse, ServiceClient
from mce.kit.logs import JsonFormatter
from mce.kit.settings import BaseServiceSettings
from mce.kit.tracing import Tracing, parse_traceparent

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class _Recorder:
    """A transport that answers 200 and keeps the headers of every call."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    async def send(self, method, url, *, headers, body, timeout) -> HttpResponse:  # noqa: ANN001
        self.headers.append(dict(headers))
        return HttpResponse(200, {}, b"{}")

    async def aclose(self) -> None:
        return None


def _app() -> tuple[FastAPI, _Recorder]:
    """A service whose one route logs a line and calls another service."""
    app = create_service_app("tracer-test", BaseServiceSettings(max_loop_lag_ms=60_000))
    recorder = _Recorder()
    callee = ServiceClient("callee", "http://callee", transport=recorder)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        logging.getLogger("mce.test").info("looking at a thing")
        await callee.get(f"/stock/{thing_id}")
        return {"id": thing_id}

    return app, recorder


def test_a_callers_trace_id_is_in_the_log_line_and_in_the_outgoing_call() -> None:
    app, recorder = _app()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("tracer-test"))
    logging.getLogger("mce.test").addHandler(handler)
    logging.getLogger("mce.test").setLevel(logging.INFO)
    try:
        with TestClient(app) as client:
            assert client.get("/things/7", headers={"traceparent": TRACEPARENT}).status_code == 200
    finally:
        logging.getLogger("mce.test").removeHandler(handler)
    line = orjson.loads(stream.getvalue().splitlines()[0])
    assert line["trace_id"] == TRACE_ID
    # The request is a span of its own, a child of the caller's, and the call it makes is a child of that one.
    assert line["span_id"] not in (None, PARENT_ID) and len(line["span_id"]) == 16
    (sent,) = recorder.headers
    assert sent["traceparent"] == f"00-{TRACE_ID}-{line['span_id']}-01"


def test_without_a_traceparent_a_request_starts_a_trace_of_its_own_and_passes_it_on() -> None:
    app, recorder = _app()
    with TestClient(app) as client:
        first = client.get("/things/1")
        second = client.get("/things/2")
    parsed = [parse_traceparent(headers["traceparent"]) for headers in recorder.headers]
    assert all(parsed)
    assert parsed[0][0] != parsed[1][0]
    # With no id of the caller's, the request id is the trace id: one id to search the logs by.
    assert first.headers["x-request-id"] == parsed[0][0]
    assert second.headers["x-request-id"] == parsed[1][0]


@pytest.mark.parametrize(
    "header",
    [
        "",
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        f"00-{TRACE_ID}-" + "0" * 16 + "-01",
        f"ff-{TRACE_ID}-{PARENT_ID}-01",
        f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{PARENT_ID}-01-extra",
        f"00_{TRACE_ID}_{PARENT_ID}_01",
        f"00-{TRACE_ID[:-1]}g-{PARENT_ID}-01",
    ],
)
def test_a_malformed_traceparent_is_ignored(header: str) -> None:
    assert parse_traceparent(header) is None


def test_a_later_versions_traceparent_is_read_by_its_first_four_fields() -> None:
    assert parse_traceparent(f"01-{TRACE_ID}-{PARENT_ID}-01-more") == (TRACE_ID, PARENT_ID, "01")
    assert parse_traceparent(TRACEPARENT.encode()) == (TRACE_ID, PARENT_ID, "01")


def test_a_malformed_traceparent_starts_a_new_trace() -> None:
    app, recorder = _app()
    with TestClient(app) as client:
        client.get("/things/3", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}"})
    trace_id, _, _ = parse_traceparent(recorder.headers[0]["traceparent"])
    assert trace_id != TRACE_ID


def test_with_an_exporter_each_request_is_a_server_span_named_by_its_route_and_each_call_a_client_span() -> None:
    app, recorder = _app()
    exporter = InMemorySpanExporter()
    app.state.tracing.use(SimpleSpanProcessor(exporter))
    try:
        with TestClient(app) as client:
            assert client.get("/things/42", headers={"traceparent": TRACEPARENT}).status_code == 200
        spans = {span.kind: span for span in exporter.get_finished_spans()}
        server, call = spans[SpanKind.SERVER], spans[SpanKind.CLIENT]
        assert server.name == "GET /things/{thing_id}"
        assert server.attributes["http.route"] == "/things/{thing_id}"
        assert server.attributes["http.response.status_code"] == 200
        assert server.resource.attributes["service.name"] == "tracer-test"
        assert f"{server.context.trace_id:032x}" == TRACE_ID
        assert f"{server.parent.span_id:016x}" == PARENT_ID
        assert call.parent.span_id == server.context.span_id
        assert recorder.headers[0]["traceparent"] == f"00-{TRACE_ID}-{call.context.span_id:016x}-01"
    finally:
        app.state.tracing.provider.shutdown()


def test_a_failed_request_is_an_error_span() -> None:
    app, _ = _app()
    exporter = InMemorySpanExporter()
    app.state.tracing.use(SimpleSpanProcessor(exporter))

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.get("/broken").status_code == 500
        (span,) = exporter.get_finished_spans()
        assert span.name == "GET /broken" and not span.status.is_ok
    finally:
        app.state.tracing.provider.shutdown()


def test_spans_are_exported_only_when_an_otlp_endpoint_is_set() -> None:
    assert Tracing.from_env("svc", {}).tracer is None
    tracing = Tracing.from_env("svc", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    try:
        assert tracing.tracer is not None
        exporter = tracing.provider._active_span_processor._span_processors[0].span_exporter
        assert type(exporter).__name__ == "OTLPSpanExporter"
    finally:
        tracing.provider.shutdown()


def test_without_an_exporter_the_sdk_is_never_loaded() -> None:
    # The API itself comes with FastAPI (fastapi.telemetry); the SDK and the exporter are what cost.
    program = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from mce.kit.app import create_service_app\n"
        "from mce.kit.settings import BaseServiceSettings\n"
        "app = create_service_app('svc', BaseServiceSettings())\n"
        "with TestClient(app) as client:\n"
        "    client.get('/healthz', headers={'traceparent': '" + TRACEPARENT + "'})\n"
        "costly = ('opentelemetry.sdk', 'opentelemetry.exporter')\n"
        "print(sorted(name for name in sys.modules if name.startswith(costly)))\n"
    )
    env_free = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env_free, check=True)
    assert done.stdout.strip() == "[]"
