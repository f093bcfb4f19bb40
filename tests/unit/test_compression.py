"""Every service gzips what a client that accepts gzip asks for, and leaves the rest alone."""

from __future__ import annotations

import gzip

import pytest
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from mce.kit.app import create_service_app
from mce.kit.settings import BaseServiceSettings

BIG = {"items": [{"name": f"Lamp {n}", "description": "A warm light for reading. " * 3} for n in range(40)]}


def _client() -> TestClient:
    app = create_service_app("gzip-test", BaseServiceSettings(max_loop_lag_ms=60_000))

    @app.get("/big")
    async def big() -> dict:
        return BIG

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks():
            for n in range(50):
                yield f"line {n}: ".encode() + b"x" * 200 + b"\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/small")
    async def small() -> dict:
        return {"ok": True}

    return TestClient(app)


@pytest.mark.parametrize("accept", ["gzip", "gzip, deflate, br", "deflate, gzip;q=0.5"])
def test_a_big_answer_is_gzipped_for_a_client_that_accepts_gzip(accept: str) -> None:
    with _client() as client:
        answer = client.get("/big", headers={"Accept-Encoding": accept})
    assert answer.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in answer.headers["vary"]
    assert answer.json() == BIG
    assert int(answer.headers["content-length"]) < len(gzip.decompress(gzip.compress(answer.content)))


@pytest.mark.parametrize("accept", ["identity", "br", ""])
def test_a_client_that_does_not_accept_gzip_gets_the_plain_answer(accept: str) -> None:
    with _client() as client:
        answer = client.get("/big", headers={"Accept-Encoding": accept})
    assert "content-encoding" not in answer.headers
    assert answer.json() == BIG and int(answer.headers["content-length"]) == len(answer.content)


def test_a_small_answer_is_not_worth_compressing() -> None:
    with _client() as client:
        answer = client.get("/small", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in answer.headers and answer.json() == {"ok": True}


def test_a_streamed_answer_is_gzipped_as_it_streams() -> None:
    with _client() as client:
        answer = client.get("/stream", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip" and "content-length" not in answer.headers
    assert answer.text == "".join(f"line {n}: " + "x" * 200 + "\n" for n in range(50))
