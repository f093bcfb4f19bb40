"""The analytics Function without the Functions host (`mce serve analytics-function`), for `make up-real` and tests.

It calls the very handlers the host would: the Event Hubs trigger with batches of the topic's messages as
`func.EventHubEvent`s, and the HTTP route at the host's `/api/windows` with a `func.HttpRequest`. A batch is
committed only after the trigger returned; a failing one is read again after a pause that doubles up to a minute,
as the function's retry policy does (but without end: here nothing is skipped).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import azure.functions as func
from fastapi import FastAPI, Request, Response

from mce.functions.analytics import function_app
from mce.functions.analytics.settings import AnalyticsFunctionSettings
from mce.kit.app import add_readiness_check, add_stats_route, create_service_app
from mce.kit.bus.factory import own_bus
from mce.kit.bus.port import Delivery, EventBus
from mce.kit.errors import DomainError
from mce.kit.loop import BackgroundLoop
from mce.kit.settings import SettingsError, load_settings

log = logging.getLogger(__name__)

SERVICE = "analytics-function"
# The Event Hubs consumer group the Function reads with: its own, so the analytics service's group is not shared.
CONSUMER_GROUP = "analytics-function"
PAUSE_MIN_S = 0.5
PAUSE_MAX_S = 60.0


@functools.cache
def registered() -> dict[str, Any]:
    """The app's functions by name, indexed once as the host does (the library refuses a second index)."""
    return {fn.get_function_name(): fn for fn in function_app.app.get_functions()}


def user_function(name: str) -> Callable[..., Any]:
    """The handler the app registered under this name, as the host calls it."""
    return registered()[name].get_user_function()


class TriggerLoop(BackgroundLoop):
    """Feeds the topic's messages, in batches, to the Event Hubs trigger; commits each batch once it returned."""

    def __init__(self, bus: EventBus, topic: str, batch_size: int, group: str = CONSUMER_GROUP) -> None:
        self.bus = bus
        self.topic = topic
        self.batch_size = batch_size
        self.group = group
        self.batches = 0
        self.messages = 0
        self.last_error: str | None = None
        super().__init__(f"trigger-{topic}")

    def run(self) -> None:
        """Poll, call the trigger, commit, until stopped; a failure re-reads the batch after a pause."""
        trigger = user_function("store_windows")
        subscription = None
        pause = PAUSE_MIN_S
        while not self._stop.is_set():
            try:
                if subscription is None:
                    subscription = self.bus.subscribe(self.topic, self.group)
                batch = subscription.poll_raw(self.batch_size, timeout=0.5)
                if not batch:
                    continue
                trigger([func.EventHubEvent(body=body, sequence_number=offset) for _, offset, body in batch])
                last = {partition: offset for partition, offset, _ in batch}
                for partition, offset in last.items():
                    subscription.commit(Delivery(self.topic, partition, offset, "", None))
                self.batches += 1
                self.messages += len(batch)
                pause = PAUSE_MIN_S
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("the %s trigger failed; reading its batch again in %.1f s: %s", self.topic, pause, exc)
                if subscription is not None:
                    subscription.close()
                    subscription = None
                self._stop.wait(pause)
                pause = min(pause * 2, PAUSE_MAX_S)
        if subscription is not None:
            subscription.close()


async def stats(request: Request) -> dict[str, Any]:
    """The trigger loop's progress."""
    loop: TriggerLoop = request.app.state.trigger
    return {
        "trigger": {
            "topic": loop.topic,
            "group": loop.group,
            "alive": loop.alive,
            "batches": loop.batches,
            "messages": loop.messages,
            "last_error": loop.last_error,
        }
    }


async def windows(request: Request) -> Response:
    """The Function's HTTP route, called as the host calls it."""
    call = func.HttpRequest(
        request.method,
        str(request.url),
        headers=dict(request.headers),
        params=dict(request.query_params),
        body=b"",
    )
    answer: func.HttpResponse = await asyncio.to_thread(user_function("windows"), call)
    return Response(answer.get_body(), status_code=answer.status_code, headers=dict(answer.headers))


def create_app(settings: AnalyticsFunctionSettings | None = None, *, bus: EventBus | None = None) -> FastAPI:
    """The runner app; the Function's app settings (its store) are read from the environment as in Azure."""
    settings = settings or load_settings(AnalyticsFunctionSettings)
    try:
        function_app.current_configuration()
    except DomainError as exc:
        raise SettingsError(exc.message) from None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            event_bus = own_bus(stack, settings, bus)
            loop = TriggerLoop(event_bus, settings.analytics_function_topic, settings.analytics_function_batch_size)
            app.state.trigger = loop
            stack.callback(function_app.release)
            loop.start()
            stack.push_async_callback(asyncio.to_thread, loop.stop)

            def store_answers() -> None:
                function_app.current_store().ping()

            async def trigger_runs() -> None:
                if not loop.alive:
                    raise RuntimeError("the trigger loop has stopped")

            add_readiness_check(app, "store", functools.partial(asyncio.to_thread, store_answers))
            add_readiness_check(app, "bus", functools.partial(asyncio.to_thread, event_bus.ping))
            add_readiness_check(app, "trigger", trigger_runs)
            log.info("analytics-function is following %r as group %r", loop.topic, loop.group)
            yield

    app = create_service_app(
        SERVICE,
        settings,
        lifespan=lifespan,
        description="The analytics Azure Function's code, run without the Functions host.",
    )
    app.add_api_route("/api/windows", windows, methods=["GET"], tags=["analytics"], summary="The Function's route")
    add_stats_route(app, stats, "the trigger loop's progress")
    return app
