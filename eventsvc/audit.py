"""Audit: read the whole log and say what does not hold, each finding with its position (L2).

Read-only, so it works beside a running service: everything is read in one snapshot of the
store (the log, the projections and their checkpoints as of one commit). The checks:

1. ``chain``/``anchor``: positions strictly increasing and dense, and the hash chain intact
   (the first broken position is named); with an anchor ``POS:HASH`` the chain must still pass
   through that hash at that position, which catches a truncated or recomputed tail. A clean
   audit gives the anchor of its last position, for the user to keep;
2. ``versions``: every stream's versions contiguous from 0;
3. ``lifecycle``: a batch is enqueued once; every session's events follow the state machine
   (``eventsvc.sessions``): no start but from ``uninitialized``, no node events outside
   ``in_progress``, no node event from a worker after a resume handed the session to another,
   and an attempt started after its batch's cancel (not retried since) has no node events
   and ends canceled;
4. ``decode``: every event decodes with the current catalogue after upcasting, and
   ``bounds``: holds only values every backend's projections can store (``eventsvc.bounds``);
5. ``projection``: every projection equals a fresh rebuild up to its checkpoint, folded into a
   temporary store by the same code; differing rows are named by table and key, and an event
   the fold cannot take is named by its position (that projection is then not compared);
6. ``archive``, once the log was archived (``eventsvc.archive``): the live log's chain starts
   at the last marker's hash instead of the genesis, each stream's versions go on from what
   was archived, the rebuild starts from the projections' snapshots, and the markers follow
   each other. ``--archive FILE`` verifies archive files too: each is the file its marker
   names (sha256), and its rows chain from the archive before it (or the genesis) to the
   marker's hash; an anchor below the horizon is checked in its file, and without that file
   audit says which file holds it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import msgspec
from anyio.streams.memory import MemoryObjectSendStream

from eventsvc import archive_files, bounds, replay
from eventsvc import events as ev
from eventsvc.chain import GENESIS, StoredRow, verify_chain
from eventsvc.errors import EventDecodeError, StoreError, locate
from eventsvc.projections import FoldError
from eventsvc.projections.runner import checkpoints, schema_digest, schema_digests
from eventsvc.projections.scratch import ScratchProjections
from eventsvc.sessions import FOLLOWS, SessionState, batch_cancel_applies, evolve
from eventsvc.store import archives
from eventsvc.store.protocols import Snapshot, Snapshots

PAGE = 5000
# What a stored payload shows of a value out of bounds: JSON escapes NUL and surrogates, and
# an integer past 64 bits has at least 19 digits (so may a long float: then nothing is found).
_SUSPECT = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]|[0-9]{19}")
# The page-wide sieve before that search: no escape and no 19-digit run in the whole page
# means no row needs it (the usual case, tested in two C passes instead of a search per row).
_ESCAPE = b"\\u"
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[{\n"))
# Rows named per table before the rest are only counted.
ROWS_NAMED = 10


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    position: int
    stream: str | None
    reason: str


@dataclass(slots=True)
class AuditReport:
    findings: list[Finding] = field(default_factory=list)
    events: int = 0
    anchor: str = f"0:{GENESIS.hex()}"
    # Events of archive files checked (``--archive``).
    archived_events: int = 0

    @property
    def clean(self) -> bool:
        return not self.findings


def parse_anchor(text: str) -> tuple[int, str]:
    position, _, digest = text.partition(":")
    if not position.isdigit() or len(digest) != 64:
        raise ValueError(f"an anchor is POSITION:SHA256-HEX, got {text!r}")
    return int(position), digest.lower()


async def audit(
    store: Snapshots,
    anchor: tuple[int, str] | None = None,
    archive_files: Sequence[Path] = (),
) -> AuditReport:
    report = AuditReport()
    async with store.snapshot() as snapshot:
        state = await archives.state_of(snapshot, whole=False)
        found = state.markers
        snapshots = {
            str(name): str(text)
            for name, text in await snapshot.query("SELECT name, state FROM projection_snapshots")
        }
        log = _LogChecks(report, anchor, found, dict(state.streams))
        lifecycle = _LifecycleChecks(report)
        rebuild = _RebuildChecks(
            report,
            snapshot,
            await checkpoints(snapshot),
            await schema_digests(snapshot),
            snapshots,
        )
        try:
            send, pages = anyio.create_memory_object_stream[list[StoredRow]](1)
            async with anyio.create_task_group() as tg, pages:
                tg.start_soon(_read_ahead, snapshot, log.after, send)
                async for rows in pages:
                    records = log.check(rows)
                    lifecycle.check(records)
                    await rebuild.fold(records)
            log.finish()
            await rebuild.finish(log.after)
        finally:
            rebuild.close()
    _check_markers(report, found, log.archived_events)
    for path in archive_files:
        await anyio.to_thread.run_sync(_check_file, report, path, found, anchor)
    if anchor is not None and anchor[0] <= archives.first_live(found) - 1:
        given = {Path(p).name for p in archive_files}
        files = archives.files_holding(found, anchor[0], anchor[0])
        if not given & set(files):
            reason = (
                f"the anchor's position is archived in {', '.join(files)}: give it with "
                "--archive to verify the anchor"
            )
            report.findings.append(Finding("anchor", anchor[0], None, reason))
    return report


def _check_markers(
    report: AuditReport, found: Sequence[archives.Marker], events: dict[int, ev.LogArchived]
) -> None:
    """Markers follow each other, and a live ``log.archived`` says what its marker says."""
    expected = 1
    for marker in found:
        if marker.first_position != expected:
            reason = (
                f"the archive {marker.file} starts at position {marker.first_position}, "
                f"expected {expected}"
            )
            report.findings.append(Finding("archive", marker.first_position, None, reason))
        expected = marker.last_position + 1
        event = events.get(marker.event_position)
        if event is not None and (
            event.first_position, event.last_position, event.last_hash, event.file, event.sha256
        ) != (
            marker.first_position, marker.last_position, marker.last_hash.hex(), marker.file,
            marker.sha256,
        ):  # fmt: skip
            reason = f"this log.archived event differs from the marker of {marker.file}"
            report.findings.append(Finding("archive", marker.event_position, None, reason))


def _check_file(
    report: AuditReport,
    path: Path,
    found: Sequence[archives.Marker],
    anchor: tuple[int, str] | None,
) -> None:
    """Check 6 on one archive file (in a worker thread: it is hashing and reading)."""
    index = next((i for i, m in enumerate(found) if m.file == path.name), None)

    def finding(position: int, reason: str, stream: str | None = None) -> None:
        report.findings.append(Finding("archive", position, stream, f"{path}: {reason}"))

    if index is None:
        known = ", ".join(m.file for m in found) or "none"
        finding(0, f"this log records no archive file of that name (its archives: {known})")
        return
    marker = found[index]
    try:
        digest = archive_files.sha256_of(path)
    except OSError as exc:
        finding(marker.first_position, f"cannot be read: {exc.strerror}")
        return
    if digest != marker.sha256:
        finding(
            marker.first_position,
            f"its sha256 is {digest}, but the marker records {marker.sha256}: the file was changed",
        )
    previous = found[index - 1].last_hash if index else GENESIS
    after, events = marker.first_position - 1, 0
    try:
        for page in replay.parse_export(archive_files.read_lines(path), source=str(path)):
            if broken := verify_chain(page, previous, after):
                row = next((r for r in page if r.position == broken.position), None)
                finding(broken.position, broken.reason, row.stream if row else None)
                return
            for row in page:
                if anchor is not None and row.position == anchor[0] and row.hash.hex() != anchor[1]:
                    reason = "the chain no longer passes through the anchor's hash"
                    report.findings.append(Finding("anchor", row.position, row.stream, reason))
            if page:
                previous, after = page[-1].hash, page[-1].position
                events += len(page)
    except (StoreError, OSError, EOFError) as exc:
        finding(after + 1, f"cannot be read as an archive file past position {after}: {exc}")
        return
    if after != marker.last_position or previous != marker.last_hash:
        finding(
            after,
            f"ends at position {after}, but its marker ends at {marker.last_position} with "
            "the hash the live log chains to",
        )
    report.archived_events += events


async def _read_ahead(
    snapshot: Snapshot, after: int, send: MemoryObjectSendStream[list[StoredRow]]
) -> None:
    """The log page by page, the next page read (in the store's driver thread) while the
    previous one is checked."""
    async with send:
        while rows := await snapshot.read_rows(after=after, limit=PAGE):
            await send.send(rows)
            after = rows[-1].position


class _LogChecks:
    """Checks 1, 2 and 4, page by page."""

    def __init__(
        self,
        report: AuditReport,
        anchor: tuple[int, str] | None,
        found: Sequence[archives.Marker] = (),
        versions: dict[str, int] | None = None,
    ) -> None:
        self.report = report
        self.anchor = anchor
        self.anchor_seen = False
        self.previous, self.after, self.chain_broken = GENESIS, 0, False
        if found:  # the live log chains to the last archive's marker
            self.previous, self.after = found[-1].last_hash, found[-1].last_position
            if anchor is not None and anchor[0] <= self.after:
                self.anchor = None  # checked in its archive file, or said to be there
        self.versions: dict[str, int] = dict(versions or {})
        self.archived_events: dict[int, ev.LogArchived] = {}

    def check(self, rows: Sequence[StoredRow]) -> list[ev.RecordedEvent]:
        findings = self.report.findings
        if not self.chain_broken and (broken := verify_chain(rows, self.previous, self.after)):
            self.chain_broken = True
            stream = next((r.stream for r in rows if r.position == broken.position), None)
            findings.append(Finding("chain", broken.position, stream, broken.reason))
        for row in rows:
            expected = self.versions.get(row.stream, -1) + 1
            if row.version != expected:
                reason = f"expected version {expected}, found {row.version}"
                findings.append(Finding("versions", row.position, row.stream, reason))
            self.versions[row.stream] = row.version
            if self.anchor is not None and row.position == self.anchor[0]:
                self.anchor_seen = True
                if row.hash.hex() != self.anchor[1]:
                    reason = "the chain no longer passes through the anchor's hash"
                    findings.append(Finding("anchor", row.position, row.stream, reason))
        self.report.events += len(rows)
        self.previous, self.after = rows[-1].hash, rows[-1].position
        records = self._decoded(rows)
        self._check_bounds(rows, records)
        for record in records:
            if isinstance(record.data, ev.LogArchived):
                self.archived_events[record.position] = record.data
        return records

    def _check_bounds(self, rows: Sequence[StoredRow], records: list[ev.RecordedEvent]) -> None:
        """Walk only the events whose stored bytes could hold a value out of bounds (an
        escaped NUL or surrogate, a long run of digits, deep nesting): a few, if any."""
        page = b"\n".join([row.data for row in rows])
        searched = _ESCAPE in page or _LONG_DIGITS in page.translate(_DIGITS_AS_ZEROS)
        suspect = {row.position for row in _deeply_nested(rows, page)}
        if searched:
            suspect.update(row.position for row in rows if _SUSPECT.search(row.data))
        if not suspect:
            return
        for record in records:
            if record.position in suspect:
                for problem in bounds.problems(record.data):
                    reason = locate(problem)
                    finding = Finding("bounds", record.position, record.stream, reason)
                    self.report.findings.append(finding)

    def _decoded(self, rows: Sequence[StoredRow]) -> list[ev.RecordedEvent]:
        """The page's events: in one call when it allows, else row by row, naming failures."""
        tags = [row.tag for row in rows]
        versions = {(row.tag, row.schema_version) for row in rows}
        if versions <= ev.CODEC.versions.items():
            try:
                ids = _IDS.decode('["' + '","'.join([row.event_id for row in rows]) + '"]')
                page = ev.CODEC.decode_page(b"[" + b",".join([row.data for row in rows]) + b"]")
            except (EventDecodeError, msgspec.MsgspecError):
                pass
            else:
                # A tampered id or payload may split or merge entries: then row by row.
                tag_of = ev.CODEC.tag_of
                if len(ids) == len(page) == len(rows) and [tag_of[type(e)] for e in page] == tags:
                    return [
                        ev.RecordedEvent(
                            r.position,
                            r.stream,
                            r.version,
                            i,
                            r.tag,
                            r.schema_version,
                            e,
                            r.recorded_at,
                            r.hash,
                            r.metadata.decode(),
                        )
                        for r, i, e in zip(rows, ids, page, strict=True)
                    ]
        records = []
        for row in rows:
            try:
                event_id = msgspec.convert(row.event_id, uuid.UUID)
            except msgspec.ValidationError:
                self._finding(row, f"the event id {row.event_id!r} is not a UUID")
                continue
            try:
                event = ev.CODEC.decode(row.tag, row.schema_version, row.data)
            except (EventDecodeError, msgspec.MsgspecError) as exc:
                self._finding(row, str(exc))
                continue
            if ev.event_tag(event) != row.tag:
                self._finding(row, f"the payload is a {ev.event_tag(event)!r}, not a {row.tag!r}")
                continue
            records.append(_record(row, event_id, event))
        return records

    def _finding(self, row: StoredRow, reason: str) -> None:
        self.report.findings.append(Finding("decode", row.position, row.stream, reason))

    def finish(self) -> None:
        if self.anchor is not None and not self.anchor_seen:
            reason = (
                "the log holds no event at the anchor's position"
                if self.after > self.anchor[0]
                else f"the log ends at position {self.after}, before the anchor"
            )
            self.report.findings.append(Finding("anchor", self.anchor[0], None, reason))
        self.report.anchor = f"{self.after}:{self.previous.hex()}"


class _LifecycleChecks:
    """Check 3: each session's events replayed through the state machine, in log order."""

    def __init__(self, report: AuditReport) -> None:
        self.report = report
        self.sessions: dict[str, SessionState] = {}
        self.batch_canceled_at: dict[str, int] = {}
        # Sessions whose current attempt started after its batch's cancel: that cancel's position.
        self.doomed: dict[str, int] = {}

    def check(self, records: Sequence[ev.RecordedEvent]) -> None:
        for record in records:
            event = record.data
            if isinstance(event, ev.BatchCanceled):
                self.batch_canceled_at[event.batch_id] = record.position
            elif isinstance(event, ev.BatchEnqueued) and record.version != 0:
                self._finding(record, f"batch {event.batch_id!r} enqueued again")
            elif isinstance(event, ev.SessionEvent):
                self._session_event(record, event)

    def _session_event(self, row: ev.RecordedEvent, event: ev.SessionEvent) -> None:
        state = self.sessions.get(event.session_id)
        if state is None:
            try:
                state = SessionState.new(event.queue_id, event.session_id)
            except ValueError as exc:
                self._finding(row, f"not a session id: {exc}")
                return
        if state.status not in FOLLOWS[type(event)]:
            self._finding(row, f"{row.tag} while the session is {state.status}")
        if isinstance(event, ev.InvocationEvent):
            self._node_event(row, event, state)
            return  # a node event leaves the session's state as it is
        if isinstance(event, ev.SessionStarted):
            canceled_at = self.batch_canceled_at.get(event.batch_id)
            if canceled_at is not None and batch_cancel_applies(state, canceled_at):
                self.doomed[event.session_id] = canceled_at
        elif isinstance(event, ev.SessionCompleted | ev.SessionFailed):
            if (doomed_at := self.doomed.get(event.session_id)) is not None:
                self._finding(
                    row,
                    f"{row.tag} ends an attempt started after its batch was canceled at position "
                    f"{doomed_at}; it must end canceled",
                )
        elif isinstance(event, ev.SessionRetried):
            self.doomed.pop(event.session_id, None)
        self.sessions[event.session_id] = evolve(state, event, row.position)

    def _node_event(
        self, row: ev.RecordedEvent, event: ev.InvocationEvent, state: SessionState
    ) -> None:
        tag = row.tag
        if event.worker_id is not None and state.worker_id not in (None, event.worker_id):
            self._finding(
                row,
                f"{tag} of {event.node_id} written by {event.worker_id}, fenced off when the "
                f"session was handed to {state.worker_id}",
            )
        if (canceled_at := self.doomed.get(event.session_id)) is not None:
            self._finding(
                row,
                f"{tag} of {event.node_id} in an attempt started after its batch was canceled "
                f"at position {canceled_at}",
            )

    def _finding(self, row: ev.RecordedEvent, reason: str) -> None:
        self.report.findings.append(Finding("lifecycle", row.position, row.stream, reason))


class _RebuildChecks:
    """Check 5: the log folded into fresh projections (``ScratchProjections``), compared with
    the snapshot's tables as each projection's checkpoint is reached."""

    def __init__(
        self,
        report: AuditReport,
        snapshot: Snapshot,
        checkpoints: dict[str, int],
        digests: dict[str, str],
        snapshots: dict[str, str] | None = None,
    ) -> None:
        self.report = report
        self.snapshot = snapshot
        self.scratch = ScratchProjections(list(checkpoints), snapshots)
        self.pending = list(self.scratch.projections)
        self.checkpoints = checkpoints
        self.digests = digests  # the schema each projection's tables were made from
        self.folded = 0

    async def fold(self, records: Sequence[ev.RecordedEvent]) -> None:
        """Fold a page; a projection is compared once the page holding its checkpoint is in,
        so every page ends at a checkpoint or before the next one."""
        while self.pending and records:
            target = min(self.checkpoints[p.name] for p in self.pending)
            now = [r for r in records if r.position <= target]
            records = records[len(now) :]
            if now:
                for failure in self.scratch.fold(now):
                    self._unfoldable(failure)
                self.folded = now[-1].position
            if records:  # the log goes on past the target: projections there are complete
                self.folded = target
                await self._compare_reached()
        if records and self.scratch.projections:
            # Past every checkpoint (a lagging or stalled projection): nothing to compare,
            # but an event no projection can fold is still named.
            for failure in self.scratch.fold(records):
                self._unfoldable(failure)

    def _unfoldable(self, failure: FoldError) -> None:
        """The scratch copy cannot fold an event: name it; that projection is not compared."""
        reason = f"{failure.projection}: cannot fold this {failure.tag!r} event: {failure.reason}"
        self.report.findings.append(Finding("projection", failure.position, None, reason))
        self.pending = [p for p in self.pending if p.name != failure.projection]

    async def finish(self, end: int) -> None:
        """Compare what is left once the log, which ends at ``end``, is folded."""
        self.folded = end
        await self._compare_reached()
        for projection in self.pending:
            checkpoint = self.checkpoints[projection.name]
            reason = f"{projection.name}: checkpoint {checkpoint} is beyond the log's end ({end})"
            self.report.findings.append(Finding("projection", checkpoint, None, reason))

    def close(self) -> None:
        self.scratch.close()

    async def _compare_reached(self) -> None:
        for projection in list(self.pending):
            checkpoint = self.checkpoints[projection.name]
            if checkpoint > self.folded:
                continue
            self.pending.remove(projection)
            if self.digests.get(projection.name) != schema_digest(projection):
                reason = (
                    f"{projection.name}: its tables were made by another version of eventsvc; "
                    "a process that writes to the store rebuilds them when it opens it, or run "
                    f"`eventsvc replay --projection {projection.name}`"
                )
                self.report.findings.append(Finding("projection", checkpoint, None, reason))
                continue
            for table in projection.tables:
                for reason in await self._differences(table):
                    finding = Finding(
                        "projection", checkpoint, None, f"{projection.name}: {reason}"
                    )
                    self.report.findings.append(finding)

    async def _differences(self, table: str) -> list[str]:
        columns, key, select = self.scratch.table_layout(table)
        try:
            live_rows = await self.snapshot.query(select)
        except StoreError as exc:
            return [f"{table} cannot be read: {exc}"]
        fresh_rows = self.scratch.query(select)
        if live_rows == fresh_rows:
            return []
        live, fresh = _keyed(live_rows, key), _keyed(fresh_rows, key)
        lines = []
        for name in sorted(live.keys() | fresh.keys(), key=repr):
            here, there = live.get(name), fresh.get(name)
            if here == there:
                continue
            where = f"{table} row {_key_text(columns, key, name)}"
            if there is None:
                lines.append(f"{where} is not in a rebuild")
            elif here is None:
                lines.append(f"{where} is missing; a rebuild has it")
            else:
                changed = [
                    f"{columns[i]} is {here[i]!r}, a rebuild gives {there[i]!r}"
                    for i in range(len(columns))
                    if here[i] != there[i]
                ]
                lines.append(f"{where}: {'; '.join(changed)}")
        if len(lines) > ROWS_NAMED:
            lines[ROWS_NAMED:] = [f"{table}: {len(lines) - ROWS_NAMED} more rows differ"]
        return lines


def _keyed(rows: list[tuple[Any, ...]], key: list[int]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {tuple(row[i] for i in key): row for row in rows}


def _key_text(columns: list[str], key: list[int], values: tuple[Any, ...]) -> str:
    return ", ".join(f"{columns[i]}={value!r}" for i, value in zip(key, values, strict=True))


_IDS = msgspec.json.Decoder(list[uuid.UUID])


def _deeply_nested(rows: Sequence[StoredRow], page: bytes) -> list[StoredRow]:
    """The rows holding at least ``MAX_DEPTH`` opening brackets (a bound on how deep they
    nest), found in C: the page (payloads joined by newlines) is cut down to its brackets and
    newlines and split back into rows, unless a payload holds a raw newline itself."""
    if page.count(b"\n") != len(rows) - 1:
        return [r for r in rows if r.data.count(b"[") + r.data.count(b"{") >= bounds.MAX_DEPTH]
    brackets = page.translate(None, _NOT_BRACKETS).split(b"\n")
    if max(map(len, brackets)) < bounds.MAX_DEPTH:
        return []
    return [row for row, held in zip(rows, brackets, strict=True) if len(held) >= bounds.MAX_DEPTH]


def _record(row: StoredRow, event_id: uuid.UUID, event: ev.Event) -> ev.RecordedEvent:
    return ev.RecordedEvent(
        row.position,
        row.stream,
        row.version,
        event_id,
        row.tag,
        row.schema_version,
        event,
        row.recorded_at,
        row.hash,
        row.metadata.decode(),
    )
