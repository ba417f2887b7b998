"""Projections: read models folded from the log into tables beside it (DESIGN section 3).

A ``Projection`` is SQL folded in a store's own write transactions: its DDL, the tags it
folds, and ``apply`` over a page of events. It is a concept of the adapters' layer, as its
fold *is* a handful of SQL statements run inside the store's transaction (DESIGN put the
folding logic a layer above and only the persistence here; the code has moved past that).
A backend hosts projections (``ProjectionHost``): SQLite folds them inside each append's
transaction, PostgreSQL in one runner per projection across all processes; the mechanics they
share (schema bookkeeping, rebuild, checkpoints) are in ``projections.runner``.

A projection whose fold raises cannot move past the event it raised on (``FoldError``): it
stalls there, readable, and says so (``ProjectionStall``), instead of wedging the store.

A projection may also take part in archives of the log (``eventsvc.archive``) with three
optional hooks (``Archivable``): ``snapshot`` the state the events below the archive's
horizon left behind (JSON-able, merged with the previous snapshot), ``forget`` the rows only
archived events made, and ``restore`` a snapshot into fresh tables before the live log is
folded from the horizon (rebuilds, audit's rebuild, imports). One without them keeps every
row it has, and a rebuild of it sees only the live log.

A projection may declare itself ``nonblocking`` (its fold only computes and goes through its
transaction): PostgreSQL's runner then folds its small pages on the event loop when they read
nothing, instead of in a worker thread (``store.postgres.runner``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from eventsvc.errors import ProjectionStalledError
from eventsvc.events import RecordedEvent
from eventsvc.store.protocols import Transaction

ProjectionTransaction = Transaction
"""The open write transaction a projection folds events in."""


class Projection(Protocol):
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

    def apply(self, tx: Transaction, events: Sequence[RecordedEvent]) -> None:
        """Fold ``events`` (in position order; other tags may be left out) into its tables."""
        ...


@runtime_checkable
class Archivable(Protocol):
    """The optional hooks of a projection that takes part in archives of the log."""

    def snapshot(
        self, tx: Transaction, horizon: int, previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The state (JSON-able) that the events below ``horizon`` left behind, merged with
        ``previous``, the snapshot of the archive before (None at the first)."""
        ...

    def forget(self, tx: Transaction, horizon: int) -> None:
        """Delete the rows that only events below ``horizon`` made."""
        ...

    def restore(self, tx: Transaction, state: dict[str, Any]) -> None:
        """Fill fresh tables from a snapshot, before the log is folded from its horizon."""
        ...


def nonblocking(projection: Projection) -> bool:
    """Whether ``projection`` declares its fold fit to run on an event loop (a ``nonblocking``
    attribute, true): it only computes and goes through its transaction, and never waits on
    anything of its own. PostgreSQL's runner folds such a projection's small pages on the loop
    when they read nothing; any other fold runs in a worker thread."""
    return getattr(projection, "nonblocking", False) is True


def archivable(projection: Projection) -> Archivable | None:
    """``projection``'s archive hooks, if it has them."""
    return projection if isinstance(projection, Archivable) else None


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
    projection: Projection, tx: Transaction, records: Sequence[RecordedEvent]
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


class ProjectionHost(Protocol):
    """A store that keeps projections folded from its log, in its own database."""

    @property
    def projections(self) -> list[str]:
        """The names of the projections registered here."""
        ...

    async def register(self, projection: Projection) -> None:
        """Keep ``projection`` folded from the log (creating its tables if needed)."""
        ...

    async def rebuild(self, *names: str) -> int:
        """Fold the whole log into fresh tables of the named projections, swapped in by one
        commit; the position they folded up to."""
        ...

    async def wait_for_projections(self, position: int) -> None:
        """Return once every registered projection has folded ``position``; raise
        ``ProjectionStalledError`` at once if one cannot (it stalled before it)."""
        ...

    async def stalls(self) -> list[ProjectionStall]:
        """The projections that cannot fold the event at a position, and why."""
        ...


__all__ = [
    "Archivable",
    "FoldError",
    "Projection",
    "ProjectionHost",
    "ProjectionStall",
    "ProjectionTransaction",
    "archivable",
    "fold_or_raise",
    "nonblocking",
]
