"""The log from the command line: ``events tail | export | import``, ``audit`` and ``replay``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from eventsvc import replay
from eventsvc.audit import audit, parse_anchor
from eventsvc.cli.common import (
    InputError,
    add_token_options,
    remote,
    token_from,
    with_store,
    writable_store,
)
from eventsvc.config import Settings
from eventsvc.errors import StoreError
from eventsvc.events import CODEC
from eventsvc.projections.builtin import projected
from eventsvc.stats import render_table, to_json
from eventsvc.store import open_store
from eventsvc.views import BatchStatus, QueueStatus


def add(commands: Any) -> None:
    events = commands.add_parser("events", help="the log")
    event_commands = events.add_subparsers(dest="events_command", required=True)
    tail_command = with_store(event_commands.add_parser("tail", help="print events as JSON"))
    tail_command.add_argument("--after", type=int, default=0, help="start after this position")
    tail_command.add_argument("--follow", action="store_true", help="keep printing new events")
    tail_command.set_defaults(run=tail)
    export_command = with_store(
        event_commands.add_parser("export", help="print the log as NDJSON, exactly as stored")
    )
    export_command.add_argument("--after", type=int, default=0, help="start after this position")
    export_command.set_defaults(run=export)
    import_command = with_store(
        event_commands.add_parser("import", help="load an export, re-verifying its hash chain")
    )
    import_command.add_argument("file", help="an NDJSON export ('-' for standard input)")
    import_command.set_defaults(run=import_file)

    audit_command = with_store(commands.add_parser("audit", help="check the log (read-only)"))
    audit_command.add_argument("--json", action="store_true", help="print one JSON object")
    audit_command.add_argument("--anchor", help="POS:HASH of an earlier clean audit")
    audit_command.add_argument(
        "--archive",
        nargs="+",
        default=[],
        metavar="FILE",
        help="archive files to verify against the markers the log carries",
    )
    audit_command.set_defaults(run=run_audit)

    replay_command = with_store(
        commands.add_parser("replay", help="rebuild projections from the log, or look back")
    )
    what = replay_command.add_mutually_exclusive_group(required=True)
    what.add_argument("--projection", choices=replay.PROJECTION_NAMES, help="rebuild one")
    what.add_argument("--all", action="store_true", help="rebuild every projection")
    what.add_argument(
        "--to-position",
        type=int,
        metavar="N",
        help="print the queue and stats as of position N (the live ones are left alone)",
    )
    replay_command.add_argument("--url", help="rebuild through the service running at URL")
    add_token_options(replay_command, "the token of the service at --url")
    replay_command.add_argument("--json", action="store_true", help="--to-position as JSON")
    replay_command.set_defaults(run=run_replay)


async def tail(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the log as JSON lines, read-only (works beside a running service)."""
    after, follow = args.after, args.follow
    async with open_store(settings.store_url, read_only=True) as store:
        head = await store.head()
        if not follow and after >= head:
            return 0
        async with store.subscribe(after=after) as events:
            async for event in events:
                line = {
                    "position": event.position,
                    "stream": event.stream,
                    "version": event.version,
                    "tag": event.tag,
                    "recorded_at": event.recorded_datetime.isoformat(),
                    "data": json.loads(CODEC.encode(event.data)),
                }
                out.write(json.dumps(line) + "\n")
                out.flush()
                if not follow and events.position >= head:
                    break
    return 0


async def export(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the log after ``--after`` as NDJSON, read-only."""
    after = args.after
    async with open_store(settings.store_url, read_only=True) as store:
        async for lines in replay.export_rows(store, after):
            out.write(lines.decode())
    return 0


async def import_log(settings: Settings, handle: BinaryIO, source: str, out: TextIO) -> int:
    with handle:
        hint = "stop the service first: an import goes into a store no service holds"
        async with writable_store(settings, hint) as store:
            try:
                pages = replay.parse_export(handle, source)
                read, imported = await replay.import_rows(store, pages)
            except StoreError as exc:
                head = await store.head()
                raise InputError(
                    [
                        str(exc),
                        f"the log now ends at position {head}; events before the refused one "
                        "are kept, and importing again skips them",
                    ]
                ) from None
            head = await store.head()
    out.write(
        f"imported {imported} of {read} events from {source} ({read - imported} already in "
        f"the log); the log ends at position {head}\n"
    )
    return 0


async def import_file(
    settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    path = args.file
    if path == "-":
        return await import_log(settings, sys.stdin.buffer, "standard input", out)
    try:
        # A file read in pages by the importer, as the log it holds is imported.
        handle = open(path, "rb")  # noqa: SIM115, ASYNC230 (closed by import_log)
    except OSError as exc:
        raise InputError([f"cannot read {path}: {exc.strerror}"]) from None
    return await import_log(settings, handle, path, out)


async def run_audit(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        anchor = parse_anchor(args.anchor) if args.anchor else None
    except ValueError as exc:
        raise InputError([str(exc)]) from None
    async with open_store(settings.store_url, read_only=True) as store:
        report = await audit(projected(store), anchor, [Path(p) for p in args.archive])
    if args.json:
        out.write(
            json.dumps(
                {
                    "clean": report.clean,
                    "events": report.events,
                    "archived_events": report.archived_events,
                    "anchor": report.anchor,
                    "findings": [asdict(f) for f in report.findings],
                }
            )
            + "\n"
        )
    else:
        for finding in report.findings:
            where = f" {finding.stream}" if finding.stream else ""
            out.write(f"{finding.check}: position {finding.position}{where}: {finding.reason}\n")
        verdict = "clean" if report.clean else f"{len(report.findings)} finding(s)"
        archived = f" and {report.archived_events} archived" if args.archive else ""
        out.write(f"audit: {report.events} events{archived}, {verdict}; anchor {report.anchor}\n")
    return 0 if report.clean else 1


async def run_replay(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.to_position is not None:
        return await time_travel(settings, args.to_position, args.json, out)
    names = replay.projection_names(args.projection, args.all)
    if args.url:
        async with remote(args.url, token_from(args, err)) as client:
            for name in names:
                answer = await client.rebuild_projection(name)
                out.write(_rebuilt_line(answer.name, answer.position, answer.seconds))
        return 0
    hint = "to rebuild through the running service: eventsvc replay --url URL"
    async with writable_store(settings, hint) as store:
        rebuilt = await replay.rebuild(store, names)
    out.write(_rebuilt_line(", ".join(rebuilt.names), rebuilt.position, rebuilt.seconds))
    return 0


def _rebuilt_line(names: str, position: int, seconds: float) -> str:
    return f"rebuilt {names} from the log up to position {position} in {seconds:.3f} s\n"


async def time_travel(settings: Settings, position: int, as_json: bool, out: TextIO) -> int:
    """The queue and stats as of ``position``, built in a temporary store (read-only here)."""
    async with (
        open_store(settings.store_url, read_only=True) as store,
        replay.as_of(store, position) as past,
    ):
        summary = await replay.summary(past)
    if as_json:
        document = {
            "position": summary.position,
            "recorded_at": summary.recorded_at,
            "queues": [queue.model_dump(mode="json") for queue in summary.queues],
            "batches": [batch.model_dump(mode="json") for batch in summary.batches],
            "stats": to_json(summary.stats),
        }
        out.write(json.dumps(document) + "\n")
        return 0
    when = "" if summary.recorded_at is None else f" ({_iso(summary.recorded_at)})"
    out.write(f"as of position {summary.position}{when}:\n")
    for queue in summary.queues:
        paused = ", paused" if queue.paused else ""
        out.write(f"queue {queue.queue_id}: {queue.batches} batch(es){paused}; {_counts(queue)}\n")
    for batch in summary.batches:
        canceled = ", canceled" if batch.canceled else ""
        out.write(
            f"  batch {batch.batch_id}: {batch.session_count} sessions, priority "
            f"{batch.priority}{canceled}; {_counts(batch)}\n"
        )
    out.write(render_table(summary.stats) + "\n")
    return 0


def _counts(status: QueueStatus | BatchStatus) -> str:
    return ", ".join(f"{state} {count}" for state, count in status.counts.model_dump().items())


def _iso(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1e6, UTC).isoformat()
