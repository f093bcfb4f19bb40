"""The access line every request is logged with: the JSON formatter's shape, its level, and who hears it."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from mce.kit.app import create_service_app
from mce.kit.logs import ACCESS_LOGGER, JsonFormatter, access_log, configure_logging
from mce.kit.settings import BaseServiceSettings


@pytest.fixture
def stdout_log(monkeypatch) -> Iterator[io.StringIO]:
    """configure_logging's handler, writing to a buffer; the root logger's own handlers are put back after."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level, access_log.handler, access_log.service
    configure_logging("access-test", "INFO")
    try:
        yield stream
    finally:
        root.handlers[:], level, access_log.handler, access_log.service = saved
        root.setLevel(level)


def _alone(monkeypatch) -> None:
    """Nothing but the configured handler listens (pytest itself listens on the root logger during a test)."""
    monkeypatch.setattr(logging.getLogger(), "handlers", [access_log.handler])


def _lines(stream: io.StringIO) -> list[dict]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def _app():
    app = create_service_app("access-test", BaseServiceSettings(max_loop_lag_ms=60_000))

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    return app


def test_a_request_is_logged_in_one_line_with_the_formatters_fields_in_its_order(stdout_log, monkeypatch) -> None:
    _alone(monkeypatch)
    with TestClient(_app()) as client:
        answer = client.get("/things/7", headers={"x-request-id": "req-7"})
    (line,) = [line for line in _lines(stdout_log) if line["logger"] == ACCESS_LOGGER]
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, "", 0, "GET /things/7 200", None, None)
    expected = orjson.loads(JsonFormatter("access-test").format(record))
    assert list(line)[: len(expected)] == list(expected)
    assert list(line)[len(expected) :] == ["route", "status", "duration_ms"]
    assert line["msg"] == "GET /things/7 200" and line["level"] == "info" and line["service"] == "access-test"
    assert line["request_id"] == "req-7" == answer.headers["x-request-id"]
    assert len(line["trace_id"]) == 32 and len(line["span_id"]) == 16
    assert (line["route"], line["status"]) == ("/things/{thing_id}", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["ts"].endswith("Z") and len(line["ts"]) == len("2026-01-01T00:00:00.000Z")


def test_probes_are_logged_only_at_debug(stdout_log, monkeypatch) -> None:
    _alone(monkeypatch)
    with TestClient(_app()) as client:
        client.get("/healthz")
        client.get("/things/1")
    assert [line["msg"] for line in _lines(stdout_log) if line["logger"] == ACCESS_LOGGER] == ["GET /things/1 200"]
    logging.getLogger().setLevel(logging.DEBUG)
    with TestClient(_app()) as client:
        client.get("/healthz")
    assert _lines(stdout_log)[-1]["msg"] == "GET /healthz 200" and _lines(stdout_log)[-1]["level"] == "debug"


def test_a_disabled_access_logger_writes_nothing(stdout_log, monkeypatch) -> None:
    _alone(monkeypatch)
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.disabled = True
    try:
        with TestClient(_app()) as client:
            client.get("/things/1")
    finally:
        logger.disabled = False
    assert not [line for line in _lines(stdout_log) if line["logger"] == ACCESS_LOGGER]


def test_with_another_handler_listening_the_line_goes_through_logging(stdout_log, caplog) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    with TestClient(_app()) as client:
        client.get("/things/3")
    (record,) = [record for record in caplog.records if record.name == ACCESS_LOGGER]
    assert record.getMessage() == "GET /things/3 200" and record.status == 200
    # The configured handler hears it too, as before.
    assert [line["msg"] for line in _lines(stdout_log) if line["logger"] == ACCESS_LOGGER] == ["GET /things/3 200"]


def test_alone_with_the_configured_handler_the_line_skips_logging_records(stdout_log, monkeypatch) -> None:
    made = []
    real = logging.Logger.makeRecord
    monkeypatch.setattr(
        logging.Logger, "makeRecord", lambda self, *a, **kw: made.append(self.name) or real(self, *a, **kw)
    )
    _alone(monkeypatch)
    with TestClient(_app()) as client:
        client.get("/things/4")
    assert ACCESS_LOGGER not in made
    assert [line["msg"] for line in _lines(stdout_log) if line["logger"] == ACCESS_LOGGER] == ["GET /things/4 200"]


class BrokenPipe(io.StringIO):
    """A stdout whose reader has gone away."""

    def write(self, text: str) -> int:
        raise BrokenPipeError("the reader has gone")


def test_a_broken_log_stream_never_fails_the_request(monkeypatch) -> None:
    monkeypatch.setattr("sys.stdout", BrokenPipe())
    root = logging.getLogger()
    saved = root.handlers[:], root.level, access_log.handler, access_log.service
    configure_logging("access-test", "INFO")
    _alone(monkeypatch)
    # logging's own report of a failing handler goes to stderr; it is not what this test is about.
    monkeypatch.setattr(logging, "raiseExceptions", False)
    try:
        with TestClient(_app()) as client:
            answer = client.get("/things/5")
    finally:
        root.handlers[:], level, access_log.handler, access_log.service = saved
        root.setLevel(level)
    assert answer.status_code == 200 and answer.json() == {"id": 5}


def test_a_path_that_cannot_be_encoded_never_fails_the_request(stdout_log, monkeypatch) -> None:
    _alone(monkeypatch)
    monkeypatch.setattr(logging, "raiseExceptions", False)
    # A lone surrogate is not valid UTF-8: the JSON encoder refuses it, and the line goes to logging instead.
    access_log.write(logging.INFO, "GET", "/things/\ud800", 404, "<unmatched>", 0.1)
    access_log.write(logging.INFO, "GET", "/things/6", 200, "/things/{thing_id}", 0.1)
    assert [line["msg"] for line in _lines(stdout_log)] == ["GET /things/6 200"]
