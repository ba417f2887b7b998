"""``eventsvc run``: enqueue a graph or batch and execute it in process, with a progress
bar, then print its stats table."""

from __future__ import annotations

import argparse
import json
import time
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from eventsvc.batches import Batch
from eventsvc.cli.common import InputError, with_store
from eventsvc.config import Settings
from eventsvc.errors import GraphValidationError, Problem, locate
from eventsvc.events import SESSION_ENDED
from eventsvc.graph import parse_graph
from eventsvc.service import Service
from eventsvc.stats import render_table
from eventsvc.store import EventFilter

EXAMPLES = ("seed-grid", "math-grid", "iterate-collect")


def add(commands: Any) -> None:
    run = with_store(commands.add_parser("run", help="enqueue and execute a graph or batch"))
    run.add_argument("graph", nargs="?", help="a graph, or {graph, data, runs}, as JSON")
    run.add_argument("--batch", help="the batch data as JSON: {data, runs} or a list of groups")
    run.add_argument("--example", choices=EXAMPLES, help="a shipped example instead")
    run.add_argument("--workers", type=int, default=1, help="workers running sessions")
    run.set_defaults(run=run_command)


async def run_command(
    settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    settings = settings.model_copy(update={"workers": max(1, args.workers)})
    return await run_batch(settings, load_batch(args), out, err)


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
    log file, a pipe) a line for the first session, then at each tenth of the batch or every
    ``interval`` seconds, so a log reads as lines instead of one endless redraw."""

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
                f"sessions {self.done}/{self.total}  failed {self.failed}  ETA {eta:.1f}s"
                f"  ({percent}%)\n"
            )
        self.out.flush()

    def _line_due(self, now: float) -> bool:
        tenth = 10 * self.done // self.total
        first = self.done == 1  # so a log shows at once that sessions run
        if first or tenth > self.shown_tenth or now - self.shown_at >= self.interval:
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
