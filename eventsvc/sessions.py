"""The session state machine as pure functions (DESIGN section 2).

    uninitialized --start--> in_progress --complete--> completed
         |                    |  ^ resume (same attempt, completed nodes kept)
         |                    |--+
         |                    +--fail / graph invalid--> failed --+
         +--cancel--> canceled <--cancel-- in_progress            |
    uninitialized <--retry (attempt + 1, from scratch)-- failed | canceled

``decide(command, state)`` returns the events a command appends (or raises
``IllegalTransitionError`` naming the session, its state and the command); ``evolve(state,
event, position)`` folds one event of the session's stream into its state. The cross-stream
rule: an attempt started after its batch was canceled, and not retried since that cancel, is
canceled at once (``ApplyBatchCancel``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypedDict

import msgspec
from msgspec.structs import replace

from eventsvc.errors import IllegalTransitionError, Problem
from eventsvc.events import (
    Event,
    GraphInvalid,
    InvocationCompleted,
    InvocationFailed,
    InvocationStarted,
    SessionCanceled,
    SessionCompleted,
    SessionFailed,
    SessionResumed,
    SessionRetried,
    SessionStarted,
)
from eventsvc.ids import parse_session_id

BATCH_CANCELED = "batch canceled"
INTERRUPTED = "Interrupted"


class Status(enum.StrEnum):
    UNINITIALIZED = "uninitialized"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELED})
_LIVE = frozenset({Status.IN_PROGRESS})

# Which states each event of a session's stream may follow: what ``decide`` appends, seen
# from the log (audit replays it).
FOLLOWS: dict[type[Event], frozenset[Status]] = {
    SessionStarted: frozenset({Status.UNINITIALIZED}),
    SessionResumed: _LIVE,
    SessionCompleted: _LIVE,
    SessionFailed: _LIVE,
    GraphInvalid: _LIVE,
    SessionCanceled: frozenset({Status.UNINITIALIZED, Status.IN_PROGRESS}),
    SessionRetried: frozenset({Status.FAILED, Status.CANCELED}),
    InvocationStarted: _LIVE,
    InvocationCompleted: _LIVE,
    InvocationFailed: _LIVE,
}


class SessionState(msgspec.Struct, frozen=True, gc=False):
    """One session as its stream has folded so far. A frozen struct, not a dataclass: audit
    and the executor build one per session event, and a struct builds and copies several
    times faster."""

    queue_id: str
    batch_id: str
    session_id: str
    status: Status = Status.UNINITIALIZED
    attempt: int = 1
    worker_id: str | None = None
    resumes: int = 0
    # Log position of the latest session.retried: a batch cancel before it no longer applies.
    retried_at: int = 0

    @classmethod
    def new(cls, queue_id: str, session_id: str) -> SessionState:
        batch_id, _ = parse_session_id(session_id)
        return cls(queue_id=queue_id, batch_id=batch_id, session_id=session_id)


# --- commands -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    worker_id: str


@dataclass(frozen=True, slots=True)
class Resume:
    """Continue an attempt whose worker's lease expired; past ``max_resumes`` it fails."""

    worker_id: str
    max_resumes: int = 2


@dataclass(frozen=True, slots=True)
class Complete:
    pass


@dataclass(frozen=True, slots=True)
class Fail:
    error_type: str
    error_message: str
    node_id: str | None = None


@dataclass(frozen=True, slots=True)
class RejectGraph:
    """The session's graph failed validation when it was built."""

    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Cancel:
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    pass


@dataclass(frozen=True, slots=True)
class ApplyBatchCancel:
    """The batch was canceled at ``canceled_at`` (a log position): cancel this attempt if the
    cancel came after its last retry; otherwise nothing happens."""

    canceled_at: int


Command = Start | Resume | Complete | Fail | RejectGraph | Cancel | Retry | ApplyBatchCancel


class _Ids(TypedDict):
    queue_id: str
    batch_id: str
    session_id: str
    attempt: int


def decide(command: Command, state: SessionState) -> list[Event]:
    """The events that carry out ``command`` on a session in ``state``."""
    ids = _Ids(
        queue_id=state.queue_id,
        batch_id=state.batch_id,
        session_id=state.session_id,
        attempt=state.attempt,
    )
    status = state.status
    match command:
        case Start(worker_id) if status is Status.UNINITIALIZED:
            return [SessionStarted(**ids, worker_id=worker_id)]
        case Resume(worker_id, max_resumes) if status is Status.IN_PROGRESS:
            if state.resumes >= max_resumes:
                message = f"interrupted {state.resumes + 1} times; not resumed again"
                return [SessionFailed(**ids, error_type=INTERRUPTED, error_message=message)]
            return [
                SessionResumed(
                    **ids,
                    worker_id=worker_id,
                    resumes=state.resumes + 1,
                    previous_worker_id=state.worker_id,
                )
            ]
        case Complete() if status is Status.IN_PROGRESS:
            return [SessionCompleted(**ids)]
        case Fail(error_type, error_message, node_id) if status is Status.IN_PROGRESS:
            return [
                SessionFailed(
                    **ids, error_type=error_type, error_message=error_message, node_id=node_id
                )
            ]
        case RejectGraph(problems) if status is Status.IN_PROGRESS:
            message = f"the session's graph is invalid ({len(problems)} problem(s))"
            return [
                GraphInvalid(**ids, problems=list(problems)),
                SessionFailed(**ids, error_type="GraphInvalid", error_message=message),
            ]
        case Cancel(reason) if status not in TERMINAL:
            return [SessionCanceled(**ids, reason=reason)]
        case Retry() if status in (Status.FAILED, Status.CANCELED):
            return [SessionRetried(**(ids | {"attempt": state.attempt + 1}))]
        case ApplyBatchCancel(canceled_at):
            if not batch_cancel_applies(state, canceled_at):
                return []
            return [SessionCanceled(**ids, reason=BATCH_CANCELED)]
    raise IllegalTransitionError(state.session_id, status.value, type(command).__name__)


def batch_cancel_applies(state: SessionState, canceled_at: int) -> bool:
    """Whether a cancel of the session's batch at log position ``canceled_at`` ends the
    session: unless it has ended, or was retried after that cancel."""
    return state.status not in TERMINAL and canceled_at >= state.retried_at


def evolve(state: SessionState, event: Event, position: int = 0) -> SessionState:
    """The state after one event of the session's stream (at log ``position``)."""
    match event:
        case SessionStarted(worker_id=worker_id):
            return replace(state, status=Status.IN_PROGRESS, worker_id=worker_id, resumes=0)
        case SessionResumed(worker_id=worker_id, resumes=resumes):
            return replace(state, worker_id=worker_id, resumes=resumes)
        case SessionCompleted():
            return replace(state, status=Status.COMPLETED)
        case SessionFailed():
            return replace(state, status=Status.FAILED)
        case SessionCanceled():
            return replace(state, status=Status.CANCELED)
        case SessionRetried(attempt=attempt):
            return replace(
                state,
                status=Status.UNINITIALIZED,
                attempt=attempt,
                worker_id=None,
                resumes=0,
                retried_at=position,
            )
    return state


def fold(state: SessionState, events: list[tuple[Event, int]]) -> SessionState:
    """The state after a stream's ``(event, position)`` pairs, in order."""
    for event, position in events:
        state = evolve(state, event, position)
    return state
