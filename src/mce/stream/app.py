"""The stream deployable: runs the window job (embedded, or Flink as a child process), serves its health and metrics."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from mce.kit.app import add_readiness_check, add_stats_route, create_service_app
from mce.kit.bus.factory import LOCAL_EVENTHUBS_BOOTSTRAP, own_bus
from mce.kit.bus.port import EventBus
from mce.kit.errors import Unavailable
from mce.kit.settings import SettingsError, load_settings
from mce.stream.checkpoint import SqliteCheckpointStore
from mce.stream.flink_job import endpoint_from_env
from mce.stream.flink_process import JobProcess, flink_command
from mce.stream.runner import StreamRunner
from mce.stream.settings import StreamSettings

log = logging.getLogger(__name__)


class StreamCollector(Collector):
    """The job's counters, read from the runner at each scrape."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        job: JobProcess | None = getattr(self.app.state, "flink", None)
        if job is not None:
            yield GaugeMetricFamily("stream_flink_job_up", "Whether the Flink job's process runs", value=int(job.alive))
            yield CounterMetricFamily(
                "stream_flink_job_restarts", "Times the Flink job was started again", job.restarts
            )
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
    job: JobProcess | None = request.app.state.flink
    if job is not None:
        return {"engine": "flink", **job.status()}
    runner: StreamRunner | None = request.app.state.runner
    if runner is None:
        raise Unavailable("the window job has not started")
    windows = runner.windows
    return {
        "engine": "embedded",
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


def flink_job_process(settings: StreamSettings, environ: dict[str, str]) -> JobProcess:
    """The Flink engine's child process for these settings; a missing piece is a SettingsError naming it."""
    for name, path in (("MCE_FLINK_PYTHON", settings.flink_python), ("MCE_FLINK_KAFKA_JAR", settings.flink_kafka_jar)):
        if path is None or not path.exists():
            raise SettingsError(f"{name}: MCE_STREAM_ENGINE=flink needs it, and {path} is not there")
    secret = settings.eventhubs_connection_string
    # The job reads the endpoint from the environment, so the secret never shows in its command line.
    environ = {
        **environ,
        "MCE_EVENTHUBS_BOOTSTRAP": settings.eventhubs_bootstrap or LOCAL_EVENTHUBS_BOOTSTRAP,
        "MCE_EVENTHUBS_CONNECTION_STRING": secret.get_secret_value() if secret else "",
        "MCE_EVENTHUBS_SECURITY_PROTOCOL": settings.eventhubs_security_protocol,
    }
    try:
        endpoint_from_env(environ)
    except ValueError as exc:
        raise SettingsError(f"MCE_STREAM_ENGINE=flink: {exc}") from None
    work = settings.data_dir / "stream"
    command = flink_command(
        str(settings.flink_python),
        jar=str(settings.flink_kafka_jar),
        source_topic=settings.eventhubs_events_hub,
        sink_topic=settings.eventhubs_results_hub,
        group=settings.stream_group,
        out_of_orderness_ms=settings.stream_out_of_orderness_ms,
        idle_timeout_ms=settings.stream_idle_timeout_ms,
        checkpoint_dir=(work / "flink-checkpoints").resolve(),
        checkpoint_interval_ms=max(1000, int(settings.stream_checkpoint_interval_s * 1000)),
    )
    return JobProcess(command, env=environ, log_path=work / "flink-job.log")


def _flink_lifespan(job: JobProcess) -> Callable[[FastAPI], Any]:
    """Start the Flink job's process, report it in /readyz, stop it (and its JVM) on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(job.start)
        app.state.flink = job

        async def job_runs() -> None:
            if not job.alive:
                raise RuntimeError(f"the Flink job's process is not running (last exit {job.last_exit})")

        add_readiness_check(app, "flink_job", job_runs)
        log.info("stream runs the Flink job: %s", " ".join(job.command[1:]))
        try:
            yield
        finally:
            await asyncio.to_thread(job.stop)

    return lifespan


def create_app(settings: StreamSettings | None = None, *, bus: EventBus | None = None) -> FastAPI:
    """The stream app; its lifespan builds the bus unless one is passed in, and closes only what it built."""
    settings = settings or load_settings(StreamSettings)
    if settings.stream_engine == "flink":
        lifespan = _flink_lifespan(flink_job_process(settings, dict(os.environ)))
    else:
        lifespan = _lifespan(settings, bus)
    app = create_service_app(
        "stream",
        settings,
        lifespan=lifespan,
        description="Unique users and events per one-minute event-time window, from user-events to analytics-results.",
    )
    app.state.runner = None
    app.state.flink = None
    app.state.metrics.registry.register(StreamCollector(app))
    add_stats_route(app, stats, "the window job's progress")
    return app
