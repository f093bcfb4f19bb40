"""Wiring: the frontend app with its backends, sessions, pages, admin, API and static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware

from mce.kit.app import add_readiness_check, create_service_app
from mce.kit.settings import load_settings
from mce.services.frontend import admin, api, pages
from mce.services.frontend.cache import CatalogCache, CatalogCacheMiddleware
from mce.services.frontend.clients import open_backends
from mce.services.frontend.rendering import STATIC_DIR, build_templates, install_error_pages
from mce.services.frontend.settings import FrontendSettings, resolve_secrets

SESSION_COOKIE = "mce_session"


def create_app(
    settings: FrontendSettings | None = None,
    *,
    product_transport: httpx.AsyncBaseTransport | None = None,
    search_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The frontend app; the transports let tests put fake backends behind the clients."""
    settings = settings or load_settings(FrontendSettings)
    secrets = resolve_secrets(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backends = open_backends(
            settings,
            product_transport=product_transport,
            search_transport=search_transport,
            on_catalog_write=catalog_cache.clear,
        )
        app.state.backends = backends
        add_readiness_check(app, "product", backends.product.ping)
        # Search being down degrades the shop but does not stop it selling.
        add_readiness_check(app, "search", backends.search.ping, required=False)
        try:
            yield
        finally:
            await backends.aclose()

    catalog_cache = CatalogCache(ttl=settings.catalog_cache_ttl)
    app = create_service_app(
        "frontend",
        settings,
        lifespan=lifespan,
        description="The storefront and the JSON API in front of the catalog.",
        middleware=[
            Middleware(CatalogCacheMiddleware, cache=catalog_cache),
            Middleware(
                SessionMiddleware,
                secret_key=secrets.session_secret,
                session_cookie=SESSION_COOKIE,
                same_site="lax",
                https_only=settings.cookie_secure,
            ),
        ],
    )
    app.state.secrets = secrets
    app.state.catalog_cache = catalog_cache
    app.state.templates = build_templates(settings)
    install_error_pages(app)
    app.add_exception_handler(admin.AdminLoginRequired, admin.redirect_to_login)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
