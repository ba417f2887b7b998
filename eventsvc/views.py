"""What queue queries answer: the read models of batches, sessions and queues (L0).

They are built by the queue projection of whichever store holds the log, and are the shapes
the API returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema

from eventsvc.batches import FieldValue


class StateCounts(BaseModel):
    uninitialized: int = 0
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    canceled: int = 0

    @property
    def total(self) -> int:
        return self.uninitialized + self.in_progress + self.completed + self.failed + self.canceled


class BatchStatus(BaseModel):
    queue_id: str
    batch_id: str
    priority: int
    session_count: int
    counts: StateCounts
    canceled: bool
    origin: str | None = None
    destination: str | None = None
    enqueued_position: int


class QueueStatus(BaseModel):
    queue_id: str
    paused: bool
    counts: StateCounts
    batches: int = Field(description="Batches still listed (not pruned)")


@dataclass(frozen=True, slots=True)
class SessionView:
    """One session as queries see it (a dataclass: a page of a listing builds a hundred)."""

    queue_id: str
    batch_id: str
    session_id: str
    index: int
    state: str
    attempt: int = 1
    worker_id: str | None = None
    priority: int = 0
    field_values: list[FieldValue] = field(default_factory=list)
    error_type: str | None = None
    error_message: str | None = None
    started_at: int | None = None  # UTC microseconds
    finished_at: int | None = None  # UTC microseconds


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    """What an enqueue did: the sessions it reserved and where its event landed."""

    queue_id: str
    batch_id: str
    requested: int
    enqueued: int
    priority: int
    session_count: int
    position: int


class SessionPage(BaseModel):
    items: list[SessionView]
    next_cursor: str | None = Field(default=None, description="Pass as after= for the next page")


def counts_from(row: Any) -> StateCounts:
    """Counts from the five per-state columns, in the order of ``StateCounts``."""
    return StateCounts(**dict(zip(StateCounts.model_fields, row, strict=True)))


class NodeFailure(BaseModel):
    """How a node of a session failed."""

    error_type: str
    message: str
    traceback: str = ""


# An output as stored: the JSON of the node type's output model (``AnyInvocationOutput``).
OutputJson = Annotated[
    dict[str, Any], WithJsonSchema({"$ref": "#/components/schemas/AnyInvocationOutput"})
]


GraphJson = Annotated[
    dict[str, Any] | None,
    WithJsonSchema({"anyOf": [{"$ref": "#/components/schemas/Graph"}, {"type": "null"}]}),
]


class SessionDetail(BaseModel):
    """A session with the graph it runs and what its current attempt's nodes did."""

    session: SessionView
    graph: GraphJson = Field(
        default=None,
        description="The batch's graph with this session's values set; none when those "
        "values did not make a valid graph",
    )
    results: dict[str, OutputJson] = Field(
        default_factory=dict, description="Each completed node's outputs, by execution id"
    )
    errors: dict[str, NodeFailure] = Field(
        default_factory=dict, description="Each failed node's error, by execution id"
    )
