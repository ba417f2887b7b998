"""What the store holds, from the command line: ``stats`` and ``cache``."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any, TextIO

from eventsvc.cli.common import InputError, add_token_options, remote, token_from, with_store
from eventsvc.config import Settings
from eventsvc.errors import StoreLockedError
from eventsvc.service import Service
from eventsvc.stats import render_table, to_json


def add(commands: Any) -> None:
    stats = with_store(commands.add_parser("stats", help="node statistics"))
    scope = stats.add_mutually_exclusive_group()
    scope.add_argument("--session", help="one session's stats")
    scope.add_argument("--batch", help="one batch's stats")
    scope.add_argument("--by-type", action="store_true", help="every node type (the default)")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.set_defaults(run=show_stats)

    cache_command = with_store(commands.add_parser("cache", help="the invocation cache"))
    change = cache_command.add_mutually_exclusive_group()
    change.add_argument("--clear", action="store_true", help="remove every entry")
    change.add_argument("--enable", action="store_true", help="turn the cache on")
    change.add_argument("--disable", action="store_true", help="turn the cache off")
    cache_command.add_argument("--url", help="the service running at URL")
    add_token_options(cache_command, "the token of the service at --url")
    cache_command.add_argument("--json", action="store_true", help="print one JSON object")
    cache_command.set_defaults(run=run_cache)


async def show_stats(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    async with Service.open(settings) as service:
        if args.session:
            summary = await service.session_stats(args.session)
        elif args.batch:
            summary = await service.batch_stats(args.batch)
        else:
            summary = await service.stats.node_types()
    out.write(json.dumps(to_json(summary), indent=2) if args.json else render_table(summary))
    out.write("\n")
    return 0


async def run_cache(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Show the invocation cache (after clearing, enabling or disabling it if asked)."""
    switch = args.enable or args.disable
    if args.url:
        async with remote(args.url, token_from(args, err)) as client:
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
