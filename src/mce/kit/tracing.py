"""Trace context for every request: W3C traceparent in and out, ids in every log line, spans over OTLP when configured.

Without OTEL_EXPORTER_OTLP_ENDPOINT nothing of the OpenTelemetry SDK is loaded: a request takes the caller's trace
id (or makes one from the same random bits a request id costs) and a span id of its own, and passes them on in the
traceparent of every call it makes, so log lines of one request join up across services all the same. With the
endpoint set, each request is also a server span (named by its route template) and each call a client span, batched
to the collector over OTLP/HTTP.
"""

from __future__ import annotations

import contextvars
import logging
import os
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_HEX = frozenset("0123456789abcdef")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class TraceContext:
    """Where the current work sits in a trace: the trace, this span, whether it is sampled, and the OTel span if any."""

    __slots__ = ("flags", "span", "span_id", "trace_id", "tracer")

    def __init__(
        self, trace_id: str, span_id: str, flags: str = "01", span: Span | None = None, tracer: Tracer | None = None
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.flags = flags
        self.span = span
        self.tracer = tracer

    @property
    def traceparent(self) -> str:
        """The W3C traceparent header naming this span as the parent."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


trace_var: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar("trace", default=None)


def parse_traceparent(raw: bytes | str | None) -> tuple[str, str, str] | None:
    """(trace id, parent span id, flags) of a valid version-00-compatible traceparent; None for anything else."""
    if not raw or len(raw) < 55:
        return None
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    # A later version may append fields after the fourth; version ff is forbidden.
    if len(text) > 55 and text[55] != "-":
        return None
    version, trace_id, span_id, flags = text[:2], text[3:35], text[36:52], text[53:55]
    if text[2] != "-" or text[35] != "-" or text[52] != "-" or version == "ff":
        return None
    if not _HEX.issuperset(text[:55].replace("-", "")) or (version == "00" and len(text) != 55):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id, flags


def new_trace_id() -> str:
    """32 hex digits; ids need uniqueness, not secrecy, and urandom per request is slow."""
    return f"{random.getrandbits(128):032x}"


def new_span_id() -> str:
    """16 hex digits, never all zero."""
    return f"{random.getrandbits(64) | 1:016x}"


def current() -> TraceContext | None:
    """The trace context of the work in hand, or None outside any request."""
    return trace_var.get()


def log_fields() -> tuple[str | None, str | None]:
    """(trace id, span id) for a log line."""
    ctx = trace_var.get()
    return (ctx.trace_id, ctx.span_id) if ctx is not None else (None, None)


class Tracing:
    """An app's tracer: None (ids only) unless an exporter is configured; tests may `use` a provider of their own."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.tracer: Tracer | None = None
        self.provider: TracerProvider | None = None

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str] | None = None) -> Tracing:
        """Spans exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; ids only otherwise."""
        tracing = cls(service)
        env = os.environ if environ is None else environ
        if any(env.get(name) for name in ENDPOINT_VARIABLES):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            # The exporter reads the endpoint, headers, timeout and compression from the OTEL_ variables itself.
            tracing.use(BatchSpanProcessor(OTLPSpanExporter()))
            log.info("exporting traces over OTLP/HTTP", extra={"endpoint": _endpoint(env)})
        return tracing

    def use(self, processor: SpanProcessor) -> None:
        """Record spans through this processor, under a resource naming the service."""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        # OTEL_TRACES_SAMPLER and OTEL_RESOURCE_ATTRIBUTES still apply: TracerProvider reads them.
        provider = TracerProvider(resource=Resource.create({"service.name": self.service}))
        provider.add_span_processor(processor)
        self.provider = provider
        self.tracer = provider.get_tracer("mce.kit.tracing")

    def flush(self) -> None:
        """Send the spans still batched (at shutdown); the provider also shuts down at exit on its own."""
        if self.provider is not None:
            self.provider.force_flush(5_000)

    def start_server_span(self, method: str, path: str, parent: tuple[str, str, str] | None) -> TraceContext:
        """A server span for a request, child of the caller's span when it sent one; named later by its route."""
        assert self.tracer is not None
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

        context = None
        if parent is not None:
            trace_id, span_id, flags = parent
            remote = SpanContext(
                int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(int(flags, 16) & 1)
            )
            context = trace.set_span_in_context(NonRecordingSpan(remote))
        span = self.tracer.start_span(
            method,
            context=context,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        )
        ids = span.get_span_context()
        return TraceContext(
            f"{ids.trace_id:032x}", f"{ids.span_id:016x}", f"{int(ids.trace_flags):02x}", span, self.tracer
        )


def _endpoint(env: Mapping[str, str]) -> str:
    return next(env[name] for name in ENDPOINT_VARIABLES if env.get(name))


def end_server_span(ctx: TraceContext, route: str, method: str, status: int) -> None:
    """Name the span by its route template (known once routed), record the status, and end it."""
    span = ctx.span
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()


def start_client_span(service: str, method: str, path: str) -> tuple[str | None, Any]:
    """The traceparent an outgoing call carries, and its client span (None without an exporter) to end after."""
    ctx = trace_var.get()
    if ctx is None:
        return None, None
    if ctx.span is None or ctx.tracer is None:
        return ctx.traceparent, None
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    span = ctx.tracer.start_span(
        f"{method} {service}",
        context=trace.set_span_in_context(ctx.span),
        kind=SpanKind.CLIENT,
        attributes={"http.request.method": method, "server.address": service, "url.path": path},
    )
    ids = span.get_span_context()
    return f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{int(ids.trace_flags):02x}", span


def end_client_span(span: Any, status: int | None, error: BaseException | None = None) -> None:
    """End a client span with the answer's status, or the error that stopped the call."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    if status is not None:
        span.set_attribute("http.response.status_code", status)
    if error is not None or (status is not None and status >= 500):
        span.set_status(Status(StatusCode.ERROR, type(error).__name__ if error else None))
    span.end()
