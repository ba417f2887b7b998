"""The ``eventsvc`` command line (L3): run graphs and batches in process, stats, schemas.

    eventsvc serve [--host H] [--port P] [--workers N] [--token-file PATH] [--cors-origin O]
    eventsvc run GRAPH.json [--batch DATA.json] | --example NAME
    eventsvc stats [--session ID | --batch ID | --by-type]
    eventsvc events tail [--after N] [--follow]
    eventsvc events export [--after N] > log.ndjson
    eventsvc events import log.ndjson
    eventsvc audit [--json] [--anchor POS:HASH]
    eventsvc replay --projection NAME | --all [--url URL] | --to-position N [--json]
    eventsvc cache [--clear | --enable | --disable] [--url URL] [--json]
    eventsvc schema [--check]

Commands that open a store take ``--db PATH`` or ``--store URL``; the default is
``eventsvc.db`` in ``$EVENTSVC_HOME`` (else ``$XDG_DATA_HOME/eventsvc``, else
``~/.local/share/eventsvc``), with artifacts beside it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import anyio
import httpx
from pydantic import ValidationError

from eventsvc import replay, schemas
from eventsvc.audit import audit, parse_anchor
from eventsvc.batches import Batch
from eventsvc.client import ClientError, EventsvcClient
from eventsvc.config import Settings
from eventsvc.errors import (
    EventsvcError,
    GraphValidationError,
    Problem,
    StoreError,
    StoreLockedError,
    locate,
)
from eventsvc.events import CODEC, SESSION_ENDED
from eventsvc.graph import parse_graph
from eventsvc.service import Service
from eventsvc.stats import render_table, to_json
from eventsvc.store import EventFilter, open_store
from eventsvc.store.builtin import open_projected
from eventsvc.store.projection import ProjectedStore, projected
from eventsvc.views import BatchStatus, QueueStatus

if TYPE_CHECKING:
    from starlette.types import ASGIApp

EXAMPLES = ("seed-grid", "math-grid", "iterate-collect")


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
    return f"{problem.code}: {locate(problem)}"


class ProgressBar:
    """sessions done/total, failures and an ETA: redrawn in place on a terminal; elsewhere (a
    log file, a pipe) a line at each tenth of the batch or every ``interval`` seconds, so a
    log reads as lines instead of one endless redraw."""

    def __init__(self, total: int, out: TextIO, interval: float = 5.0) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.started = self.shown_at = time.monotonic()
        self.out = out
        self.interval = interval
        self.redraw = _is_terminal(out)
        self.shown_tenth = 0

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        now = time.monotonic()
        eta = (now - self.started) / self.done * (self.total - self.done)
        if self.redraw:
            width = 24
            filled = round(width * self.done / self.total)
            self.out.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] sessions {self.done}/{self.total}"
                f"  failed {self.failed}  ETA {eta:4.1f}s"
            )
            if self.done == self.total:
                self.out.write("\n")
        elif self._line_due(now):
            percent = 100 * self.done // self.total
            self.out.write(
                f"sessions {self.done}/{self.total} ({percent}%)  failed {self.failed}"
                f"  ETA {eta:.1f}s\n"
            )
        self.out.flush()

    def _line_due(self, now: float) -> bool:
        tenth = 10 * self.done // self.total
        if tenth > self.shown_tenth or now - self.shown_at >= self.interval:
            self.shown_tenth, self.shown_at = tenth, now
            return True
        return False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except ValueError:  # closed
        return False


async def run_batch(settings: Settings, batch: Batch, out: TextIO, err: TextIO) -> int:
    tags = SESSION_ENDED | {"invocation.completed"}
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
                    await service.wait_for(event.position)  # the stats have folded it
                    break
        out.write(render_table(await service.stats.batch(batch.batch_id)) + "\n")
        out.write(f"batch {batch.batch_id}: {bar.done - bar.failed} of {bar.total} completed")
        out.write(f", {bar.failed} failed\n")
        where = settings.artifacts_dir if service.store.url.startswith("sqlite") else "the store"
        out.write(f"artifacts: {where} ({images} images)\n")
        out.write(f"store: {service.store.url}\n")
    return 1 if bar.failed else 0


# --- serve --------------------------------------------------------------------------------


LOOPBACK = ("127.0.0.1", "localhost", "::1")


async def serve(settings: Settings, args: argparse.Namespace, err: TextIO) -> int:
    """The API and workers until SIGINT or SIGTERM, which end it with status 0."""
    from eventsvc.api import create_app, server

    host, port, token = args.host, args.port, token_from(args, err)
    if host not in LOOPBACK and not token and not args.insecure:
        how = "--token-file PATH or EVENTSVC_TOKEN"
        raise InputError([f"refusing to serve on {host} without a token ({how}; or --insecure)"])
    # Without a token, the browser's same-origin rule is all that keeps other sites out.
    loopback_only = host in LOOPBACK and not token

    @asynccontextmanager
    async def opened() -> AsyncIterator[ASGIApp]:
        async with Service.open(settings, run_workers=True) as service:
            err.write(
                f"eventsvc serving {service.store.url} on http://{host}:{port} "
                f"with {settings.workers} worker(s)\n"
            )
            yield create_app(
                service, token=token, cors_origins=args.cors_origin, loopback_only=loopback_only
            )

    await server.serve(opened, host, port)
    return 0


# --- the token ----------------------------------------------------------------------------


TOKEN_IN_ARGV = (
    "eventsvc: warning: --token is visible to every local user in the process list; "
    "use --token-file PATH or EVENTSVC_TOKEN instead\n"
)


def add_token_options(command: argparse.ArgumentParser, what: str) -> None:
    tokens = command.add_mutually_exclusive_group()
    tokens.add_argument(
        "--token-file",
        metavar="PATH",
        help=f"read {what} from this file (surrounding whitespace is ignored; without this "
        "option or --token, EVENTSVC_TOKEN is used)",
    )
    tokens.add_argument(
        "--token",
        help=f"{what}, on the command line, where every local user can read it in the process "
        "list: prefer --token-file or EVENTSVC_TOKEN",
    )


def token_from(args: argparse.Namespace, err: TextIO) -> str | None:
    """The token from --token-file, --token (with a warning) or EVENTSVC_TOKEN, checked to
    be one an HTTP header can carry; no message ever shows it."""
    token: str | None
    if args.token_file:
        token = _read_token(args.token_file)
    elif args.token:
        err.write(TOKEN_IN_ARGV)
        token = args.token
    else:
        token = os.environ.get("EVENTSVC_TOKEN") or None
    if token is not None and not all("!" <= c <= "~" for c in token):
        raise InputError(
            ["the token must be printable ASCII without spaces, as an HTTP header carries it"]
        )
    return token


def _read_token(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError([f"cannot read the token file {path}: {reason}"]) from None
    if not token:
        raise InputError([f"the token file {path} is empty; expected the token in it"])
    return token


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


async def export(settings: Settings, after: int, out: TextIO) -> int:
    """Print the log after ``after`` as NDJSON, read-only."""
    async with open_store(settings.store_url, read_only=True) as store:
        async for lines in replay.export_rows(store, after):
            out.write(lines.decode())
    return 0


async def import_log(settings: Settings, handle: BinaryIO, source: str, out: TextIO) -> int:
    with handle:
        hint = "stop the service first: an import goes into a store no service holds"
        async with _writable_store(settings, hint) as store:
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


def _import_file(settings: Settings, path: str, out: TextIO) -> int:
    if path == "-":
        return anyio.run(import_log, settings, sys.stdin.buffer, "standard input", out)
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed by import_log)
    except OSError as exc:
        raise InputError([f"cannot read {path}: {exc.strerror}"]) from None
    return anyio.run(import_log, settings, handle, path, out)


# --- audit --------------------------------------------------------------------------------


async def run_audit(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    try:
        anchor = parse_anchor(args.anchor) if args.anchor else None
    except ValueError as exc:
        raise InputError([str(exc)]) from None
    async with open_store(settings.store_url, read_only=True) as store:
        report = await audit(projected(store), anchor)
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


# --- replay -------------------------------------------------------------------------------


@asynccontextmanager
async def _writable_store(settings: Settings, hint: str) -> AsyncIterator[ProjectedStore]:
    """The store opened for writing with the built-in projections (caught up), or a clear
    refusal, with ``hint``, when a running service holds it."""
    try:
        async with open_projected(settings.store_url) as store:
            yield store
    except StoreLockedError as exc:
        raise InputError([str(exc), hint]) from None


@asynccontextmanager
async def _remote(url: str, token: str | None) -> AsyncIterator[EventsvcClient]:
    """A client of the service at ``url``; its refusals and an unreachable service become
    clear input errors."""
    try:
        async with EventsvcClient(url, token=token) as client:
            yield client
    except ClientError as exc:
        raise InputError([f"the service at {url} refused: {exc}"]) from None
    except httpx.HTTPError as exc:
        raise InputError([f"cannot reach the service at {url}: {exc}"]) from None


async def run_replay(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.to_position is not None:
        return await time_travel(settings, args.to_position, args.json, out)
    names = replay.projection_names(args.projection, args.all)
    if args.url:
        async with _remote(args.url, token_from(args, err)) as client:
            for name in names:
                answer = await client.rebuild_projection(name)
                out.write(_rebuilt_line(answer.name, answer.position, answer.seconds))
        return 0
    hint = "to rebuild through the running service: eventsvc replay --url URL"
    async with _writable_store(settings, hint) as store:
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


# --- cache --------------------------------------------------------------------------------


async def run_cache(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Show the invocation cache (after clearing, enabling or disabling it if asked)."""
    switch = args.enable or args.disable
    if args.url:
        async with _remote(args.url, token_from(args, err)) as client:
            removed = await client.clear_cache() if args.clear else None
            answer = await (client.enable_cache(args.enable) if switch else client.cache())
            status = answer.model_dump()
    else:
        try:
            async with Service.open(settings) as service:
                removed = await service.cache.clear() if args.clear else None
                if switch:
                    await service.cache.set_enabled(args.enable)
                status = asdict(await service.cache_status())
        except StoreLockedError as exc:
            raise InputError([str(exc), "to reach the running service: --url URL"]) from None
    if args.json:
        out.write(json.dumps({**status, "removed": removed}) + "\n")
        return 0
    if removed is not None:
        out.write(f"removed {removed} entries\n")
    out.write(
        f"cache {'on' if status['enabled'] else 'off'}: {status['entries']} of "
        f"{status['max_entries']} entries, {status['size']} of {status['max_bytes']} bytes; "
        f"{status['hits']} hits, {status['misses']} misses\n"
    )
    return 0


# --- entry point --------------------------------------------------------------------------


SERVE_DESCRIPTION = """\
Serve the HTTP API and run workers until SIGINT or SIGTERM, which stop it with status 0.

The token: --token-file PATH (a file only you can read) or the EVENTSVC_TOKEN variable;
--token works too but every local user can read it in the process list. Clients send
'Authorization: Bearer TOKEN'; the event stream also takes ?token=, which the access log
shows as ***. A non-loopback --host needs a token (or --insecure).

Without a token on a loopback address (the default), only Host localhost, 127.0.0.1 or
[::1] is answered (any port), and a request other than GET, HEAD or OPTIONS is refused
when it comes from another site (its Origin is neither this server nor a --cors-origin,
or Sec-Fetch-Site is cross-site or same-site) or carries a body that is not
application/json. curl and other clients that are no browser are served as before.
"""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="eventsvc", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)

    def with_store(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        where = command.add_mutually_exclusive_group()
        where.add_argument("--db", help="the SQLite file (default: $EVENTSVC_HOME/eventsvc.db)")
        where.add_argument("--store", help="a store URL, such as sqlite:///path/to/file.db")
        return command

    serve_command = with_store(
        commands.add_parser(
            "serve",
            help="the HTTP API and workers",
            description=SERVE_DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    serve_command.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    serve_command.add_argument("--port", type=int, default=9090, help="default: %(default)s")
    serve_command.add_argument(
        "--workers", type=int, default=1, help="workers running sessions (default: %(default)s)"
    )
    add_token_options(serve_command, "the token API requests must carry")
    serve_command.add_argument(
        "--insecure", action="store_true", help="allow a non-loopback address without a token"
    )
    serve_command.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        help="an origin browsers may call from, and make changes from without a token "
        "(repeatable; none by default)",
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
    export_command = with_store(
        event_commands.add_parser("export", help="print the log as NDJSON, exactly as stored")
    )
    export_command.add_argument("--after", type=int, default=0, help="start after this position")
    import_command = with_store(
        event_commands.add_parser("import", help="load an export, re-verifying its hash chain")
    )
    import_command.add_argument("file", help="an NDJSON export ('-' for standard input)")

    audit_command = with_store(commands.add_parser("audit", help="check the log (read-only)"))
    audit_command.add_argument("--json", action="store_true", help="print one JSON object")
    audit_command.add_argument("--anchor", help="POS:HASH of an earlier clean audit")

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

    cache_command = with_store(commands.add_parser("cache", help="the invocation cache"))
    change = cache_command.add_mutually_exclusive_group()
    change.add_argument("--clear", action="store_true", help="remove every entry")
    change.add_argument("--enable", action="store_true", help="turn the cache on")
    change.add_argument("--disable", action="store_true", help="turn the cache off")
    cache_command.add_argument("--url", help="the service running at URL")
    add_token_options(cache_command, "the token of the service at --url")
    cache_command.add_argument("--json", action="store_true", help="print one JSON object")

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
        if args.command == "cache":
            return anyio.run(run_cache, settings, args, out, err)
        if args.command == "replay":
            return anyio.run(run_replay, settings, args, out, err)
        if args.command == "events" and args.events_command == "export":
            return anyio.run(export, settings, args.after, out)
        if args.command == "events" and args.events_command == "import":
            return _import_file(settings, args.file, out)
        if args.command == "events":
            return anyio.run(tail, settings, args.after, args.follow, out)
        return anyio.run(show_stats, settings, args, out)
    except KeyboardInterrupt:
        # Ctrl-C: the run was cancelled and its store closed; end as the shell expects.
        err.write("\neventsvc: interrupted\n")
        return 130
    except BaseException as exc:
        if not _broken_pipe(exc):
            raise
        return _closed_pipe(out)
    except InputError as exc:
        err.write("\n".join(exc.lines) + "\n")
        return 2
    except EventsvcError as exc:
        err.write(f"eventsvc: {exc}\n")
        return 2


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
