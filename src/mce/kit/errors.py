"""Domain errors and the one mapping from errors to HTTP responses with a JSON body."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

log = logging.getLogger(__name__)


class DomainError(Exception):
    """An expected failure with a stable code and HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Invalid(DomainError):
    """The request breaks a rule about its values."""

    status = 422
    code = "invalid"


class NotFound(DomainError):
    """The thing asked for does not exist."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state."""

    status = 409
    code = "conflict"


class Unauthorized(DomainError):
    """No valid credentials were given."""

    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    """The credentials do not allow this."""

    status = 403
    code = "forbidden"


class PayloadTooLarge(DomainError):
    """The request body is over the limit."""

    status = 413
    code = "payload_too_large"


class Unavailable(DomainError):
    """A backend this request needs does not answer."""

    status = 503
    code = "unavailable"


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a sentence for people, and optional specifics."""

    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON body every error response carries."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict | None = None
) -> JSONResponse:
    """A JSONResponse with the standard error body."""
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "unavailable",
}


def _describe_validation(errors: list[dict[str, Any]]) -> tuple[str, str, list[dict[str, Any]]]:
    """Turn pydantic errors into (code, message, details) that name each bad field."""
    details = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if part != "body" or len(err.get("loc", ())) == 1]
        details.append({"field": ".".join(loc), "message": err.get("msg", "invalid"), "type": err.get("type")})
    if any(err.get("type") == "json_invalid" for err in errors):
        return "malformed_json", "request body is not valid JSON", details
    summary = "; ".join(f"{d['field'] or 'body'}: {d['message']}" for d in details[:5])
    return "invalid", f"invalid request: {summary}", details


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route serves at the scope's path (the router itself names only the first route's)."""
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain, validation, HTTP and unexpected errors to the JSON error body."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        code, message, details = _describe_validation(list(exc.errors()))
        status = 400 if code == "malformed_json" else 422
        return error_response(status, code, message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["allow"] = ", ".join(allowed_methods(request.app.routes, request.scope))
        return error_response(exc.status_code, code, message, headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal", "internal error; the request id is in the X-Request-ID header")
