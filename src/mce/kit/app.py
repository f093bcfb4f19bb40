"""The FastAPI app factory every service uses: health, readiness, metrics, request context and errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from starlette.middleware import Middleware

from mce.kit.errors import install_error_handlers
from mce.kit.metrics import HttpMetrics
from mce.kit.middleware import RequestContextMiddleware
from mce.kit.settings import BaseServiceSettings

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[Any]]
READINESS_TIMEOUT_S = 2.0


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


def create_service_app(
    service: str,
    settings: BaseServiceSettings,
    *,
    lifespan: Callable[[FastAPI], Any] | None = None,
    description: str = "",
    middleware: Sequence[Middleware] = (),
) -> FastAPI:
    """A FastAPI app with /healthz, /readyz, /metrics, request ids, metrics, body limits and JSON errors.

    `middleware` runs inside the request context, so its responses are counted, logged and carry a request id.
    """
    app = FastAPI(title=f"mce {service}", description=description, version="0.1.0", lifespan=lifespan)
    app.state.service = service
    app.state.settings = settings
    app.state.readiness_checks = []
    metrics = HttpMetrics(service)
    app.state.metrics = metrics
    # add_middleware wraps what is there, so the service's own go first and the request context last.
    for item in reversed(middleware):
        app.add_middleware(item.cls, *item.args, **item.kwargs)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)

    @app.get("/healthz", tags=["ops"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"], summary="The backends this service needs answer")
    async def readyz() -> JSONResponse:
        checks: list[ReadinessCheck] = app.state.readiness_checks
        results = await asyncio.gather(*(_run_check(item) for item in checks))
        report = {item.name: result for item, result in zip(checks, results)}
        failed_required = any(result != "ok" and item.required for item, result in zip(checks, results))
        degraded = any(result != "ok" for result in results)
        status = "not_ready" if failed_required else ("degraded" if degraded else "ready")
        body = {"status": status, "service": service, "checks": report}
        return JSONResponse(body, status_code=503 if failed_required else 200)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    return app
