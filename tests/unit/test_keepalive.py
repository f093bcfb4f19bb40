"""The service-to-service transport: keep-alive reuse, whole answers, and every way a connection can go wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from mce.kit.http import NotSent, SendFailed
from mce.kit.keepalive import KeepAliveTransport

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Seen: %d\r\nContent-Length: %d\r\n\r\n%s"


class Close(bytes):
    """An answer after which the scripted server closes the connection."""


# How a scripted server answers one request: (connection number, request number on it, raw request) -> bytes to
# send (then closing the connection if they are Close), or None to close it without answering.
Script = Callable[[int, int, bytes], Awaitable[bytes | None]]


class ScriptedServer:
    """A loopback server that reads whole requests and answers each as the test's script says."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            for count in range(1, 1000):
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                request = head + (await reader.readexactly(length) if length else b"")
                self.requests.append(request)
                answer = await self.script(number, count, request)
                if answer is None:
                    return
                writer.write(answer)
                await writer.drain()
                if isinstance(answer, Close):
                    return
        finally:
            self.open_now -= 1
            writer.close()


def ok(body: bytes = b'{"ok":true}', seen: int = 0) -> bytes:
    return OK % (seen, len(body), body)


async def always_ok(connection: int, count: int, request: bytes) -> bytes:
    return ok(seen=count)


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 20))


def test_an_answer_comes_whole_with_lower_case_headers_and_the_request_goes_as_given() -> None:
    async def scenario() -> None:
        async with ScriptedServer(always_ok) as server:
            transport = KeepAliveTransport(server.url)
            answer = await transport.send(
                "POST", "/carts/c1/items?x=1", headers={"content-type": "application/json"}, body=b'{"a":1}', timeout=5
            )
            await transport.aclose()
        assert (answer.status, answer.content, answer.json()) == (200, b'{"ok":true}', {"ok": True})
        assert answer.headers["content-type"] == "application/json"
        sent = server.requests[0]
        assert sent.startswith(b"POST /carts/c1/items?x=1 HTTP/1.1\r\n")
        assert b"content-type: application/json\r\n" in sent
        assert b"content-length: 7\r\n" in sent
        assert b"host: 127.0.0.1:" in sent
        assert sent.endswith(b'\r\n\r\n{"a":1}')

    run(scenario())


def test_calls_one_after_another_share_one_connection() -> None:
    async def scenario() -> None:
        async with ScriptedServer(always_ok) as server:
            transport = KeepAliveTransport(server.url)
            seen = [
                (await transport.send("GET", "/x", headers={}, body=None, timeout=5)).headers["x-seen"]
                for _ in range(5)
            ]
            await transport.aclose()
        assert seen == ["1", "2", "3", "4", "5"]
        assert server.connections == 1

    run(scenario())


def test_a_chunked_answer_is_read_whole() -> None:
    async def chunked(connection: int, count: int, request: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"

    async def scenario() -> None:
        async with ScriptedServer(chunked) as server:
            transport = KeepAliveTransport(server.url)
            first = await transport.send("GET", "/x", headers={}, body=None, timeout=5)
            second = await transport.send("GET", "/x", headers={}, body=None, timeout=5)
            await transport.aclose()
        assert first.content == second.content == b"hello world"
        assert server.connections == 1

    run(scenario())


def test_a_connection_the_server_says_it_closes_is_not_reused() -> None:
    async def closing(connection: int, count: int, request: bytes) -> bytes:
        return b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"

    async def scenario() -> None:
        async with ScriptedServer(closing) as server:
            transport = KeepAliveTransport(server.url)
            statuses = [(await transport.send("GET", "/x", headers={}, body=None, timeout=5)).status for _ in range(3)]
            await transport.aclose()
        assert statuses == [204, 204, 204]
        assert server.connections == 3

    run(scenario())


async def _closes_on_second_request(connection: int, count: int, request: bytes) -> bytes | None:
    """Answers a connection's first request; on its second, closes it unanswered (an idle timeout racing the send)."""
    return ok(seen=connection) if count == 1 else None


def test_a_read_on_a_connection_found_closed_is_sent_again_on_a_new_one() -> None:
    async def scenario() -> None:
        async with ScriptedServer(_closes_on_second_request) as server:
            transport = KeepAliveTransport(server.url)
            first = await transport.send("GET", "/x", headers={}, body=None, timeout=5)
            second = await transport.send("GET", "/x", headers={}, body=None, timeout=5)
            await transport.aclose()
        assert (first.headers["x-seen"], second.headers["x-seen"]) == ("1", "2")
        assert server.connections == 2

    run(scenario())


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_a_write_on_a_connection_found_closed_is_never_sent_again(method: str) -> None:
    async def scenario() -> None:
        async with ScriptedServer(_closes_on_second_request) as server:
            transport = KeepAliveTransport(server.url)
            await transport.send(method, "/orders/1", headers={}, body=b"{}", timeout=5)
            with pytest.raises(SendFailed, match="closed the connection before answering"):
                await transport.send(method, "/orders/1", headers={}, body=b"{}", timeout=5)
            await transport.aclose()
        # The second write reached the server once and only once: it may have been applied, so it is not repeated.
        assert len(server.requests) == 2
        assert server.connections == 1

    run(scenario())


def test_an_answer_cut_short_fails_and_is_not_sent_again() -> None:
    async def cut(connection: int, count: int, request: bytes) -> bytes:
        return Close(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")

    async def scenario() -> None:
        async with ScriptedServer(cut) as server:
            transport = KeepAliveTransport(server.url)
            with pytest.raises(SendFailed, match="closed during the answer"):
                await transport.send("GET", "/x", headers={}, body=None, timeout=5)
            await transport.aclose()
        assert len(server.requests) == 1

    run(scenario())


def test_no_answer_in_time_fails_at_the_deadline_and_the_connection_is_dropped() -> None:
    async def slow_first(connection: int, count: int, request: bytes) -> bytes:
        if connection == 1:
            await asyncio.sleep(3)
        return ok(seen=connection)

    async def scenario() -> None:
        async with ScriptedServer(slow_first) as server:
            transport = KeepAliveTransport(server.url)
            loop = asyncio.get_running_loop()
            began = loop.time()
            with pytest.raises(SendFailed, match="TimeoutError"):
                await transport.send("GET", "/x", headers={}, body=None, timeout=0.3)
            assert 0.25 <= loop.time() - began < 1.5
            # The late answer must never be taken for the next request's: that one goes on a new connection.
            answer = await transport.send("GET", "/x", headers={}, body=None, timeout=5)
            await transport.aclose()
        assert answer.headers["x-seen"] == "2"

    run(scenario())


def test_a_refused_connection_is_not_sent() -> None:
    async def scenario() -> None:
        async with ScriptedServer(always_ok) as server:
            url = server.url
        transport = KeepAliveTransport(url)
        with pytest.raises(NotSent):
            await transport.send("POST", "/x", headers={}, body=b"{}", timeout=2)

    run(scenario())


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    async def scenario() -> None:
        async with ScriptedServer(always_ok) as server:
            transport = KeepAliveTransport(server.url)
            for headers in ({"x-request-id": "a\r\nx-admin: yes"}, {"x-a\nb": "1"}):
                with pytest.raises(ValueError, match="line break"):
                    await transport.send("GET", "/x", headers=headers, body=None, timeout=5)
            await transport.aclose()
        assert server.requests == []

    run(scenario())


def test_a_target_with_spaces_line_breaks_a_hash_or_non_ascii_is_percent_encoded() -> None:
    async def scenario() -> None:
        async with ScriptedServer(always_ok) as server:
            transport = KeepAliveTransport(server.url + "/base/")
            await transport.send("GET", "/search?q=a b\r\nX: 1&c=é%20#d", headers={}, body=None, timeout=5)
            await transport.aclose()
        assert server.requests[0].startswith(b"GET /base/search?q=a%20b%0D%0AX:%201&c=%C3%A9%20%23d HTTP/1.1\r\n")

    run(scenario())


def test_an_answer_to_head_ends_with_its_headers() -> None:
    async def head(connection: int, count: int, request: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"

    async def scenario() -> None:
        async with ScriptedServer(head) as server:
            transport = KeepAliveTransport(server.url)
            answer = await transport.send("HEAD", "/x", headers={}, body=None, timeout=2)
            again = await transport.send("HEAD", "/x", headers={}, body=None, timeout=2)
            await transport.aclose()
        assert (answer.status, answer.content, answer.headers["content-length"]) == (200, b"", "1234")
        assert again.status == 200

    run(scenario())


def test_an_answer_that_is_not_http_fails() -> None:
    async def garbage(connection: int, count: int, request: bytes) -> bytes:
        return b"SMTP ready\r\n\r\n"

    async def scenario() -> None:
        async with ScriptedServer(garbage) as server:
            transport = KeepAliveTransport(server.url)
            with pytest.raises(SendFailed, match="not valid HTTP"):
                await transport.send("GET", "/x", headers={}, body=None, timeout=2)
            await transport.aclose()

    run(scenario())


def test_a_cancelled_call_leaves_no_connection_behind_for_the_next() -> None:
    async def slow_first(connection: int, count: int, request: bytes) -> bytes:
        if connection == 1:
            await asyncio.sleep(0.5)
        return ok(seen=connection)

    async def scenario() -> None:
        async with ScriptedServer(slow_first) as server:
            transport = KeepAliveTransport(server.url)
            task = asyncio.create_task(transport.send("GET", "/x", headers={}, body=None, timeout=5))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            answer = await transport.send("GET", "/x", headers={}, body=None, timeout=5)
            await transport.aclose()
        assert answer.headers["x-seen"] == "2"

    run(scenario())


def test_concurrent_calls_never_open_more_connections_than_the_pool_allows() -> None:
    async def slow(connection: int, count: int, request: bytes) -> bytes:
        await asyncio.sleep(0.05)
        return ok(seen=connection)

    async def scenario() -> None:
        async with ScriptedServer(slow) as server:
            transport = KeepAliveTransport(server.url, max_connections=2)
            answers = await asyncio.gather(
                *(transport.send("GET", "/x", headers={}, body=None, timeout=5) for _ in range(10))
            )
            await transport.aclose()
        assert [a.status for a in answers] == [200] * 10
        assert server.most_open == 2

    run(scenario())


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        KeepAliveTransport("ftp://product:8001")
