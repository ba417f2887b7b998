"""The store's schema version and the ordered steps that bring an older store forward (L1).

Every store records its schema version in ``eventsvc_schema``. ``STEPS`` is the one ordered
list of changes since version 1 (the tables a fresh store is created with, ``SCHEMA_SQL`` in
each backend): step ``n`` takes a store from version ``n - 1`` to ``n``, with the statements
of each backend. Opening a store for writing applies the steps it lacks in one transaction,
under the writer lock on SQLite or the schema's advisory lock on PostgreSQL, so two processes
never migrate at once and a failed step leaves the store as it was. A store newer than the
code is refused, naming both versions; so is, on PostgreSQL, a process whose version differs
from its store's, so two releases never share one store.

Why a list in code rather than migration files or a library: a step is a few ``CREATE`` or
``ALTER`` statements, written for both backends side by side and reviewed with the code that
needs them; a fresh store is created at version 1 and walks the same steps as an old one, so
the path every existing store takes is the path every test takes.

Another feature adds a table by appending one ``Step`` (the next version, a description, the
SQLite and the PostgreSQL statements); nothing else changes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import anyio.to_thread

from eventsvc.errors import StoreError

BASE_VERSION = 1
"""The version a fresh store's tables (each backend's ``SCHEMA_SQL``) are created at."""


@dataclass(frozen=True, slots=True)
class Step:
    """What takes a store from ``version - 1`` to ``version``."""

    version: int
    description: str
    sqlite: tuple[str, ...] = ()
    postgres: tuple[str, ...] = ()

    def statements(self, backend: str) -> tuple[str, ...]:
        return self.sqlite if backend == "sqlite" else self.postgres


# The same statements on both backends (eventsvc.webhooks.registry reads and writes them).
_WEBHOOKS = (
    "CREATE TABLE webhooks (webhook_id TEXT PRIMARY KEY, url TEXT NOT NULL, "
    "secret TEXT NOT NULL, filter TEXT NOT NULL, batch_size INTEGER NOT NULL, "
    "state TEXT NOT NULL, failures INTEGER NOT NULL DEFAULT 0, last_error TEXT, "
    "delivered BIGINT NOT NULL DEFAULT 0, created_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE webhook_checkpoints (webhook_id TEXT PRIMARY KEY, "
    "position BIGINT NOT NULL, holder TEXT, epoch BIGINT NOT NULL DEFAULT 0, "
    "expires_at DOUBLE PRECISION NOT NULL DEFAULT 0)",
)


def _archives(hash_type: str) -> tuple[str, ...]:
    """Step 5's tables (``eventsvc.store.archives`` reads and writes them)."""
    return (
        "CREATE TABLE log_archives (first_position BIGINT PRIMARY KEY, "
        f"last_position BIGINT NOT NULL, last_hash {hash_type} NOT NULL, "
        "last_recorded_at BIGINT NOT NULL, file TEXT NOT NULL, sha256 TEXT NOT NULL, "
        "events BIGINT NOT NULL, bytes BIGINT NOT NULL, archived_at BIGINT NOT NULL, "
        "event_position BIGINT NOT NULL)",
        "CREATE TABLE projection_snapshots (name TEXT PRIMARY KEY, position BIGINT NOT NULL, "
        "state TEXT NOT NULL)",
        "CREATE TABLE archived_batches (batch_id TEXT PRIMARY KEY, file TEXT NOT NULL)",
        "CREATE TABLE archived_streams (stream TEXT PRIMARY KEY, version BIGINT NOT NULL)",
    )


HISTORY = "eventsvc_migrations"
"""Step 2 makes this table; every step from 2 on records itself in it as it is applied."""

STEPS: tuple[Step, ...] = (
    Step(
        2,
        "a history of the migration steps applied to this store",
        sqlite=(
            f"CREATE TABLE {HISTORY} (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
            "applied_at INTEGER NOT NULL)",
        ),
        postgres=(
            f"CREATE TABLE {HISTORY} (version BIGINT PRIMARY KEY, description TEXT NOT NULL, "
            "applied_at BIGINT NOT NULL)",
        ),
    ),
    Step(
        3,
        "when each artifact was last stored, for artifact retention",
        # SQLite stores keep artifacts as files: their modification time says it.
        postgres=(
            "ALTER TABLE artifacts ADD COLUMN stored_at DOUBLE PRECISION NOT NULL DEFAULT 0",
        ),
    ),
    Step(
        4,
        "webhooks, and each one's checkpoint and delivery lease",
        sqlite=_WEBHOOKS,
        postgres=_WEBHOOKS,
    ),
    Step(
        5,
        "archives of the log: their markers, the projections' snapshots, the archived "
        "batches and the versions of streams that continue past an archive",
        sqlite=_archives("BLOB"),
        postgres=_archives("BYTEA"),
    ),
)
RECORD = f"INSERT INTO {HISTORY} (version, description, applied_at) VALUES (?, ?, ?)"
"""What each applied step writes (``?`` placeholders; ``applied_at`` in UTC microseconds)."""
SET_VERSION = "UPDATE eventsvc_schema SET version = ?"


def current(steps: Sequence[Step] = STEPS) -> int:
    """The schema version this code reads and writes."""
    return steps[-1].version if steps else BASE_VERSION


def check_order(steps: Sequence[Step]) -> None:
    """Steps must follow the base version one by one: a gap or a repeat is a defect."""
    for expected, step in enumerate(steps, start=BASE_VERSION + 1):
        if step.version != expected:
            raise ValueError(f"migration step {step.version} out of order: expected {expected}")


def pending(found: int | None, where: str, steps: Sequence[Step] = STEPS) -> list[Step]:
    """The steps a store at version ``found`` lacks; a store newer than the code is refused."""
    check_order(steps)
    code = current(steps)
    if found is None:
        raise StoreError(f"{where} records no store schema version; this eventsvc reads {code}")
    if found > code:
        raise StoreError(
            f"{where} has store schema version {found}, newer than this eventsvc's version "
            f"{code}: open it with the eventsvc that wrote it, or a newer one"
        )
    return [step for step in steps if step.version > found]


def describe(found: int, steps: Sequence[Step]) -> list[str]:
    """One line per step that would run, for ``eventsvc migrate --check``."""
    return [f"{step.version}: {step.description}" for step in steps if step.version > found]


def read_only_refusal(where: str, found: int, steps: Sequence[Step] = STEPS) -> StoreError:
    """An older store opened read-only cannot be migrated by this process."""
    return StoreError(
        f"{where} has store schema version {found}; this eventsvc reads version "
        f"{current(steps)}: open it for writing once (or run 'eventsvc migrate') to migrate it"
    )


async def stored_version(url: str) -> int | None:
    """The schema version the store at ``url`` records, read without opening (or migrating)
    it; None where nothing has been created yet."""
    scheme = url.partition("://")[0]
    if scheme in ("postgresql", "postgres"):
        return await _postgres_version(url)
    if scheme != "sqlite":
        raise StoreError(f"unknown store URL scheme {scheme!r}")
    path = url.removeprefix("sqlite://").partition("?")[0]
    if path == ":memory:":
        return None
    return await anyio.to_thread.run_sync(_sqlite_version, path)


def _sqlite_version(path: str) -> int | None:
    if not os.path.exists(path):
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            if not conn.execute(_SQLITE_HAS_SCHEMA).fetchall():
                return None
            rows = conn.execute("SELECT max(version) FROM eventsvc_schema").fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"{path!r} is not a readable SQLite database: {exc}") from exc
    return None if rows[0][0] is None else int(rows[0][0])


_SQLITE_HAS_SCHEMA = "SELECT 1 FROM sqlite_master WHERE name = 'eventsvc_schema'"


async def _postgres_version(url: str) -> int | None:
    from eventsvc.store.postgres.common import Database

    db = Database(url)
    with db.connecting():
        conn = await db.connect("migrate")
    try:
        with db.translated("reading the store's schema version"):
            if await conn.fetchval("SELECT to_regclass('eventsvc_schema')") is None:
                return None
            version = await conn.fetchval("SELECT max(version) FROM eventsvc_schema")
    finally:
        await conn.close()
    return None if version is None else int(version)
