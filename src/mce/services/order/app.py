"""Order service HTTP API: checkout, a shopper's orders, and staff's moves. Routes parse, call and map."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from mce.kit import idempotency
from mce.kit.app import add_readiness_check, create_service_app
from mce.kit.auth import check_admin
from mce.kit.bus.consumer import Consumer
from mce.kit.bus.factory import build_bus
from mce.kit.contracts import MAX_ID, ORDERS_TOPIC, Limit, Offset
from mce.kit.db import open_engine, write_transaction
from mce.kit.errors import BadRequest, Invalid, problem
from mce.kit.http import ServiceClient, Transport
from mce.kit.idempotency import HeaderKey, purge_keys
from mce.kit.outbox import OutboxRelay
from mce.kit.ratelimit import MemoryAttemptLimiter
from mce.kit.secrets import resolve_secret
from mce.kit.settings import load_settings
from mce.services.order import usecases
from mce.services.order.checkout import Checkout
from mce.services.order.domain import Order
from mce.services.order.lifecycle import allowed_next, staff_may
from mce.services.order.metrics import OrderMetrics
from mce.services.order.payment import CardError, read_card
from mce.services.order.remote import HttpCart, HttpStock
from mce.services.order.restock import RESTOCK_GROUP, Restocker
from mce.services.order.schemas import (
    OrderCheckout,
    OrderClaim,
    OrderPage,
    OrderRead,
    Owner,
    StatusChangeRequest,
)
from mce.services.order.settings import OrderSettings
from mce.services.order.store.sql import OrderUnitOfWork, SqlOrderQueries
from mce.services.order.store.tables import MIGRATIONS, idempotency_keys, outbox, outbox_lease

JSON = "application/json"

OrderId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Order id")]
OrderAnswer = {200: {"model": OrderRead}}


# Checkouts that commit within this window share one outbox read, publish and mark (a pass per commit cost a quarter
# of the order service's CPU per checkout); nothing waits on order events sooner.
RELAY_COALESCE_S = 0.1


def _without_card(body: OrderCheckout, secret: str) -> dict[str, Any]:
    """The checkout as its key's fingerprint sees it: the card number and code only under a keyed hash.

    A plain hash of a body with a card in it could be reversed by trying card numbers; the fingerprint is kept for a
    day in the database, so it must not hold the card in any form one could search for.
    """
    fields = body.model_dump(mode="json")
    payment = fields.pop("payment")
    card = f"{payment.pop('card_number')}|{payment.pop('cvc')}".encode()
    payment["card"] = hmac.new(secret.encode(), card, hashlib.sha256).hexdigest()
    return {**fields, "payment": payment}


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status, media_type=JSON)


def _purge_old_keys(engine: Engine) -> Callable[[], int]:
    def purge() -> int:
        with write_transaction(engine) as conn:
            return purge_keys(conn, idempotency_keys)

    return purge


def _staff_view(order: Order) -> dict[str, Any]:
    """The order as staff see it: whose it is, and the moves they may make next (for the admin page's buttons)."""
    moves = [status.value for status in allowed_next(order.status) if staff_may(order.status, status)]
    return {**order.to_json(), "owner": order.owner, "staff_moves": moves}


def _page(orders: list[Order], total: int, limit: int, offset: int, *, with_owner: bool) -> dict[str, Any]:
    # Only staff see whose an order is: a guest's owner key is its session's, not something to hand around.
    items = [_staff_view(order) if with_owner else order.to_json() for order in orders]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def create_app(
    settings: OrderSettings | None = None,
    *,
    cart_transport: Transport | None = None,
    product_transport: Transport | None = None,
) -> FastAPI:
    """The order service; its database, bus, outbox relay and clients of cart and product are built in the lifespan."""
    settings = settings or load_settings(OrderSettings)
    admin_token = resolve_secret(
        settings.admin_token, name="admin-token", data_dir=settings.data_dir, production=settings.production
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            engine = await open_engine(settings.resolved_url(), MIGRATIONS, migrate=settings.migrate_on_start)
            stack.callback(engine.dispose)
            bus = build_bus(settings)
            stack.callback(bus.close)
            relay = OutboxRelay(
                engine,
                outbox,
                bus,
                lease=outbox_lease,
                housekeeping=[_purge_old_keys(engine)],
                coalesce_s=RELAY_COALESCE_S,
            )
            carts = ServiceClient("cart", settings.cart_url, timeout=settings.http_timeout, transport=cart_transport)
            stack.push_async_callback(carts.aclose)
            products = ServiceClient(
                "product", settings.product_url, timeout=settings.http_timeout, transport=product_transport
            )
            stack.push_async_callback(products.aclose)
            queries = SqlOrderQueries(engine)

            def open_uow() -> OrderUnitOfWork:
                return OrderUnitOfWork(engine, on_commit=relay.wake, on_moves=order_metrics.moved)

            app.state.queries = queries
            app.state.open_uow = open_uow
            app.state.relay = relay
            stock = HttpStock(products, admin_token)
            app.state.checkout = Checkout(open_uow, HttpCart(carts), stock)
            # Reservations of orders that ended before shipping go back, followed from the order's own events.
            restocker = Restocker(stock.release, asyncio.get_running_loop(), timeout_s=settings.http_timeout * 2)
            restock = Consumer(bus, ORDERS_TOPIC, RESTOCK_GROUP, restocker)
            app.state.metrics.watch_outbox(relay)
            app.state.metrics.watch_consumer(restock)
            app.state.restocker = restocker
            add_readiness_check(app, "database", lambda: run_in_threadpool(queries.ping))
            add_readiness_check(app, "cart", carts.ping, required=False)
            add_readiness_check(app, "product", products.ping, required=False)
            add_readiness_check(app, "bus", lambda: run_in_threadpool(bus.ping), required=False)
            # Events committed before the relay starts wait in the outbox; it publishes them when it starts.
            starter = threading.Timer(settings.relay_start_delay_s, relay.start)
            starter.daemon = True
            starter.start()
            stack.callback(relay.stop)
            stack.callback(starter.cancel)
            restock.start()
            # Stopped before the product client closes (callbacks run last first), and off the loop it calls into.
            stack.push_async_callback(run_in_threadpool, restock.stop)
            yield

    app = create_service_app("order", settings, lifespan=lifespan, description="Orders and checkout.")
    order_metrics = OrderMetrics("order", app.state.metrics.registry)
    app.state.order_metrics = order_metrics
    app.state.admin_token = admin_token
    app.state.admin_limiter = MemoryAttemptLimiter(
        max_failures=settings.auth_failure_limit, window_s=settings.auth_failure_window_s
    )

    async def require_admin(request: Request) -> None:
        await check_admin(request, request.app.state.admin_token, request.app.state.admin_limiter)

    @app.post(
        "/orders",
        status_code=201,
        tags=["orders"],
        summary="Check out the owner's cart: 201 paid, 409 out_of_stock, 402 payment_declined, 503 a service down",
        responses={201: {"model": OrderRead}},
    )
    async def checkout(request: Request, key: HeaderKey, body: OrderCheckout) -> Response:
        if key is None:
            raise BadRequest(
                f"checkout requires an {idempotency.HEADER} header; send the same key when retrying",
                details=[problem(idempotency.HEADER, "required")],
            )
        typed = body.payment
        try:
            card = read_card(
                card_number=typed.card_number,
                expiry=typed.expiry,
                cvc=typed.cvc,
                name=typed.name,
                today=datetime.now(UTC).date(),
            )
        except CardError as exc:
            raise Invalid(f"payment: {exc}", details=[problem("payment", str(exc))]) from None
        fingerprint = idempotency.fingerprint(request.method, request.url.path, _without_card(body, admin_token))
        answer = await request.app.state.checkout(
            owner=body.owner, key=key, request=body, card=card, fingerprint=fingerprint
        )
        order_metrics.checkout(answer.outcome)
        headers = {"location": answer.location} if answer.location else {}
        if answer.replayed:
            headers["idempotent-replayed"] = "true"
        if answer.status == 503:
            headers["retry-after"] = "1"
        return Response(answer.body, answer.status, headers=headers, media_type=JSON)

    @app.get(
        "/orders",
        tags=["orders"],
        summary="An owner's orders newest first; all=true (admin token) lists everyone's",
        responses={200: {"model": OrderPage}},
    )
    async def list_orders(
        request: Request,
        owner: Annotated[Owner | None, Query(description="Whose orders")] = None,
        all: Annotated[bool, Query(description="Every owner's orders (staff only)")] = False,  # noqa: A002
        limit: Annotated[Limit, Query()] = 20,
        offset: Annotated[Offset, Query()] = 0,
    ) -> Response:
        if all:
            await require_admin(request)
            owner = None
        elif owner is None:
            raise Invalid("give the owner whose orders to list", details=[problem("owner", "required")])
        orders, total = await run_in_threadpool(request.app.state.queries.page, owner=owner, limit=limit, offset=offset)
        return _json(_page(orders, total, limit, offset, with_owner=all))

    @app.get(
        "/orders/{order_id}",
        tags=["orders"],
        summary="One order with its status history: the owner's (404 for anyone else's), or any with the admin token",
        responses=OrderAnswer,
    )
    async def get_order(
        request: Request, order_id: OrderId, owner: Annotated[Owner | None, Query(description="Whose order")] = None
    ) -> Response:
        queries = request.app.state.queries
        if owner is None:
            await require_admin(request)
            order = await run_in_threadpool(queries.get, order_id)
            return _json(_staff_view(order))
        order = await run_in_threadpool(usecases.owners_order, queries, order_id=order_id, owner=owner)
        return _json(order.to_json())

    @app.post(
        "/orders/{order_id}/status",
        tags=["admin"],
        summary="Staff move an order on (paid -> shipped -> delivered, cancel, refund); 409 for a move not allowed",
        responses=OrderAnswer,
    )
    async def change_status(request: Request, order_id: OrderId, body: StatusChangeRequest) -> Response:
        await require_admin(request)

        def work() -> Order:
            with request.app.state.open_uow() as uow:
                return usecases.change_status(uow, order_id=order_id, to=body.status, reason=body.reason)

        return _json(_staff_view(await run_in_threadpool(work)))

    @app.post(
        "/orders/claim",
        tags=["admin"],
        summary="Move a guest's orders to an account (the gateway calls it at sign-in)",
    )
    async def claim(request: Request, body: OrderClaim) -> Response:
        await require_admin(request)

        def work() -> list[int]:
            with request.app.state.open_uow() as uow:
                return usecases.claim_orders(uow, from_owner=body.from_owner, to_owner=body.to_owner)

        return _json({"moved": await run_in_threadpool(work)})

    return app
