"""The event catalogue: every fact eventsvc records, as frozen msgspec Structs.

Each event class has a stable dotted tag (``batch.enqueued``) that is never renamed, and a
``schema_version``. Fields may be added with defaults; any other change bumps the version and
registers an upcaster keyed by ``(tag, old version)`` that rewrites the stored payload one
version up. ``EventCodec`` is the one encoder/decoder pair, built once as ``CODEC``.

On the write side an event travels as ``NewEvent`` (event, id, metadata); on the read side as
``RecordedEvent``, the envelope the store adds (position, stream, version, recorded_at, hash).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeAlias

import msgspec

from eventsvc.errors import EventDecodeError, Problem


# gc=False: events and their envelopes are never part of a reference cycle (they hold JSON-like
# values only), and untracking them keeps the cyclic GC from rescanning every event a reader
# holds, which otherwise halves read throughput on long logs.
class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    """Base of every event; subclasses set ``tag=`` and may raise ``schema_version``."""

    schema_version: ClassVar[int] = 1


class BatchDatum(msgspec.Struct, frozen=True, kw_only=True):
    """Values substituted into one input field, one item per session of its group."""

    node_path: str
    field_name: str
    items: list[Any]


# --- batches ------------------------------------------------------------------------------


class BatchEnqueued(Event, frozen=True, kw_only=True, tag="batch.enqueued"):
    """A batch was accepted; it reserves ``session_count`` virtual sessions."""

    queue_id: str
    batch_id: str
    graph: dict[str, Any]
    data: list[list[BatchDatum]] = []
    runs: int = 1
    priority: int = 0
    session_count: int
    origin: str | None = None
    destination: str | None = None


class BatchCanceled(Event, frozen=True, kw_only=True, tag="batch.canceled"):
    """Every not-yet-terminal session of the batch is canceled."""

    queue_id: str
    batch_id: str
    reason: str | None = None


class BatchReprioritized(Event, frozen=True, kw_only=True, tag="batch.reprioritized"):
    """The batch's pending sessions move to ``priority``."""

    queue_id: str
    batch_id: str
    priority: int


# --- sessions -----------------------------------------------------------------------------


class SessionEvent(Event, frozen=True, kw_only=True):
    """Fields every session and invocation event carries, so subscribers filter without lookups."""

    queue_id: str
    batch_id: str
    session_id: str
    attempt: int = 1


class SessionStarted(SessionEvent, frozen=True, kw_only=True, tag="session.started"):
    """uninitialized -> in_progress, appended by the claiming worker just before the first node."""

    worker_id: str


class SessionResumed(SessionEvent, frozen=True, kw_only=True, tag="session.resumed"):
    """Another worker continues an interrupted attempt; completed nodes are kept."""

    worker_id: str
    previous_worker_id: str | None = None
    resumes: int = 1


class SessionCompleted(SessionEvent, frozen=True, kw_only=True, tag="session.completed"):
    """Every node of the session's graph completed."""


class SessionFailed(SessionEvent, frozen=True, kw_only=True, tag="session.failed"):
    """The attempt ended in a failure; a retry may follow."""

    error_type: str
    error_message: str
    node_id: str | None = None


class SessionCanceled(SessionEvent, frozen=True, kw_only=True, tag="session.canceled"):
    """The session was canceled, by itself or through its batch; a retry may follow."""

    reason: str | None = None


class SessionRetried(SessionEvent, frozen=True, kw_only=True, tag="session.retried"):
    """failed | canceled -> uninitialized; ``attempt`` is the new attempt number."""


SESSION_ENDED = frozenset({"session.completed", "session.failed", "session.canceled"})
"""The tags that end a session's attempt."""


class GraphInvalid(SessionEvent, frozen=True, kw_only=True, tag="graph.invalid"):
    """The session's graph failed validation when it was built; its stats are dropped."""

    problems: list[Problem]


# --- invocations --------------------------------------------------------------------------


class NodeMeasurement(msgspec.Struct, frozen=True, kw_only=True):
    """What was measured around one node; ``None`` where nothing could be read."""

    started_at: datetime | None = None
    ended_at: datetime | None = None
    wall_seconds: float | None = None
    rss_before: int | None = None
    rss_after: int | None = None
    vram_peak: int | None = None
    vram_delta: int | None = None
    # Memory readings taken while another node ran in the same process.
    overlapped: bool = False


class InvocationEvent(SessionEvent, frozen=True, kw_only=True):
    """A node's execution id (``add[2,0]``), its source node id and its type, and the worker
    that ran it (so audit can tell a fenced worker's late write; absent in older logs)."""

    node_id: str
    source_node_id: str
    node_type: str
    worker_id: str | None = None


class InvocationStarted(InvocationEvent, frozen=True, kw_only=True, tag="invocation.started"):
    """The node is about to run."""


class InvocationCompleted(InvocationEvent, frozen=True, kw_only=True, tag="invocation.completed"):
    """The node returned ``outputs``; large values travel as artifact references.

    ``cache_key`` is set when the invocation cache was asked (the node is cacheable and the
    cache on); ``cached`` says the outputs came from it and ``invoke()`` was not called.
    """

    outputs: dict[str, Any]
    measurement: NodeMeasurement = msgspec.field(default_factory=NodeMeasurement)
    cache_key: str | None = None
    cached: bool = False


class InvocationFailed(InvocationEvent, frozen=True, kw_only=True, tag="invocation.failed"):
    """The node raised; the session fails with it."""

    error_type: str
    error_message: str
    error_traceback: str = ""
    measurement: NodeMeasurement = msgspec.field(default_factory=NodeMeasurement)


# --- queues -------------------------------------------------------------------------------


class QueuePaused(Event, frozen=True, kw_only=True, tag="queue.paused"):
    """The executor stops starting sessions of this queue."""

    queue_id: str


class QueueResumed(Event, frozen=True, kw_only=True, tag="queue.resumed"):
    """The executor starts sessions of this queue again."""

    queue_id: str


class QueuePruned(Event, frozen=True, kw_only=True, tag="queue.pruned"):
    """Finished batches and sessions up to this event's position leave the listings."""

    queue_id: str


# --- the log itself --------------------------------------------------------------------------


class LogArchived(Event, frozen=True, kw_only=True, tag="log.archived"):
    """The events from ``first_position`` to ``last_position`` left the live log for the
    archive file ``file`` (its sha256 ``sha256``); the next live event chains to
    ``last_hash`` (hex). The store records the same facts beside the log (``log_archives``)."""

    first_position: int
    last_position: int
    last_hash: str
    file: str
    sha256: str
    events: int


AnyEvent: TypeAlias = (
    BatchEnqueued
    | BatchCanceled
    | BatchReprioritized
    | SessionStarted
    | SessionResumed
    | SessionCompleted
    | SessionFailed
    | SessionCanceled
    | SessionRetried
    | GraphInvalid
    | InvocationStarted
    | InvocationCompleted
    | InvocationFailed
    | QueuePaused
    | QueueResumed
    | QueuePruned
    | LogArchived
)


def event_tag(event: Event) -> str:
    """The stable tag of an event instance."""
    return type(event).__struct_config__.tag  # type: ignore[return-value]


# --- envelopes ----------------------------------------------------------------------------


class EventMetadata(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Why an event was written: the request it belongs to and the event that caused it."""

    correlation_id: str | None = None
    causation_id: str | None = None
    # The W3C trace context of the span the event was written under (``eventsvc.tracing``).
    traceparent: str | None = None


NO_METADATA = EventMetadata()


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event on its way into the log, with the id that makes its append idempotent."""

    event: Event
    event_id: uuid.UUID
    metadata: EventMetadata = NO_METADATA


class RecordedEvent(msgspec.Struct, frozen=True, gc=False):
    """An event as the log holds it.

    ``position`` is the dense global sequence (the SSE id); ``version`` counts from 0 within
    ``stream``. ``recorded_at`` is integer UTC microseconds. ``hash`` chains this event to the
    one before it (see ``eventsvc.chain``). The metadata is decoded only when asked for.
    """

    position: int
    stream: str
    version: int
    event_id: uuid.UUID
    tag: str
    schema_version: int
    data: Event
    recorded_at: int
    hash: bytes
    metadata_json: str = "{}"

    @property
    def metadata(self) -> EventMetadata:
        return _METADATA_DECODER.decode(self.metadata_json)

    @property
    def recorded_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.recorded_at / 1_000_000, UTC)


_METADATA_DECODER = msgspec.json.Decoder(EventMetadata)

# --- codec --------------------------------------------------------------------------------

Upcaster: TypeAlias = Callable[[dict[str, Any]], dict[str, Any]]
"""Rewrites one stored payload (a JSON object) from schema version v to v + 1."""

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""The catalogue's upcasters, keyed by (tag, the version they upgrade from). None yet: every
event is at its first schema version."""


def upcaster(tag: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register the function that rewrites a ``tag`` payload from ``from_version`` one up."""

    def register(function: Upcaster) -> Upcaster:
        UPCASTERS[(tag, from_version)] = function
        return function

    return register


class EventCodec:
    """Encodes events to JSON bytes and decodes stored payloads back, upcasting old versions."""

    def __init__(self, union: Any, upcasters: Mapping[tuple[str, int], Upcaster]) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder: msgspec.json.Decoder[Event] = msgspec.json.Decoder(union)
        self._page_decoder: msgspec.json.Decoder[list[Event]] = msgspec.json.Decoder(list[union])
        self._upcasters = upcasters  # a live view: upcasters may register after the codec
        members = union.__args__ if hasattr(union, "__args__") else (union,)
        self.versions: dict[str, int] = {m.__struct_config__.tag: m.schema_version for m in members}
        # Each event class's tag, for checking a decoded page against its rows' tags at once.
        self.tag_of: dict[type[Event], str] = {m: m.__struct_config__.tag for m in members}

    def decode_current(self, data: str | bytes) -> Event:
        """Decode a payload known to be at its tag's current schema version."""
        return self._decoder.decode(data)

    def decode_page(self, array: str | bytes) -> list[Event]:
        """Decode a JSON array of payloads all at their current schema versions."""
        return self._page_decoder.decode(array)

    def encode(self, event: Event) -> bytes:
        return self._encoder.encode(event)

    def encode_metadata(self, metadata: EventMetadata) -> bytes:
        return b"{}" if metadata is NO_METADATA else self._encoder.encode(metadata)

    def decode(self, tag: str, schema_version: int, data: str | bytes) -> Event:
        """Decode one stored payload; the caller names the position in any error it reports."""
        current = self.versions.get(tag)
        if current is None:
            raise EventDecodeError(f"unknown event tag {tag!r}")
        if schema_version == current:
            return self._decoder.decode(data)
        if schema_version > current:
            raise EventDecodeError(
                f"event {tag!r} has schema version {schema_version}, newer than this "
                f"eventsvc knows ({current}); upgrade eventsvc to read it"
            )
        payload: dict[str, Any] = msgspec.json.decode(data)
        for version in range(schema_version, current):
            upcaster = self._upcasters.get((tag, version))
            if upcaster is None:
                raise EventDecodeError(
                    f"event {tag!r} has schema version {version} and no upcaster to "
                    f"version {version + 1}"
                )
            payload = upcaster(payload)
        event = msgspec.convert(payload, type=self._decoder.type)
        if not isinstance(event, Event):  # the union holds Events only; this tells the checker
            raise EventDecodeError(f"event {tag!r} upcast to {type(event).__name__}, not an event")
        return event


CODEC = EventCodec(AnyEvent, UPCASTERS)
