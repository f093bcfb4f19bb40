"""Admin authentication by bearer token, shared by the gateway and the services behind it."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from mce.kit.errors import Unauthorized
from mce.kit.ratelimit import AttemptLimiter


def bearer_token(request: Request) -> str | None:
    """The token from an `Authorization: Bearer ...` header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so timing does not leak the token; an empty token never matches."""
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def client_address(request: Request) -> str:
    """Who is asking, as far as this service can tell (the proxy's address unless it is trusted to say)."""
    return request.client.host if request.client else "unknown"


Runner = Callable[..., Awaitable[Any]]


async def run_inline(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a limiter's call right here: for one that keeps its counts in memory."""
    return fn(*args)


async def admit_token(
    request: Request,
    given: str | None,
    expected: str,
    limiter: AttemptLimiter | None = None,
    *,
    read: Runner = run_inline,
    write: Runner = run_inline,
) -> bool:
    """Whether the given token is the expected one; TooManyRequests while this client is locked out for guessing.

    `read` runs the limiter's check and `write` its count of a failure: a limiter that keeps its counts in a
    database reads as the service's reads run (kit.db.read_runner) and writes off the event loop.
    """
    client = client_address(request)
    if limiter is not None:
        await read(limiter.check, client)
    if token_matches(given, expected):
        return True
    # Only a wrong token is a guess; a missing one is a caller who did not try.
    if given is not None and limiter is not None:
        await write(limiter.failed, client)
    return False


async def check_admin(
    request: Request,
    expected: str,
    limiter: AttemptLimiter | None = None,
    *,
    read: Runner = run_inline,
    write: Runner = run_inline,
) -> str:
    """The admin's bearer token; Unauthorized without it, and 429 for a client that keeps guessing."""
    given = bearer_token(request)
    if not await admit_token(request, given, expected, limiter, read=read, write=write):
        raise Unauthorized("admin bearer token required (Authorization: Bearer <token>)")
    assert given is not None
    return given
