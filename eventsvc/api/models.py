"""The API's own request bodies and answers (L3); the read models it shares with the service
are in ``eventsvc.views``. The typed client parses every answer into these same classes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from eventsvc.batches import Batch
from eventsvc.bounds import MAX_SAFE_INT
from eventsvc.ids import BATCH_ID_PATTERN, SESSION_ID_PATTERN

State = Literal["uninitialized", "in_progress", "completed", "failed", "canceled"]
BatchIdItem = Annotated[str, StringConstraints(pattern=BATCH_ID_PATTERN)]
SessionIdItem = Annotated[str, StringConstraints(pattern=SESSION_ID_PATTERN)]


# A command's body holds only the fields it documents: an extra one is a 422 naming it, and
# the schema says so (additionalProperties: false), so a client generator and the server agree.
_ONLY_DOCUMENTED = ConfigDict(extra="forbid")


class EnqueueBatchBody(BaseModel):
    batch: Batch
    prepend: StrictBool = Field(False, description="Run ahead of every batch waiting now")


class BatchIds(BaseModel):
    model_config = _ONLY_DOCUMENTED
    batch_ids: list[BatchIdItem] = Field(min_length=1, max_length=10_000)


class SessionIds(BaseModel):
    model_config = _ONLY_DOCUMENTED
    session_ids: list[SessionIdItem] = Field(min_length=1, max_length=10_000)


def _integral(value: Any) -> Any:
    """JSON Schema counts 5.0 as an integer, so the API does too (any other float stays one,
    and is refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class Priority(BaseModel):
    model_config = _ONLY_DOCUMENTED
    priority: Annotated[StrictInt, BeforeValidator(_integral)] = Field(
        ge=-MAX_SAFE_INT, le=MAX_SAFE_INT, description="Higher runs first (an I-JSON integer)"
    )


class Position(BaseModel):
    """Where the command's last event landed in the log."""

    position: int


class CacheStatusBody(BaseModel):
    enabled: bool
    entries: int
    size: int = Field(description="Bytes of cached outputs")
    max_entries: int
    max_bytes: int
    hits: int = Field(description="Node runs answered by the cache")
    misses: int = Field(description="Node runs the cache was asked for and did not hold")


class CacheCleared(BaseModel):
    removed: int


class RebuiltProjection(BaseModel):
    name: str
    position: int = Field(description="The log position the rebuilt projection folded up to")
    seconds: float


class ArchiveBody(BaseModel):
    """What to archive: exactly one of ``older_than`` and ``before_position``."""

    model_config = _ONLY_DOCUMENTED
    older_than: str | None = Field(
        None,
        max_length=40,
        description="Archive what was recorded longer ago than this: 30d, 12h, 90m, 45s, 2w",
    )
    before_position: StrictInt | None = Field(
        None, ge=1, le=MAX_SAFE_INT, description="Archive the positions below this one"
    )
    dry_run: StrictBool = Field(False, description="Say what would be archived, archive nothing")


class ArchiveResult(BaseModel):
    """What an archive did (or, dry, would do). The horizon is lowered from the cut asked
    for until no batch straddles it and every projection and webhook has taken what goes;
    ``held_back`` says what lowered it."""

    dry_run: bool
    first_position: int = Field(description="The first position archived")
    last_position: int = Field(description="The last position archived (none if events is 0)")
    horizon: int = Field(description="The first position of the live log after it")
    events: int
    file: str | None = Field(description="The archive file (none when nothing was archived)")
    file_bytes: int
    bytes_before: int = Field(description="The store's size before")
    bytes_after: int = Field(description="The store's size after, its space given back")
    held_back: str
    artifacts_moved: int = Field(description="Artifacts moved beside the archive file")
    event_position: int | None = Field(description="The position of its log.archived event")
    seconds: float


class Stall(BaseModel):
    position: int = Field(description="The event the projection cannot fold")
    reason: str


class Health(BaseModel):
    store: Literal["ok", "stalled"] = Field(
        description="'stalled' when a projection cannot fold an event: reads answer as of the "
        "position before it, commands that need it answer 503 naming it"
    )
    head: int = Field(description="The position of the log's last event")
    first_live: int = Field(
        1,
        description="The first position the live log holds: archives moved the ones before "
        "it out (a read or stream from before it answers 410)",
    )
    projection_lag: dict[str, int] = Field(description="Events each projection has yet to fold")
    stalled: dict[str, Stall] = Field(default_factory=dict)
    subscribers: int = Field(description="Live event subscriptions this process feeds")
    workers_alive: int = Field(description="Workers with a current lease, in every process")
    abandoned_threads: int = Field(
        0,
        description="Node bodies this process abandoned in their threads (canceled or past "
        "their time limit) that still run: a thread cannot be killed",
    )


class NodeType(BaseModel):
    """One node type this service runs, with its JSON Schema."""

    type: str
    title: str
    tags: list[str]
    category: str
    version: str
    classification: str
    output: str = Field(description="The type of its output")
    json_schema: dict[str, Any] = Field(alias="schema")
