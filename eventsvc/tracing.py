"""OpenTelemetry traces: spans around an enqueue, each session attempt and each node (L1).

Only ``opentelemetry-api`` is used here, so without an SDK every span is a non-recording
no-op and the log is untouched. With one (the ``otel`` extra, switched on by the standard
``OTEL_*`` variables through ``configure_from_env``), a span's W3C ``traceparent`` rides in
the metadata of the events written under it: an attempt's span is a child of its batch's
enqueue, and a session resumed by another process continues the trace found in its stream.

``Settings.tracing`` (``EVENTSVC_TRACING``) turns spans off altogether; ``use_provider``
lets tests record spans with the SDK's in-memory exporter without touching the process-wide
provider.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from eventsvc.events import Event, EventMetadata, NewEvent, RecordedEvent
from eventsvc.store.rows import new_event_ids

log = logging.getLogger("eventsvc.tracing")

_PROPAGATOR = TraceContextTextMapPropagator()
_override: trace.TracerProvider | None = None
enabled = True  # Settings.tracing, set by the service


def tracer() -> trace.Tracer:
    provider = _override or trace.get_tracer_provider()
    return provider.get_tracer("eventsvc")


@contextmanager
def use_provider(provider: trace.TracerProvider) -> Iterator[None]:
    """Record eventsvc's spans with ``provider`` inside the block (tests)."""
    global _override
    previous, _override = _override, provider
    try:
        yield
    finally:
        _override = previous


def start_span(name: str, parent: str | None = None, **attributes: Any) -> Span:
    """A span (a no-op one when tracing is off), child of ``parent``'s traceparent if given,
    else of the current span."""
    if not enabled:
        return trace.INVALID_SPAN
    context = None
    if parent is not None:
        context = _PROPAGATOR.extract({"traceparent": parent}, otel_context.Context())
    return tracer().start_span(name, context=context, attributes=attributes)


def start_child(name: str, **attributes: Any) -> Span:
    """A child of the current span, or a no-op one when the current span records nothing:
    under the parent-based sampling that is the default, a child of it would record nothing
    either (so a node's span costs nothing without an SDK)."""
    if not enabled or not trace.get_current_span().is_recording():
        return trace.INVALID_SPAN
    return tracer().start_span(name, attributes=attributes)


@contextmanager
def active(span: Span) -> Iterator[Span]:
    """``span`` as the current span inside the block, ended after it; an exception escaping
    the block marks it failed."""
    if span is trace.INVALID_SPAN:  # nothing to make current, nothing to end
        yield span
        return
    with trace.use_span(span, end_on_exit=True):
        yield span


def failed(span: Span, error: BaseException) -> None:
    """Mark ``span`` failed with ``error`` (a node's failure is data, not an exception)."""
    if span.is_recording():
        span.record_exception(error)
        span.set_status(trace.Status(trace.StatusCode.ERROR, str(error)))


def traceparent(span: Span) -> str | None:
    """The span's W3C traceparent, or None for a span that records nothing."""
    if not span.get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, trace.set_span_in_context(span))
    return carrier.get("traceparent")


def carried(events: Sequence[Event], parent: str | None) -> Sequence[Event | NewEvent]:
    """The events with ``parent`` in their metadata (as they are, when there is none)."""
    if parent is None:
        return events
    metadata = EventMetadata(traceparent=parent)
    ids = new_event_ids(len(events))  # time-ordered, as the store's own (store.rows)
    return [
        NewEvent(event=e, event_id=uuid.UUID(i), metadata=metadata)
        for e, i in zip(events, ids, strict=True)
    ]


def found_in(records: Sequence[RecordedEvent]) -> str | None:
    """The latest traceparent the records carry (a no-op read when none has metadata)."""
    for record in reversed(records):
        if record.metadata_json != "{}":
            parent = record.metadata.traceparent
            if parent is not None:
                return parent
    return None


def configure_from_env(environ: dict[str, str] | None = None) -> bool:
    """Install the SDK's tracer provider when ``OTEL_*`` variables ask for an exporter and
    the ``otel`` extra is installed; whether it was installed."""
    env = dict(os.environ if environ is None else environ)
    exporter = env.get("OTEL_TRACES_EXPORTER", "")
    endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true" or exporter == "none":
        return False
    if not exporter and not endpoint:
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        log.warning("OTEL_* variables are set but the otel extra is not installed: no traces")
        return False
    # Resource and TracerProvider read OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the
    # sampler variables themselves; the processor reads OTEL_BSP_*.
    named = {} if "OTEL_SERVICE_NAME" in env else {"service.name": "eventsvc"}
    provider = TracerProvider(resource=Resource.create(named))
    span_exporter: Any = ConsoleSpanExporter() if exporter == "console" else _otlp(env)
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)
    return True


def _otlp(env: dict[str, str]) -> Any:
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return OTLPSpanExporter()
