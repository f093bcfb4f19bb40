"""The ceiling: a bare uvicorn ASGI app answering a JSON hello, with nothing of ours in the way."""

BODY = b'{"hello":"world"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send) -> None:  # noqa: ANN001 - the raw ASGI signature
    """Answer every HTTP request with the same small JSON body."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
