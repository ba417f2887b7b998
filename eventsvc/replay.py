"""Replay: projections rebuilt from the log, the log as of a past position, and the log moved
between stores (L2; DESIGN section 3).

- ``rebuild`` folds the whole log into fresh tables and swaps them in with one commit
  (``projections.runner.rebuild_in``), so readers see the old projection or the new one;
- ``as_of`` builds the queue and stats projections as of position N into a temporary store,
  leaving the live ones alone (time travel); ``summary`` says what they held;
- ``export_rows`` / ``import_rows`` move the log as NDJSON, one stored row per line with its
  payloads exactly as hashed, so the importing store re-verifies the chain; rows it already
  holds are skipped, which makes a second import of the same file change nothing. The export
  of an archived log begins with what the log carries of its archives (``header_lines``: the
  markers, the projections' snapshots, the streams that go on, the archived batches), which
  the importing store takes in before its rows; archive files have the same form.

The CLI and the admin route only wire these functions.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from eventsvc.chain import StoredRow
from eventsvc.errors import ArchivedError, NotFoundError, StoreError
from eventsvc.projections import ProjectionHost
from eventsvc.projections.builtin import PROJECTION_NAMES as PROJECTION_NAMES
from eventsvc.projections.builtin import (
    ProjectedStore,
    builtin_projections,
    open_projected,
    projected,
)
from eventsvc.projections.queue_view import QueueView
from eventsvc.projections.runner import choose
from eventsvc.projections.stats import StatsView
from eventsvc.stats import StatsSummary
from eventsvc.store import EventStore, Importer, StoreOptions, archives
from eventsvc.store.rows import columns_of
from eventsvc.store.sqlite import SqliteEventStore
from eventsvc.views import BatchStatus, QueueStatus

PAGE = 1000


@dataclass(frozen=True, slots=True)
class Rebuilt:
    names: tuple[str, ...]
    position: int
    seconds: float


def projection_names(name: str | None, every: bool) -> list[str]:
    """The projections a replay names: one of the built-in ones, or all of them."""
    if every:
        return list(PROJECTION_NAMES)
    builtin = {projection.name: projection for projection in builtin_projections()}
    return [projection.name for projection in choose(builtin, [name or ""])]


async def rebuild(store: ProjectionHost, names: Sequence[str]) -> Rebuilt:
    """Rebuild the named projections from position 0 in one pass over the log, swapped in
    together by one commit."""
    started = time.perf_counter()
    position = await store.rebuild(*names)
    return Rebuilt(tuple(names), position, time.perf_counter() - started)


# --- time travel --------------------------------------------------------------------------


@asynccontextmanager
async def scratch_store() -> AsyncIterator[SqliteEventStore]:
    """An empty store in a temporary directory, with the built-in projections, gone on exit.

    Not durable (``synchronous=OFF``): it only ever holds a copy of another log.
    """
    with tempfile.TemporaryDirectory(prefix="eventsvc-") as directory:
        url = f"sqlite://{Path(directory) / 'scratch.db'}"
        async with open_projected(url, options=StoreOptions(synchronous="OFF")) as store:
            assert isinstance(store, SqliteEventStore)
            yield store


async def copy_log(
    source: EventStore,
    target: SqliteEventStore,
    *,
    to_position: int | None = None,
) -> int:
    """Import ``source``'s rows up to ``to_position`` (all by default) into ``target``; an
    archived log's archive state goes first, and its live rows after it."""
    state = await archive_state(source)
    after = copied = 0
    if state is not None:
        after = state.first_live - 1
        copied += await target.import_rows([], archive=state)
    while to_position is None or after < to_position:
        limit = PAGE if to_position is None else min(PAGE, to_position - after)
        if not (rows := await source.read_rows(after=after, limit=limit)):
            break
        copied += await target.import_rows(rows)
        after = rows[-1].position
    return copied


async def archive_state(store: EventStore) -> archives.ArchiveState | None:
    """What ``store``'s log carries of its archives, if it was archived."""
    state = await archives.state_of(projected(store))
    return state if state.markers else None


@asynccontextmanager
async def as_of(source: EventStore, position: int) -> AsyncIterator[SqliteEventStore]:
    """A temporary store holding ``source``'s log up to ``position``, projections folded."""
    head = await source.head()
    if not 0 <= position <= head:
        raise NotFoundError(f"position {position} is not in the log (its head is {head})")
    state = await archive_state(source)
    if state is not None:
        # The snapshots hold the state as of when they were taken: replayable from there.
        floor = max([state.first_live - 1, *(at for _, at, _ in state.snapshots)])
        if position < floor:
            files = [m.file for m in state.markers]
            raise ArchivedError(
                f"the log as of position {position} cannot be replayed: it was archived (in "
                f"{', '.join(files)}) and the live log replays from position {floor}",
                state.first_live,
                files,
            )
    async with scratch_store() as scratch:
        await copy_log(source, scratch, to_position=position)
        yield scratch


@dataclass(frozen=True, slots=True)
class Summary:
    position: int
    recorded_at: int | None
    queues: list[QueueStatus]
    batches: list[BatchStatus]
    stats: StatsSummary


async def summary(store: ProjectedStore) -> Summary:
    """What the queue and stats projections of ``store`` hold."""
    queue = QueueView(store)
    head = await store.head()
    last = await store.read_all(after=head - 1, limit=1) if head else []
    return Summary(
        position=head,
        recorded_at=last[0].recorded_at if last else None,
        queues=[await queue.queue_status(queue_id) for queue_id in await queue.queue_ids()],
        batches=await queue.batch_statuses(),
        stats=await StatsView(store).node_types(),
    )


# --- export and import --------------------------------------------------------------------


class ExportedRow(msgspec.Struct, frozen=True):
    """One line of an export: a stored row, payloads as the exact text that was hashed."""

    position: int
    stream: str
    version: int
    event_id: str
    tag: str
    schema_version: int
    recorded_at: int
    data: str
    metadata: str
    hash: str


class MarkerLine(msgspec.Struct, frozen=True, tag="archive", tag_field="kind"):
    """A header line: one archive of the log (``archives.Marker``, the hash as hex)."""

    first_position: int
    last_position: int
    last_hash: str
    last_recorded_at: int
    file: str
    sha256: str
    events: int
    bytes: int
    archived_at: int
    event_position: int


class SnapshotLine(msgspec.Struct, frozen=True, tag="snapshot", tag_field="kind"):
    """A header line: a projection's snapshot at the latest archive (its JSON as text)."""

    name: str
    position: int
    state: str


class StreamLine(msgspec.Struct, frozen=True, tag="stream", tag_field="kind"):
    """A header line: a stream that goes on past the archives, from this version."""

    stream: str
    version: int


class BatchesLine(msgspec.Struct, frozen=True, tag="batches", tag_field="kind"):
    """A header line: batches an archive file holds."""

    file: str
    batch_ids: list[str]


HeaderLine = MarkerLine | SnapshotLine | StreamLine | BatchesLine

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(ExportedRow)
_HEADER = msgspec.json.Decoder(HeaderLine)
_ROW_START = b'{"position"'
_BATCHES_PER_LINE = 1000


class Page(list[StoredRow]):
    """A page of an export's rows; the first carries the export's archive state, if any."""

    archive: archives.ArchiveState | None = None


def header_lines(state: archives.ArchiveState) -> bytes:
    """What an export of an archived log (and an archive file) begins with."""
    lines: list[HeaderLine] = [
        MarkerLine(**{**_marker_fields(m), "last_hash": m.last_hash.hex()}) for m in state.markers
    ]
    lines += [SnapshotLine(name, at, text) for name, at, text in state.snapshots]
    lines += [StreamLine(stream, version) for stream, version in state.streams]
    by_file: dict[str, list[str]] = {}
    for batch_id, file in state.batches:
        by_file.setdefault(file, []).append(batch_id)
    for file, ids in by_file.items():
        for start in range(0, len(ids), _BATCHES_PER_LINE):
            lines.append(BatchesLine(file, ids[start : start + _BATCHES_PER_LINE]))
    return b"".join(_ENCODER.encode(line) + b"\n" for line in lines)


def _marker_fields(marker: archives.Marker) -> dict[str, Any]:
    return dict(zip(MarkerLine.__struct_fields__, marker.row(), strict=True))


def _take_header(state: archives.ArchiveState, line: HeaderLine) -> None:
    if isinstance(line, MarkerLine):
        fields = msgspec.structs.asdict(line)
        fields["last_hash"] = bytes.fromhex(line.last_hash)
        state.markers.append(archives.Marker(**fields))
    elif isinstance(line, SnapshotLine):
        state.snapshots.append((line.name, line.position, line.state))
    elif isinstance(line, StreamLine):
        state.streams.append((line.stream, line.version))
    else:
        state.batches += [(batch_id, line.file) for batch_id in line.batch_ids]


def row_lines(rows: Sequence[StoredRow]) -> bytes:
    """Rows as export lines."""
    return b"".join(_ENCODER.encode(_exported(row)) + b"\n" for row in rows)


async def export_rows(store: EventStore, after: int = 0) -> AsyncIterator[bytes]:
    """The log after ``after`` as NDJSON lines, a page at a time; the whole export of an
    archived log (``after`` 0) begins with its archive state, then its live rows."""
    if after == 0 and (state := await archive_state(store)) is not None:
        yield header_lines(state)
        after = state.first_live - 1
    while rows := await store.read_rows(after=after, limit=PAGE):
        yield row_lines(rows)
        after = rows[-1].position


def parse_export(lines: Iterable[bytes], source: str = "input") -> Iterator[list[StoredRow]]:
    """Pages of rows from NDJSON lines (the first with the archive state the lines begin
    with, if any: ``Page.archive``); a malformed line is named by its number."""
    page, state = Page(), archives.ArchiveState()
    header: archives.ArchiveState | None = state
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            if line.startswith(_ROW_START):
                page.append(_stored(_DECODER.decode(line)))
            elif page or header is None:
                raise ValueError("an archive line comes after the rows")
            else:
                _take_header(header, _HEADER.decode(line))
                page.archive = header
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            raise StoreError(f"{source}, line {number}: not an exported event: {exc}") from None
        if len(page) == PAGE:
            yield page
            page, header = Page(), None
    if page or page.archive is not None:
        yield page


async def import_rows(store: Importer, pages: Iterable[list[StoredRow]]) -> tuple[int, int]:
    """Import pages of exported rows, each checked and stored in one transaction; return
    how many rows were read and how many of them were new to the log."""
    read = imported = 0
    for page in pages:
        imported += await store.import_rows(page, archive=getattr(page, "archive", None))
        read += len(page)
    return read, imported


def _exported(row: StoredRow) -> ExportedRow:
    fields = dict(zip(ExportedRow.__struct_fields__, columns_of(row), strict=True))
    return ExportedRow(**{**fields, "hash": row.hash.hex()})


def _stored(row: ExportedRow) -> StoredRow:
    fields: dict[str, Any] = msgspec.structs.asdict(row)
    fields.update(
        data=row.data.encode(), metadata=row.metadata.encode(), hash=bytes.fromhex(row.hash)
    )
    return StoredRow(**fields)
