"""Product service HTTP API: the catalog, with admin-only writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from mce.kit.app import add_readiness_check, create_service_app
from mce.kit.auth import check_admin
from mce.kit.bus.factory import build_bus
from mce.kit.db import ReadRunner, make_engine, migrate, read_runner
from mce.kit.outbox import OutboxRelay
from mce.kit.secrets import local_secret
from mce.kit.settings import load_settings
from mce.services.product.domain import CATEGORY_MAX, Product, ProductFields, ProductSort
from mce.services.product.schemas import (
    CategoryCount,
    CategoryList,
    ProductCreate,
    ProductPage,
    ProductRead,
    ProductUpdate,
)
from mce.services.product.settings import ProductSettings
from mce.services.product.store.port import ProductRepository
from mce.services.product.store.sql import SqlProductRepository
from mce.services.product.store.tables import MIGRATIONS, outbox

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # PostgreSQL rejects NUL in text, so control characters never get that far
MAX_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL

ProductId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Product id")]


async def _repository(request: Request) -> ProductRepository:
    return request.app.state.repository


Repository = Annotated[ProductRepository, Depends(_repository)]


async def _read_runner(request: Request) -> ReadRunner:
    return request.app.state.read


Read = Annotated[ReadRunner, Depends(_read_runner)]


async def _require_admin(request: Request) -> None:
    check_admin(request, request.app.state.admin_token)


AdminOnly = [Depends(_require_admin)]


def _read(product: Product) -> ProductRead:
    return ProductRead.model_validate(product, from_attributes=True)


def create_app(settings: ProductSettings | None = None) -> FastAPI:
    """The product service; its database, bus and outbox relay are built in the lifespan."""
    settings = settings or load_settings(ProductSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.resolved_database_url()
        if settings.migrate_on_start:
            await run_in_threadpool(migrate, url, MIGRATIONS)
        engine = make_engine(url)
        bus = build_bus(settings.bus, data_dir=settings.data_dir)
        relay = OutboxRelay(engine, outbox, bus)
        repository = SqlProductRepository(engine, on_commit=relay.wake)
        app.state.repository = repository
        app.state.read = read_runner(engine)
        app.state.relay = relay
        app.state.admin_token = local_secret(settings.admin_token, settings.data_dir, "admin-token")
        add_readiness_check(app, "database", lambda: run_in_threadpool(repository.ping))
        # The outbox keeps writes safe while the bus is down, so the bus only degrades readiness.
        add_readiness_check(app, "bus", lambda: run_in_threadpool(bus.ping), required=False)
        relay.start()
        try:
            yield
        finally:
            relay.stop()
            bus.close()
            engine.dispose()

    app = create_service_app("product", settings, lifespan=lifespan, description="The product catalog.")

    @app.get("/products", response_model=ProductPage, tags=["products"], summary="List products")
    async def list_products(
        repository: Repository,
        read: Read,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        category: Annotated[str | None, Query(min_length=1, max_length=CATEGORY_MAX, pattern=PRINTABLE)] = None,
        sort: ProductSort = ProductSort.NEWEST,
    ) -> ProductPage:
        items, total = await read(repository.list, category=category, sort=sort, limit=limit, offset=offset)
        return ProductPage(items=[_read(p) for p in items], total=total, limit=limit, offset=offset)

    @app.get("/products/{product_id}", response_model=ProductRead, tags=["products"], summary="One product")
    async def get_product(repository: Repository, read: Read, product_id: ProductId) -> ProductRead:
        return _read(await read(repository.get, product_id))

    @app.get("/categories", response_model=CategoryList, tags=["products"], summary="Categories with counts")
    async def list_categories(repository: Repository, read: Read) -> CategoryList:
        return CategoryList(items=[CategoryCount(name=n, count=c) for n, c in await read(repository.categories)])

    @app.post(
        "/products",
        status_code=201,
        response_model=ProductRead,
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Create a product",
    )
    def create_product(repository: Repository, body: ProductCreate) -> ProductRead:
        return _read(repository.create(ProductFields(**body.model_dump())))

    @app.put(
        "/products/{product_id}",
        response_model=ProductRead,
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Change a product's fields (those given); `version` guards against lost updates",
    )
    def update_product(repository: Repository, product_id: ProductId, body: ProductUpdate) -> ProductRead:
        return _read(repository.update(product_id, body.changes(), expected_version=body.version))

    @app.delete(
        "/products/{product_id}",
        status_code=204,
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Delete a product",
    )
    def delete_product(repository: Repository, product_id: ProductId) -> Response:
        repository.delete(product_id)
        return Response(status_code=204)

    return app
