"""Fresh copies of the built-in projections in a private in-memory database: what a rebuild
would give, for audit to compare with the live tables, folded by exactly the same code."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from eventsvc.events import RecordedEvent
from eventsvc.projections import FoldError, Projection, archivable, fold_or_raise
from eventsvc.projections.builtin import PROJECTION_NAMES, builtin_projections
from eventsvc.projections.runner import ddl_statements, rebuild_ddl
from eventsvc.store.sqlite import SqliteTransaction


class ScratchProjections:
    """The built-in projections folded into a private in-memory database."""

    def __init__(
        self, names: Sequence[str] = PROJECTION_NAMES, snapshots: Mapping[str, str] | None = None
    ) -> None:
        """``snapshots`` (each projection's state as JSON text, once the log was archived)
        are restored before anything is folded, as a rebuild restores them."""
        self.projections = [p for p in builtin_projections() if p.name in names]
        # Used from one worker thread at a time (audit folds off the event loop).
        self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        for projection in self.projections:
            # Only compared in key order: indexes a fold does not use would be dead weight.
            for statement in rebuild_ddl(projection, ddl_statements)[0]:
                self._conn.execute(statement)
            hooks = archivable(projection)
            if hooks is not None and snapshots and projection.name in snapshots:
                hooks.restore(SqliteTransaction(self._conn), json.loads(snapshots[projection.name]))

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
        self, projection: Projection, tx: SqliteTransaction, records: Sequence[RecordedEvent]
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
