"""Analytics service: follows the stream job's results, keeps recent windows, serves them and their gauges."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Annotated

import orjson
from fastapi import FastAPI, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from mce.kit.app import add_readiness_check, create_service_app
from mce.kit.bus.consumer import Consumer
from mce.kit.bus.factory import own_bus
from mce.kit.bus.port import EventBus
from mce.kit.db import open_engine, read_runner
from mce.kit.errors import ErrorBody
from mce.kit.events import Event
from mce.kit.settings import load_settings
from mce.services.analytics import usecases
from mce.services.analytics.domain import WINDOWS_LIMIT_DEFAULT, WINDOWS_LIMIT_MAX, windows_body
from mce.services.analytics.metrics import WindowMetrics
from mce.services.analytics.schemas import WindowList
from mce.services.analytics.settings import AnalyticsSettings
from mce.services.analytics.store.port import Outcome, WindowStore
from mce.services.analytics.store.sql import SqlWindowStore
from mce.services.analytics.store.tables import MIGRATIONS

log = logging.getLogger(__name__)

JSON = "application/json"
SERVICE = "analytics"
# Another replica may have stored a window this one did not consume: the gauges follow the database this often.
GAUGE_REFRESH_S = 5.0
PURGE_EVERY_S = 600.0

Limit = Annotated[
    int, Query(ge=1, le=WINDOWS_LIMIT_MAX, description=f"How many windows to return (1 to {WINDOWS_LIMIT_MAX})")
]


def batch_handler(store: WindowStore, metrics: WindowMetrics):  # noqa: ANN201 - the Consumer's BatchHandler
    """The consumer's handler: store the batch, count it, and show the newest window when one changed."""

    def handle(events: Sequence[Event]) -> None:
        tally = usecases.record_results(store, events)
        metrics.count(tally)
        if tally.count(Outcome.NEW) or tally.count(Outcome.REPLACED):
            metrics.show_latest(next(iter(store.recent(1)), None))

    return handle


async def _every(seconds: float, what: str, chore) -> None:  # noqa: ANN001 - a blocking callable
    """Run a blocking chore now and then every `seconds`, off the event loop; a failure is logged and tried again."""
    while True:
        try:
            await run_in_threadpool(chore)
        except Exception:
            log.exception("analytics %s failed; will try again", what)
        await asyncio.sleep(seconds)


def create_app(settings: AnalyticsSettings | None = None, *, bus: EventBus | None = None) -> FastAPI:
    """The analytics app; its database, bus and consumer are built in the lifespan (a bus passed in is not closed)."""
    settings = settings or load_settings(AnalyticsSettings)
    retention = timedelta(hours=settings.analytics_retention_hours)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            engine = await open_engine(settings.resolved_url(), MIGRATIONS, migrate=settings.migrate_on_start)
            store = SqlWindowStore(engine)
            stack.callback(store.close)
            event_bus = own_bus(stack, settings, bus)
            app.state.store = store
            app.state.read = read_runner(engine)
            metrics: WindowMetrics = app.state.window_metrics
            topic = settings.analytics_results_topic
            consumer = Consumer(event_bus, topic, usecases.GROUP, batch_handler(store, metrics))
            app.state.consumer = consumer
            app.state.metrics.watch_consumer(consumer)

            def refresh_gauges() -> None:
                metrics.show_latest(next(iter(store.recent(1)), None))

            def purge() -> None:
                removed = usecases.purge_old_windows(store, retention=retention)
                if removed:
                    log.info("purged %d windows older than %s", removed, retention)

            add_readiness_check(app, "database", lambda: run_in_threadpool(store.ping))
            add_readiness_check(app, "bus", lambda: run_in_threadpool(event_bus.ping))
            consumer.start()
            stack.push_async_callback(asyncio.to_thread, consumer.stop)
            chores = [
                asyncio.create_task(_every(GAUGE_REFRESH_S, "gauge refresh", refresh_gauges), name="analytics-gauges"),
                asyncio.create_task(_every(PURGE_EVERY_S, "purge", purge), name="analytics-purge"),
            ]
            log.info("analytics is following %r as group %r", topic, usecases.GROUP)
            try:
                yield
            finally:
                for task in chores:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app = create_service_app(
        SERVICE,
        settings,
        lifespan=lifespan,
        description="Unique users and events per one-minute window, as the stream job counted them.",
    )
    app.state.window_metrics = WindowMetrics(SERVICE, app.state.metrics.registry)

    @app.get(
        "/windows",
        tags=["analytics"],
        summary="The most recent windows, newest first",
        responses={200: {"model": WindowList}, 503: {"model": ErrorBody, "description": "The database is down"}},
    )
    async def list_windows(request: Request, limit: Limit = WINDOWS_LIMIT_DEFAULT) -> Response:
        state = request.app.state
        windows = await state.read(usecases.recent_windows, state.store, limit=limit)
        return Response(orjson.dumps(windows_body(windows)), media_type=JSON, headers={"cache-control": "no-store"})

    return app
