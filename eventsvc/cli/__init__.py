"""The ``eventsvc`` command line (L3): run graphs and batches in process, stats, schemas.

    eventsvc serve [--host H] [--port P] [--workers N] [--token-file PATH] [--cors-origin O]
    eventsvc run GRAPH.json [--batch DATA.json] | --example NAME
    eventsvc stats [--session ID | --batch ID | --by-type]
    eventsvc events tail [--after N] [--follow]
    eventsvc events export [--after N] > log.ndjson
    eventsvc events import log.ndjson
    eventsvc audit [--json] [--anchor POS:HASH] [--archive FILE ...]
    eventsvc replay --projection NAME | --all [--url URL] | --to-position N [--json]
    eventsvc cache [--clear | --enable | --disable] [--url URL] [--json]
    eventsvc migrate [--check] [--json]
    eventsvc artifacts clean [--grace SECONDS] [--json]
    eventsvc archive --older-than 30d | --before-position N [--archive-dir DIR] [--dry-run]
    eventsvc archive restore FILE [--into PATH]
    eventsvc webhooks add URL [--filter tag=session.*] [--secret-file PATH]
    eventsvc webhooks list | remove ID | retry ID
    eventsvc schema [--check]

Commands that open a store take ``--db PATH`` or ``--store URL``; the default is
``eventsvc.db`` in ``$EVENTSVC_HOME`` (else ``$XDG_DATA_HOME/eventsvc``, else
``~/.local/share/eventsvc``), with artifacts beside it.

Each command is declared once, in the module of its concern (``run``, ``serve``, ``log``,
``state``): its parser, and the handler it sets as ``run``; ``main`` opens what every
command needs and calls it.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from typing import TextIO

import anyio

from eventsvc import schemas
from eventsvc.cli import archive, artifacts, log, migrate, run, serve, state, webhooks
from eventsvc.cli.common import InputError, settings_from
from eventsvc.errors import EventsvcError

__all__ = ["InputError", "main", "parser"]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="eventsvc", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    for concern in (serve, run, state, log, migrate, artifacts, archive, webhooks):
        concern.add(commands)
    schema = commands.add_parser("schema", help="regenerate schemas/ (or --check it)")
    schema.add_argument("--check", action="store_true")
    return root


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    args = parser().parse_args(argv)
    if args.command == "schema":
        return schemas.main(["--check"] if args.check else [])
    try:
        return int(anyio.run(args.run, settings_from(args), args, out, err))
    except KeyboardInterrupt:
        # Ctrl-C: the run was cancelled and its store closed; end as the shell expects.
        err.write("\neventsvc: interrupted\n")
        return 130
    except InputError as exc:
        err.write("\n".join(exc.lines) + "\n")
        return 2
    except EventsvcError as exc:
        err.write(f"eventsvc: {exc}\n")
        return 2
    except BaseException as exc:
        if not _broken_pipe(exc):
            raise
        return _closed_pipe(out)


# What a shell reports for a command its reader stopped reading (128 + SIGPIPE).
CLOSED_PIPE = 141


def _broken_pipe(exc: BaseException) -> bool:
    """Whether ``exc`` is (or a task group raised only) a write to a pipe nobody reads."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_broken_pipe(inner) for inner in exc.exceptions)
    return isinstance(exc, BrokenPipeError)


def _closed_pipe(out: TextIO) -> int:
    """End quietly once the reader has gone (``eventsvc events export | head``): point the
    output at /dev/null, so the interpreter's last flush has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a file descriptor (a test's StringIO): nothing will flush it
    return CLOSED_PIPE


if __name__ == "__main__":
    sys.exit(main())
