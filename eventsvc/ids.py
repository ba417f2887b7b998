"""Identifier formats: stream names and session ids, derived from the ids they stand for.

A session id is ``<batch_id>.<index>``, so the batch and the index are read back from the id
itself and a virtual session needs no row (DESIGN section 2). Stream names put the kind first
(``batch-``, ``session-``, ``queue-``) so subscribers can filter by prefix.
"""

from __future__ import annotations

import re

BATCH_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
# An index fits a 64-bit column: at most 18 digits, and no leading zero.
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}\.(0|[1-9][0-9]{0,17})$"
# Printable ASCII but the characters URLs and stream names give meaning to.
QUEUE_ID_PATTERN = r"^[A-Za-z0-9_.:@~+=-]{1,128}$"

BATCH_STREAM_PREFIX = "batch-"
SESSION_STREAM_PREFIX = "session-"
QUEUE_STREAM_PREFIX = "queue-"
LOG_STREAM = "log"
"""The stream of events about the log itself (``log.archived``)."""


def batch_stream(batch_id: str) -> str:
    return f"{BATCH_STREAM_PREFIX}{batch_id}"


def session_stream(session_id: str) -> str:
    return f"{SESSION_STREAM_PREFIX}{session_id}"


def queue_stream(queue_id: str) -> str:
    return f"{QUEUE_STREAM_PREFIX}{queue_id}"


def of_a_batch(stream: str) -> bool:
    """Whether ``stream`` is a batch's or one of its sessions' (archived whole, with it)."""
    return stream.startswith((BATCH_STREAM_PREFIX, SESSION_STREAM_PREFIX))


def session_id(batch_id: str, index: int) -> str:
    """The id of session ``index`` of a batch."""
    if index < 0:
        raise ValueError(f"a session index is never negative, got {index!r}")
    return f"{batch_id}.{index}"


def parse_session_id(value: str) -> tuple[str, int]:
    """Split a session id into its batch id and index; a malformed id is a ValueError."""
    batch_id, dot, index = value.rpartition(".")
    # ASCII digits only ("²".isdigit() is true, and int() refuses it), at most 18 of them: an
    # index of a batch always fits a 64-bit column.
    if not dot or not batch_id or not _INDEX.fullmatch(index):
        raise ValueError(f"not a session id (expected '<batch_id>.<index>'): {value!r}")
    return batch_id, int(index)


_INDEX = re.compile(r"0|[1-9][0-9]{0,17}")


def parse_position(text: str) -> int | None:
    """A log position as a client sends it (``Last-Event-ID``): ASCII digits that fit 64
    bits, else None."""
    if not _POSITION.fullmatch(text):
        return None
    position = int(text)
    return position if position < 2**63 else None


_POSITION = re.compile(r"[0-9]{1,19}")
