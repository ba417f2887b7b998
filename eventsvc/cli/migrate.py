"""``eventsvc migrate [--check]``: bring a store to this eventsvc's schema version, or say what
that would do (``eventsvc.store.migrations``). Opening a store for writing migrates it too;
this command does it on purpose, and ``--check`` reads the version without opening the store.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from eventsvc.cli.common import InputError, with_store
from eventsvc.config import Settings
from eventsvc.errors import StoreLockedError
from eventsvc.store import migrations, open_store


def add(commands: Any) -> None:
    migrate = with_store(commands.add_parser("migrate", help="migrate the store's schema"))
    migrate.add_argument(
        "--check", action="store_true", help="say what would run, change nothing (status 1 if any)"
    )
    migrate.add_argument("--json", action="store_true", help="print one JSON object")
    migrate.set_defaults(run=run_migrate)


async def run_migrate(
    settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    url = settings.store_url
    found = await migrations.stored_version(url)
    code = migrations.current()
    if found is not None:
        migrations.pending(found, "the store")  # a newer store is refused, naming both
    steps = migrations.describe(found or 0, migrations.STEPS) if found is not None else []
    if not args.check:
        try:
            async with open_store(url):
                pass
        except StoreLockedError as exc:
            raise InputError(
                [str(exc), "a running service migrated it when it opened it"]
            ) from None
    _report(out, args, found, code, steps)
    return 1 if args.check and steps else 0


def _report(
    out: TextIO, args: argparse.Namespace, found: int | None, code: int, steps: list[str]
) -> None:
    if args.json:
        document = {"store_version": found, "code_version": code, "steps": steps}
        out.write(json.dumps({**document, "applied": not args.check}) + "\n")
        return
    if found is None:
        verb = "would be created" if args.check else "created"
        out.write(f"no store yet: it {verb} at schema version {code}\n")
    elif not steps:
        out.write(f"the store is at schema version {found}, this eventsvc's: nothing to run\n")
    else:
        verb = "would run" if args.check else "ran"
        out.write(f"the store is at schema version {found}; this eventsvc's is {code}; {verb}:\n")
        out.writelines(f"  {line}\n" for line in steps)
