"""What the parts of the PostgreSQL store share (L1): the database as they reach it, the one
boundary where asyncpg's errors become ``StoreError``, the lease that gives one process the
sealer's or a projection's work, and SQLite-style placeholders turned into PostgreSQL's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from hashlib import sha1
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import asyncpg  # type: ignore[import-untyped]

from eventsvc.errors import StoreError
from eventsvc.store.rows import Head

DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    # Seen when a query meets a connection the server has just terminated.
    asyncpg.exceptions.InternalClientError,
    OSError,
    TimeoutError,
)
# The database's clock, in seconds since the epoch: leases are judged by it, not by a worker's.
DB_NOW = "extract(epoch FROM clock_timestamp())::float8"
HEAD = (
    "SELECT position, hash, recorded_at FROM events WHERE position IS NOT NULL "
    "ORDER BY position DESC LIMIT 1"
)
# A NOTIFY payload holds at most 8000 bytes.
NOTIFY_LIMIT = 7900
# Pool connections kept out of it for single statements (the pool grows by as many).
KEPT = 2


async def _session_kept(conn: Any) -> None:
    """The pool's reset of a released connection. asyncpg's default is a round trip of its
    own after every pooled query (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL), which
    doubled the store's round trips. Pooled connections hold none of that state: listeners
    live on connections of their own, advisory locks are transaction-scoped, and the one
    session setting (a projection runner's idle timeout) is reset by the runner itself. An
    open transaction is still rolled back: asyncpg does that before calling this."""


class Database:
    """One PostgreSQL schema as the store's parts reach it: a pool (single statements on
    connections kept out of it), connections of their own with the store's settings, the
    schema's NOTIFY channels, and ``translated``."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.where = host_port(dsn)
        self.schema = ""
        self._pool: Any = None
        self.closed = False
        # Pool connections kept for single statements: the idle ones, and how many there are.
        self._kept: list[Any] = []
        self._keeping = 0

    @property
    def pool(self) -> Any:
        if self._pool is None or self.closed:
            raise StoreError(f"the store at {self.where} is closed")
        return self._pool

    async def open_pool(self, read_only: bool) -> None:
        settings = {"default_transaction_read_only": "on"} if read_only else {}
        with self.connecting():
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=8 + KEPT,
                timeout=10,
                server_settings=self.settings("pool", settings),
                reset=_session_kept,
                # No idle timer armed at every release (a pool holds a few connections).
                max_inactive_connection_lifetime=0,
            )

    async def close_pool(self) -> None:
        pool = None if self.closed else self._pool
        self.closed = True
        if pool is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                kept, self._kept = self._kept, []
                for conn in kept:
                    await self._give_back(conn)
                await pool.close()
                return
            pool.terminate()

    def settings(self, role: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        query = dict(parse_qsl(urlsplit(self.dsn).query))
        name = {} if "application_name" in query else {"application_name": f"eventsvc {role}"}
        return {**name, **(extra or {})}

    async def connect(self, role: str, extra: dict[str, str] | None = None) -> Any:
        """A connection of its own (``role`` names it in ``pg_stat_activity``)."""
        with self.connecting():
            return await asyncpg.connect(
                self.dsn, timeout=10, server_settings=self.settings(role, extra)
            )

    def channel(self, name: str) -> str:
        """A NOTIFY channel of this store's schema (schemas in one database do not mix)."""
        channel = f"eventsvc:{self.schema}:{name}"
        if len(channel) <= 63:
            return channel
        return f"eventsvc:{sha1(self.schema.encode()).hexdigest()[:20]}:{name}"

    @contextmanager
    def connecting(self) -> Iterator[None]:
        try:
            yield
        except DRIVER_ERRORS as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self.where}: {exc}") from exc

    @contextmanager
    def translated(self, action: str) -> Iterator[None]:
        """The one boundary where asyncpg's errors become eventsvc's: ``StoreError`` naming
        what was being done and where (never the DSN, which may hold a password)."""
        try:
            yield
        except DRIVER_ERRORS as exc:
            raise StoreError(f"{action} at {self.where} failed: {exc}") from exc

    # Single statements run on kept connections, and translate as ``translated`` does without
    # a context manager's generator each: every view, cache lookup and stream read comes
    # through here. asyncpg's acquire and release (a shielded task each) cost more CPU than
    # the statement itself.
    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return list(await self._single("fetch", "reading", sql, args))

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._single("fetchrow", "reading", sql, args)

    async def execute(self, sql: str, *args: Any) -> None:
        await self._single("execute", "writing", sql, args)

    async def _single(self, method: str, doing: str, sql: str, args: tuple[Any, ...]) -> Any:
        """One statement outside any transaction, on a kept connection (on the pool's own
        path while ``KEPT`` are busy)."""
        try:
            pool = self.pool  # raises once the store is closed
            conn = await self._take(pool)
            if conn is None:
                return await getattr(pool, method)(sql, *args)
            try:
                result = await getattr(conn, method)(sql, *args)
            except BaseException:
                await self._give_back(conn)
                raise
        except DRIVER_ERRORS as exc:
            raise StoreError(f"{doing} the store at {self.where} failed: {exc}") from exc
        if self.closed:
            await self._give_back(conn)
        else:
            self._kept.append(conn)
        return result

    async def _take(self, pool: Any) -> Any:
        """An idle kept connection, a new one while fewer than ``KEPT`` are kept, else None."""
        while self._kept:
            conn = self._kept.pop()
            if not conn.is_closed():
                return conn
            await self._give_back(conn)  # its server went away: the pool reconnects it
        if self._keeping >= KEPT:
            return None
        self._keeping += 1
        try:
            return await pool.acquire()
        except BaseException:
            self._keeping -= 1
            raise

    async def _give_back(self, conn: Any) -> None:
        """Return a kept connection to the pool, which resets it, or closes it if it is
        broken (a statement failed or was cancelled on it)."""
        self._keeping -= 1
        with anyio.CancelScope(shield=True), contextlib.suppress(*DRIVER_ERRORS):
            await self._pool.release(conn)


class Lease:
    """A named lease in the ``leases`` table: one holder at a time, judged by the database's
    clock, fenced by an ``epoch`` that grows with every change of holder.

    The holder renews it within ``seconds``; anyone may take it over once it has expired or
    once its holder's backend is gone. ``renew`` is also the fence: run inside a transaction
    it locks the row and fails if another holder took over, so work that must happen only
    under the lease (a seal, a projection's page and checkpoint) commits only while held.
    """

    def __init__(self, name: str, holder: str, seconds: float) -> None:
        self.name = name
        self.holder = holder
        self.seconds = seconds
        self.epoch: int | None = None

    async def acquire(self, conn: Any) -> bool:
        """Take the lease if it is free (new, expired, or its holder is gone)."""
        epoch = await conn.fetchval(
            "INSERT INTO leases AS l (name, epoch, holder, holder_pid, expires_at) "
            "VALUES ($1, 1, $2, pg_backend_pid(), "
            "clock_timestamp() + make_interval(secs => $3::float8)) "
            "ON CONFLICT (name) DO UPDATE SET epoch = l.epoch + 1, holder = excluded.holder, "
            "holder_pid = excluded.holder_pid, expires_at = excluded.expires_at "
            "WHERE l.expires_at < clock_timestamp() OR l.holder_pid IS NULL "
            "OR NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = l.holder_pid) "
            "RETURNING epoch",
            self.name,
            self.holder,
            self.seconds,
        )
        self.epoch = None if epoch is None else int(epoch)
        return self.epoch is not None

    async def renew(self, conn: Any) -> bool:
        """Extend the lease if it is still ours; False (and no longer held) if not."""
        if self.epoch is None:
            return False
        renewed = await conn.fetchval(
            "UPDATE leases SET expires_at = clock_timestamp() + make_interval(secs => $3::float8),"
            " holder_pid = pg_backend_pid() WHERE name = $1 AND epoch = $2 RETURNING epoch",
            self.name,
            self.epoch,
            self.seconds,
        )
        if renewed is None:
            self.epoch = None
        return renewed is not None

    async def release(self, conn: Any, channel: str | None = None) -> None:
        """Give the lease up at once (and tell the others on ``channel``)."""
        if self.epoch is None:
            return
        epoch, self.epoch = self.epoch, None
        await conn.execute(
            "WITH r AS (UPDATE leases SET expires_at = '-infinity' "
            "WHERE name = $1 AND epoch = $2 RETURNING 1) "
            "SELECT pg_notify($3::text, '') FROM r WHERE $3::text IS NOT NULL",
            self.name,
            epoch,
            channel,
        )


@lru_cache(maxsize=1024)
def dollar_placeholders(sql: str) -> str:
    """SQLite's ``?`` placeholders as PostgreSQL's ``$1, $2, ...`` (outside quotes). Cached:
    the folds and views send the same few statements again and again."""
    out, count, quote = [], 0, ""
    for char in sql:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            count += 1
            out.append(f"${count}")
            continue
        out.append(char)
    return "".join(out)


async def read_head(conn: Any) -> Head:
    row = await conn.fetchrow(HEAD)
    return Head() if row is None else Head(int(row[0]), bytes(row[1]), int(row[2]))


def sealed_payload(head: int, lasts: dict[int, int]) -> str:
    """A seal's NOTIFY: ``"<head> <batch>:<last position>,..."``; the head alone when that
    would not fit."""
    payload = f"{head} " + ",".join(f"{batch}:{last}" for batch, last in lasts.items())
    return payload if len(payload) <= NOTIFY_LIMIT else str(head)


def parse_sealed_payload(payload: str) -> tuple[int, dict[int, int]]:
    head, _, rest = payload.partition(" ")
    pairs = (pair.partition(":") for pair in rest.split(",") if pair)
    return int(head), {int(batch): int(last) for batch, _, last in pairs}


async def close_quietly(conn: Any) -> None:
    with anyio.CancelScope(shield=True):
        try:
            with anyio.move_on_after(2):
                await conn.close()
                return
        except DRIVER_ERRORS:
            pass
        conn.terminate()


def redact(url: str) -> str:
    """The URL without its password (in the authority or as a query parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def host_port(url: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    host = parts.hostname or query.get("host") or "localhost"
    port = parts.port or query.get("port") or 5432
    return f"{host}:{port}"
