"""``eventsvc serve``: the HTTP API and workers until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TextIO

from eventsvc.cli.common import InputError, add_token_options, token_from, with_store
from eventsvc.config import DURATION_FORM, Settings, duration_seconds
from eventsvc.service import Service

if TYPE_CHECKING:
    from starlette.types import ASGIApp


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


def add(commands: Any) -> None:
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
    serve_command.add_argument(
        "--metrics-open-on-loopback",
        action="store_true",
        help="with a token, let loopback clients scrape /metrics without it",
    )
    serve_command.add_argument(
        "--archive-older-than",
        metavar="DURATION",
        help="archive, on a schedule, what was recorded longer ago than this (7d)",
    )
    serve_command.add_argument(
        "--archive-every", metavar="DURATION", help="how often to archive (default 1d)"
    )
    serve_command.add_argument("--archive-dir", metavar="DIR", help="where archive files go")
    serve_command.set_defaults(run=serve)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _archive_settings(settings: Settings, args: argparse.Namespace) -> Settings:
    """The archive schedule of the command line, checked as the settings check theirs."""
    changes: dict[str, str] = {}
    if args.archive_older_than:
        changes["archive_older_than"] = args.archive_older_than
        changes["archive_every"] = args.archive_every or settings.archive_every or "1d"
    elif args.archive_every:
        raise InputError(["--archive-every needs --archive-older-than"])
    if args.archive_dir:
        changes["archive_dir"] = args.archive_dir
    for name in ("archive_older_than", "archive_every"):
        if name in changes and duration_seconds(changes[name]) is None:
            option = "--" + name.replace("_", "-")
            raise InputError([f"{option}: {changes[name]!r} is not a duration: {DURATION_FORM}"])
    return settings.model_copy(update=changes)


async def serve(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The API and workers until SIGINT or SIGTERM, which end it with status 0."""
    settings = settings.model_copy(update={"workers": max(1, args.workers)})
    settings = _archive_settings(settings, args)
    from eventsvc import tracing
    from eventsvc.api import create_app, server

    tracing.configure_from_env()  # the otel extra and OTEL_* variables: traces exported

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
            app = create_app(
                service,
                token=token,
                cors_origins=args.cors_origin,
                loopback_only=loopback_only,
                metrics_open_on_loopback=args.metrics_open_on_loopback,
            )
            # What starting made (modules, schemas, routes) lives as long as the process:
            # kept out of the collector, whose full passes would walk all of it each time.
            gc.freeze()
            yield app

    await server.serve(opened, host, port)
    return 0
