"""The stream deployable: runs the embedded window job in the background and serves its health and metrics."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from mce.kit.app import add_readiness_check, add_stats_route, create_service_app
from mce.kit.bus.factory import own_bus
from mce.kit.bus.port import EventBus
from mce.kit.errors import Unavailable
from mce.kit.settings import load_settings
from mce.stream.checkpoint import SqliteCheckpointStore
from mce.stream.runner import StreamRunner
from mce.stream.settings import StreamSettings

log = logging.getLogger(__name__)


class StreamCollector(Collector):
    """The job's counters, read from the runner at each scrape."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        runner: StreamRunner | None = getattr(self.app.state, "runner", None)
        if runner is None:
            return
        windows = runner.windows
        counters = (
            ("stream_events", "Activity events the job has read (counted or late)", windows.events),
            ("stream_events_counted", "Activity events counted into a window", windows.counted),
            ("stream_late_events_dropped", "Events whose window was already emitted, dropped", windows.late_dropped),
            ("stream_windows_emitted", "Windows closed and published", windows.windows_emitted),
            (
                "stream_malformed_events",
                "Messages that were not valid activity events, dead-lettered",
                runner.malformed,
            ),
            ("stream_checkpoints", "Checkpoints saved by this process", runner.checkpoints_saved),
        )
        for name, documentation, value in counters:
            yield CounterMetricFamily(name, documentation, value=value)
        watermark = windows.watermark
        yield GaugeMetricFamily(
            "stream_watermark_ms",
            "The job's watermark: newest event time seen minus the out-of-orderness bound, in ms since the epoch",
            value=float("nan") if watermark is None else watermark,
        )
        yield GaugeMetricFamily(
            "stream_open_windows", "Windows holding events, not emitted yet", value=windows.open_windows
        )


async def stats(request: Request) -> dict[str, Any]:
    """The job's progress, for operators."""
    runner: StreamRunner | None = request.app.state.runner
    if runner is None:
        raise Unavailable("the window job has not started")
    windows = runner.windows
    return {
        "group": runner.group,
        "source_topic": runner.source_topic,
        "results_topic": runner.results_topic,
        "alive": runner.alive,
        "events": windows.events,
        "late_dropped": windows.late_dropped,
        "windows_emitted": windows.windows_emitted,
        "open_windows": windows.open_windows,
        "watermark_ms": windows.watermark,
        "malformed": runner.malformed,
        "checkpoints_saved": runner.checkpoints_saved,
        "last_error": runner.last_error,
    }


def _lifespan(settings: StreamSettings, bus: EventBus | None) -> Callable[[FastAPI], Any]:
    """Open the bus and the checkpoint file, run the job in a thread; on shutdown stop it with a last checkpoint."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            event_bus = own_bus(stack, settings, bus)
            checkpoints = SqliteCheckpointStore(settings.data_dir / "stream" / "checkpoints.db")
            stack.callback(checkpoints.close)
            runner = StreamRunner(
                event_bus,
                checkpoints,
                source_topic=settings.user_events_topic,
                results_topic=settings.analytics_results_topic,
                group=settings.stream_group,
                out_of_orderness_ms=settings.stream_out_of_orderness_ms,
                batch_size=settings.stream_batch_size,
                checkpoint_interval_s=settings.stream_checkpoint_interval_s,
            )
            runner.start()
            stack.push_async_callback(asyncio.to_thread, runner.stop)
            app.state.runner = runner

            async def job_runs() -> None:
                if not runner.alive:
                    raise RuntimeError("the window job's thread is not running")

            add_readiness_check(app, "bus", functools.partial(asyncio.to_thread, event_bus.ping))
            add_readiness_check(app, "checkpoints", functools.partial(asyncio.to_thread, checkpoints.ping))
            add_readiness_check(app, "job", job_runs)
            log.info(
                "stream counts unique users per minute from %r into %r as group %r (out of orderness %d ms)",
                settings.user_events_topic,
                settings.analytics_results_topic,
                settings.stream_group,
                settings.stream_out_of_orderness_ms,
            )
            yield

    return lifespan


def create_app(settings: StreamSettings | None = None, *, bus: EventBus | None = None) -> FastAPI:
    """The stream app; its lifespan builds the bus unless one is passed in, and closes only what it built."""
    settings = settings or load_settings(StreamSettings)
    app = create_service_app(
        "stream",
        settings,
        lifespan=_lifespan(settings, bus),
        description="Unique users and events per one-minute event-time window, from user-events to analytics-results.",
    )
    app.state.runner = None
    app.state.metrics.registry.register(StreamCollector(app))
    add_stats_route(app, stats, "the window job's progress")
    return app
