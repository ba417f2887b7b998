"""What every backend does the same way to host projections: make and check their tables,
rebuild them from the log, read their checkpoints, and find the event a fold cannot take.

A backend supplies the transaction and its own dialect (how DDL splits into statements, how a
checkpoint is saved); the steps are written here once. ``rebuild_in`` drops the tables of the
projections it names and folds the whole log again inside the one transaction it is given, so
readers see either the old tables or the new ones, never a half-built state; it reads the log
once for all of them, and only the rows whose tags they fold.

Once the log has been archived (``eventsvc.archive``), "the whole log" is the live log: a
rebuild restores each projection's snapshot (``projection_snapshots``, taken by the archive)
into its fresh tables and folds the log from the horizon; so do tables that were dropped
because another version of eventsvc made them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from eventsvc.errors import NotFoundError
from eventsvc.events import RecordedEvent
from eventsvc.projections import FoldError, Projection, archivable, fold_or_raise
from eventsvc.store.protocols import Reads, Transaction
from eventsvc.store.rows import COLUMNS, decode_rows

_T = TypeVar("_T")

# Rows a rebuild decodes and folds at a time.
REBUILD_PAGE = 5000
SAVE_CHECKPOINT = (
    "INSERT INTO projection_checkpoints (name, position) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position"
)
_BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS projection_checkpoints "
    "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS projection_schemas (name TEXT PRIMARY KEY, digest TEXT NOT NULL)",
)

_SNAPSHOT = "SELECT state FROM projection_snapshots WHERE name = ?"
_ARCHIVED_THROUGH = "SELECT coalesce(max(last_position), 0) FROM log_archives"

SaveCheckpoint = Callable[[Transaction, str, int], None]
Statements = Callable[[str], list[str]]
"""Splits a projection's DDL into the backend's statements."""


def save_checkpoint(tx: Transaction, name: str, position: int) -> None:
    tx.execute(SAVE_CHECKPOINT, (name, position))


def ddl_statements(script: str) -> list[str]:
    """The statements of a DDL script (no semicolons inside them)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def is_index_statement(statement: str) -> bool:
    return statement.upper().startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))


def schema_digest(projection: Projection) -> str:
    """What ``projection_schemas`` records of the schema a projection's tables were made from."""
    return hashlib.sha256(projection.schema.encode()).hexdigest()


def rebuild_ddl(projection: Projection, statements: Statements) -> tuple[list[str], list[str]]:
    """A rebuild's DDL for ``projection``: what runs before the fold, and the indexes that run
    after it when the fold never reads its own tables (faster than keeping them up to date row
    by row)."""
    before: list[str] = []
    after: list[str] = []
    for statement in statements(projection.schema):
        later = not projection.reads_own_tables and is_index_statement(statement)
        (after if later else before).append(statement)
    return before, after


def prepare_tables(tx: Transaction, projection: Projection, statements: Statements) -> None:
    """Create ``projection``'s tables; if they were made from another schema (an older
    eventsvc), drop them and reset its checkpoint, so it folds the log again from the start."""
    for statement in _BOOKKEEPING:
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
    # Fresh tables: from the archive's snapshot and the live log, when there was one.
    if (not stored or stored[0][0] != digest) and (through := archived_through(tx)):
        restore_snapshot(tx, projection)
        save_checkpoint(tx, projection.name, through)


def archived_through(tx: Transaction) -> int:
    """The last position archives moved out of the live log (0: none)."""
    [(through,)] = tx.fetchall(_ARCHIVED_THROUGH)
    return int(through)


def restore_snapshot(tx: Transaction, projection: Projection) -> bool:
    """Fill ``projection``'s fresh tables from its snapshot, if it has hooks and one."""
    hooks = archivable(projection)
    if hooks is None:
        return False
    rows = tx.fetchall(_SNAPSHOT, (projection.name,))
    if not rows:
        return False
    hooks.restore(tx, json.loads(rows[0][0]))
    return True


def choose(known: Mapping[str, Projection], names: Iterable[str]) -> list[Projection]:
    """The projections ``names`` names, once each; an unknown name is a NotFoundError."""
    chosen = []
    for name in dict.fromkeys(names):
        if name not in known:
            listed = ", ".join(repr(n) for n in known) or "none"
            raise NotFoundError(f"no projection {name!r} (known: {listed})")
        chosen.append(known[name])
    return chosen


def rebuild_in(
    tx: Transaction,
    projections: Sequence[Projection],
    statements: Statements,
    save: SaveCheckpoint = save_checkpoint,
) -> int:
    """Fresh tables for ``projections``, folded from position 0 (or, once the log was
    archived, from their snapshots and the horizon) up to the head this transaction sees,
    and their checkpoints; the position they folded up to."""
    later: list[str] = []
    for projection in projections:
        for table in projection.tables:
            tx.execute(f"DROP TABLE IF EXISTS {table}")
        now, after_fold = rebuild_ddl(projection, statements)
        for statement in now:
            tx.execute(statement)
        later += after_fold
    after = archived_through(tx)
    if after:
        for projection in projections:
            restore_snapshot(tx, projection)
    [(head,)] = tx.fetchall("SELECT coalesce(max(position), 0) FROM events")
    tags = sorted(set().union(*(p.tags for p in projections)))
    read = (
        f"SELECT {COLUMNS} FROM events WHERE position > ? AND position <= ? "
        f"AND tag IN ({', '.join('?' * len(tags))}) ORDER BY position LIMIT {REBUILD_PAGE}"
    )
    while rows := tx.fetchall(read, (after, head, *tags)):
        page = decode_rows(rows)
        for projection in projections:
            fold_or_raise(projection, tx, page)
        after = page[-1].position
    for statement in later:
        tx.execute(statement)
    head = max(int(head), after)
    for projection in projections:
        save(tx, projection.name, head)
    return head


async def fold_exactly(
    fold_page: Callable[[list[RecordedEvent]], Awaitable[_T | None]],
    page: list[RecordedEvent],
    transient: Callable[[FoldError], bool] = lambda _: False,
) -> _T | None:
    """``fold_page(page)``; if it cannot be folded, fold it event by event, so the
    ``FoldError`` names the very event. None from ``fold_page`` stops the folding (the
    backend lost the right to fold); a ``transient`` error is not taken apart."""
    try:
        return await fold_page(page)
    except FoldError as exc:
        if len(page) == 1 or transient(exc):
            raise
    result = None
    for record in page:
        result = await fold_page([record])
        if result is None:
            return None
    return result


async def checkpoint(reads: Reads, name: str) -> int:
    """The position up to which projection ``name`` has folded the log (0 before it has)."""
    if not await reads.exists("projection_checkpoints"):
        return 0
    rows = await reads.query("SELECT position FROM projection_checkpoints WHERE name = ?", (name,))
    return int(rows[0][0]) if rows else 0


async def checkpoints(reads: Reads) -> dict[str, int]:
    """Every projection's checkpoint in this database (none before one is registered)."""
    return {name: int(value) for name, value in await _by_name(reads, "projection_checkpoints")}


async def schema_digests(reads: Reads) -> dict[str, str]:
    """The schema each projection's tables were made from (``schema_digest``)."""
    return {name: str(value) for name, value in await _by_name(reads, "projection_schemas")}


async def _by_name(reads: Reads, table: str) -> list[tuple[str, Any]]:
    # The tables appear once a projection is registered; a failed read would also end a
    # PostgreSQL snapshot's transaction, so ask first.
    if not await reads.exists(table):
        return []
    column = "position" if table == "projection_checkpoints" else "digest"
    return [
        (str(row[0]), row[1]) for row in await reads.query(f"SELECT name, {column} FROM {table}")
    ]
