"""The image-processor runner: the blob store's object-created notifications into the Lambda's code.

It calls the same ImageProcessor.handle the Lambda handler calls with each S3 event: off the bus (each event's
`data` is the S3 event) for the filesystem store, off S3's own SQS queue for MCE_BLOB_STORE=s3. Replicas share
one consumer group, or one queue: their effects (thumbnails, the product's image) are shared state.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram

from mce.functions.image_processor.handler import build_processor
from mce.functions.image_processor.processor import ImageProcessor, Outcome
from mce.kit.app import add_readiness_check, add_stats_route, create_service_app
from mce.kit.aws import aws_client
from mce.kit.blob.notifications import BLOB_CREATED
from mce.kit.blob.s3 import queue_url
from mce.kit.bus.consumer import Consumer
from mce.kit.bus.factory import own_bus
from mce.kit.bus.port import EventBus
from mce.kit.events import Event
from mce.kit.settings import load_settings
from mce.services.image_processor.settings import ImageProcessorServiceSettings
from mce.services.image_processor.sqs import SqsNotifications

log = logging.getLogger(__name__)

CONSUMER_GROUP = "image-processor"


class RunnerMetrics:
    """Counts of uploads processed (by what product did), rejected (by reason), ignored, and failed attempts."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.processed = Counter(
            "image_processor_processed_total",
            "Uploads whose thumbnails were written, by the product service's answer",
            ["product"],
            registry=registry,
        )
        self.rejected = Counter(
            "image_processor_rejected_total", "Uploads refused as images, by reason", ["reason"], registry=registry
        )
        self.ignored = Counter(
            "image_processor_ignored_total",
            "Records that named no upload (another prefix, our own thumbnails, another bucket) or a vanished one",
            registry=registry,
        )
        self.failed = Counter(
            "image_processor_failed_total",
            "Notifications whose handling raised (product down, store error); each is retried",
            registry=registry,
        )
        self.seconds = Histogram(
            "image_processor_record_seconds",
            "Time to process one upload: read, thumbnails, writes and the product call",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=registry,
        )

    def count(self, outcome: Outcome) -> None:
        """Count one record's outcome."""
        if outcome.outcome == "processed":
            self.processed.labels(outcome.reason).inc()
            self.seconds.observe(outcome.seconds)
        elif outcome.outcome == "rejected":
            self.rejected.labels(outcome.reason).inc()
        else:
            self.ignored.inc()


def handle_s3_event(processor: ImageProcessor, metrics: RunnerMetrics, s3_event: Mapping[str, Any]) -> None:
    """Run one S3 event through the processor and count its outcomes; raise (for a retry) as the Lambda would."""
    try:
        outcomes = processor.handle(s3_event)
    except Exception:
        metrics.failed.inc()
        raise
    for outcome in outcomes:
        metrics.count(outcome)


def handle_notifications(processor: ImageProcessor, metrics: RunnerMetrics, events: Sequence[Event]) -> None:
    """Run each notification's S3 event through the processor; raise (for a retry) as the Lambda would."""
    for event in events:
        if event.type != BLOB_CREATED:
            log.info("skipped event %s of type %r on the notifications topic", event.event_id, event.type)
            continue
        handle_s3_event(processor, metrics, event.data)


async def stats(request: Request) -> dict[str, Any]:
    """The consumer's progress."""
    consumer: Consumer | SqsNotifications = request.app.state.consumer
    if isinstance(consumer, SqsNotifications):
        return {
            "consumer": {
                "queue": consumer.queue_url,
                "alive": consumer.alive,
                "handled": consumer.handled,
                "failed": consumer.failed,
                "test_events": consumer.test_events,
                "last_error": consumer.last_error,
            }
        }
    return {
        "consumer": {
            "group": consumer.group,
            "topic": consumer.topic,
            "alive": consumer.alive,
            "handled": consumer.handled,
            "dead_lettered": consumer.dead_lettered,
            "last_error": consumer.last_error,
        }
    }


def _lifespan(
    settings: ImageProcessorServiceSettings, bus: EventBus | None, processor: ImageProcessor | None
) -> Callable[[FastAPI], Any]:
    """Build the processor and follow the notifications topic; undo that on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # Locally, building an S3 store makes its bucket, queue and notification configuration first.
            work = processor or await asyncio.to_thread(build_processor, settings)
            if processor is None:
                stack.callback(work.store.close)
            app.state.processor = work
            add_readiness_check(app, "blob_store", functools.partial(asyncio.to_thread, work.store.ping))
            if settings.blob_store == "s3":
                await _follow_queue(app, stack, settings, work)
                yield
                return
            event_bus = own_bus(stack, settings, bus)
            handler = functools.partial(handle_notifications, work, app.state.runner_metrics)
            topic = settings.blob_notifications_topic
            consumer = Consumer(event_bus, topic, CONSUMER_GROUP, handler, max_batch=settings.image_batch_size)
            app.state.metrics.watch_consumer(consumer)
            consumer.start()
            stack.push_async_callback(asyncio.to_thread, consumer.stop)
            app.state.consumer = consumer
            add_readiness_check(app, "bus", functools.partial(asyncio.to_thread, event_bus.ping))
            add_readiness_check(app, "consumer", functools.partial(_consumer_runs, consumer))
            log.info(
                "image-processor is following %r as group %r; product at %s",
                settings.blob_notifications_topic,
                CONSUMER_GROUP,
                settings.product_url,
            )
            yield

    return lifespan


async def _consumer_runs(consumer: Consumer | SqsNotifications) -> None:
    """Raise when the thread that follows the notifications has stopped."""
    if not consumer.alive:
        raise RuntimeError("the notification consumer has stopped")


async def _follow_queue(
    app: FastAPI, stack: AsyncExitStack, settings: ImageProcessorServiceSettings, work: ImageProcessor
) -> None:
    """Follow S3's notifications on their SQS queue (MCE_BLOB_STORE=s3) instead of the bus."""
    sqs = aws_client("sqs", local=not settings.production, timeout_s=max(settings.http_timeout, 25.0))
    stack.callback(sqs.close)
    url = await asyncio.to_thread(queue_url, sqs, settings.blob_queue)
    source = SqsNotifications(
        sqs,
        url,
        functools.partial(handle_s3_event, work, app.state.runner_metrics),
        max_messages=settings.image_batch_size,
        wait_s=settings.image_queue_wait_s,
        retry_s=settings.image_queue_retry_s,
    )
    source.start()
    stack.push_async_callback(asyncio.to_thread, source.stop)
    app.state.consumer = source
    add_readiness_check(app, "queue", functools.partial(asyncio.to_thread, source.ping))
    add_readiness_check(app, "consumer", functools.partial(_consumer_runs, source))
    log.info("image-processor is following S3's notifications on %s; product at %s", url, settings.product_url)


def create_app(
    settings: ImageProcessorServiceSettings | None = None,
    *,
    bus: EventBus | None = None,
    processor: ImageProcessor | None = None,
) -> FastAPI:
    """The runner app; its lifespan builds what is not passed in, and closes only what it built."""
    settings = settings or load_settings(ImageProcessorServiceSettings)
    app = create_service_app(
        "image-processor",
        settings,
        lifespan=_lifespan(settings, bus, processor),
        description="Makes WebP thumbnails of uploaded product photos and tells the product service their URLs.",
    )
    app.state.runner_metrics = RunnerMetrics(app.state.metrics.registry)
    add_stats_route(app, stats, "the notification consumer's progress")
    return app
