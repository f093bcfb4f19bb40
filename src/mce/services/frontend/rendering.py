"""Templates, the page renderer, and error pages: HTML for people on pages, the kit's JSON on the API."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from mce.kit.errors import DomainError, domain_error_response, error_response, http_error_headers
from mce.kit.idempotency import new_key
from mce.services.frontend import sessions, views
from mce.services.frontend.accounts import ACCOUNT
from mce.services.frontend.settings import FrontendSettings

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Paths that answer machines: they keep the kit's JSON errors.
JSON_PATH_PREFIXES = (
    "/api/",
    "/images/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/static-offline",
)

SECURITY_HEADERS = {
    # Product images may live on any host (the blob store, a CDN); everything else is ours.
    "content-security-policy": (
        "default-src 'self'; img-src * data:; script-src 'self'; style-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}

ERROR_COPY = {
    400: ("We couldn't understand that", "Something in the address isn't right. Go back and try again."),
    403: ("This form has expired", "Go back, reload the page and try again."),
    404: ("We couldn't find that", "The page or product you asked for isn't here. It may have been removed."),
    405: ("We couldn't find that", "That page can't be used this way."),
    409: ("That changed meanwhile", "Someone changed this while you were looking. Reload the page and try again."),
    422: ("We couldn't understand that", "Something in the address isn't right. Go back and try again."),
    429: ("Slow down a little", "Too many tries in a short time. Wait a moment, then try again."),
    502: ("Something went wrong", "One of our services gave an answer we didn't expect. Please try again."),
    503: ("We'll be right back", "Part of the shop isn't answering right now. Please try again in a moment."),
}
DEFAULT_ERROR_COPY = ("Something went wrong", "We couldn't finish that request. Please try again.")


def build_templates(settings: FrontendSettings) -> Jinja2Templates:
    """The Jinja environment with the shop's filters and per-request context."""
    public_url = (settings.public_url or "").rstrip("/")

    def page_context(request: Request) -> dict[str, Any]:
        # An error raised outside the session middleware still gets a page, just without session details.
        if "session" not in request.scope:
            return {
                "flashes": [],
                "is_admin": False,
                "shopper": None,
                "csrf_token": lambda: "",
                "existing_csrf_token": lambda: "",
                "public_url": public_url,
            }
        return {
            "flashes": sessions.pop_flashes(request),
            "is_admin": sessions.is_admin(request),
            # The name kept in the session at sign-in: the header costs no database read.
            "shopper": request.session.get(ACCOUNT),
            "csrf_token": lambda: sessions.csrf_token(request),
            "existing_csrf_token": lambda: sessions.existing_csrf_token(request),
            "public_url": public_url,
        }

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    templates = Jinja2Templates(env=env, context_processors=[page_context])
    templates.env.filters["price"] = views.format_price
    templates.env.filters["stock_status"] = views.stock_status
    templates.env.globals["link"] = views.link
    # Each form drawn gets its own idempotency key, so submitting it twice changes the catalog once.
    templates.env.globals["new_key"] = new_key
    return templates


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A rendered page with the shop's security headers."""
    templates: Jinja2Templates = request.app.state.templates
    context.setdefault("nav_categories", [])
    return templates.TemplateResponse(
        request, template, context, status_code=status_code, headers={**SECURITY_HEADERS, **(headers or {})}
    )


def wants_html(path: str) -> bool:
    """Pages answer errors in HTML; the API and the ops endpoints in JSON."""
    return path != "/api" and not path.startswith(JSON_PATH_PREFIXES)


def error_page(request: Request, status: int, headers: Mapping[str, str] | None = None) -> Response:
    """The friendly page for an HTTP error status."""
    title, message = ERROR_COPY.get(status, DEFAULT_ERROR_COPY)
    context = {"status": status, "title": title, "message": message}
    return render(request, "error.html", context, status, headers)


Handler = Callable[[Request, Any], Awaitable[Response]]


def _status_of(exc: Exception) -> int:
    """The HTTP status an error answers with on a page."""
    if isinstance(exc, DomainError):
        return exc.status
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code
    # Page parameters are read leniently, so only a malformed path (/products/abc, /products/3000000000) fails.
    if isinstance(exc, RequestValidationError):
        return 404
    return 500


def install_error_pages(app: FastAPI) -> None:
    """Wrap the kit's JSON error handlers so page routes answer with HTML error pages instead."""
    for exc_class in (DomainError, StarletteHTTPException, RequestValidationError):
        app.add_exception_handler(exc_class, _html_or(app.exception_handlers[exc_class]))

    def unhandled(scope: Scope, exc: Exception) -> Response:
        # The request context middleware calls this for an error nothing handled; it has logged it already.
        request = Request(scope)
        status = exc.status if isinstance(exc, DomainError) else 500
        if wants_html(scope["path"]):
            return error_page(request, status, getattr(exc, "headers", None))
        if isinstance(exc, DomainError):
            return domain_error_response(exc)
        return error_response(500, "internal", "internal error; the request id is in the X-Request-ID header")

    app.state.unhandled_responder = unhandled


def _html_or(json_handler: Handler) -> Handler:
    """A handler that renders an error page for pages and defers to json_handler for everything else."""

    async def handle(request: Request, exc: Exception) -> Response:
        if not wants_html(request.url.path):
            return await json_handler(request, exc)
        status = _status_of(exc)
        if status >= 500:
            log.warning("page answered %d: %s", status, exc)
        if isinstance(exc, StarletteHTTPException):
            return error_page(request, status, http_error_headers(request, exc))
        return error_page(request, status, getattr(exc, "headers", None))

    return handle
