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

import hashlib
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from eventsvc.chain import StoredRow
from eventsvc.errors import ProjectionStalledError
from eventsvc.events import RecordedEvent
from eventsvc.invocations.context import ArtifactStore
from eventsvc.store import EventStore

_T = TypeVar("_T")


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
    def reads_own_tables(self) -> bool:
        """Whether its fold queries its own tables; if not, a rebuild creates their indexes
        after folding, which is faster than keeping them up to date row by row."""
        ...

    @property
    def tags(self) -> frozenset[str]:
        """The event tags it folds; a rebuild reads no others."""
        ...

    def apply(self, tx: ProjectionTransaction, events: Sequence[RecordedEvent]) -> None:
        """Fold ``events`` (in position order; other tags may be left out) into its tables."""
        ...


class FoldError(Exception):
    """A projection's fold raised on a page: ``position`` is the first event of the page (the
    exact one once the page is folded event by event), ``reason`` what was raised."""

    def __init__(self, projection: str, position: int, tag: str, reason: str) -> None:
        super().__init__(
            f"projection {projection!r} cannot fold the {tag!r} event at position {position}"
            f" ({reason})"
        )
        self.projection = projection
        self.position = position
        self.tag = tag
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ProjectionStall:
    """A projection that cannot fold the event at ``position``: it stays at the position
    before, its tables readable, until eventsvc is fixed (``reason`` says what was raised)."""

    name: str
    position: int
    reason: str

    def error(self) -> ProjectionStalledError:
        return ProjectionStalledError(self.name, self.position, self.reason)


def fold_or_raise(
    projection: InlineProjection, tx: ProjectionTransaction, records: Sequence[RecordedEvent]
) -> None:
    """``projection.apply``, with whatever it raises (a driver's data error, a bug) as a
    ``FoldError``: folding is eventsvc's own code over values inside ``bounds``, so a failure
    means the projection cannot move past these events until eventsvc is fixed."""
    try:
        projection.apply(tx, records)
    except Exception as exc:
        first = records[0]
        reason = f"{type(exc).__name__}: {exc}"
        raise FoldError(projection.name, first.position, first.tag, reason) from exc


def is_index_statement(statement: str) -> bool:
    return statement.upper().startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))


def ddl_statements(script: str) -> list[str]:
    """The statements of a DDL script (no semicolons inside them)."""
    return [s.strip() for s in script.split(";") if s.strip()]


_SCHEMA_TABLES = (
    "CREATE TABLE IF NOT EXISTS projection_checkpoints "
    "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS projection_schemas (name TEXT PRIMARY KEY, digest TEXT NOT NULL)",
)


def rebuild_ddl(
    projection: InlineProjection, statements: Callable[[str], list[str]]
) -> tuple[list[str], list[str]]:
    """A rebuild's DDL for ``projection``: what runs before the fold, and the indexes that run
    after it when the fold never reads its own tables (faster than keeping them up to date row
    by row). ``statements`` splits the DDL into the backend's statements."""
    before: list[str] = []
    after: list[str] = []
    for statement in statements(projection.schema):
        later = not projection.reads_own_tables and is_index_statement(statement)
        (after if later else before).append(statement)
    return before, after


def schema_digest(projection: InlineProjection) -> str:
    """What ``projection_schemas`` records of the schema a projection's tables were made from."""
    return hashlib.sha256(projection.schema.encode()).hexdigest()


def prepare_tables(
    tx: ProjectionTransaction,
    projection: InlineProjection,
    statements: Callable[[str], list[str]],
) -> None:
    """Create ``projection``'s tables; if they were made from another schema (an older
    eventsvc), drop them and reset its checkpoint, so it folds the log again from the start.
    ``statements`` splits the DDL into the backend's statements."""
    for statement in _SCHEMA_TABLES:
        tx.execute(statement)
    digest = schema_digest(projection)
    stored = tx.fetchall("SELECT digest FROM projection_schemas WHERE name = ?", (projection.name,))
    if not stored or stored[0][0] != digest:
        for table in projection.tables:
            tx.execute(f"DROP TABLE IF EXISTS {table}")
        tx.execute("DELETE FROM projection_checkpoints WHERE name = ?", (projection.name,))
        tx.execute(
            "INSERT INTO projection_schemas (name, digest) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET digest = excluded.digest",
            (projection.name, digest),
        )
    for statement in statements(projection.schema):
        tx.execute(statement)


class Snapshot(Protocol):
    """The log, the projections and their checkpoints as of one commit."""

    async def read_rows(self, after: int = 0, limit: int = 1000) -> list[StoredRow]: ...

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def checkpoints(self) -> dict[str, int]: ...

    async def schema_digests(self) -> dict[str, str]:
        """The schema each projection's tables were made from (``schema_digest``)."""
        ...


@runtime_checkable
class ProjectedStore(EventStore, Protocol):
    """A log that keeps projections in its own database: what a service, audit and replay
    need beyond ``EventStore``. Both backends are one; their SQL is shared."""

    @property
    def db_now(self) -> str:
        """SQL for the database's clock in seconds since the epoch (leases are judged by it)."""
        ...

    @property
    def subscribers(self) -> int: ...

    @property
    def projections(self) -> list[str]: ...

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query; ``?`` placeholders on both backends."""
        ...

    async def point_query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read of a row or two by key, the cheapest way the backend has."""
        ...

    async def register(self, projection: InlineProjection) -> None:
        """Keep ``projection`` folded from the log (creating its tables if needed)."""
        ...

    async def rebuild(self, *names: str) -> int:
        """Fold the whole log into fresh tables of the named projections, swapped in by one
        commit; the position they folded up to."""
        ...

    async def checkpoint(self, name: str) -> int: ...

    async def checkpoints(self) -> dict[str, int]: ...

    async def wait_for_projections(self, position: int) -> None:
        """Return once every registered projection has folded ``position``; raise
        ``ProjectionStalledError`` at once if one cannot (it stalled before it)."""
        ...

    async def stalls(self) -> list[ProjectionStall]:
        """The projections that cannot fold the event at a position, and why."""
        ...

    async def heartbeat(self, worker_ids: Sequence[str]) -> None: ...

    async def create_beside(self, statements: Sequence[str]) -> None:
        """Create tables beside the log (``IF NOT EXISTS``), safely from many processes."""
        ...

    async def write_beside(
        self, work: Callable[[ProjectionTransaction], _T], action: str = "write"
    ) -> _T:
        """Run ``work`` in a write transaction of its own on tables beside the log."""
        ...

    async def import_rows(self, rows: Sequence[StoredRow], *, verify: bool = True) -> int:
        """Store exported rows as they were (positions, hashes), folding them into the
        projections; rows already held identically are skipped. How many were new."""
        ...

    def artifact_store(self, directory: str | os.PathLike[str]) -> ArtifactStore:
        """Where this store's processes keep artifacts: files in ``directory`` for one
        process, the database itself where several share it."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[Snapshot]:
        """Reads that all see one state of the database."""
        ...


def projected(store: EventStore) -> ProjectedStore:
    """``store`` as a ``ProjectedStore`` (every backend's store is one)."""
    if not isinstance(store, ProjectedStore):
        raise TypeError(f"{type(store).__name__} keeps no projections")
    return store
