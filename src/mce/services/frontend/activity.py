"""Shopper activity from the storefront: who did what, as ActivityPayload events on the user-events topic.

Who: a signed-in shopper is `account-<id>`. A guest with a session is `session-<HMAC of the session's shopper id
(or, before it has one, of its token)>`: stable for the session, and not the token, which opens the session. A
visitor without a session is `visitor-<HMAC of address and user agent under a salt that changes every UTC day>`,
as Plausible counts visitors: one person is one id for a day, the next day they are a stranger, and the address is
never stored. Both keys are derived from the session secret under labels of their own, so no new secret is needed
and neither hash equals the session table's. Requests from bots and probes are not activity.

Recording never slows or fails a request: the event is validated and queued here, published by a thread of its own
(activity_queue), and dropped and counted when the queue is full or the bus is down.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mce.kit.auth import client_address
from mce.kit.contracts import ACTIVITY_METADATA_VALUE_MAX, MAX_ID, ActivityPayload, activity_event
from mce.kit.events import Event
from mce.kit.fastpath import path_id
from mce.services.frontend.accounts import ACCOUNT
from mce.services.frontend.activity_queue import INVALID, BackgroundPublisher
from mce.services.frontend.sessions import SHOPPER_ID, SessionRuntime, cookie_token, load_session_data

log = logging.getLogger(__name__)

ID_HEX_CHARS = 24  # 96 bits: no two shoppers of a day share an id by chance
# Crawlers, uptime checks and Kubernetes probes look at pages but are nobody's shopping.
BOT_AGENT = re.compile(r"bot|crawl|spider|slurp|kube-probe|prometheus|health|monitor|pingdom|lighthouse", re.I)
PRODUCT_API_PREFIX = "/api/products/"


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


@dataclass(frozen=True)
class IdentityKeys:
    """The keys the pseudonymous ids are made with."""

    session_key: bytes
    visitor_key: bytes

    @classmethod
    def derive(cls, secret: bytes) -> IdentityKeys:
        """Keys of their own from the session secret (labelled, so no id equals a stored session key)."""
        return cls(_mac(secret, b"mce-activity/session-id"), _mac(secret, b"mce-activity/visitor-id"))

    def daily_salt(self, day: str) -> bytes:
        """The visitor salt of one UTC day (YYYY-MM-DD)."""
        return _mac(self.visitor_key, day.encode())


def session_user_id(keys: IdentityKeys, *, shopper_id: str | None, token: str | None) -> str | None:
    """A guest's id: from the session's shopper id (stable across a renewed token), else from its token."""
    if shopper_id:
        material = b"sid:" + shopper_id.encode()
    elif token:
        material = b"token:" + token.encode()
    else:
        return None
    return "session-" + _mac(keys.session_key, material).hex()[:ID_HEX_CHARS]


def visitor_user_id(keys: IdentityKeys, *, address: str, user_agent: str, day: str) -> str:
    """An anonymous visitor's id for one day: their address and browser under the day's salt."""
    material = f"{address}\n{user_agent}".encode()
    return "visitor-" + _mac(keys.daily_salt(day), material).hex()[:ID_HEX_CHARS]


def user_id_for(
    keys: IdentityKeys,
    session: Mapping[str, Any] | None,
    *,
    token: str | None,
    address: str,
    user_agent: str,
    now_s: int,
) -> str:
    """Who a request is: account, else session, else the day's visitor hash."""
    session = session or {}
    account = session.get(ACCOUNT)
    if isinstance(account, dict) and isinstance(account.get("id"), int) and not isinstance(account["id"], bool):
        return f"account-{account['id']}"
    shopper = session.get(SHOPPER_ID)
    guest = session_user_id(keys, shopper_id=shopper if isinstance(shopper, str) else None, token=token)
    if guest is not None:
        return guest
    day = datetime.fromtimestamp(now_s, UTC).date().isoformat()
    return visitor_user_id(keys, address=address, user_agent=user_agent, day=day)


def is_bot(user_agent: str) -> bool:
    """Whether the user agent says it is a crawler, a probe or a monitor."""
    return bool(BOT_AGENT.search(user_agent))


def bounded(text: str) -> str:
    """Free text for metadata: printable, trimmed, cut to the contract's length."""
    return "".join(ch for ch in text if ch.isprintable()).strip()[:ACTIVITY_METADATA_VALUE_MAX]


class ActivityRecorder:
    """Turns storefront actions into queued activity events."""

    def __init__(self, publisher: BackgroundPublisher, keys: IdentityKeys) -> None:
        self.publisher = publisher
        self.keys = keys

    def record(
        self,
        request: Request,
        event_type: str,
        *,
        product_id: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Queue one action of the request's shopper; bots, and anything invalid, are left out."""
        user_agent = request.headers.get("user-agent", "")
        if is_bot(user_agent):
            return
        now_s = int(time.time())
        session = request.session
        user = user_id_for(
            self.keys,
            session,
            token=getattr(session, "token", None),
            address=client_address(request),
            user_agent=user_agent,
            now_s=now_s,
        )
        event = self._event(user, event_type, product_id, metadata or {}, now_s)
        if event is not None:
            self.publisher.offer(event)

    def record_product_view(self, scope: Scope, product_id: int, runtime: SessionRuntime | None) -> None:
        """Queue a view answered before routing: a session, if any, is looked up on the publisher's thread."""
        headers = {name: value for name, value in scope["headers"] if name in (b"user-agent", b"cookie")}
        user_agent = headers.get(b"user-agent", b"").decode("latin-1")
        if is_bot(user_agent):
            return
        now_s = int(time.time())
        address = scope["client"][0] if scope.get("client") else "unknown"
        session = scope.get("session")
        token = cookie_token(scope)
        if session is not None or token is None or runtime is None:
            # The route answered (its session is loaded), or there is no session to look up.
            known = getattr(session, "token", None)
            user = user_id_for(self.keys, session, token=known, address=address, user_agent=user_agent, now_s=now_s)
            event = self._event(user, "view_product", product_id, {}, now_s)
            if event is not None:
                self.publisher.offer(event)
            return

        def with_session() -> Event | None:
            data = load_session_data(runtime, token)
            known = token if data is not None else None
            user = user_id_for(self.keys, data, token=known, address=address, user_agent=user_agent, now_s=now_s)
            return self._event(user, "view_product", product_id, {}, now_s)

        self.publisher.offer(with_session)

    def _event(
        self, user: str, event_type: str, product_id: int | None, metadata: dict[str, Any], now_s: int
    ) -> Event | None:
        """The validated event, or None (counted and logged) when the contract refuses it."""
        try:
            payload = ActivityPayload(
                user_id=user,
                event_type=event_type,
                product_id=None if product_id is None else str(product_id),
                timestamp=now_s,
                metadata=metadata,
            )
        except ValidationError as exc:
            self.publisher.metrics.dropped[INVALID].inc()
            log.warning("left out an activity event the contract refuses: %s", exc.errors(include_input=False))
            return None
        return activity_event(payload)


def record(request: Request, event_type: str, **details: Any) -> None:
    """Record the request's shopper's action, when activity is on."""
    recorder: ActivityRecorder | None = getattr(request.app.state, "activity", None)
    if recorder is None:
        return
    try:
        recorder.record(request, event_type, **details)
    except Exception:
        # Activity is a by-product of shopping and must never turn a shopper's answer into an error.
        log.exception("could not record %s activity", event_type)


def purchase_metadata(order: Any) -> dict[str, Any]:
    """The order's id and total (a decimal string) for a purchase event."""
    return {"order_id": order["id"], "total": str(order["total_amount"])}


def record_purchase(request: Request, body: bytes) -> None:
    """Record a purchase from the order service's JSON answer."""
    try:
        order = orjson.loads(body)
        metadata = purchase_metadata(order)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        log.warning("a placed order's answer did not say its id and total; no purchase event")
        return
    record(request, "purchase", metadata=metadata)


class ProductViewMiddleware:
    """Records `GET /api/products/{id}` answered 200, including those the catalog fast path answers before routing."""

    def __init__(self, app: ASGIApp, *, state: Callable[[], Any]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(PRODUCT_API_PREFIX):
            await self.app(scope, receive, send)
            return
        product_id = path_id(scope, PRODUCT_API_PREFIX, MAX_ID)
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        state = self.state()
        recorder: ActivityRecorder | None = getattr(state, "activity", None)
        if recorder is None or product_id is None or status != 200:
            return
        try:
            recorder.record_product_view(scope, product_id, getattr(state, "session_runtime", None))
        except Exception:
            # The answer is sent; activity is a by-product and must never turn it into an error.
            log.exception("could not record a product view")
