"""What every command shares: the store it opens, the settings, the token, and the errors
that end a command with a clear message (``InputError``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

import httpx

from eventsvc.client import ClientError, EventsvcClient
from eventsvc.config import Settings
from eventsvc.errors import StoreLockedError
from eventsvc.projections.builtin import ProjectedStore, open_projected


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


def with_store(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A command that opens a store: ``--db PATH`` or ``--store URL``."""
    where = command.add_mutually_exclusive_group()
    where.add_argument("--db", help="the SQLite file (default: $EVENTSVC_HOME/eventsvc.db)")
    where.add_argument("--store", help="a store URL, such as sqlite:///path/to/file.db")
    return command


@asynccontextmanager
async def writable_store(settings: Settings, hint: str) -> AsyncIterator[ProjectedStore]:
    """The store opened for writing with the built-in projections (caught up), or a clear
    refusal, with ``hint``, when a running service holds it."""
    try:
        async with open_projected(settings.store_url) as store:
            yield store
    except StoreLockedError as exc:
        raise InputError([str(exc), hint]) from None


@asynccontextmanager
async def remote(url: str, token: str | None) -> AsyncIterator[EventsvcClient]:
    """A client of the service at ``url``; its refusals and an unreachable service become
    clear input errors."""
    try:
        async with EventsvcClient(url, token=token) as client:
            yield client
    except ClientError as exc:
        raise InputError([f"the service at {url} refused: {exc}"]) from None
    except httpx.HTTPError as exc:
        raise InputError([f"cannot reach the service at {url}: {exc}"]) from None


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
