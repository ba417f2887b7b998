"""``eventsvc webhooks add|list|remove|retry``: the webhooks the store keeps.

Each works on the store itself (``--db``/``--store``) or on a running service (``--url``).
``add`` takes the secret from ``--secret-file``, ``EVENTSVC_WEBHOOK_SECRET`` or ``--secret``
(which every local user can read in the process list); with none, it makes one and prints it
once, since the service never shows it again. Filters are ``tag=PATTERN`` (repeatable, globs
such as ``session.*``), ``queue=ID`` and ``batch=ID``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

from eventsvc.cli.common import InputError, add_token_options, remote, token_from, with_store
from eventsvc.config import Settings
from eventsvc.errors import StoreLockedError
from eventsvc.service import Service
from eventsvc.webhooks import Webhook, WebhookFilter, new_secret

SECRET_IN_ARGV = (
    "eventsvc: warning: --secret is visible to every local user in the process list; "
    "use --secret-file PATH or EVENTSVC_WEBHOOK_SECRET instead\n"
)


def add(commands: Any) -> None:
    group = commands.add_parser("webhooks", help="webhooks: add, list, remove, retry")
    actions = group.add_subparsers(dest="action", required=True)
    adding = _common(actions.add_parser("add", help="deliver events to URL"))
    adding.add_argument("target", metavar="URL", help="where events are POSTed")
    adding.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="tag=PATTERN (repeatable), queue=ID or batch=ID",
    )
    secrets = adding.add_mutually_exclusive_group()
    secrets.add_argument("--secret-file", metavar="PATH", help="read the whsec_ secret here")
    secrets.add_argument("--secret", help="the whsec_ secret (visible in the process list)")
    adding.add_argument("--batch-size", type=int, default=1, help="events per POST")
    adding.add_argument("--after", type=int, help="start after this position (default: now)")
    adding.set_defaults(run=run_add)
    _common(actions.add_parser("list", help="every webhook")).set_defaults(run=run_list)
    for name, handler in (("remove", run_remove), ("retry", run_retry)):
        action = _common(actions.add_parser(name, help=f"{name} a webhook"))
        action.add_argument("webhook_id", metavar="ID")
        action.set_defaults(run=handler)


def _common(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
    with_store(command)
    command.add_argument("--url", help="the service running at URL")
    add_token_options(command, "the token of the service at --url")
    command.add_argument("--json", action="store_true", help="print JSON")
    return command


class _Local:
    """The commands on the store itself, shaped as the client's."""

    def __init__(self, service: Service) -> None:
        self._webhooks = service.webhooks

    async def add_webhook(self, url: str, secret: str, filter: WebhookFilter,
                          **options: Any) -> Webhook:  # fmt: skip
        return await self._webhooks.add(url, secret, filter, **options)

    async def webhooks(self) -> list[Webhook]:
        return await self._webhooks.all()

    async def remove_webhook(self, webhook_id: str) -> None:
        await self._webhooks.remove(webhook_id)

    async def retry_webhook(self, webhook_id: str) -> Webhook:
        return await self._webhooks.retry(webhook_id)


@asynccontextmanager
async def _target(settings: Settings, args: argparse.Namespace, err: TextIO) -> AsyncIterator[Any]:
    if args.url:
        async with remote(args.url, token_from(args, err)) as client:
            yield client
        return
    try:
        async with Service.open(settings) as service:
            yield _Local(service)
    except StoreLockedError as exc:
        raise InputError([str(exc), "to reach the running service: --url URL"]) from None


def _filter(pairs: list[str]) -> WebhookFilter:
    tags: list[str] = []
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in ("tag", "queue", "batch") or not value:
            raise InputError([f"--filter {pair!r}: expected tag=PATTERN, queue=ID or batch=ID"])
        if key == "tag":
            tags.append(value)
        else:
            values[f"{key}_id"] = value
    return WebhookFilter(tags=tags or None, **values)


def _secret(args: argparse.Namespace, err: TextIO) -> tuple[str, bool]:
    """The secret, and whether it was made here (and so must be shown once)."""
    if args.secret_file:
        try:
            return Path(args.secret_file).read_text(encoding="utf-8").strip(), False
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError([f"cannot read the secret file {args.secret_file}: {exc}"]) from None
    if args.secret:
        err.write(SECRET_IN_ARGV)
        return args.secret, False
    from_env = os.environ.get("EVENTSVC_WEBHOOK_SECRET")
    return (from_env, False) if from_env else (new_secret(), True)


def _show(webhook: Webhook) -> str:
    error = f" ({webhook.last_error})" if webhook.last_error else ""
    return (
        f"{webhook.webhook_id} {webhook.state} {webhook.url} checkpoint {webhook.checkpoint}, "
        f"{webhook.delivered} delivered, {webhook.failures} failures{error}"
    )


def _write(out: TextIO, args: argparse.Namespace, webhooks: list[Webhook]) -> None:
    if args.json:
        out.write(json.dumps([w.model_dump(mode="json") for w in webhooks]) + "\n")
    else:
        out.write("".join(_show(w) + "\n" for w in webhooks))


async def run_add(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    secret, made = _secret(args, err)
    chosen = _filter(args.filter)
    async with _target(settings, args, err) as target:
        webhook = await target.add_webhook(
            args.target, secret, chosen, batch_size=args.batch_size, after=args.after
        )
    _write(out, args, [webhook])
    if made:
        err.write("the webhook's secret (shown only now; receivers verify with it):\n")
        out.write(secret + "\n")
    return 0


async def run_list(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    async with _target(settings, args, err) as target:
        _write(out, args, await target.webhooks())
    return 0


async def run_remove(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    async with _target(settings, args, err) as target:
        await target.remove_webhook(args.webhook_id)
    out.write(f"removed {args.webhook_id}\n")
    return 0


async def run_retry(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    async with _target(settings, args, err) as target:
        _write(out, args, [await target.retry_webhook(args.webhook_id)])
    return 0
