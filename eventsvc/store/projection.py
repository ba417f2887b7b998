"""Projections applied inside the log's own write transactions (DESIGN section 3).

On SQLite one process writes, so a projection can be applied in the very transaction that
appends the events it folds: a command then costs one commit, its effect is visible to reads
as soon as the append returns, and the projection's checkpoint (written in that transaction
too) always equals the log's head. A projection registered on a log that is ahead of it first
catches up, page by page, each page and its checkpoint in one transaction. ``rebuild`` drops
the tables of the projections it names and folds the whole log again in a single transaction,
so readers see either the old tables or the new ones, never a half-built state; it reads the
log once for all of them, and only the rows whose tags they fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eventsvc.events import RecordedEvent


class ProjectionTransaction(Protocol):
    """The open write transaction a projection folds events in.

    Synchronous: the store runs a whole transaction, the append and every projection, in one
    call on its connection's thread, rather than paying a thread hop per statement.
    """

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class InlineProjection(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def schema(self) -> str:
        """DDL creating its tables and indexes; run on registration and on rebuild."""
        ...

    @property
    def tables(self) -> Sequence[str]:
        """The tables it owns, dropped by a rebuild."""
        ...

    @property
    def tags(self) -> frozenset[str]:
        """The event tags it folds; a rebuild reads no others."""
        ...

    def apply(self, tx: ProjectionTransaction, events: Sequence[RecordedEvent]) -> None:
        """Fold ``events`` (in position order; other tags may be left out) into its tables."""
        ...
