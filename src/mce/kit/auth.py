"""Admin authentication by bearer token, shared by the gateway and the services behind it."""

from __future__ import annotations

import hmac

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


def check_admin(request: Request, expected: str, limiter: AttemptLimiter | None = None) -> None:
    """Raise Unauthorized unless the request carries the admin bearer token; a client that keeps guessing gets 429."""
    client = client_address(request)
    if limiter is not None:
        limiter.check(client)
    given = bearer_token(request)
    if not token_matches(given, expected):
        # Only a wrong token is a guess; a missing one is a caller who did not try.
        if given is not None and limiter is not None:
            limiter.failed(client)
        raise Unauthorized("admin bearer token required (Authorization: Bearer <token>)")
