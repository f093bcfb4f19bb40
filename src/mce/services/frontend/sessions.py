"""What the signed session cookie holds: the shopper id, the admin mark, the CSRF token and flash messages."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

SHOPPER_ID = "sid"
ADMIN = "admin"
CSRF = "csrf"
FLASHES = "flashes"


def ensure_shopper_id(request: Request) -> str:
    """The shopper's anonymous id, given on the first visit so a cart can follow them."""
    session = request.session
    if SHOPPER_ID not in session:
        session[SHOPPER_ID] = secrets.token_urlsafe(16)
    return session[SHOPPER_ID]


def csrf_token(request: Request) -> str:
    """This session's CSRF token, made when a form first needs it."""
    session = request.session
    if CSRF not in session:
        session[CSRF] = secrets.token_urlsafe(24)
    return session[CSRF]


def csrf_matches(request: Request, submitted: object) -> bool:
    """Whether a submitted form carries this session's CSRF token."""
    expected = request.session.get(CSRF)
    if not expected or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(submitted.encode(), expected.encode())


def _token_mark(request: Request) -> str:
    """A one-way mark of the current admin token: rotating the token ends every admin session made with the old one."""
    token = request.app.state.secrets.admin_token
    return hashlib.sha256(b"mce-admin-session:" + token.encode()).hexdigest()[:32]


def is_admin(request: Request) -> bool:
    """Whether this session belongs to an admin who logged in with the current token."""
    mark = request.session.get(ADMIN)
    return isinstance(mark, str) and hmac.compare_digest(mark, _token_mark(request))


def sign_in_admin(request: Request) -> None:
    """Mark the session as an admin's, with a fresh CSRF token for the new privilege."""
    request.session[ADMIN] = _token_mark(request)
    request.session[CSRF] = secrets.token_urlsafe(24)


def sign_out_admin(request: Request) -> None:
    """Drop the admin mark; the shopper id stays so the cart does too."""
    request.session.pop(ADMIN, None)


def flash(request: Request, message: str, kind: str = "success") -> None:
    """Keep a message to show on the next page."""
    request.session[FLASHES] = [*request.session.get(FLASHES, []), {"kind": kind, "message": message}]


def pop_flashes(request: Request) -> list[dict[str, str]]:
    """The messages waiting to be shown, removed so they show once."""
    if FLASHES not in request.session:
        return []
    return request.session.pop(FLASHES)
