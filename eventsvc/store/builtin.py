"""The projections every store folds: the queue and the node statistics (DESIGN section 3).

The service registers them on open; replay, audit and time travel build fresh copies from the
log through the same list, so all of them fold with exactly the same code. ``ScratchProjections``
holds such fresh copies in a private in-memory database: what a rebuild would give, for audit
to compare with the live tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from eventsvc.clock import Clock
from eventsvc.events import RecordedEvent
from eventsvc.store import StoreOptions, open_store
from eventsvc.store.projection import (
    FoldError,
    InlineProjection,
    ProjectedStore,
    ddl_statements,
    fold_or_raise,
    projected,
    rebuild_ddl,
)
from eventsvc.store.queue_projection import QueueProjection
from eventsvc.store.sqlite import SqliteTransaction
from eventsvc.store.stats_projection import StatsProjection


def builtin_projections() -> list[InlineProjection]:
    return [QueueProjection(), StatsProjection()]


@asynccontextmanager
async def open_projected(
    url: str, *, options: StoreOptions | None = None, clock: Clock | None = None
) -> AsyncIterator[ProjectedStore]:
    """The store at ``url``, open for writing, folding the built-in projections (caught up)."""
    async with open_store(url, options=options, clock=clock) as opened:
        store = projected(opened)
        for projection in builtin_projections():
            await store.register(projection)
        yield store


PROJECTION_NAMES = tuple(projection.name for projection in builtin_projections())


class ScratchProjections:
    """The built-in projections folded into a private in-memory database."""

    def __init__(self, names: Sequence[str] = PROJECTION_NAMES) -> None:
        self.projections = [p for p in builtin_projections() if p.name in names]
        # Used from one worker thread at a time (audit folds off the event loop).
        self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        for projection in self.projections:
            # Only compared in key order: indexes a fold does not use would be dead weight.
            for statement in rebuild_ddl(projection, ddl_statements)[0]:
                self._conn.execute(statement)

    def fold(self, records: Sequence[RecordedEvent]) -> list[FoldError]:
        """Fold ``records`` (in position order) into every projection, in one transaction.

        A projection that cannot fold them is folded event by event up to the one it cannot
        take, then dropped: its failure, naming that event, is returned."""
        transaction = SqliteTransaction(self._conn)
        failures = []
        for projection in list(self.projections):
            try:
                self._fold_one(projection, transaction, records)
            except FoldError as failure:
                failures.append(failure)
                self.projections.remove(projection)
        return failures

    def _fold_one(
        self, projection: InlineProjection, tx: SqliteTransaction, records: Sequence[RecordedEvent]
    ) -> None:
        self._conn.execute("SAVEPOINT fold")
        try:
            fold_or_raise(projection, tx, records)
        except FoldError:
            self._conn.execute("ROLLBACK TO fold")
            self._conn.execute("RELEASE fold")
            if len(records) == 1:
                raise
            for record in records:
                self._fold_one(projection, tx, [record])
            return
        self._conn.execute("RELEASE fold")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def table_layout(self, table: str) -> tuple[list[str], list[int], str]:
        """``table``'s columns, its primary key's column indexes in key order (every column
        for a table without one), and a select of its rows in key order that reads the same
        table in any store."""
        info = self.query(f"PRAGMA table_info({table})")
        columns = [row[1] for row in info]
        key = [row[0] for row in sorted(info, key=lambda row: row[5]) if row[5]]
        key = key or list(range(len(columns)))
        order = ", ".join(columns[i] for i in key)
        return columns, key, f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"

    def close(self) -> None:
        self._conn.close()
