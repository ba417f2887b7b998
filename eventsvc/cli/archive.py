"""``eventsvc archive``: move finished work out of the live log (``eventsvc.archive``), and
``eventsvc archive restore FILE``: bring an archive back for inspection.

    eventsvc archive --older-than 30d | --before-position N [--archive-dir DIR] [--dry-run]
                     [--json] [--url URL]
    eventsvc archive restore FILE [--into PATH]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import anyio

from eventsvc import archive
from eventsvc.cli.common import InputError, add_token_options, remote, token_from, with_store
from eventsvc.config import Settings
from eventsvc.errors import StoreLockedError
from eventsvc.projections.builtin import projected
from eventsvc.service import Service
from eventsvc.store import open_store


def add(commands: Any) -> None:
    command = with_store(
        commands.add_parser(
            "archive",
            help="move finished work out of the live log into an archive file",
            description="Archive the events below a horizon: every batch finished, every "
            "projection and webhook past it. 'eventsvc archive restore FILE' brings an "
            "archive back into a store of its own.",
        )
    )
    cut = command.add_mutually_exclusive_group()
    cut.add_argument("--older-than", metavar="DURATION", help="recorded longer ago: 30d, 12h")
    cut.add_argument("--before-position", type=int, metavar="N", help="the positions below N")
    command.add_argument("--archive-dir", metavar="DIR", help="where archive files go")
    command.add_argument("--dry-run", action="store_true", help="say what would be archived")
    command.add_argument("--json", action="store_true", help="print one JSON object")
    command.add_argument("--url", help="archive through the service running at URL")
    add_token_options(command, "the token of the service at --url")
    command.set_defaults(run=run_archive)
    actions = command.add_subparsers(dest="archive_command")
    restore = with_store(
        actions.add_parser("restore", help="an archive file into a store of its own")
    )
    restore.add_argument("file", help="the archive file (a path, or a name in --archive-dir)")
    restore.add_argument("--into", metavar="PATH", help="the new store (default FILE.restored.db)")
    restore.add_argument("--archive-dir", metavar="DIR", help="where archive files are")
    restore.set_defaults(run=run_restore)


def _settings(settings: Settings, args: argparse.Namespace) -> Settings:
    if args.archive_dir:
        return settings.model_copy(update={"archive_dir": str(Path(args.archive_dir).resolve())})
    return settings


async def run_archive(
    settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    if (args.older_than is None) == (args.before_position is None):
        raise InputError(["give --older-than DURATION (such as 30d) or --before-position N"])
    older = None if args.older_than is None else archive.parse_duration(args.older_than)
    request = archive.ArchiveRequest(args.before_position, older, args.dry_run)
    if args.url:
        async with remote(args.url, token_from(args, err)) as client:
            result = await client.archive(
                older_than=args.older_than,
                before_position=args.before_position,
                dry_run=args.dry_run,
            )
        report = archive.ArchiveReport(**result.model_dump())
    else:
        try:
            async with Service.open(_settings(settings, args)) as service:
                report = await service.archive(request)
        except StoreLockedError as exc:
            hint = "a running service holds the store: archive through it with --url URL"
            raise InputError([str(exc), hint]) from None
    if args.json:
        out.write(json.dumps(asdict(report)) + "\n")
    else:
        out.write(describe(report) + "\n")
    return 0


def describe(report: archive.ArchiveReport) -> str:
    held = f" (held back: {report.held_back})" if report.held_back else ""
    if not report.events:
        return f"nothing to archive: the live log starts at position {report.horizon}{held}"
    span = f"positions {report.first_position} to {report.last_position} ({report.events} events)"
    if report.dry_run:
        return f"would archive {span}; the live log would start at {report.horizon}{held}"
    moved = report.artifacts_moved
    moved_text = f"; {moved} artifacts moved beside it" if moved else ""
    return (
        f"archived {span} to {report.file} ({report.file_bytes:,} bytes){moved_text}; the live log "
        f"starts at position {report.horizon}{held}; the store went from "
        f"{report.bytes_before:,} to {report.bytes_after:,} bytes"
    )


async def run_restore(
    settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    settings = _settings(settings, args)
    path = anyio.Path(args.file)
    if not await path.exists() and not path.is_absolute():
        path = anyio.Path(archive.directory_for(settings.archive_dir, settings.store_url))
        path = path / args.file
    if not await path.exists():
        raise InputError([f"no archive file {args.file}"])
    into = anyio.Path(args.into) if args.into else path.with_name(path.name + ".restored.db")
    async with open_store(settings.store_url, read_only=True) as source:
        restored = await archive.restore(Path(path), Path(into), projected(source))
    url = f"sqlite://{await anyio.Path(restored.path).resolve()}"
    out.write(
        f"restored positions {restored.first_position} to {restored.last_position} "
        f"({restored.events} events) into {restored.path}; inspect them with "
        f"'eventsvc serve --store {url}', 'eventsvc stats --by-type --store {url}' or "
        f"'eventsvc audit --store {url}'\n"
    )
    return 0
