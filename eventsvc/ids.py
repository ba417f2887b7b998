"""Identifier formats: stream names and session ids, derived from the ids they stand for.

A session id is ``<batch_id>.<index>``, so the batch and the index are read back from the id
itself and a virtual session needs no row (DESIGN section 2). Stream names put the kind first
(``batch-``, ``session-``, ``queue-``) so subscribers can filter by prefix.
"""

from __future__ import annotations

BATCH_STREAM_PREFIX = "batch-"
SESSION_STREAM_PREFIX = "session-"
QUEUE_STREAM_PREFIX = "queue-"


def batch_stream(batch_id: str) -> str:
    return f"{BATCH_STREAM_PREFIX}{batch_id}"


def session_stream(session_id: str) -> str:
    return f"{SESSION_STREAM_PREFIX}{session_id}"


def queue_stream(queue_id: str) -> str:
    return f"{QUEUE_STREAM_PREFIX}{queue_id}"


def session_id(batch_id: str, index: int) -> str:
    """The id of session ``index`` of a batch."""
    if index < 0:
        raise ValueError(f"a session index is never negative, got {index!r}")
    return f"{batch_id}.{index}"


def parse_session_id(value: str) -> tuple[str, int]:
    """Split a session id into its batch id and index; a malformed id is a ValueError."""
    batch_id, dot, index = value.rpartition(".")
    if not dot or not batch_id or not index.isdigit() or (len(index) > 1 and index[0] == "0"):
        raise ValueError(f"not a session id (expected '<batch_id>.<index>'): {value!r}")
    return batch_id, int(index)
