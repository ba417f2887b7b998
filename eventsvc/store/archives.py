"""Archives of the log as a store keeps them (L1): the markers beside the log, the answer a
read of an archived position gets, the horizon an archive may cut at, and the one
transaction that applies an archive (``eventsvc.archive`` says why it is designed so).

Everything here is SQL written once for both backends (``?`` placeholders, ``ON CONFLICT``
upserts), like the projections' folds: the SQLite store runs ``commit`` on its writer's
connection inside its writer lock, the PostgreSQL store on a worker thread over one
connection that holds the sealer's and the projections' lease rows, so no seal and no fold
interleaves. The tables are step 5 of the store migrations:

- ``log_archives``: one marker per archive (positions, the hash the live log chains to, the
  file and its sha256); the live log starts after the last one;
- ``projection_snapshots``: each projection's snapshot at the latest archive;
- ``archived_batches``: which file holds each archived batch (one row per batch);
- ``archived_streams``: the last archived version of each stream that is not a batch's, so
  such a stream (a queue's, the log's own) goes on counting versions across archives.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from eventsvc.chain import chain_hash
from eventsvc.errors import ArchiveConflictError, ArchivedError, ImportRejectedError
from eventsvc.events import CODEC, LogArchived
from eventsvc.ids import LOG_STREAM, of_a_batch
from eventsvc.projections import Projection, archivable
from eventsvc.store.archive_model import (
    ArchiveState,
    Committed,
    Marker,
    Plan,
    first_live,
)
from eventsvc.store.protocols import Reads, Transaction
from eventsvc.store.rows import COLUMNS, new_event_ids

MARKER_COLUMNS = (
    "first_position, last_position, last_hash, last_recorded_at, file, sha256, events, bytes, "
    "archived_at, event_position"
)
_MARKERS = f"SELECT {MARKER_COLUMNS} FROM log_archives ORDER BY first_position"
_HEAD = (
    "SELECT position, hash, recorded_at FROM events WHERE position IS NOT NULL "
    "ORDER BY position DESC LIMIT 1"
)
# Batches an archive must keep whole (unfinished, or with an event at or past the horizon),
# the earliest first.
_HELD_BATCH = (
    "SELECT position, batch_id, n_uninitialized + n_in_progress, last_position "
    "FROM queue_batches WHERE position < ? AND "
    "(n_uninitialized > 0 OR n_in_progress > 0 OR last_position >= ?) ORDER BY position LIMIT 1"
)
_RECORDED_FROM = (
    "SELECT recorded_at FROM events WHERE position >= ? AND position IS NOT NULL "
    "ORDER BY position LIMIT 1"
)
_CHUNK = 500


def _marker(row: Sequence[Any]) -> Marker:
    first, last, digest, recorded, file, sha, events, size, at, event = row
    return Marker(
        int(first), int(last), bytes(digest), int(recorded), str(file), str(sha),
        int(events), int(size), int(at), int(event),
    )  # fmt: skip


async def markers(reads: Reads) -> list[Marker]:
    """Every archive of this log, oldest first (none before the first)."""
    return [_marker(row) for row in await reads.query(_MARKERS)]


def files_holding(found: Sequence[Marker], first: int, last: int) -> list[str]:
    """The archive files holding some position from ``first`` to ``last``."""
    return [m.file for m in found if m.first_position <= last and m.last_position >= first]


def archived_error(position: int, found: Sequence[Marker]) -> ArchivedError:
    """The answer to a read that wants ``position`` on (archived) onwards."""
    live = first_live(found)
    files = files_holding(found, position, live - 1)
    return ArchivedError(
        f"position {position} is archived: positions {position} to {live - 1} are in "
        f"{', '.join(files)}; the live log starts at position {live}",
        live,
        files,
    )


async def check_after(reads: Reads, after: int) -> None:
    """Raise ``ArchivedError`` if the events after ``after`` begin in an archive."""
    found = await markers(reads)
    if after + 1 < first_live(found):
        raise archived_error(after + 1, found)


async def batch_archive(reads: Reads, batch_id: str) -> str | None:
    """The archive file holding batch ``batch_id``, if it was archived."""
    rows = await reads.query("SELECT file FROM archived_batches WHERE batch_id = ?", (batch_id,))
    return str(rows[0][0]) if rows else None


# --- what an export and an archive file carry before their rows ---------------------------


async def state_of(reads: Reads, *, whole: bool = True) -> ArchiveState:
    """What the log carries of its archives; not ``whole``: only the markers and the
    streams that go on (what an archive file begins with)."""
    streams = await reads.query("SELECT stream, version FROM archived_streams ORDER BY stream")
    state = ArchiveState(await markers(reads), streams=[(str(s), int(v)) for s, v in streams])
    if whole:
        snapshots = await reads.query(
            "SELECT name, position, state FROM projection_snapshots ORDER BY name"
        )
        batches = await reads.query("SELECT batch_id, file FROM archived_batches ORDER BY batch_id")
        state.snapshots = [(str(n), int(p), str(s)) for n, p, s in snapshots]
        state.batches = [(str(b), str(f)) for b, f in batches]
    return state


def load_state(tx: Transaction, state: ArchiveState, projections: Sequence[Projection]) -> None:
    """Write ``state`` into an empty store (no archives, no events), and restore the
    projections' fresh tables from its snapshots, their checkpoints at its horizon."""
    tx.executemany(
        f"INSERT INTO log_archives ({MARKER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [m.row() for m in state.markers],
    )
    tx.executemany(
        "INSERT INTO projection_snapshots (name, position, state) VALUES (?, ?, ?)",
        state.snapshots,
    )
    tx.executemany("INSERT INTO archived_streams (stream, version) VALUES (?, ?)", state.streams)
    tx.executemany("INSERT INTO archived_batches (batch_id, file) VALUES (?, ?)", state.batches)
    snapshots = {name: text for name, _, text in state.snapshots}
    for projection in projections:
        hooks = archivable(projection)
        if hooks is not None and projection.name in snapshots:
            hooks.restore(tx, json.loads(snapshots[projection.name]))
        tx.execute(
            "INSERT INTO projection_checkpoints (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            (projection.name, state.first_live - 1),
        )


def held_markers(tx: Transaction) -> list[Marker]:
    return [_marker(row) for row in tx.fetchall(_MARKERS)]


def import_state(
    tx: Transaction, state: ArchiveState, projections: Sequence[Projection], head: int
) -> tuple[int, bytes, int] | None:
    """An export's archive state, in an import's transaction: an empty store takes it in
    and its log continues from the last marker (returned: position, hash, recorded_at); a
    store that holds the same archives skips it (None); any other refuses the import."""
    held = held_markers(tx)
    if held == state.markers:
        return None
    if held or head:
        mine = f"its live log starts at {first_live(held)}" if held else f"it ends at {head}"
        raise ImportRejectedError(
            state.first_live,
            f"the export's log was archived up to position {state.first_live - 1} and this "
            f"log is not that log ({mine}); import it into an empty store",
        )
    if not state.markers:
        return None
    load_state(tx, state, projections)
    last = state.markers[-1]
    return last.last_position, last.last_hash, last.last_recorded_at


# --- planning -------------------------------------------------------------------------------


async def first_recorded_after(reads: Reads, first: int, head: int, instant: int) -> int:
    """The first position from ``first`` to ``head`` recorded after ``instant`` (UTC
    microseconds), ``head + 1`` when none is: a binary search on the position index, as
    ``recorded_at`` never decreases along positions."""
    low, high = first, head + 1
    while low < high:
        middle = (low + high) // 2
        rows = await reads.query(_RECORDED_FROM, (middle,))
        if rows and rows[0][0] is not None and int(rows[0][0]) > instant:
            high = middle
        else:
            low = middle + 1
    return low


async def horizon(reads: Reads, cut: int, head: int, projections: Sequence[str]) -> tuple[int, str]:
    """The first position an archive that would cut at ``cut`` may keep, and what held it
    below ``cut`` ('' when nothing did).

    Every consumer must have taken what goes (each projection's checkpoint, each webhook's),
    and no batch may straddle it: it is lowered to the first position of every batch that is
    unfinished or has an event at or past it, until none does."""
    position, why = min(cut, head + 1), "" if cut <= head + 1 else f"the head is {head}"
    for name, checkpoint in await reads.query(
        "SELECT name, position FROM projection_checkpoints ORDER BY name"
    ):
        if str(name) in projections and int(checkpoint) + 1 < position:
            position, why = int(checkpoint) + 1, f"projection {name!r} has folded to {checkpoint}"
    for webhook, checkpoint in await reads.query(
        "SELECT webhook_id, position FROM webhook_checkpoints ORDER BY webhook_id"
    ):
        if int(checkpoint) + 1 < position:
            position, why = int(checkpoint) + 1, f"webhook {webhook} has delivered to {checkpoint}"
    if "queue" in projections:
        while rows := await reads.query(_HELD_BATCH, (position, position)):
            first, batch_id, waiting, last = rows[0]
            why = (
                f"batch {batch_id!r} is unfinished ({waiting} sessions to run)"
                if waiting
                else f"batch {batch_id!r} has events from {first} to {last}"
            )
            position = int(first)
    return position, why


class _BatchOf(msgspec.Struct):
    batch_id: str | None = None


_BATCH_OF = msgspec.json.Decoder(_BatchOf)


def commit(
    tx: Transaction,
    plan: Plan,
    projections: Sequence[Projection],
    *,
    now_us: int,
    backend: str,
) -> Committed:
    """Apply an archive whose file is written, in the caller's one transaction: ``remove``,
    then ``seal``."""
    return seal(tx, plan, remove(tx, plan, projections), now_us=now_us, backend=backend)


@dataclass(frozen=True, slots=True)
class Removed:
    """What ``remove`` found before it deleted: the head, the stored hash of the plan's last
    row, and the artifacts no live event names any more."""

    head: tuple[int, bytes, int]
    last_hash: bytes | None
    released: list[str]


def remove(tx: Transaction, plan: Plan, projections: Sequence[Projection]) -> Removed:
    """The part of an archive that needs only its positions, so it may run while its file is
    still being written from the same rows (which it cannot change before it commits): check
    that the plan still holds, take the projections' snapshots, forget what only archived
    events made, and delete the archived rows."""
    names = [p.name for p in projections]
    _check_still_holds(tx, plan, names)
    head, head_hash, head_recorded = tx.fetchall(_HEAD)[0]
    stored = tx.fetchall("SELECT hash FROM events WHERE position = ?", (plan.last,))
    if "queue" in names:
        tx.execute(
            "INSERT INTO archived_batches (batch_id, file) SELECT batch_id, ? FROM queue_batches "
            "WHERE position < ? ON CONFLICT (batch_id) DO NOTHING",
            (plan.file, plan.horizon),
        )
    named = _named_below(tx, plan.horizon) if "stats" in names else []
    for projection in projections:
        if (hooks := archivable(projection)) is not None:
            previous = tx.fetchall(
                "SELECT state FROM projection_snapshots WHERE name = ?", (projection.name,)
            )
            state = hooks.snapshot(
                tx, plan.horizon, json.loads(previous[0][0]) if previous else None
            )
            tx.execute(
                "INSERT INTO projection_snapshots (name, position, state) VALUES (?, "
                "(SELECT position FROM projection_checkpoints WHERE name = ?), ?) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
                "state = excluded.state",
                (projection.name, projection.name, json.dumps(state, separators=(",", ":"))),
            )
    for projection in projections:
        if (hooks := archivable(projection)) is not None:
            hooks.forget(tx, plan.horizon)
    released = _still_unnamed(tx, named)
    tx.execute(
        "DELETE FROM events WHERE position >= ? AND position < ?", (plan.first, plan.horizon)
    )
    last_hash = bytes(stored[0][0]) if stored else None
    return Removed((int(head), bytes(head_hash), int(head_recorded)), last_hash, released)


def seal(tx: Transaction, plan: Plan, removed: Removed, *, now_us: int, backend: str) -> Committed:
    """The part of an archive that needs its written file's facts: check that the file's last
    row is the one that was stored, record the streams' archived versions and the marker, and
    append ``log.archived``."""
    if removed.last_hash != plan.last_hash:
        raise ArchiveConflictError(
            f"the event at position {plan.last} is not the one written to {plan.file}; "
            "nothing was archived"
        )
    tx.executemany(
        "INSERT INTO archived_streams (stream, version) VALUES (?, ?) "
        "ON CONFLICT (stream) DO UPDATE SET version = excluded.version",
        sorted(plan.streams.items()),
    )
    if backend == "postgres":
        batch_streams = list(plan.batch_streams)
        for start in range(0, len(batch_streams), 10_000):
            chunk = batch_streams[start : start + 10_000]
            tx.execute("DELETE FROM streams WHERE stream = ANY(?::text[])", (chunk,))
    row = _log_archived(tx, plan, removed.head, now_us)
    _insert(tx, row, backend)
    marker = Marker(
        plan.first, plan.last, plan.last_hash, plan.last_recorded_at, plan.file, plan.sha256,
        plan.events, plan.bytes, plan.archived_at, row[0],
    )  # fmt: skip
    tx.execute(
        f"INSERT INTO log_archives ({MARKER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        marker.row(),
    )
    return Committed(row, marker, removed.released)


def _check_still_holds(tx: Transaction, plan: Plan, names: Sequence[str]) -> None:
    """The log and the queue as the plan found them: no archive since, and no batch below the
    horizon that came back to life (that the file's last row is stored as read, ``seal``
    checks)."""
    previous = held_markers(tx)
    if first_live(previous) != plan.first:
        raise ArchiveConflictError(
            f"another archive moved the live log's start to position {first_live(previous)} "
            f"while this one planned to start at {plan.first}; nothing was archived"
        )
    if "queue" not in names:
        return
    if rows := tx.fetchall(_HELD_BATCH, (plan.horizon, plan.horizon)):
        raise _came_back(str(rows[0][1]), plan)
    # Events the queue projection has not folded yet (PostgreSQL's runner may lag behind).
    [(folded,)] = tx.fetchall(
        "SELECT coalesce(max(position), 0) FROM projection_checkpoints WHERE name = 'queue'"
    )
    tail = tx.fetchall(
        "SELECT data FROM events WHERE position > ? AND position IS NOT NULL", (folded,)
    )
    batches = {b for (data,) in tail if (b := _BATCH_OF.decode(data).batch_id) is not None}
    for start in range(0, len(batches), _CHUNK):
        chunk = sorted(batches)[start : start + _CHUNK]
        if rows := tx.fetchall(
            f"SELECT batch_id FROM queue_batches WHERE position < ? "
            f"AND batch_id IN ({', '.join('?' * len(chunk))})",
            (plan.horizon, *chunk),
        ):
            raise _came_back(str(rows[0][0]), plan)


def _came_back(batch_id: str, plan: Plan) -> ArchiveConflictError:
    return ArchiveConflictError(
        f"batch {batch_id!r} got new events while its archive to {plan.file} was written; "
        "nothing was archived (run it again)"
    )


def _named_below(tx: Transaction, horizon: int) -> list[str]:
    rows = tx.fetchall("SELECT sha256 FROM artifact_refs WHERE position < ?", (horizon,))
    return [str(sha) for (sha,) in rows]


def _still_unnamed(tx: Transaction, named: list[str]) -> list[str]:
    """Those of ``named`` that no live event names once the projections forgot."""
    kept: set[str] = set()
    for start in range(0, len(named), _CHUNK):
        chunk = named[start : start + _CHUNK]
        kept.update(
            str(sha)
            for (sha,) in tx.fetchall(
                f"SELECT sha256 FROM artifact_refs WHERE sha256 IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
        )
    return [sha for sha in named if sha not in kept]


def _log_archived(
    tx: Transaction, plan: Plan, head: tuple[int, bytes, int], now_us: int
) -> tuple[Any, ...]:
    """The ``log.archived`` row at the head, chained to it (``COLUMNS``)."""
    [(live,)] = tx.fetchall("SELECT max(version) FROM events WHERE stream = ?", (LOG_STREAM,))
    if live is None:
        archived = tx.fetchall(
            "SELECT version FROM archived_streams WHERE stream = ?", (LOG_STREAM,)
        )
        live = archived[0][0] if archived else -1
    position, previous, recorded = head
    event = LogArchived(
        first_position=plan.first,
        last_position=plan.last,
        last_hash=plan.last_hash.hex(),
        file=plan.file,
        sha256=plan.sha256,
        events=plan.events,
    )
    data, [event_id] = CODEC.encode(event), new_event_ids(1)
    fields = (position + 1, LOG_STREAM, int(live) + 1, event_id, "log.archived",
              LogArchived.schema_version, max(now_us, recorded))  # fmt: skip
    digest = chain_hash(previous, *fields, data, b"{}")
    return (*fields, data.decode(), "{}", digest)


def _insert(tx: Transaction, row: tuple[Any, ...], backend: str) -> None:
    marks = ", ".join("?" * len(row))
    if backend == "postgres":
        # Sealed as it is inserted (the caller holds the sealer's lease row), in a batch of
        # its own; the stream's version row moves on with it.
        tx.execute(f"INSERT INTO events ({COLUMNS}, batch) VALUES ({marks}, -1)", row)
        tx.execute(
            "INSERT INTO streams AS s (stream, version) VALUES (?, ?) "
            "ON CONFLICT (stream) DO UPDATE SET version = excluded.version",
            (row[1], row[2]),
        )
        return
    tx.execute(f"INSERT INTO events ({COLUMNS}) VALUES ({marks})", row)


def stream_facts(rows: Iterable[tuple[str, int]], plan: Plan) -> None:
    """Note the (stream, version) of archived rows in ``plan``, in position order."""
    # In position order a stream's last version comes last: one test per stream, not per row.
    for stream, version in dict(rows).items():
        if of_a_batch(stream):
            plan.batch_streams[stream] = None
        else:
            plan.streams[stream] = version


__all__ = [
    "ArchiveState",
    "Committed",
    "Marker",
    "Plan",
    "Removed",
    "archived_error",
    "batch_archive",
    "check_after",
    "commit",
    "files_holding",
    "first_live",
    "first_recorded_after",
    "held_markers",
    "horizon",
    "import_state",
    "load_state",
    "markers",
    "remove",
    "seal",
    "state_of",
    "stream_facts",
]
