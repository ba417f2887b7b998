"""``eventsvc artifacts clean [--grace SECONDS]``: remove the artifacts nothing names any more
(``eventsvc.artifact_retention``), from the process that writes the store."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from eventsvc.artifact_retention import DEFAULT_GRACE, RetainedArtifacts, sweep
from eventsvc.cli.common import InputError, with_store, writable_store
from eventsvc.config import Settings


def add(commands: Any) -> None:
    artifacts = commands.add_parser("artifacts", help="artifacts nothing names any more")
    actions = artifacts.add_subparsers(dest="action", required=True)
    clean = with_store(actions.add_parser("clean", help="remove unnamed artifacts"))
    clean.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE,
        help=f"keep artifacts stored less than this many seconds ago (default {DEFAULT_GRACE:g})",
    )
    clean.add_argument("--json", action="store_true", help="print one JSON object")
    clean.set_defaults(run=run_clean)


async def run_clean(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.grace < 0:
        raise InputError([f"--grace must be 0 or more seconds, got {args.grace:g}"])
    hint = "a running service holds the store: clean artifacts from that host when it stops"
    async with writable_store(settings, hint) as store:
        artifacts: RetainedArtifacts = store.artifact_store(settings.artifacts_dir)  # type: ignore[assignment]
        swept = await sweep(store, artifacts, args.grace)
    if args.json:
        out.write(json.dumps({"examined": swept.examined, "removed": swept.removed}) + "\n")
    else:
        out.write(f"removed {len(swept.removed)} of {swept.examined} artifacts old enough\n")
    return 0
