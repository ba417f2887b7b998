"""What the store records of an archive of the log, and an archive on its way (L1): the
plain values that ``eventsvc.store.archives`` reads, writes and plans with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Marker:
    """One archive as the live log records it: the events from ``first_position`` to
    ``last_position`` are in ``file`` (``events`` of them, ``bytes`` compressed); the next
    live event chains to ``last_hash``; ``event_position`` is its ``log.archived`` event."""

    first_position: int
    last_position: int
    last_hash: bytes
    last_recorded_at: int
    file: str
    sha256: str
    events: int
    bytes: int
    archived_at: int
    event_position: int

    def row(self) -> tuple[Any, ...]:
        return (
            self.first_position,
            self.last_position,
            self.last_hash,
            self.last_recorded_at,
            self.file,
            self.sha256,
            self.events,
            self.bytes,
            self.archived_at,
            self.event_position,
        )


def first_live(found: Sequence[Marker]) -> int:
    """The first position the live log holds, given its archives' markers."""
    return found[-1].last_position + 1 if found else 1


@dataclass(slots=True)
class ArchiveState:
    """What the live log carries of its archives: an export writes it ahead of its rows, so
    the importing store knows where its log starts and what its projections start from."""

    markers: list[Marker] = field(default_factory=list)
    # (projection name, position of its checkpoint when taken, the state as JSON text)
    snapshots: list[tuple[str, int, str]] = field(default_factory=list)
    # (stream, its last archived version), for streams that are not a batch's
    streams: list[tuple[str, int]] = field(default_factory=list)
    # (batch id, the archive file holding it)
    batches: list[tuple[str, str]] = field(default_factory=list)

    @property
    def first_live(self) -> int:
        return first_live(self.markers)


@dataclass(slots=True)
class Plan:
    """An archive of the positions from ``first`` up to (not including) ``horizon``; the
    file's facts are filled in once it is written, before ``commit``."""

    first: int
    horizon: int
    file: str
    archived_at: int
    last_hash: bytes = b""
    last_recorded_at: int = 0
    sha256: str = ""
    bytes: int = 0
    events: int = 0
    # The last version of each stream in the archived rows that is not a batch's, and the
    # batches' streams (PostgreSQL forgets their version rows).
    streams: dict[str, int] = field(default_factory=dict)
    batch_streams: dict[str, None] = field(default_factory=dict)

    @property
    def last(self) -> int:
        return self.horizon - 1


@dataclass(slots=True)
class Committed:
    """What ``commit`` did: the ``log.archived`` row (``COLUMNS``) and the artifacts that no
    live event names any more."""

    row: tuple[Any, ...]
    marker: Marker
    released: list[str]
