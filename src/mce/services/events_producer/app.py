"""The events producer's API: status, start, stop, rate; writes need the admin token. Internal: not on the gateway."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from mce.kit.app import add_readiness_check, create_service_app
from mce.kit.auth import check_admin
from mce.kit.bus.factory import own_bus
from mce.kit.bus.port import EventBus
from mce.kit.errors import ErrorBody
from mce.kit.http import ServiceClient, Transport
from mce.kit.ratelimit import MemoryAttemptLimiter
from mce.kit.secrets import resolve_secret
from mce.kit.settings import load_settings
from mce.services.events_producer.catalog import read_catalog
from mce.services.events_producer.domain import FALLBACK_CATALOG, ShopperSimulator, parse_mix
from mce.services.events_producer.runner import ProducerLoop
from mce.services.events_producer.settings import RATE_MAX, ProducerSettings

log = logging.getLogger(__name__)

# While the catalog cannot be read (or is empty), it is asked again this often rather than at the usual interval.
FALLBACK_RETRY_S = 10.0
# Autostart waits this long for a catalog with products, asking every AUTOSTART_RETRY_S, then starts anyway.
AUTOSTART_WAIT_S = 30.0
AUTOSTART_RETRY_S = 1.0


class RateBody(BaseModel):
    """A new rate."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(gt=0, le=RATE_MAX, description="Events per second")


class StartBody(BaseModel):
    """How fast to start; without a rate, the current one."""

    model_config = ConfigDict(extra="forbid")

    rate: float | None = Field(default=None, gt=0, le=RATE_MAX, description="Events per second")


class ProducerStatus(BaseModel):
    """What the producer is doing."""

    running: bool
    rate: float
    produced: int
    dropped: int
    skipped: int
    users: int
    mix: dict[str, float]
    seed: int
    topic: str
    catalog: dict[str, Any]
    last_error: str | None


async def _require_admin(request: Request) -> None:
    state = request.app.state
    await check_admin(request, state.admin_token, state.admin_limiter)


AdminOnly = [Depends(_require_admin)]
ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorBody} for status in (401, 422, 429)}


def _status(request: Request) -> ProducerStatus:
    state = request.app.state
    loop: ProducerLoop = state.loop
    catalog = loop.simulator.catalog
    return ProducerStatus(
        running=loop.running,
        rate=loop.rate,
        produced=loop.produced,
        dropped=loop.dropped,
        skipped=loop.skipped,
        users=loop.simulator.users,
        mix=state.mix,
        seed=state.seed,
        topic=loop.topic,
        catalog={"products": len(catalog.products), "fallback": catalog.fallback},
        last_error=loop.last_error,
    )


async def _follow_catalog(loop: ProducerLoop, products: ServiceClient, refresh_s: float, autostart: bool) -> None:
    """Read the catalog, start if asked, then read it again now and then (sooner while it is the fallback).

    Autostart waits a little for a real catalog: under `mce up` the product service starts (and is seeded)
    alongside this one, and shoppers browsing made-up ids would fill the first windows with them.
    """
    waiting = autostart
    began = time.monotonic()
    while True:
        loop.simulator.catalog = catalog = await read_catalog(products)
        if waiting and (not catalog.fallback or time.monotonic() - began >= AUTOSTART_WAIT_S):
            await asyncio.to_thread(loop.start)
            waiting = False
        await asyncio.sleep(AUTOSTART_RETRY_S if waiting else FALLBACK_RETRY_S if catalog.fallback else refresh_s)


def create_app(
    settings: ProducerSettings | None = None,
    *,
    bus: EventBus | None = None,
    product_transport: Transport | None = None,
) -> FastAPI:
    """The events producer; its lifespan builds what is not passed in, and closes only what it built."""
    settings = settings or load_settings(ProducerSettings)
    admin_token = resolve_secret(
        settings.admin_token, name="admin-token", data_dir=settings.data_dir, production=settings.production
    )
    mix = parse_mix(settings.producer_mix)
    seed = settings.producer_seed if settings.producer_seed is not None else secrets.randbits(63)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            event_bus = own_bus(stack, settings, bus)
            products = ServiceClient(
                "product", settings.product_url, timeout=settings.http_timeout, transport=product_transport
            )
            stack.push_async_callback(products.aclose)
            simulator = ShopperSimulator(
                seed=seed,
                users=settings.producer_users,
                mix=mix,
                disorder=settings.disorder(),
                catalog=FALLBACK_CATALOG,
            )
            loop = ProducerLoop(event_bus, settings.user_events_topic, simulator, rate=settings.producer_rate)
            stack.push_async_callback(asyncio.to_thread, loop.stop)
            app.state.loop = loop
            follow = asyncio.create_task(
                _follow_catalog(loop, products, settings.producer_catalog_refresh_s, settings.producer_autostart),
                name="events-producer-catalog",
            )
            stack.push_async_callback(_cancel, follow)
            add_readiness_check(app, "bus", lambda: asyncio.to_thread(event_bus.ping))
            log.info("events producer: %d users, mix %s, seed %d", settings.producer_users, settings.producer_mix, seed)
            yield

    app = create_service_app(
        "events-producer",
        settings,
        lifespan=lifespan,
        description="Synthetic shoppers' activity on the user-events topic; start, stop and pace it.",
    )
    app.state.admin_token = admin_token
    app.state.admin_limiter = MemoryAttemptLimiter(
        max_failures=settings.auth_failure_limit, window_s=settings.auth_failure_window_s
    )
    app.state.mix = mix
    app.state.seed = seed

    @app.get("/producer", tags=["producer"], summary="What the producer is doing")
    async def status(request: Request) -> ProducerStatus:
        return _status(request)

    @app.post(
        "/producer/start",
        tags=["producer"],
        summary="Start producing (at the given rate); a running producer takes the new rate",
        dependencies=AdminOnly,
        responses=ERRORS,
    )
    async def start(request: Request, body: Annotated[StartBody | None, Body()] = None) -> ProducerStatus:
        # Off the event loop: a start waits for a stop under way to finish its batch.
        await asyncio.to_thread(request.app.state.loop.start, body.rate if body is not None else None)
        return _status(request)

    @app.post("/producer/stop", tags=["producer"], summary="Stop producing", dependencies=AdminOnly, responses=ERRORS)
    async def stop(request: Request) -> ProducerStatus:
        await asyncio.to_thread(request.app.state.loop.stop)
        return _status(request)

    @app.put("/producer/rate", tags=["producer"], summary="Change the rate", dependencies=AdminOnly, responses=ERRORS)
    async def change_rate(request: Request, body: RateBody) -> ProducerStatus:
        request.app.state.loop.set_rate(body.rate)
        return _status(request)

    return app


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel a background task and wait until it has stopped."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
