"""The ``eventsvc`` command line (L3): run graphs and batches in process, stats, schemas.

    eventsvc serve [--host H] [--port P] [--workers N] [--token T]
    eventsvc run GRAPH.json [--batch DATA.json] | --example NAME
    eventsvc stats [--session ID | --batch ID | --by-type]
    eventsvc events tail [--after N] [--follow]
    eventsvc audit [--json] [--anchor POS:HASH]
    eventsvc schema [--check]

Commands that open a store take ``--db PATH`` or ``--store URL``; the default is
``eventsvc.db`` in ``$EVENTSVC_HOME`` (else ``$XDG_DATA_HOME/eventsvc``, else
``~/.local/share/eventsvc``), with artifacts beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import anyio
from pydantic import ValidationError

from eventsvc import schemas
from eventsvc.audit import audit, parse_anchor
from eventsvc.batches import Batch
from eventsvc.config import Settings
from eventsvc.errors import EventsvcError, GraphValidationError, Problem
from eventsvc.events import CODEC
from eventsvc.graph import parse_graph
from eventsvc.service import Service
from eventsvc.stats import render_table, to_json
from eventsvc.store import EventFilter, open_store

EXAMPLES = ("seed-grid", "math-grid", "iterate-collect")
ENDED = frozenset({"session.completed", "session.failed", "session.canceled"})


class InputError(Exception):
    """The user's input cannot be run; ``lines`` say why, one problem each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def home() -> Path:
    if "EVENTSVC_HOME" in os.environ:
        return Path(os.environ["EVENTSVC_HOME"])
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "eventsvc"


def settings_from(args: argparse.Namespace) -> Settings:
    base = Settings.from_env()
    if args.store:
        url = args.store
    elif args.db:
        url = f"sqlite://{Path(args.db).resolve()}"
    else:
        url = f"sqlite://{(home() / 'eventsvc.db').resolve()}"
    artifacts = Path(base.artifacts_dir)
    if "EVENTSVC_ARTIFACTS_DIR" not in os.environ and url.startswith("sqlite:///"):
        artifacts = Path(url.removeprefix("sqlite://")).parent / "artifacts"
    return base.model_copy(update={"store_url": url, "artifacts_dir": str(artifacts.resolve())})


# --- run ----------------------------------------------------------------------------------


def load_batch(args: argparse.Namespace) -> Batch:
    """The batch to run, from an example or from files; every problem as an InputError."""
    if args.example:
        text = resources.files("eventsvc.examples").joinpath(f"{args.example}.json").read_text()
        document = _json(text, f"example {args.example}")
    elif args.graph:
        document = _json(_read(args.graph), args.graph)
    else:
        raise InputError(["give a GRAPH.json or --example NAME"])
    if not isinstance(document, dict):
        raise InputError([f"{args.graph}: expected a JSON object (a graph, or a graph and data)"])
    if "graph" not in document:
        document = {"graph": document}
    if args.batch:
        data = _json(_read(args.batch), args.batch)
        document.update(data if isinstance(data, dict) else {"data": data})
    try:
        graph = parse_graph(document["graph"])
    except GraphValidationError as exc:
        raise InputError([_line(p) for p in exc.problems]) from None
    try:
        return Batch.model_validate({**document, "graph": graph})
    except ValidationError as exc:
        raise InputError(
            [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)]
        ) from None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise InputError([f"{path}: {exc.strerror}"]) from None


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError([f"{where}: not JSON ({exc.msg} at line {exc.lineno})"]) from None


def _line(problem: Problem) -> str:
    where = ".".join(part for part in (problem.node_id, problem.field) if part)
    return f"{problem.code}: {where + ': ' if where else ''}{problem.message}"


class ProgressBar:
    """sessions done/total, failures and an ETA, redrawn in place."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.started = time.monotonic()
        self.out = out

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        width = 24
        filled = round(width * self.done / self.total)
        self.out.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] sessions {self.done}/{self.total}"
            f"  failed {self.failed}  ETA {eta:4.1f}s"
        )
        if self.done == self.total:
            self.out.write("\n")
        self.out.flush()


async def run_batch(settings: Settings, batch: Batch, out: TextIO, err: TextIO) -> int:
    tags = ENDED | {"invocation.completed"}
    async with Service.open(settings, run_workers=True) as service:
        head = await service.store.head()
        async with service.store.subscribe(after=head, filter=EventFilter(tags=tags)) as events:
            try:
                result = await service.enqueue_batch(settings.queue_id, batch)
            except GraphValidationError as exc:
                raise InputError([_line(p) for p in exc.problems]) from None
            bar = ProgressBar(result.session_count, err)
            images = 0
            async for event in events:
                if getattr(event.data, "batch_id", None) != batch.batch_id:
                    continue
                if event.tag == "invocation.completed":
                    outputs = event.data.outputs  # type: ignore[attr-defined]
                    images += isinstance(outputs.get("image"), dict)
                    continue
                bar.update(failed=event.tag != "session.completed")
                if bar.done == bar.total:
                    break
        out.write(render_table(await service.stats.batch(batch.batch_id)) + "\n")
        out.write(f"batch {batch.batch_id}: {bar.done - bar.failed} of {bar.total} completed")
        out.write(f", {bar.failed} failed\n")
        out.write(f"artifacts: {settings.artifacts_dir} ({images} images)\n")
        out.write(f"store: {settings.store_url}\n")
    return 1 if bar.failed else 0


# --- serve --------------------------------------------------------------------------------


LOOPBACK = ("127.0.0.1", "localhost", "::1")


async def serve(settings: Settings, args: argparse.Namespace, err: TextIO) -> int:
    import uvicorn

    from eventsvc.api import create_app

    host, port, token = args.host, args.port, args.token
    if host not in LOOPBACK and not token and not args.insecure:
        raise InputError([f"refusing to serve on {host} without --token (or pass --insecure)"])
    async with Service.open(settings, run_workers=True) as service:
        err.write(
            f"eventsvc serving {settings.store_url} on http://{host}:{port} "
            f"with {settings.workers} worker(s)\n"
        )
        config = uvicorn.Config(
            create_app(service, token=token), host=host, port=port, lifespan="off", log_level="info"
        )
        await uvicorn.Server(config).serve()
    return 0


# --- stats --------------------------------------------------------------------------------


async def show_stats(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    async with Service.open(settings) as service:
        if args.session:
            summary = await service.stats.session(args.session)
        elif args.batch:
            summary = await service.stats.batch(args.batch)
        else:
            summary = await service.stats.node_types()
    out.write(json.dumps(to_json(summary), indent=2) if args.json else render_table(summary))
    out.write("\n")
    return 0


# --- events -------------------------------------------------------------------------------


async def tail(settings: Settings, after: int, follow: bool, out: TextIO) -> int:
    """Print the log as JSON lines, read-only (works beside a running service)."""
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


# --- audit --------------------------------------------------------------------------------


async def run_audit(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    try:
        anchor = parse_anchor(args.anchor) if args.anchor else None
    except ValueError as exc:
        raise InputError([str(exc)]) from None
    async with open_store(settings.store_url, read_only=True) as store:
        report = await audit(store, anchor)
    if args.json:
        out.write(
            json.dumps(
                {
                    "clean": report.clean,
                    "events": report.events,
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
        out.write(f"audit: {report.events} events, {verdict}; anchor {report.anchor}\n")
    return 0 if report.clean else 1


# --- entry point --------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="eventsvc", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)

    def with_store(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        where = command.add_mutually_exclusive_group()
        where.add_argument("--db", help="the SQLite file (default: $EVENTSVC_HOME/eventsvc.db)")
        where.add_argument("--store", help="a store URL, such as sqlite:///path/to/file.db")
        return command

    serve_command = with_store(commands.add_parser("serve", help="the HTTP API and workers"))
    serve_command.add_argument("--host", default="127.0.0.1")
    serve_command.add_argument("--port", type=int, default=9090)
    serve_command.add_argument("--workers", type=int, default=1)
    serve_command.add_argument(
        "--token",
        default=os.environ.get("EVENTSVC_TOKEN"),
        help="require 'Authorization: Bearer TOKEN' (or EVENTSVC_TOKEN)",
    )
    serve_command.add_argument(
        "--insecure", action="store_true", help="allow a non-loopback address without a token"
    )
    serve_command.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        help="an origin browsers may call from (repeatable; none by default)",
    )

    run = with_store(commands.add_parser("run", help="enqueue and execute a graph or batch"))
    run.add_argument("graph", nargs="?", help="a graph, or {graph, data, runs}, as JSON")
    run.add_argument("--batch", help="the batch data as JSON: {data, runs} or a list of groups")
    run.add_argument("--example", choices=EXAMPLES, help="a shipped example instead")
    run.add_argument("--workers", type=int, default=1, help="workers running sessions")

    stats = with_store(commands.add_parser("stats", help="node statistics"))
    scope = stats.add_mutually_exclusive_group()
    scope.add_argument("--session", help="one session's stats")
    scope.add_argument("--batch", help="one batch's stats")
    scope.add_argument("--by-type", action="store_true", help="every node type (the default)")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")

    events = commands.add_parser("events", help="the log")
    event_commands = events.add_subparsers(dest="events_command", required=True)
    tail_command = with_store(event_commands.add_parser("tail", help="print events as JSON"))
    tail_command.add_argument("--after", type=int, default=0, help="start after this position")
    tail_command.add_argument("--follow", action="store_true", help="keep printing new events")

    audit_command = with_store(commands.add_parser("audit", help="check the log (read-only)"))
    audit_command.add_argument("--json", action="store_true", help="print one JSON object")
    audit_command.add_argument("--anchor", help="POS:HASH of an earlier clean audit")

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
        settings = settings_from(args)
        if args.command == "serve":
            settings = settings.model_copy(update={"workers": max(1, args.workers)})
            return anyio.run(serve, settings, args, err)
        if args.command == "run":
            settings = settings.model_copy(update={"workers": max(1, args.workers)})
            return anyio.run(run_batch, settings, load_batch(args), out, err)
        if args.command == "audit":
            return anyio.run(run_audit, settings, args, out)
        if args.command == "events":
            return anyio.run(tail, settings, args.after, args.follow, out)
        return anyio.run(show_stats, settings, args, out)
    except InputError as exc:
        err.write("\n".join(exc.lines) + "\n")
        return 2
    except EventsvcError as exc:
        err.write(f"eventsvc: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
