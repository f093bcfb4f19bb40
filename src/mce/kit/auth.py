"""Admin authentication by bearer token, shared by the gateway and the services behind it."""

from __future__ import annotations

import hmac

from fastapi import Request

from mce.kit.errors import Unauthorized


def bearer_token(request: Request) -> str | None:
    """The token from an `Authorization: Bearer ...` header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so timing does not leak the token."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def check_admin(request: Request, expected: str) -> None:
    """Raise Unauthorized unless the request carries the admin bearer token."""
    if not token_matches(bearer_token(request), expected):
        raise Unauthorized("admin bearer token required (Authorization: Bearer <token>)")
