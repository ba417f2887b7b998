"""eventsvc: typed node graphs run in batches of sessions, as an event-sourced async service."""

from eventsvc.chain import ChainBreak, StoredRow, verify_chain
from eventsvc.errors import (
    ConcurrencyError,
    DuplicateEventError,
    EventDecodeError,
    EventsvcError,
    EventTooLargeError,
    LimitExceededError,
    StoreError,
    StoreLockedError,
    SubscriberLaggedError,
)
from eventsvc.events import (
    CODEC,
    AnyEvent,
    Event,
    EventCodec,
    EventMetadata,
    NewEvent,
    RecordedEvent,
)
from eventsvc.store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    EventFilter,
    EventStore,
    ExpectedVersion,
    StoreOptions,
    Subscription,
    open_store,
)

__version__ = "0.1.0"

__all__ = [
    "ANY",
    "CODEC",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AnyEvent",
    "AppendResult",
    "ChainBreak",
    "ConcurrencyError",
    "DuplicateEventError",
    "Event",
    "EventCodec",
    "EventDecodeError",
    "EventFilter",
    "EventMetadata",
    "EventStore",
    "EventTooLargeError",
    "EventsvcError",
    "ExpectedVersion",
    "LimitExceededError",
    "NewEvent",
    "RecordedEvent",
    "StoreError",
    "StoreLockedError",
    "StoreOptions",
    "StoredRow",
    "SubscriberLaggedError",
    "Subscription",
    "__version__",
    "open_store",
    "verify_chain",
]
