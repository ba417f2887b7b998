"""Every error eventsvc raises, in one tree, subclassed by who must react.

    EventsvcError
    ├── GraphValidationError         a graph is invalid; carries every problem found
    │   └── BatchValidationError     a batch is invalid; carries every problem found
    ├── InvalidValueError            a value lies outside what the log can hold; names where
    ├── MissingInputError            a node is about to run with a required input unset
    ├── NodeInputError               a value assigned to a node input failed validation
    ├── NodeError                    a node body failed with a message meant for the user
    │   └── NodeTimeoutError         a node (or its session) ran past its time limit
    ├── IllegalTransitionError       a command the session's current state does not allow
    ├── NotFoundError                a queue, batch or session that does not exist
    ├── StoreError                   the log could not be opened, read or written
    │   ├── StoreLockedError         another process already writes this store
    │   ├── ConcurrencyError         an append's expected version did not hold
    │   ├── DuplicateEventError      an event id is already stored with other content
    │   ├── ImportRejectedError      exported rows cannot continue this log; names the first
    │   ├── EventDecodeError         a stored event cannot be decoded
    │   ├── SubscriberLaggedError    a live subscriber fell too far behind and was closed
    │   ├── ProjectionStalledError   a projection cannot fold the event at a position
    │   └── ArchivedError            what was asked for left the live log for an archive file
    ├── ArchiveConflictError         another archive runs, or the plan of this one changed
    └── LimitExceededError           a configured limit would be exceeded
        └── EventTooLargeError       one encoded event is over the maximum event size

Messages say what was expected and what was found, with values as ``!r``, and never carry a
DSN or a secret.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One validation problem, located by node and field where it has a location."""

    code: str
    message: str
    node_id: str | None = None
    field: str | None = None


class EventsvcError(Exception):
    """Base class of every error raised by eventsvc."""


class GraphValidationError(EventsvcError):
    """Raised when a graph is invalid; ``problems`` lists every problem, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        lines = "; ".join(locate(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"invalid graph, {len(problems)} problem(s): {lines}{more}")
        self.problems = problems


def locate(problem: Problem) -> str:
    """Where a problem is (``node.field``) and what it is, in one line."""
    where = ".".join(part for part in (problem.node_id, problem.field) if part)
    return f"{where}: {problem.message}" if where else problem.message


class MissingInputError(EventsvcError):
    """Raised when a node is about to run and a required input got neither a value nor an edge."""

    def __init__(self, node_id: str, field: str) -> None:
        super().__init__(f"node {node_id!r}: required input {field!r} has no value and no edge")
        self.node_id = node_id
        self.field = field


class NodeInputError(EventsvcError):
    """Raised when a value assigned to a node's input (from an edge) fails validation."""

    def __init__(self, node_id: str, field: str, value: Any, reason: str) -> None:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        super().__init__(f"node {node_id!r}, input {field!r}: value {shown} rejected: {reason}")
        self.node_id = node_id
        self.field = field
        self.value = value
        self.reason = reason


class NodeError(EventsvcError):
    """Raised by a node body to fail its node with a message meant for the user."""


class NodeTimeoutError(NodeError):
    """Raised when a node, or the session it runs in, ran past its time limit; the node's
    ``invocation.failed`` and the session's ``session.failed`` carry ``code`` as their
    error type."""

    code = "timeout"


class NotFoundError(EventsvcError):
    """Raised when a queue, batch or session named in a request does not exist."""


class BatchValidationError(GraphValidationError):
    """Raised when a batch (its graph or its data) is invalid; ``problems`` lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.args = (str(self).replace("invalid graph", "invalid batch", 1),)


class InvalidValueError(EventsvcError):
    """Raised when a value lies outside the bounds every backend can store (``bounds``):
    ``problems`` name each place, by node and field where a command knows them."""

    def __init__(self, what: str, problems: list[Problem]) -> None:
        super().__init__(f"{what}: " + "; ".join(locate(p) for p in problems))
        self.problems = problems


class IllegalTransitionError(EventsvcError):
    """Raised by a session command that the session's current state does not allow."""

    def __init__(self, session_id: str, status: str, command: str) -> None:
        super().__init__(f"session {session_id!r} is {status}: {command} is not allowed")
        self.session_id = session_id
        self.status = status
        self.command = command


class StoreError(EventsvcError):
    """The event store could not be opened, read or written; the message says which and why."""


class StoreLockedError(StoreError):
    """Raised by a writing open of a store that another process already holds for writing."""


class ConcurrencyError(StoreError):
    """Raised by an append whose expected version did not match the stream's actual version.

    ``position`` is the position of the stream's last stored event (0 when the stream is empty),
    so a caller can wait until its projections have caught up with the writer that won.
    """

    def __init__(self, stream: str, expected: object, actual: int | None, position: int) -> None:
        found = "no stream" if actual is None else f"version {actual}"
        super().__init__(
            f"stream {stream!r}: expected version {expected}, found {found} "
            f"(last event at position {position})"
        )
        self.stream = stream
        self.expected = expected
        self.actual = actual
        self.position = position


class DuplicateEventError(StoreError):
    """Raised when an event id is already stored with different content or in another place."""


class ImportRejectedError(StoreError):
    """Raised when exported rows cannot go into a log: ``position`` is the first that cannot."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"cannot import the event at position {position}: {reason}")
        self.position = position


class EventDecodeError(StoreError):
    """Raised when a stored event (named by position) cannot be decoded or upcast."""


class SubscriberLaggedError(StoreError):
    """Raised to a live subscriber whose buffer overflowed; it resumes with ``after=position``."""

    def __init__(self, position: int, limit: int) -> None:
        super().__init__(
            f"subscriber fell more than {limit} commits behind the log and was closed; "
            f"resume with after={position}"
        )
        self.position = position
        self.limit = limit


class ProjectionStalledError(StoreError):
    """Raised by a command waiting for a projection that cannot fold the event at
    ``position``: the log holds the event, the projection stays where it was until a fix."""

    def __init__(self, projection: str, position: int, reason: str) -> None:
        super().__init__(
            f"projection {projection!r} is stalled at position {position}: {reason}; "
            "queries answer as of the position before it"
        )
        self.projection = projection
        self.position = position
        self.reason = reason


class ArchivedError(StoreError):
    """Raised by a read from, or a subscription after, a position that an archive moved out
    of the live log, and by a request for a batch or session whose events it moved:
    ``first_live`` is the first position the live log holds, ``archives`` the files that
    hold what was asked for (names in the store's archive directory)."""

    def __init__(self, message: str, first_live: int, archives: list[str]) -> None:
        super().__init__(message)
        self.first_live = first_live
        self.archives = archives


class ArchiveConflictError(EventsvcError):
    """Raised by an archive that cannot go ahead as planned: another task or process is
    archiving the store, or what it planned to archive changed meanwhile (it archived
    nothing; running it again plans anew)."""


class LimitExceededError(EventsvcError):
    """Raised when a request would exceed a configured limit; names it, the asked and allowed."""

    def __init__(self, limit: str, requested: int, allowed: int, detail: str = "") -> None:
        message = f"{limit}: requested {requested}, allowed {allowed}"
        super().__init__(f"{message} ({detail})" if detail else message)
        self.limit = limit
        self.requested = requested
        self.allowed = allowed


class EventTooLargeError(LimitExceededError):
    """Raised by an append holding an event whose encoded size is over the maximum."""

    def __init__(self, stream: str, tag: str, size: int, allowed: int) -> None:
        super().__init__("max_event_bytes", size, allowed, f"event {tag!r} for stream {stream!r}")
        self.stream = stream
        self.tag = tag
