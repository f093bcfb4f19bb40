"""Server-side sessions: the cookie holds a random token, the data lives in the session store.

Signing out deletes the session on the server, so a cookie saved before is worth nothing afterwards. A session ends
when unused for its idle time or at its absolute lifetime; an admin's sign-in lapses sooner. Nothing is stored for a
visitor until the session holds something, so browsing costs no writes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mce.kit.db import ReadRunner
from mce.kit.errors import Forbidden
from mce.services.frontend.store.port import SessionStore, StoredSession

log = logging.getLogger(__name__)

COOKIE = "mce_session"
SHOPPER_ID = "sid"
ADMIN = "admin"
CSRF = "csrf"
FLASHES = "flashes"
# A session's last use is written at most this often, so reading pages does not write on every request.
TOUCH_EVERY = timedelta(seconds=60)
TOKEN_CHARS = 43
# Files and probes never read a session; loading one for each stylesheet would cost a database read apiece.
SESSIONLESS_PREFIXES = (
    "/static/",
    "/images/",
    "/static-offline-docs/",
    "/favicon.ico",
    "/healthz",
    "/readyz",
    "/metrics",
)


class ServerSession(dict):
    """A session's data; changes are saved on the server when the response starts."""

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        created_at: datetime | None = None,
        last_seen_at: datetime | None = None,
    ) -> None:
        super().__init__(data or {})
        self.token = token
        self.created_at = created_at
        self.last_seen_at = last_seen_at
        self.modified = False
        self.renewed = False
        self.ended = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.modified = self.modified or key in self
        return super().pop(key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.modified = True
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self.modified = True
        super().clear()

    def renew(self) -> None:
        """Give the session a new token at the next save (on a change of privilege, against session fixation)."""
        self.renewed = True
        self.modified = True

    def end(self) -> None:
        """End the session on the server and forget its data; anything stored afterwards starts a new session."""
        super().clear()
        self.ended = True
        self.modified = True


@dataclass(frozen=True)
class SessionRuntime:
    """What the middleware needs once the lifespan has opened the store."""

    store: SessionStore
    secret: bytes
    read: ReadRunner


def _key_hash(secret: bytes, token: str) -> str:
    """The stored key: keyed, so neither a leaked table nor a guessed hash opens a session."""
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()


def cookie_token(scope: Scope) -> str | None:
    """The session token from the request's cookies, if it looks like one of ours."""
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header is the client's problem, not a 500
                return None
            morsel = cookie.get(COOKIE)
            if morsel and len(morsel.value) == TOKEN_CHARS and morsel.value.isascii():
                return morsel.value
    return None


def load_session_data(runtime: SessionRuntime, token: str) -> dict[str, Any] | None:
    """The data of the session a cookie token names, or None; blocking, for work done off the event loop."""
    stored = runtime.store.load(_key_hash(runtime.secret, token))
    return None if stored is None else dict(stored.data)


class SessionMiddleware:
    """Loads the session named by the cookie into `request.session` and saves it when the response starts."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        runtime: Callable[[], SessionRuntime],
        secure: bool,
        idle_s: int,
        max_age_s: int,
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.secure = secure
        self.idle = timedelta(seconds=idle_s)
        self.max_age = timedelta(seconds=max_age_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SESSIONLESS_PREFIXES):
            await self.app(scope, receive, send)
            return
        runtime = self.runtime()
        token = cookie_token(scope)
        session, stale_cookie = await self._load(runtime, token)
        scope["session"] = session

        async def save_then_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = await self._save(runtime, session, stale_cookie)
                if cookie is not None:
                    message["headers"] = [*message.get("headers", ()), (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, save_then_send)

    async def _load(self, runtime: SessionRuntime, token: str | None) -> tuple[ServerSession, bool]:
        """The live session for the token, or a new empty one (and whether the browser holds a dead cookie)."""
        if token is None:
            return ServerSession(), False
        stored = await runtime.read(runtime.store.load, _key_hash(runtime.secret, token))
        now = datetime.now(UTC)
        if stored is None:
            return ServerSession(), True
        if now - stored.last_seen_at > self.idle or now - stored.created_at > self.max_age:
            await run_in_threadpool(runtime.store.delete, _key_hash(runtime.secret, token))
            return ServerSession(), True
        return ServerSession(
            stored.data, token=token, created_at=stored.created_at, last_seen_at=stored.last_seen_at
        ), False

    async def _save(self, runtime: SessionRuntime, session: ServerSession, stale_cookie: bool) -> str | None:
        """Write what changed; the Set-Cookie value to send, if any."""
        now = datetime.now(UTC)
        had_cookie = session.token is not None or stale_cookie
        ending = session.ended or session.renewed or (session.modified and not session)
        if ending and session.token is not None:
            await run_in_threadpool(runtime.store.delete, _key_hash(runtime.secret, session.token))
            session.token = None
        if not session:
            # Nothing to keep: no row, and the browser forgets any cookie it had.
            return self._cookie("", 0) if had_cookie else None
        if session.token is None:
            if not session.modified:
                return None
            session.token = secrets.token_urlsafe(32)
            session.created_at = now
            stored = StoredSession(dict(session), now, now)
            await run_in_threadpool(runtime.store.save, _key_hash(runtime.secret, session.token), stored)
        else:
            if not session.modified and session.last_seen_at and now - session.last_seen_at < TOUCH_EVERY:
                return None
            stored = StoredSession(dict(session), session.created_at or now, now)
            # An update, never an insert: a request that loaded the session before a sign-out ended it must not
            # write it back into existence.
            kept = await run_in_threadpool(runtime.store.update, _key_hash(runtime.secret, session.token), stored)
            if not kept:
                return self._cookie("", 0)
        remaining = self.max_age - (now - stored.created_at)
        return self._cookie(session.token, int(min(self.idle, remaining).total_seconds()))

    def _cookie(self, value: str, max_age: int) -> str:
        """The Set-Cookie value: HttpOnly, SameSite=Lax, Secure where asked."""
        parts = [f"{COOKIE}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


def ensure_shopper_id(request: Request) -> str:
    """The shopper's anonymous id, made when something (a cart) first needs it."""
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


def existing_csrf_token(request: Request) -> str:
    """This session's CSRF token if it has one, else "": for forms a browsing visitor sees, which must not make one."""
    return request.session.get(CSRF, "")


def _same_site_page(request: Request) -> bool:
    """Whether the browser says the form was sent from one of this site's pages (Origin, else Referer)."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and origin.partition("://")[2] == host
    referer = request.headers.get("referer", "")
    scheme, _, rest = referer.partition("://")
    return scheme in ("http", "https") and (rest == host or rest.startswith(host + "/"))


async def require_csrf_or_same_site(request: Request) -> None:
    """A visitor's first form (no session yet, so no token) must come from this site's page; later ones need the token.

    Drawing a token on every product page would make a session for every browser that looks at one; instead, a
    form sent without a session is taken only when the browser's Origin (or Referer) header names this site.
    """
    form = await request.form()
    if CSRF in request.session:
        if not csrf_matches(request, form.get("csrf_token")):
            raise Forbidden("the form's CSRF token is missing or out of date")
    elif not _same_site_page(request):
        raise Forbidden("a form from another site's page cannot change this shop")


def csrf_matches(request: Request, submitted: object) -> bool:
    """Whether a submitted form carries this session's CSRF token."""
    expected = request.session.get(CSRF)
    if not expected or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(submitted.encode(), expected.encode())


async def require_same_origin(request: Request) -> None:
    """Refuse a shopper's cookie-borne API write sent from another site's page (403).

    The shopper's JSON API takes the session cookie as who is asking, so a page elsewhere must not be able to send
    one: the cookie is SameSite=Lax, the body must be JSON (which a cross-site form cannot send without a preflight
    we never allow), and a browser's Origin header, when it sends one, must be this site.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return
    scheme, _, rest = origin.partition("://")
    if origin == "null" or rest != request.headers.get("host", "") or scheme not in ("http", "https"):
        raise Forbidden("a request from another site's page cannot use this session")


def _token_mark(request: Request) -> str:
    """A one-way mark of the current admin token: rotating the token ends every admin session made with the old one."""
    token = request.app.state.secrets.admin_token
    return hashlib.sha256(b"mce-admin-session:" + token.encode()).hexdigest()[:32]


def is_admin(request: Request, *, touch: bool = True) -> bool:
    """Whether this session belongs to an admin who signed in with the current token, recently enough.

    `touch` counts the request as the admin's activity; a page's own polling does not, so a dashboard left open
    does not keep an admin signed in past their idle time.
    """
    admin = request.session.get(ADMIN)
    if not isinstance(admin, dict) or not isinstance(admin.get("mark"), str):
        return False
    if not hmac.compare_digest(admin["mark"], _token_mark(request)):
        return False
    settings = request.app.state.settings
    now = time.time()
    since, seen = admin.get("since", 0), admin.get("seen", 0)
    if now - seen > settings.admin_idle_s or now - since > settings.admin_max_age_s:
        request.session.pop(ADMIN, None)
        return False
    if touch and now - seen > TOUCH_EVERY.total_seconds():
        request.session[ADMIN] = {**admin, "seen": now}
    return True


def sign_in_admin(request: Request) -> None:
    """Mark the session as an admin's, under a new token and with a fresh CSRF token for the new privilege."""
    now = time.time()
    request.session.renew()
    request.session[ADMIN] = {"mark": _token_mark(request), "since": now, "seen": now}
    request.session[CSRF] = secrets.token_urlsafe(24)


def sign_out(request: Request) -> None:
    """End the session on the server: a copy of its cookie opens nothing afterwards."""
    request.session.end()


def flash(request: Request, message: str, kind: str = "success") -> None:
    """Keep a message to show on the next page."""
    request.session[FLASHES] = [*request.session.get(FLASHES, []), {"kind": kind, "message": message}]


def pop_flashes(request: Request) -> list[dict[str, str]]:
    """The messages waiting to be shown, removed so they show once."""
    if FLASHES not in request.session:
        return []
    return request.session.pop(FLASHES)
