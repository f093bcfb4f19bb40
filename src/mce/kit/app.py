"""The FastAPI app factory every service uses: health, readiness, metrics, request context, compression, errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import start_http_server
from starlette.middleware import Middleware

from mce.kit.compression import GzipWhenAccepted
from mce.kit.errors import ErrorBody, install_error_handlers
from mce.kit.metrics import HttpMetrics
from mce.kit.middleware import BodyLimits, RequestContextMiddleware, json_500
from mce.kit.settings import BaseServiceSettings
from mce.kit.shedding import LoadShedder
from mce.kit.tracing import Tracing

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[Any]]
READINESS_TIMEOUT_S = 2.0
# Our own middleware traces and counts every request (kit.tracing, kit.metrics). FastAPI's would only double the
# spans, and deciding per request whether it is on cost a sixth of a gateway relay's Python time (measured here).
FASTAPI_TELEMETRY_OFF = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


@dataclass(frozen=True)
class ReadinessCheck:
    """One backend the service needs; an optional one only degrades readiness."""

    name: str
    check: Check
    required: bool = True


def add_readiness_check(app: FastAPI, name: str, check: Check, *, required: bool = True) -> None:
    """Make /readyz also ask this backend; call from the lifespan once the backend is built."""
    app.state.readiness_checks.append(ReadinessCheck(name, check, required))


async def _run_check(item: ReadinessCheck) -> str:
    """'ok', or a short reason the check failed."""
    try:
        await asyncio.wait_for(item.check(), READINESS_TIMEOUT_S)
        return "ok"
    except Exception as exc:  # readiness reports any failure rather than raising it
        return f"failed: {type(exc).__name__}: {exc}"[:200]


def add_stats_route(app: FastAPI, endpoint: Callable[..., Any], summary: str) -> None:
    """Serve endpoint at GET /stats for operators, only where /metrics is served on the service's own port.

    Internal, like /metrics: the gateway never forwards it to shoppers.
    """
    if app.state.settings.public_metrics:
        app.add_api_route(
            "/stats",
            endpoint,
            methods=["GET"],
            tags=["ops"],
            summary=f"Internal: {summary}",
            description="For operators; served only where /metrics is (MCE_PUBLIC_METRICS).",
        )


def create_service_app(
    service: str,
    settings: BaseServiceSettings,
    *,
    lifespan: Callable[[FastAPI], Any] | None = None,
    description: str = "",
    middleware: Sequence[Middleware] = (),
    edge: Sequence[Middleware] = (),
    body_limits: BodyLimits = (),
) -> FastAPI:
    """A FastAPI app: /healthz, /readyz, /metrics, request ids, traces, deadlines, load shedding, gzip, JSON errors.

    `middleware` runs inside the request context, so its responses are counted, logged and carry a request id.
    `edge` does too, but ahead of compression: for middleware that answers on its own and compresses what it
    sends itself (the gateway's catalog cache keeps a gzip copy of each page).
    `body_limits` gives paths that take bodies bigger than MCE_MAX_BODY_BYTES (uploads) their own cap.
    """

    @asynccontextmanager
    async def fresh_checks(app: FastAPI) -> AsyncIterator[None]:
        # Each start registers its own checks; a restarted app must not keep the last run's closed backends.
        app.state.readiness_checks = []
        metrics.forget_background()
        metrics_server = None
        if settings.metrics_port:
            metrics_server, _ = start_http_server(settings.metrics_port, settings.host, registry=metrics.registry)
        lag_watch = asyncio.create_task(shedder.watch_loop(), name="event-loop-lag")
        try:
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            lag_watch.cancel()
            tracing.flush()
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()

    app = FastAPIOffline(
        title=f"mce {service}",
        description=description,
        version="0.1.0",
        lifespan=fresh_checks,
        telemetry=FASTAPI_TELEMETRY_OFF,
    )
    app.state.service = service
    app.state.settings = settings
    app.state.readiness_checks = []
    app.state.unhandled_responder = json_500
    metrics = HttpMetrics(service)
    app.state.metrics = metrics
    # Spans go to the collector OTEL_EXPORTER_OTLP_ENDPOINT names; without it requests still carry trace ids.
    tracing = Tracing.from_env(service)
    app.state.tracing = tracing
    shedder = LoadShedder(max_in_flight=settings.max_in_flight, max_lag_s=settings.max_loop_lag_ms / 1000)
    app.state.shedder = shedder
    metrics.watch_shedding(shedder)
    # add_middleware wraps what is there: the service's own go first, then compression, the edge, and the request
    # context last, outermost.
    for item in reversed(middleware):
        app.add_middleware(item.cls, *item.args, **item.kwargs)
    app.add_middleware(GzipWhenAccepted)
    for item in reversed(edge):
        app.add_middleware(item.cls, *item.args, **item.kwargs)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        budget_s=settings.http_timeout,
        shedder=shedder,
        tracing=tracing,
        on_unhandled=lambda: app.state.unhandled_responder,
        body_limits=body_limits,
    )
    install_error_handlers(app)

    @app.get("/healthz", tags=["ops"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="The backends this service needs answer",
        responses={503: {"description": "A required backend does not answer"}},
    )
    async def readyz() -> JSONResponse:
        checks: list[ReadinessCheck] = app.state.readiness_checks
        results = await asyncio.gather(*(_run_check(item) for item in checks))
        report = {item.name: result for item, result in zip(checks, results, strict=True)}
        failed_required = any(result != "ok" and item.required for item, result in zip(checks, results, strict=True))
        degraded = any(result != "ok" for result in results)
        status = "not_ready" if failed_required else ("degraded" if degraded else "ready")
        body = {"status": status, "service": service, "checks": report}
        return JSONResponse(body, status_code=503 if failed_required else 200)

    if settings.public_metrics:

        @app.get("/metrics", include_in_schema=False)
        async def prometheus_metrics() -> Response:
            return Response(metrics.render(), media_type=metrics.content_type)

    app.openapi = _openapi_with_our_error_body(app)
    return app


def _openapi_with_our_error_body(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI documents 422 as its own {"detail": [...]}; ours is {"error": {...}}, so say so."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        # Every 422 in the document refers to HTTPValidationError; replacing it re-points them all.
        components["HTTPValidationError"] = body
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    return openapi
