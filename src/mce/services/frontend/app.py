"""Wiring: the frontend app with its backends, its own database (sessions), pages, admin, API and static files."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from mce.kit.app import add_readiness_check, create_service_app
from mce.kit.blob.factory import build_blob_store
from mce.kit.bus.factory import build_bus
from mce.kit.bus.port import EventBus
from mce.kit.db import open_engine, read_runner
from mce.kit.http import Transport
from mce.kit.settings import load_settings
from mce.services.frontend import (
    account_api,
    account_pages,
    admin,
    analytics_api,
    analytics_pages,
    api,
    cart_api,
    cart_pages,
    images,
    order_api,
    order_pages,
    pages,
)
from mce.services.frontend.activity import ActivityRecorder, IdentityKeys, ProductViewMiddleware
from mce.services.frontend.activity_queue import ActivityMetrics, BackgroundPublisher
from mce.services.frontend.cache import CatalogCache, CatalogCacheMiddleware
from mce.services.frontend.clients import open_backends
from mce.services.frontend.pages import CategoryCache
from mce.services.frontend.rendering import STATIC_DIR, build_templates, install_error_pages
from mce.services.frontend.sessions import SessionMiddleware, SessionRuntime
from mce.services.frontend.settings import FrontendSettings, resolve_secrets
from mce.services.frontend.store.sql import SqlAccountStore, SqlAttemptLimiter, SqlSessionStore
from mce.services.frontend.store.tables import MIGRATIONS
from mce.services.frontend.uploads import UPLOAD_PATHS, body_limit

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY_S = 600.0
# At shutdown, queued activity events get this long to reach the bus.
ACTIVITY_FLUSH_S = 2.0
FAVICON = STATIC_DIR / "favicon.svg"


async def _housekeeping(store: SqlSessionStore, limiter: SqlAttemptLimiter, settings: FrontendSettings) -> None:
    """Now and then delete ended sessions and passed sign-in windows, so the tables stay small."""
    while True:
        now = datetime.now(UTC)
        try:
            await run_in_threadpool(
                store.purge,
                unused_since=now - timedelta(seconds=settings.session_idle_s),
                created_before=now - timedelta(seconds=settings.session_max_age_s),
            )
            await run_in_threadpool(limiter.purge)
        except Exception:
            log.exception("frontend housekeeping failed; will try again")
        await asyncio.sleep(HOUSEKEEPING_EVERY_S)


def _start_activity(
    app: FastAPI, settings: FrontendSettings, session_secret: str, bus: EventBus | None
) -> BackgroundPublisher | None:
    """Start publishing shopper activity when it is on; the bus is built on the publisher's thread at first use."""
    if not settings.activity_events:
        app.state.activity = None
        return None
    publisher = BackgroundPublisher(
        (lambda: bus) if bus is not None else (lambda: build_bus(settings)),
        settings.user_events_topic,
        app.state.activity_metrics,
        max_queued=settings.activity_queue_size,
        close_bus=bus is None,
    )
    publisher.start()
    app.state.activity = ActivityRecorder(publisher, IdentityKeys.derive(session_secret.encode()))
    return publisher


def create_app(
    settings: FrontendSettings | None = None,
    *,
    product_transport: Transport | None = None,
    search_transport: Transport | None = None,
    cart_transport: Transport | None = None,
    order_transport: Transport | None = None,
    analytics_transport: Transport | None = None,
    bus: EventBus | None = None,
) -> FastAPI:
    """The frontend app; the transports let tests put fake backends behind the clients, and `bus` a bus of theirs."""
    settings = settings or load_settings(FrontendSettings)
    secrets = resolve_secrets(settings)
    catalog_cache = CatalogCache(ttl=settings.catalog_cache_ttl, max_bytes=settings.catalog_cache_mb * 1024 * 1024)
    category_cache = CategoryCache(ttl=settings.category_cache_ttl)

    def catalog_changed() -> None:
        catalog_cache.clear()
        category_cache.clear()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = await open_engine(settings.resolved_url(), MIGRATIONS, migrate=settings.migrate_on_start)
        store = SqlSessionStore(engine)
        limiter = SqlAttemptLimiter(
            engine, max_failures=settings.auth_failure_limit, window_s=settings.auth_failure_window_s
        )
        read = read_runner(engine)
        backends = open_backends(
            settings,
            product_transport=product_transport,
            search_transport=search_transport,
            cart_transport=cart_transport,
            order_transport=order_transport,
            analytics_transport=analytics_transport,
            on_catalog_write=catalog_changed,
        )
        app.state.backends = backends
        # Read only: the gateway serves thumbnails and never writes, so it needs no bus to notify.
        blobs = build_blob_store(settings)
        app.state.blobs = blobs

        async def catalog_read(target: str) -> Response:
            # The same relay the catalog routes use, so the fast path answers exactly as they would.
            return await backends.product.relay("GET", target)

        catalog_cache.read = catalog_read
        app.state.limiter = limiter
        app.state.accounts = SqlAccountStore(engine)
        app.state.read = read
        app.state.session_runtime = SessionRuntime(store, secrets.session_secret.encode(), read)
        # Only its own database decides whether this frontend can serve: with the catalog down it still shows
        # a friendly page, and taking every frontend out of its Service would show nothing at all.
        add_readiness_check(app, "database", lambda: run_in_threadpool(store.ping))
        add_readiness_check(app, "product", backends.product.ping, required=False)
        add_readiness_check(app, "search", backends.search.ping, required=False)
        add_readiness_check(app, "cart", backends.cart.ping, required=False)
        add_readiness_check(app, "order", backends.order.ping, required=False)
        add_readiness_check(app, "analytics", backends.analytics.ping, required=False)
        chores = asyncio.create_task(_housekeeping(store, limiter, settings), name="frontend-housekeeping")
        publisher = _start_activity(app, settings, secrets.session_secret, bus)
        try:
            yield
        finally:
            if publisher is not None:
                app.state.activity = None
                await run_in_threadpool(publisher.stop, ACTIVITY_FLUSH_S)
            catalog_cache.read = None
            chores.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chores
            await backends.aclose()
            blobs.close()
            engine.dispose()

    app = create_service_app(
        "frontend",
        settings,
        lifespan=lifespan,
        description="The storefront and the JSON API in front of the catalog and search.",
        # The catalog cache compresses its pages itself, once per entry.
        edge=[
            Middleware(ProductViewMiddleware, state=lambda: app.state),
            Middleware(CatalogCacheMiddleware, cache=catalog_cache),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                runtime=lambda: app.state.session_runtime,
                secure=settings.secure_cookies,
                idle_s=settings.session_idle_s,
                max_age_s=settings.session_max_age_s,
            ),
        ],
        body_limits=[("POST", UPLOAD_PATHS, body_limit(settings.upload_max_bytes))],
    )
    app.state.activity_metrics = ActivityMetrics(app.state.metrics.registry, "frontend")
    app.state.secrets = secrets
    app.state.catalog_cache = catalog_cache
    app.state.category_cache = category_cache
    app.state.templates = build_templates(settings)
    install_error_pages(app)
    app.add_exception_handler(admin.AdminLoginRequired, admin.redirect_to_login)
    app.include_router(api.router)
    app.include_router(account_api.router)
    app.include_router(cart_api.router)
    app.include_router(order_api.router)
    app.include_router(analytics_api.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.include_router(analytics_pages.router)
    app.include_router(account_pages.router)
    app.include_router(cart_pages.router)
    app.include_router(order_pages.router)
    app.include_router(images.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Read once here: browsers ask for it with every first page they load.
    icon = FAVICON.read_bytes()

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(icon, media_type="image/svg+xml", headers={"cache-control": "max-age=86400"})

    return app
