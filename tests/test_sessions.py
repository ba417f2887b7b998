from __future__ import annotations

import pytest

from eventsvc.errors import IllegalTransitionError, Problem
from eventsvc.events import (
    GraphInvalid,
    SessionCanceled,
    SessionCompleted,
    SessionFailed,
    SessionResumed,
    SessionRetried,
    SessionStarted,
)
from eventsvc.sessions import (
    BATCH_CANCELED,
    INTERRUPTED,
    ApplyBatchCancel,
    Cancel,
    Command,
    Complete,
    Fail,
    RejectGraph,
    Resume,
    Retry,
    SessionState,
    Start,
    Status,
    decide,
    evolve,
    fold,
)

COMMANDS: dict[str, Command] = {
    "start": Start("w2"),
    "resume": Resume("w2"),
    "complete": Complete(),
    "fail": Fail("ValueError", "boom", "n1"),
    "reject": RejectGraph((Problem(code="invalid_value", message="bad", node_id="n"),)),
    "cancel": Cancel("user"),
    "retry": Retry(),
    "batch_cancel": ApplyBatchCancel(canceled_at=10),
}

# What each (state, command) appends, by event class; None: the command is illegal there.
EXPECTED: dict[Status, dict[str, list[type] | None]] = {
    Status.UNINITIALIZED: {
        "start": [SessionStarted], "resume": None, "complete": None, "fail": None,
        "reject": None, "cancel": [SessionCanceled], "retry": None,
        "batch_cancel": [SessionCanceled],
    },
    Status.IN_PROGRESS: {
        "start": None, "resume": [SessionResumed], "complete": [SessionCompleted],
        "fail": [SessionFailed], "reject": [GraphInvalid, SessionFailed],
        "cancel": [SessionCanceled], "retry": None, "batch_cancel": [SessionCanceled],
    },
    Status.COMPLETED: {
        "start": None, "resume": None, "complete": None, "fail": None, "reject": None,
        "cancel": None, "retry": None, "batch_cancel": [],
    },
    Status.FAILED: {
        "start": None, "resume": None, "complete": None, "fail": None, "reject": None,
        "cancel": None, "retry": [SessionRetried], "batch_cancel": [],
    },
    Status.CANCELED: {
        "start": None, "resume": None, "complete": None, "fail": None, "reject": None,
        "cancel": None, "retry": [SessionRetried], "batch_cancel": [],
    },
}  # fmt: skip


def state_in(status: Status) -> SessionState:
    return SessionState("q", "b", "b.3", status=status, attempt=2, worker_id="w1")


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_state_and_command(status: Status, name: str) -> None:
    state = state_in(status)
    expected = EXPECTED[status][name]
    if expected is None:
        with pytest.raises(IllegalTransitionError) as caught:
            decide(COMMANDS[name], state)
        assert str(caught.value) == (
            f"session 'b.3' is {status.value}: {type(COMMANDS[name]).__name__} is not allowed"
        )
        return
    events = decide(COMMANDS[name], state)
    assert [type(e) for e in events] == expected
    for event in events:
        assert (event.queue_id, event.batch_id, event.session_id) == ("q", "b", "b.3")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "status"),
    [("start", Status.IN_PROGRESS), ("complete", Status.COMPLETED), ("fail", Status.FAILED),
     ("reject", Status.FAILED), ("cancel", Status.CANCELED), ("resume", Status.IN_PROGRESS)],
)  # fmt: skip
def test_evolve_follows_decide(name: str, status: Status) -> None:
    before = state_in(Status.UNINITIALIZED if name == "start" else Status.IN_PROGRESS)
    after = fold(before, [(e, 5) for e in decide(COMMANDS[name], before)])
    assert after.status is status
    assert after.attempt == before.attempt


def test_retry_starts_a_new_attempt_from_scratch() -> None:
    failed = state_in(Status.FAILED)
    [retried] = decide(Retry(), failed)
    assert retried.attempt == 3  # type: ignore[attr-defined]
    after = evolve(failed, retried, position=42)
    assert (after.status, after.attempt, after.worker_id, after.retried_at) == (
        Status.UNINITIALIZED, 3, None, 42,
    )  # fmt: skip
    [started] = decide(Start("w9"), after)
    assert started.attempt == 3  # type: ignore[attr-defined]


def test_resume_keeps_the_attempt_and_counts() -> None:
    running = state_in(Status.IN_PROGRESS)
    [resumed] = decide(Resume("w2"), running)
    assert isinstance(resumed, SessionResumed)
    assert (resumed.attempt, resumed.resumes, resumed.previous_worker_id) == (2, 1, "w1")
    after = evolve(running, resumed)
    assert (after.worker_id, after.resumes, after.status) == ("w2", 1, Status.IN_PROGRESS)


def test_too_many_resumes_fail_the_session_as_interrupted() -> None:
    state = state_in(Status.IN_PROGRESS)
    for worker in ("w2", "w3"):
        state = fold(state, [(e, 0) for e in decide(Resume(worker, max_resumes=2), state)])
    [failed] = decide(Resume("w4", max_resumes=2), state)
    assert isinstance(failed, SessionFailed)
    assert failed.error_type == INTERRUPTED


def test_a_batch_cancel_before_the_last_retry_does_not_apply() -> None:
    retried = SessionState("q", "b", "b.3", attempt=2, retried_at=50)
    assert decide(ApplyBatchCancel(canceled_at=40), retried) == []
    [canceled] = decide(ApplyBatchCancel(canceled_at=60), retried)
    assert isinstance(canceled, SessionCanceled)
    assert canceled.reason == BATCH_CANCELED
    never_retried = SessionState("q", "b", "b.3", status=Status.IN_PROGRESS)
    assert [type(e) for e in decide(ApplyBatchCancel(canceled_at=1), never_retried)] == [
        SessionCanceled
    ]


def test_a_new_state_reads_its_batch_from_the_session_id() -> None:
    state = SessionState.new("q", "batch-7.12")
    assert (state.batch_id, state.session_id, state.status) == ("batch-7", "batch-7.12",
                                                                Status.UNINITIALIZED)  # fmt: skip
