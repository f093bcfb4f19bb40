"""Domain errors and the one mapping from errors to HTTP responses with a JSON body.

Every error answer has one shape: `{"error": {"code", "message", "details": [{"field", "message"}, ...]}}`, where
`details` is always a list (empty when no field is to blame).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

log = logging.getLogger(__name__)

# What 401 answers carry, so clients know which credentials to present.
WWW_AUTHENTICATE = 'Bearer realm="mce"'

Problem = dict[str, str]


def problem(field: str, message: str) -> Problem:
    """One thing wrong with a request: the field to blame ('' for the request as a whole) and why."""
    return {"field": field, "message": message}


class DomainError(Exception):
    """An expected failure with a stable code and HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, details: Iterable[Problem] = (), headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = [problem(str(d["field"]), str(d["message"])) for d in details]
        self.headers = dict(headers or {})


class BadRequest(DomainError):
    """The request cannot be understood as sent."""

    status = 400
    code = "bad_request"


class MalformedJson(DomainError):
    """The body is not a JSON document."""

    status = 400
    code = "malformed_json"


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


class OutOfStock(Conflict):
    """Not enough of a product is in stock; `details` name the products."""

    code = "out_of_stock"


class PreconditionRequired(DomainError):
    """The change is only safe with a guard the request did not give (e.g. the version it read)."""

    status = 428
    code = "precondition_required"


class Unauthorized(DomainError):
    """No valid credentials were given."""

    status = 401
    code = "unauthorized"

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("www-authenticate", WWW_AUTHENTICATE)


class Forbidden(DomainError):
    """The credentials do not allow this."""

    status = 403
    code = "forbidden"


class PayloadTooLarge(DomainError):
    """The request body is over the limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    """The request body is of a type this endpoint does not take."""

    status = 415
    code = "unsupported_media_type"


class TooManyRequests(DomainError):
    """The client must wait before trying again."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after_s: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = max(1, int(retry_after_s))
        self.headers["retry-after"] = str(self.retry_after_s)


class Unavailable(DomainError):
    """A backend this request needs does not answer; `service` names it."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, service: str = "", retry_after_s: int = 1, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.service = service
        self.headers.setdefault("retry-after", str(retry_after_s))


class FieldProblem(BaseModel):
    """One thing wrong with a request; `field` is empty when the request as a whole is to blame."""

    field: str
    message: str


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a sentence for people, and the fields to blame."""

    code: str
    message: str
    details: list[FieldProblem] = Field(default_factory=list)


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def error_body(code: str, message: str, details: Sequence[Problem] = ()) -> dict[str, Any]:
    """The JSON body every error response carries."""
    return {"error": {"code": code, "message": message, "details": list(details)}}


def error_response(
    status: int, code: str, message: str, details: Sequence[Problem] = (), headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A JSONResponse with the standard error body."""
    return JSONResponse(error_body(code, message, details), status_code=status, headers=dict(headers or {}) or None)


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

# Pydantic error types that mean the body could not be read as JSON at all.
_UNPARSABLE = frozenset({"json_invalid", "json_type"})


def _field_name(loc: Sequence[Any]) -> str:
    """'price' for ('body', 'price'); query and path parameters keep their own names."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts)


def _unparsable(err: Mapping[str, Any]) -> bool:
    """Whether this error means the body could not be read as JSON at all: bad JSON, none, or not sent as JSON."""
    if err.get("type") in _UNPARSABLE:
        return True
    whole_body = tuple(err.get("loc", ())) == ("body",)
    return whole_body and (err.get("type") == "missing" or isinstance(err.get("input"), bytes | bytearray))


def describe_validation(errors: Sequence[Mapping[str, Any]]) -> DomainError:
    """Pydantic's errors as our error: 400 malformed_json when the body was unreadable, else 422 naming each field."""
    if any(_unparsable(err) for err in errors):
        return MalformedJson(
            "the request body must be a JSON document sent with Content-Type: application/json",
            details=[problem("", "not a JSON document")],
        )
    details = [problem(_field_name(err.get("loc", ())), str(err.get("msg", "invalid"))) for err in errors]
    summary = "; ".join(f"{d['field'] or 'body'}: {d['message']}" for d in details[:5])
    return Invalid(f"invalid request: {summary}", details=details)


def flat_routes(routes: Sequence[BaseRoute]) -> Iterator[tuple[str, set[str], Any]]:
    """(path, methods, route) for every route, those of included routers too, with their full paths."""
    for context in iter_route_contexts(routes):
        path, methods = context.path, context.methods
        if path is not None and methods:
            yield path, set(methods), context


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route serves at the scope's path (the router itself names only the first route's)."""
    methods: set[str] = set()
    for _path, route_methods, context in flat_routes(routes):
        matches = getattr(context, "matches", None)
        if matches is not None and matches(scope)[0] is not Match.NONE:
            methods |= route_methods
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def http_error_headers(request: Request, exc: StarletteHTTPException) -> dict[str, str]:
    """The headers an HTTP error answers with: every allowed method on a 405, a challenge on a 401."""
    headers = {name.lower(): value for name, value in (getattr(exc, "headers", None) or {}).items()}
    if exc.status_code == 405:
        headers["allow"] = ", ".join(allowed_methods(request.app.routes, request.scope))
    if exc.status_code == 401:
        headers.setdefault("www-authenticate", WWW_AUTHENTICATE)
    return headers


def domain_error_response(exc: DomainError) -> JSONResponse:
    """The response for a domain error, with its headers (Retry-After, WWW-Authenticate, ...)."""
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain, validation, HTTP and unexpected errors to the JSON error body."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return domain_error_response(describe_validation(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 400 and message == "There was an error parsing the body":
            # FastAPI's answer to a body that is not even text (e.g. invalid UTF-8 in a JSON request).
            code, message = "malformed_json", "the request body must be a JSON document in UTF-8"
        return error_response(exc.status_code, code, message, headers=http_error_headers(request, exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal", "internal error; the request id is in the X-Request-ID header")
