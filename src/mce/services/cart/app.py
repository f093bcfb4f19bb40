"""Cart service HTTP API: a shopper's cart by its id. Routes parse, call and map."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import FastAPI, Request, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from mce.kit.app import add_readiness_check, create_service_app
from mce.kit.bus.factory import build_bus
from mce.kit.bus.port import EventBus
from mce.kit.contracts import MAX_ID
from mce.kit.db import open_engine, private_write_runner
from mce.kit.http import ServiceClient, Transport
from mce.kit.outbox import OutboxRelay
from mce.kit.settings import SettingsError, load_settings
from mce.services.cart import usecases
from mce.services.cart.catalog import HttpCatalog
from mce.services.cart.domain import CART_ID_MAX, CART_ID_PATTERN, Cart
from mce.services.cart.schemas import CartMerge, CartPayload, ItemAdd, QuantityChange
from mce.services.cart.settings import CART_STORES, CartSettings
from mce.services.cart.store.port import CartStore
from mce.services.cart.store.sql import SqlCartStore
from mce.services.cart.store.tables import MIGRATIONS, outbox, outbox_lease

JSON = "application/json"
# Adds at 100/s each woke the relay for a read, a publish and a mark of one event; a 100 ms window batches them,
# and nothing in the platform waits on cart events (cart CPU per add: see the commits that set it).
RELAY_COALESCE_S = 0.1

CartId = Annotated[
    str,
    PathParam(
        min_length=1,
        max_length=CART_ID_MAX,
        pattern=CART_ID_PATTERN,
        description="The cart's key (a session or account id): letters, digits, '-' and '_'",
    ),
]
ProductId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Product id")]
CartAnswer = {200: {"model": CartPayload}}


class Relay(Protocol):
    """What the lifespan does with either store's outbox relay."""

    published: int

    @property
    def pending(self) -> int | None: ...
    def wake(self) -> None: ...
    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...


@dataclass(frozen=True)
class OpenStore:
    """The cart store, the relay of its outbox, and how an async route runs one of its writes."""

    store: CartStore
    relay: Relay
    run: usecases.Runner


async def open_store(settings: CartSettings, stack: AsyncExitStack, bus: EventBus) -> OpenStore:
    """The store MCE_CART_STORE names and the relay of its outbox; the only place that switches on it."""
    if settings.cart_store == "sqlite":
        engine = await open_engine(settings.resolved_url(), MIGRATIONS, migrate=settings.migrate_on_start)
        stack.callback(engine.dispose)
        relay = OutboxRelay(engine, outbox, bus, lease=outbox_lease, coalesce_s=RELAY_COALESCE_S)
        # The cart's SQLite file is its own (the relay is this process's too): a write runs on the loop.
        return OpenStore(SqlCartStore(engine, on_commit=relay.wake), relay, private_write_runner(engine))
    if settings.cart_store == "dynamodb":
        from mce.kit.aws import aws_client
        from mce.services.cart.store.dynamo import DynamoCartStore, ensure_tables
        from mce.services.cart.store.dynamo_relay import DynamoOutboxRelay

        local = not settings.production
        client = aws_client("dynamodb", local=local, timeout_s=settings.http_timeout)
        stack.callback(client.close)
        table, outbox_table = settings.cart_table, settings.resolved_outbox_table()
        if local:
            # Terraform makes the tables in production; there the readiness check only finds them.
            await run_in_threadpool(ensure_tables, client, table, outbox_table)
        relay = DynamoOutboxRelay(client, outbox_table, bus, coalesce_s=RELAY_COALESCE_S)
        store = DynamoCartStore(client, table, outbox_table, on_commit=relay.wake)
        return OpenStore(store, relay, run_in_threadpool)
    raise SettingsError(
        f"MCE_CART_STORE: unknown cart store {settings.cart_store!r}; allowed: {', '.join(CART_STORES)}"
    )


def _cart(cart: Cart, status: int = 200) -> Response:
    return Response(cart.encoded, status, media_type=JSON)


def create_app(settings: CartSettings | None = None, *, product_transport: Transport | None = None) -> FastAPI:
    """The cart service; its database, bus, outbox relay and product client are built in the lifespan."""
    settings = settings or load_settings(CartSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            bus = build_bus(settings)
            stack.callback(bus.close)
            opened = await open_store(settings, stack, bus)
            store, relay = opened.store, opened.relay
            products = ServiceClient(
                "product", settings.product_url, timeout=settings.http_timeout, transport=product_transport
            )
            stack.push_async_callback(products.aclose)
            app.state.store = store
            app.state.run_write = opened.run
            app.state.catalog = HttpCatalog(products)
            app.state.relay = relay
            app.state.metrics.watch_outbox(relay)
            add_readiness_check(app, "database", lambda: run_in_threadpool(store.ping))
            # Reads and removals work without the catalog and the outbox keeps events while the bus is down.
            add_readiness_check(app, "product", products.ping, required=False)
            add_readiness_check(app, "bus", lambda: run_in_threadpool(bus.ping), required=False)
            relay.start()
            stack.callback(relay.stop)
            yield

    app = create_service_app("cart", settings, lifespan=lifespan, description="Shopping carts.")

    def store(request: Request) -> CartStore:
        return request.app.state.store

    @app.get("/carts/{cart_id}", tags=["carts"], summary="A cart (an unknown one is empty)", responses=CartAnswer)
    def get_cart(request: Request, cart_id: CartId) -> Response:
        return _cart(usecases.get_cart(store(request), cart_id=cart_id))

    @app.post(
        "/carts/{cart_id}/items",
        tags=["carts"],
        summary="Add a product at the catalog's price; one already in the cart adds to its quantity",
        responses={200: {"model": CartPayload}, 201: {"model": CartPayload, "description": "The cart was created"}},
    )
    async def add_item(request: Request, cart_id: CartId, body: ItemAdd) -> Response:
        # The catalog is asked here on the loop, and the read and write run as the store's runner says (on the loop
        # for SQLite): a sync route hopped to a worker, back to the loop for the catalog and to the worker again.
        product = await request.app.state.catalog.fetch(body.product_id)
        cart = await usecases.add_looked_up_item(
            store(request),
            product,
            request.app.state.run_write,
            cart_id=cart_id,
            product_id=body.product_id,
            quantity=body.quantity,
        )
        return _cart(cart, 201 if cart.version == 1 else 200)

    @app.patch(
        "/carts/{cart_id}/items/{product_id}",
        tags=["carts"],
        summary="Set a product's quantity (1 to 99; delete the line to remove it)",
        responses=CartAnswer,
    )
    def change_quantity(request: Request, cart_id: CartId, product_id: ProductId, body: QuantityChange) -> Response:
        cart = usecases.change_quantity(
            store(request), request.app.state.catalog, cart_id=cart_id, product_id=product_id, quantity=body.quantity
        )
        return _cart(cart)

    @app.delete("/carts/{cart_id}/items/{product_id}", tags=["carts"], summary="Remove a product", responses=CartAnswer)
    def remove_item(request: Request, cart_id: CartId, product_id: ProductId) -> Response:
        return _cart(usecases.remove_item(store(request), cart_id=cart_id, product_id=product_id))

    @app.delete("/carts/{cart_id}", tags=["carts"], summary="Empty the cart", responses=CartAnswer)
    def clear_cart(request: Request, cart_id: CartId) -> Response:
        return _cart(usecases.clear_cart(store(request), cart_id=cart_id))

    @app.post(
        "/carts/{cart_id}/merge",
        tags=["carts"],
        summary="Fold another cart into this one and remove it, together (a visitor's cart at sign-in)",
        responses=CartAnswer,
    )
    def merge_carts(request: Request, cart_id: CartId, body: CartMerge) -> Response:
        return _cart(usecases.merge_carts(store(request), cart_id=cart_id, from_cart_id=body.from_cart_id))

    return app
