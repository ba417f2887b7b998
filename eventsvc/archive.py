"""Archiving: finished work leaves the live log for archive files, and the history stays
verifiable (L2; DESIGN section 5a).

**A truncate-before horizon.** An archive moves every event below one position, the horizon
H (the first live position), into one file; the live log keeps everything from H on. Per-row
tombstones (a position and hash kept for each archived row) would let single streams go, but
they grow the live database with every row archived, so a log archived daily would never stop
growing; a horizon costs one marker per archive. H comes from ``--before-position N`` or the
first position recorded after now minus ``--older-than``, and is then lowered until it is safe
(``store.archives.horizon``): no batch straddles it (a batch that is unfinished, or has an
event at or past H, keeps everything from its first event; the queue projection keeps each
batch's first and last position), and every consumer has taken what goes (each projection's
checkpoint and each webhook's). Events about no batch (a queue paused, a ``log.archived``)
below H go too: what they did survives in the projections' snapshot.

**An archive run.** The rows from the previous horizon up to H are read exactly as stored and
written, in the export's NDJSON form behind a header of the archives before them, to one gzip
file in the archive directory (the ``archive_dir`` setting; beside a SQLite store, ``<store
file>.archive/``), fsynced and renamed into place (``archive_files``). One store transaction
(``store.archives.commit``) checks that the plan still holds, takes each projection's snapshot,
lets the projections forget what only archived events made and deletes the archived rows
(``archives.remove``), then records the marker (``log_archives``) and appends ``log.archived``
at the head with the same facts (``archives.seal``); it commits only once the file is in place.
SQLite removes while the file is being written: the file is read from the reader connection,
whose snapshots the open transaction cannot change, and appends wait for the writer meanwhile,
as for any archive; PostgreSQL writes the file first. The chain is not touched: the first live
row chains to the marker's ``last_hash``. Disk is then given back. SQLite runs an incremental
vacuum of the free pages beyond a reserve of a quarter of the pages in use, since what a daily
archive frees the next day's appends take again; new stores are made with ``auto_vacuum =
INCREMENTAL``, and a store made before that is switched by one full VACUUM at its first
archive, not by a migration step, as VACUUM cannot run inside the migration's transaction and
may take long. PostgreSQL VACUUMs the tables, outside the transaction. A crash between the file
and the commit leaves a stray file and the log as it was: the next archive of the same
positions writes the file again under the same name. One archive runs at a time (a lock in the
one writing SQLite process; a PostgreSQL advisory lock).

**Reading past the horizon.** A read or subscription from an archived position raises
``ArchivedError`` naming the first live position and the files (HTTP 410). Audit starts the
chain at the marker, and ``--archive FILE`` verifies files against the markers. An export
begins with the archive state, which an import takes in. Rebuilds and audit's rebuild start
from the snapshots and fold the live log from H.

**Restore.** ``restore`` imports an archive file into a store of its own (a new SQLite file),
verified against the source store's marker on the way in (the file's sha256, and its chain
from the previous archive's hash to the marker's), with the projections folded there, so the
archived batches and sessions can be inspected with every command and ``serve``. Nothing else
writes that store.

**Artifacts.** The stats projection forgets the references of archived events, so the
artifact clean-up (``eventsvc artifacts clean``) removes what no live event names, after its
grace period; with ``archive_artifacts = "move"`` an archive moves those artifacts itself,
into ``<archive file>.artifacts/`` beside its file (the grace period still applies).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import anyio
import anyio.abc
import anyio.to_thread

from eventsvc import archive_files, replay
from eventsvc.archive_files import ArchiveWriter, MovableArtifacts
from eventsvc.artifact_retention import DEFAULT_GRACE
from eventsvc.chain import StoredRow
from eventsvc.clock import Clock
from eventsvc.config import DURATION_FORM, duration_seconds
from eventsvc.errors import ArchiveConflictError, InvalidValueError, Problem, StoreError
from eventsvc.projections.builtin import ProjectedStore, open_projected
from eventsvc.store import StoreOptions, archives

log = logging.getLogger("eventsvc.archive")

PAGE = 5000
_IN_CACHE = "SELECT 1 FROM invocation_cache_artifacts WHERE sha256 = ? LIMIT 1"


def parse_duration(text: str, field: str = "older_than") -> float:
    """Seconds in a duration such as ``30d``, ``12h``, ``90m``, ``45s`` or ``2w``."""
    seconds = duration_seconds(text)
    if seconds is None:
        raise _invalid(field, f"{text!r} is not a duration: expected {DURATION_FORM}")
    return seconds


def _invalid(field: str, message: str) -> InvalidValueError:
    return InvalidValueError("archive", [Problem(code="invalid_archive", message=message,
                                                  field=field)])  # fmt: skip


def directory_for(setting: str | None, store_url: str) -> Path:
    """The archive directory: the setting, else beside a SQLite store's file."""
    if setting:
        return Path(setting)
    found = archive_files.default_directory(store_url)
    if found is None:
        raise _invalid(
            "archive_dir",
            "this store has no file to keep archives beside: set EVENTSVC_ARCHIVE_DIR "
            "(or --archive-dir) to a directory for them",
        )
    return found


@dataclass(frozen=True, slots=True)
class ArchiveRequest:
    """What to archive: everything below ``before_position``, or everything recorded more
    than ``older_than`` seconds ago (then lowered to a safe horizon)."""

    before_position: int | None = None
    older_than: float | None = None
    dry_run: bool = False

    def __post_init__(self) -> None:
        if (self.before_position is None) == (self.older_than is None):
            raise _invalid("before_position", "give exactly one of before_position and older_than")
        if self.before_position is not None and self.before_position < 1:
            raise _invalid("before_position", f"{self.before_position} is not a position")


@dataclass(frozen=True, slots=True)
class ArchiveReport:
    """What an archive did (or, dry, would do): the positions from ``first_position`` to
    ``last_position`` (none when ``events`` is 0) went to ``file``; the live log now starts
    at ``horizon``. ``held_back`` says what kept the horizon below the cut asked for."""

    dry_run: bool
    first_position: int
    last_position: int
    horizon: int
    events: int
    file: str | None
    file_bytes: int
    bytes_before: int
    bytes_after: int
    held_back: str
    artifacts_moved: int
    event_position: int | None
    seconds: float


async def plan(
    store: ProjectedStore, request: ArchiveRequest, now_us: int
) -> tuple[archives.Plan, str]:
    """The positions an archive of ``request`` moves (maybe none), and what held it back."""
    found = await archives.markers(store)
    first, head = archives.first_live(found), await store.head()
    if request.before_position is not None:
        cut = request.before_position
        if cut < first:
            raise _invalid(
                "before_position",
                f"position {cut} is below the live log's start, position {first}: the "
                "positions before it are archived already",
            )
        if cut > head + 1:
            raise _invalid("before_position", f"position {cut} is beyond the log's head ({head})")
    else:
        assert request.older_than is not None
        instant = now_us - round(request.older_than * 1_000_000)
        cut = await archives.first_recorded_after(store, first, head, instant)
    horizon, why = await archives.horizon(store, cut, head, store.projections)
    horizon = max(horizon, first)
    name = archive_files.file_name(first, horizon - 1)
    return archives.Plan(first, horizon, name, archived_at=now_us), why


async def archive(
    store: ProjectedStore,
    request: ArchiveRequest,
    directory: Path,
    *,
    clock: Clock,
    artifacts: MovableArtifacts | None = None,
    move_artifacts: Literal["remove", "move"] = "remove",
    grace: float = DEFAULT_GRACE,
    before_commit: Callable[[], Awaitable[None]] | None = None,
) -> ArchiveReport:
    """Archive what ``request`` asks (see the module's docstring), one archive at a time.

    ``before_commit`` (tests only) is awaited once the file is in place, before the commit."""
    started = time.perf_counter()
    async with store.archiving():
        planned, why = await plan(store, request, clock.now_us())
        count = planned.horizon - planned.first
        before = await store.size_bytes()
        if request.dry_run or not count:
            return _report(request.dry_run, planned, why, before, before, started)

        async def write_file() -> None:
            await _write(store, planned, directory)
            if before_commit is not None:
                await before_commit()

        committed = await store.commit_archive(planned, write_file)
        await store.give_back_space()
        moved = 0
        if move_artifacts == "move" and artifacts is not None:
            target = directory / f"{planned.file.removesuffix(archive_files.SUFFIX)}.artifacts"
            moved = await _move(store, artifacts, committed.released, target, grace)
        after = await store.size_bytes()
    report = _report(False, planned, why, before, after, started)
    path = str(directory / planned.file)
    return replace(report, file=path, artifacts_moved=moved, event_position=committed.row[0])


def _report(
    dry: bool, planned: archives.Plan, why: str, before: int, after: int, started: float
) -> ArchiveReport:
    count = planned.horizon - planned.first
    return ArchiveReport(
        dry_run=dry,
        first_position=planned.first,
        last_position=planned.last,
        horizon=planned.horizon,
        events=count,
        file=planned.file if count else None,
        file_bytes=planned.bytes,
        bytes_before=before,
        bytes_after=after,
        held_back=why,
        artifacts_moved=0,
        event_position=None,
        seconds=time.perf_counter() - started,
    )


async def _write(store: ProjectedStore, planned: archives.Plan, directory: Path) -> None:
    """Write the file of ``planned``'s rows (header first), filling in its facts: pages are
    read from the store while the one before is encoded and compressed in a worker thread."""
    header = await archives.state_of(store, whole=False)
    writer = await anyio.to_thread.run_sync(ArchiveWriter, directory, planned.file)
    send, receive = anyio.create_memory_object_stream[list[StoredRow]](2)

    def write(rows: list[StoredRow]) -> None:
        writer.write(replay.row_lines(rows))

    async def compress() -> None:
        async with receive:
            async for rows in receive:
                await anyio.to_thread.run_sync(write, rows)

    try:
        await anyio.to_thread.run_sync(writer.write, replay.header_lines(header))
        async with anyio.create_task_group() as tg:
            tg.start_soon(compress)
            async with send:
                after, last = planned.first - 1, planned.last
                while after < last:
                    rows = await store.read_rows(after=after, limit=min(PAGE, last - after))
                    if not rows:
                        raise StoreError(
                            f"the log ended at position {after} while {last} was archived"
                        )
                    last_versions = {row.stream: row.version for row in rows}
                    archives.stream_facts(last_versions.items(), planned)
                    _note_last(planned, rows)
                    await send.send(rows)
                    after = rows[-1].position
        planned.sha256, planned.bytes = await anyio.to_thread.run_sync(writer.finish)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(writer.abort)
        raise


def _note_last(planned: archives.Plan, rows: list[StoredRow]) -> None:
    planned.events += len(rows)
    planned.last_hash, planned.last_recorded_at = rows[-1].hash, rows[-1].recorded_at


async def _move(
    store: ProjectedStore,
    artifacts: MovableArtifacts,
    released: list[str],
    target: Path,
    grace: float,
) -> int:
    moved = 0
    cached = await store.exists("invocation_cache_artifacts")
    for sha in released:
        if cached and await store.point_query(_IN_CACHE, (sha,)):
            continue
        if await anyio.to_thread.run_sync(
            archive_files.move_artifact, artifacts, sha, target, grace
        ):
            moved += 1
    return moved


# --- restore ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Restored:
    path: str
    first_position: int
    last_position: int
    events: int


async def restore(path: Path, into: Path, source: ProjectedStore) -> Restored:
    """Import the archive file ``path`` into a new SQLite store at ``into``, its projections
    folded there, verified against ``source``'s marker of it on the way in."""
    found = await archives.markers(source)
    index = next((i for i, m in enumerate(found) if m.file == path.name), None)
    if index is None:
        known = ", ".join(m.file for m in found) or "none"
        raise StoreError(f"{path} is not an archive of {source.url} (its archives: {known})")
    marker = found[index]
    digest = await anyio.to_thread.run_sync(archive_files.sha256_of, path)
    if digest != marker.sha256:
        raise StoreError(
            f"{path} is not the file its marker names: its sha256 is {digest}, the marker's "
            f"{marker.sha256}"
        )
    if await anyio.Path(into).exists():
        raise StoreError(f"{into} exists already; restore into a new file (--into PATH)")
    options = StoreOptions(synchronous="NORMAL")
    url = f"sqlite://{await anyio.Path(into).resolve()}"
    async with open_projected(url, options=options) as target:
        pages = replay.parse_export(archive_files.read_lines(path), source=str(path))
        first = True
        try:
            while (page := await anyio.to_thread.run_sync(_next, pages)) is not None:
                state = getattr(page, "archive", None)
                if first and (state.markers if state else []) != found[:index]:
                    raise StoreError(f"{path} does not begin where its marker says")
                first = False
                await target.import_rows(page, archive=state)
        except (OSError, EOFError) as exc:
            raise StoreError(f"{path} cannot be read as an archive file: {exc}") from None
        rows = await target.read_rows(after=marker.last_position - 1, limit=1)
    if not rows or rows[0].hash != marker.last_hash:
        raise StoreError(f"{path} does not end at the hash its marker records")
    return Restored(str(into), marker.first_position, marker.last_position, marker.events)


def _next(pages: Iterator[list[StoredRow]]) -> list[StoredRow] | None:
    return next(pages, None)


# --- on a schedule ----------------------------------------------------------------------


class Schedule:
    """``serve --archive-older-than 7d --archive-every 1d``: archive every ``every``
    seconds what is older than ``older_than``; a failed run is logged and tried again at the
    next one."""

    def __init__(
        self, run: Callable[[ArchiveRequest], Awaitable[ArchiveReport]], older_than: float,
        every: float,
    ) -> None:  # fmt: skip
        self._run = run
        self._request = ArchiveRequest(older_than=older_than)
        self.every = every
        self.runs = 0

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        while True:
            await anyio.sleep(self.every)
            try:
                report = await self._run(self._request)
            except (StoreError, InvalidValueError, ArchiveConflictError) as exc:
                log.warning("the scheduled archive failed: %s", exc)
                continue
            self.runs += 1
            if report.events:
                log.info(
                    "archived positions %d to %d (%d events) to %s",
                    report.first_position, report.last_position, report.events, report.file,
                )  # fmt: skip
