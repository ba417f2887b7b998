"""Replay: projections rebuilt from the log, the log as of a past position, and the log moved
between stores (L2; DESIGN section 3).

- ``rebuild`` folds the whole log into fresh tables and swaps them in with one commit
  (``projections.runner.rebuild_in``), so readers see the old projection or the new one;
- ``as_of`` builds the queue and stats projections as of position N into a temporary store,
  leaving the live ones alone (time travel); ``summary`` says what they held;
- ``export_rows`` / ``import_rows`` move the log as NDJSON, one stored row per line with its
  payloads exactly as hashed, so the importing store re-verifies the chain; rows it already
  holds are skipped, which makes a second import of the same file change nothing.

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
from eventsvc.errors import NotFoundError, StoreError
from eventsvc.projections import ProjectionHost
from eventsvc.projections.builtin import PROJECTION_NAMES as PROJECTION_NAMES
from eventsvc.projections.builtin import ProjectedStore, builtin_projections, open_projected
from eventsvc.projections.queue_view import QueueView
from eventsvc.projections.runner import choose
from eventsvc.projections.stats import StatsView
from eventsvc.stats import StatsSummary
from eventsvc.store import EventStore, Importer, StoreOptions
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
    """Import ``source``'s rows up to ``to_position`` (all by default) into ``target``."""
    after = copied = 0
    while to_position is None or after < to_position:
        limit = PAGE if to_position is None else min(PAGE, to_position - after)
        if not (rows := await source.read_rows(after=after, limit=limit)):
            break
        copied += await target.import_rows(rows)
        after = rows[-1].position
    return copied


@asynccontextmanager
async def as_of(source: EventStore, position: int) -> AsyncIterator[SqliteEventStore]:
    """A temporary store holding ``source``'s log up to ``position``, projections folded."""
    head = await source.head()
    if not 0 <= position <= head:
        raise NotFoundError(f"position {position} is not in the log (its head is {head})")
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


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(ExportedRow)


async def export_rows(store: EventStore, after: int = 0) -> AsyncIterator[bytes]:
    """The log after ``after`` as NDJSON lines, a page at a time."""
    while rows := await store.read_rows(after=after, limit=PAGE):
        yield b"".join(_ENCODER.encode(_exported(row)) + b"\n" for row in rows)
        after = rows[-1].position


def parse_export(lines: Iterable[bytes], source: str = "input") -> Iterator[list[StoredRow]]:
    """Pages of rows from NDJSON lines; a malformed line is named by its number."""
    page: list[StoredRow] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            page.append(_stored(_DECODER.decode(line)))
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            raise StoreError(f"{source}, line {number}: not an exported event: {exc}") from None
        if len(page) == PAGE:
            yield page
            page = []
    if page:
        yield page


async def import_rows(store: Importer, pages: Iterable[list[StoredRow]]) -> tuple[int, int]:
    """Import pages of exported rows, each checked and stored in one transaction; return
    how many rows were read and how many of them were new to the log."""
    read = imported = 0
    for page in pages:
        imported += await store.import_rows(page)
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
