"""Product service HTTP API: the catalog and its categories, with admin-only writes. Routes parse, call and map."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from mce.kit import idempotency
from mce.kit.app import add_readiness_check, create_service_app
from mce.kit.auth import admit_token, bearer_token, check_admin
from mce.kit.blob.factory import build_blob_store
from mce.kit.bus.factory import build_bus
from mce.kit.contracts import (
    MAX_ID,
    RESERVATION_REFERENCE_MAX,
    RESERVATION_REFERENCE_PATTERN,
    CategoryCreate,
    CategoryList,
    CategoryPayload,
    CategoryRename,
    ProductCreate,
    ProductListQuery,
    ProductPage,
    ProductPayload,
    ProductUpdate,
    StockAdjustment,
    StockReleasePayload,
    StockReservationPayload,
    StockReservationRequest,
)
from mce.kit.db import ReadRunner, open_engine, read_runner, write_transaction
from mce.kit.errors import Invalid, Unauthorized, Unavailable, problem
from mce.kit.fastpath import FastRead, FastReadsMiddleware, path_id, query_model
from mce.kit.idempotency import HeaderKey, purge_keys
from mce.kit.money import format_amount
from mce.kit.outbox import OutboxRelay
from mce.kit.ratelimit import MemoryAttemptLimiter
from mce.kit.secrets import resolve_secret
from mce.kit.settings import SettingsError, load_settings
from mce.services.product import images, usecases
from mce.services.product.domain import ProductFields
from mce.services.product.settings import ProductSettings
from mce.services.product.store.sql import ProductUnitOfWork, SqlCatalogQueries
from mce.services.product.store.tables import MIGRATIONS, idempotency_keys, outbox, outbox_lease

log = logging.getLogger(__name__)

JSON = "application/json"
# Idempotency keys are the admin's: one principal, one namespace of keys.
ADMIN_SCOPE = "admin"

ProductId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Product id")]
Reference = Annotated[
    str,
    PathParam(
        min_length=1,
        max_length=RESERVATION_REFERENCE_MAX,
        pattern=RESERVATION_REFERENCE_PATTERN,
        description="The reservation's reference",
    ),
]
CategoryId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Category id")]


async def _queries(request: Request) -> SqlCatalogQueries:
    return request.app.state.queries


async def _read_runner(request: Request) -> ReadRunner:
    return request.app.state.read


Queries = Annotated[SqlCatalogQueries, Depends(_queries)]
Read = Annotated[ReadRunner, Depends(_read_runner)]


async def _require_admin(request: Request) -> None:
    await check_admin(request, request.app.state.admin_token, request.app.state.admin_limiter)


AdminOnly = [Depends(_require_admin)]


async def _require_image_processor(request: Request) -> None:
    """Only the image processor's token, never the admin's: each credential opens only its own door."""
    state = request.app.state
    if not await admit_token(request, bearer_token(request), state.image_processor_token, state.admin_limiter):
        raise Unauthorized("image processor bearer token required (Authorization: Bearer <token>)")


ImageProcessorOnly = [Depends(_require_image_processor)]


class ProcessedImage(BaseModel):
    """The image processor's report: an upload's thumbnails are written and served at these addresses."""

    model_config = ConfigDict(extra="forbid")

    upload_key: str = Field(max_length=images.UPLOAD_KEY_MAX, examples=["uploads/products/7/0123abcd….jpg"])
    image_url: str = Field(max_length=512, examples=["/images/thumbnails/products/7/0123abcd…-512.webp"])
    thumbnail_url: str = Field(max_length=512, examples=["/images/thumbnails/products/7/0123abcd…-128.webp"])


class ImageUpload(BaseModel):
    """A picture upload taken in: its key, and whether its thumbnails exist yet."""

    product_id: int
    upload_key: str | None
    status: str = Field(description="processing (thumbnails not made yet), ready, or none")
    image_url: str | None = None
    thumbnail_url: str | None = None


# The upload takes a whole image as its body; every other route (the processor's report too) keeps the small cap.
UPLOAD_PATH = re.compile(r"/products/[^/]+/image")
Work = Callable[[ProductUnitOfWork], tuple[dict[str, Any] | None, str | None]]


def _json(payload: Any) -> Response:
    return Response(orjson.dumps(payload), media_type=JSON)


def _keyed_write(request: Request, key: str | None, body: Any, status: int, work: Work) -> Response:
    """Run a write in one unit of work; with an Idempotency-Key, a repeat gets the first answer instead."""
    fingerprint = idempotency.fingerprint(request.method, request.url.path, body)
    with request.app.state.open_uow() as uow:
        if key is not None:
            stored = uow.claim_key(scope=ADMIN_SCOPE, key=key, fingerprint=fingerprint)
            if stored is not None:
                headers = {"idempotent-replayed": "true", **({"location": stored.location} if stored.location else {})}
                return Response(stored.body or None, stored.status, headers=headers, media_type=JSON)
        payload, location = work(uow)
        content = b"" if payload is None else orjson.dumps(payload)
        if key is not None:
            uow.record_key(scope=ADMIN_SCOPE, key=key, status=status, body=content, location=location)
    headers = {"location": location} if location else None
    return Response(content or None, status, headers=headers, media_type=JSON if content else None)


def _purge_old_keys(engine) -> Callable[[], int]:  # noqa: ANN001 - an Engine
    def purge() -> int:
        with write_transaction(engine) as conn:
            return purge_keys(conn, idempotency_keys)

    return purge


def create_app(settings: ProductSettings | None = None) -> FastAPI:
    """The product service; its database, bus and outbox relay are built in the lifespan."""
    settings = settings or load_settings(ProductSettings)
    admin_token = resolve_secret(
        settings.admin_token, name="admin-token", data_dir=settings.data_dir, production=settings.production
    )
    processor_token = resolve_secret(
        settings.image_processor_token,
        name="image-processor-token",
        data_dir=settings.data_dir,
        production=settings.production,
    )
    if processor_token == admin_token:
        raise SettingsError("MCE_IMAGE_PROCESSOR_TOKEN: must differ from MCE_ADMIN_TOKEN")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = await open_engine(settings.resolved_url(), MIGRATIONS, migrate=settings.migrate_on_start)
        bus = build_bus(settings)
        relay = OutboxRelay(engine, outbox, bus, lease=outbox_lease, housekeeping=[_purge_old_keys(engine)])
        # Storing an upload notifies the image processor through the bus (S3's notification, locally).
        blobs = build_blob_store(settings, bus)
        app.state.blobs = blobs
        queries = SqlCatalogQueries(engine)
        app.state.queries = queries
        app.state.open_uow = lambda: ProductUnitOfWork(engine, on_commit=relay.wake)
        app.state.read = read_runner(engine)
        app.state.relay = relay
        app.state.metrics.watch_outbox(relay)
        add_readiness_check(app, "database", lambda: run_in_threadpool(queries.ping))
        # The outbox keeps writes safe while the bus is down, so the bus only degrades readiness.
        add_readiness_check(app, "bus", lambda: run_in_threadpool(bus.ping), required=False)
        add_readiness_check(app, "blobs", lambda: run_in_threadpool(blobs.ping), required=False)
        relay.start()
        try:
            yield
        finally:
            relay.stop()
            blobs.close()
            bus.close()
            engine.dispose()

    fast_reads: list[FastRead] = []
    app = create_service_app(
        "product",
        settings,
        lifespan=lifespan,
        description="The product catalog.",
        middleware=[Middleware(FastReadsMiddleware, reads=fast_reads)],
        body_limits=[("POST", UPLOAD_PATH, settings.upload_max_bytes)],
    )
    app.state.fast_reads = fast_reads
    app.state.admin_token = admin_token
    app.state.image_processor_token = processor_token
    app.state.admin_limiter = MemoryAttemptLimiter(
        max_failures=settings.auth_failure_limit, window_s=settings.auth_failure_window_s
    )

    async def listing(query: ProductListQuery) -> Response:
        state = app.state
        items, total = await state.read(
            state.queries.page,
            category=query.category,
            sort=query.sort,
            limit=query.limit,
            offset=query.offset,
            after_id=query.after_id,
        )
        tail = f',"total":{total},"limit":{query.limit},"offset":{query.offset}}}'.encode()
        return Response(b'{"items":' + items + tail, media_type=JSON)

    async def one_product(product_id: int) -> Response:
        return Response(await app.state.read(app.state.queries.get_json, product_id), media_type=JSON)

    # Valid hot reads are answered before the routing (see kit.fastpath); the routes below answer the rest.
    app.state.fast_reads.extend(
        [
            FastRead("/products", lambda scope: query_model(scope, "/products", ProductListQuery), listing),
            FastRead("/products/{product_id}", lambda scope: path_id(scope, "/products/", MAX_ID), one_product),
        ]
    )

    @app.get("/products", tags=["products"], summary="List products", responses={200: {"model": ProductPage}})
    async def list_products(query: Annotated[ProductListQuery, Query()]) -> Response:
        return await listing(query)

    @app.get(
        "/products/{product_id}", tags=["products"], summary="One product", responses={200: {"model": ProductPayload}}
    )
    async def get_product(product_id: ProductId) -> Response:
        return await one_product(product_id)

    @app.post(
        "/products",
        status_code=201,
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Create a product in an existing category",
        responses={201: {"model": ProductPayload}},
    )
    def create_product(request: Request, key: HeaderKey, body: ProductCreate) -> Response:
        def work(uow: ProductUnitOfWork) -> tuple[dict[str, Any], str]:
            product = usecases.create_product(uow, fields=ProductFields(**body.model_dump()))
            return product.to_json(), f"/products/{product.id}"

        return _keyed_write(request, key, body.model_dump(mode="json"), 201, work)

    @app.put(
        "/products/{product_id}",
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Change a product's fields (those given); `version` guards against lost updates",
        responses={200: {"model": ProductPayload}},
    )
    def update_product(request: Request, key: HeaderKey, product_id: ProductId, body: ProductUpdate) -> Response:
        try:
            changes = body.changes()
        except ValueError as exc:
            raise Invalid(str(exc), details=[problem("", str(exc))]) from None
        if not changes:
            raise Invalid("give at least one field to change", details=[problem("", "no field to change")])

        def work(uow: ProductUnitOfWork) -> tuple[dict[str, Any], None]:
            product = usecases.update_product(
                uow, product_id=product_id, changes=changes, expected_version=body.version
            )
            return product.to_json(), None

        return _keyed_write(request, key, body.model_dump(mode="json", exclude_unset=True), 200, work)

    @app.delete(
        "/products/{product_id}", status_code=204, dependencies=AdminOnly, tags=["admin"], summary="Delete a product"
    )
    def delete_product(request: Request, key: HeaderKey, product_id: ProductId) -> Response:
        def work(uow: ProductUnitOfWork) -> tuple[None, None]:
            usecases.delete_product(uow, product_id=product_id)
            return None, None

        return _keyed_write(request, key, None, 204, work)

    @app.post(
        "/products/{product_id}/stock-adjustments",
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Move stock by a delta, never below zero; a repeated `reference` applies once",
        responses={200: {"model": ProductPayload}},
    )
    def adjust_stock(request: Request, key: HeaderKey, product_id: ProductId, body: StockAdjustment) -> Response:
        def work(uow: ProductUnitOfWork) -> tuple[dict[str, Any], None]:
            product = usecases.adjust_stock(
                uow, product_id=product_id, delta=body.delta, reason=body.reason, reference=body.reference
            )
            return product.to_json(), None

        return _keyed_write(request, key, body.model_dump(mode="json"), 200, work)

    @app.post(
        "/products/{product_id}/image",
        status_code=202,
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Upload the product's picture (the body is the JPEG, PNG or WebP itself); thumbnails follow",
        responses={202: {"model": ImageUpload}, 413: {}, 415: {}, 422: {}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    kind: {"schema": {"type": "string", "format": "binary"}}
                    for kind in ("image/jpeg", "image/png", "image/webp", "application/octet-stream")
                },
            }
        },
    )
    async def upload_image(request: Request, product_id: ProductId) -> Response:
        data = await request.body()
        checked = await run_in_threadpool(
            images.check_image, data, max_bytes=settings.upload_max_bytes, max_pixels=settings.upload_max_pixels
        )
        key = images.new_upload_key(product_id, checked.extension)
        await run_in_threadpool(_take_upload, request, product_id, key, data, checked.content_type)
        body = {"product_id": product_id, "upload_key": key, "status": "processing"}
        return Response(orjson.dumps(body), 202, media_type=JSON)

    def _take_upload(request: Request, product_id: int, key: str, data: bytes, content_type: str) -> None:
        """Record the upload as current, then store it; recorded first, so the processor's report finds it."""
        with request.app.state.open_uow() as uow:
            usecases.record_upload(uow, product_id=product_id, upload_key=key)
        try:
            request.app.state.blobs.put(key, data, content_type)
        except Exception as exc:
            log.exception("could not store upload %s", key)
            with request.app.state.open_uow() as uow:
                usecases.forget_upload(uow, product_id=product_id, upload_key=key)
            raise Unavailable("the picture could not be stored; try again", service="blob store") from exc

    @app.get(
        "/products/{product_id}/image",
        dependencies=AdminOnly,
        tags=["admin"],
        summary="The product's current upload and whether its thumbnails are made",
        responses={200: {"model": ImageUpload}},
    )
    async def image_state(queries: Queries, read: Read, product_id: ProductId) -> Response:
        product, upload_key = await read(queries.image_state, product_id)
        status = images.image_status(product_id, upload_key, product.image_url, product.thumbnail_url)
        body = {
            "product_id": product_id,
            "upload_key": upload_key,
            "status": status,
            "image_url": product.image_url,
            "thumbnail_url": product.thumbnail_url,
        }
        return _json(body)

    @app.put(
        "/products/{product_id}/image",
        dependencies=ImageProcessorOnly,
        tags=["internal"],
        summary="The image processor reports an upload's thumbnails; 409 when a newer upload replaced it",
        responses={200: {"model": ProductPayload}, 409: {}},
    )
    def apply_image(request: Request, product_id: ProductId, body: ProcessedImage) -> Response:
        images.check_processed(product_id, body.upload_key, body.image_url, body.thumbnail_url)
        with request.app.state.open_uow() as uow:
            product = usecases.apply_image(
                uow,
                product_id=product_id,
                upload_key=body.upload_key,
                image_url=body.image_url,
                thumbnail_url=body.thumbnail_url,
            )
        return _json(product.to_json())

    @app.post(
        "/stock-reservations",
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Take products out of stock, all or none (409 out_of_stock); a repeated `reference` applies once",
        responses={200: {"model": StockReservationPayload}},
    )
    def reserve_stock(request: Request, body: StockReservationRequest) -> Response:
        with request.app.state.open_uow() as uow:
            reserved = usecases.reserve_stock(
                uow, reference=body.reference, items=[(item.product_id, item.quantity) for item in body.items]
            )
        items = [
            {"product_id": p.id, "name": p.name, "quantity": quantity, "price": format_amount(p.price)}
            for p, quantity in reserved
        ]
        return _json({"reference": body.reference, "items": items})

    @app.post(
        "/stock-reservations/{reference}/release",
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Put back what a reservation took, once; releasing again or an unknown reference changes nothing",
        responses={200: {"model": StockReleasePayload}},
    )
    def release_stock(request: Request, reference: Reference) -> Response:
        with request.app.state.open_uow() as uow:
            released = usecases.release_stock(uow, reference=reference)
        items = [{"product_id": product_id, "quantity": quantity} for product_id, quantity in released]
        return _json({"reference": reference, "items": items})

    @app.get(
        "/categories", tags=["categories"], summary="Categories with counts", responses={200: {"model": CategoryList}}
    )
    async def list_categories(queries: Queries, read: Read) -> Response:
        return _json({"items": [c.to_json() for c in await read(queries.categories)]})

    @app.get(
        "/categories/{category_id}",
        tags=["categories"],
        summary="One category",
        responses={200: {"model": CategoryPayload}},
    )
    async def get_category(queries: Queries, read: Read, category_id: CategoryId) -> Response:
        return _json((await read(queries.category, category_id)).to_json())

    @app.post(
        "/categories",
        status_code=201,
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Create a category; names are unique whatever their case",
        responses={201: {"model": CategoryPayload}},
    )
    def create_category(request: Request, key: HeaderKey, body: CategoryCreate) -> Response:
        def work(uow: ProductUnitOfWork) -> tuple[dict[str, Any], str]:
            category = usecases.create_category(uow, name=body.name)
            return category.to_json(), f"/categories/{category.id}"

        return _keyed_write(request, key, body.model_dump(mode="json"), 201, work)

    @app.put(
        "/categories/{category_id}",
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Rename a category (its products change with it)",
        responses={200: {"model": CategoryPayload}},
    )
    def rename_category(request: Request, key: HeaderKey, category_id: CategoryId, body: CategoryRename) -> Response:
        def work(uow: ProductUnitOfWork) -> tuple[dict[str, Any], None]:
            return usecases.rename_category(uow, category_id=category_id, name=body.name).to_json(), None

        return _keyed_write(request, key, body.model_dump(mode="json"), 200, work)

    @app.delete(
        "/categories/{category_id}",
        status_code=204,
        dependencies=AdminOnly,
        tags=["admin"],
        summary="Delete an empty category",
    )
    def delete_category(request: Request, key: HeaderKey, category_id: CategoryId) -> Response:
        def work(uow: ProductUnitOfWork) -> tuple[None, None]:
            usecases.delete_category(uow, category_id=category_id)
            return None, None

        return _keyed_write(request, key, None, 204, work)

    return app
