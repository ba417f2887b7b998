"""What the PostgreSQL store and its projection runners share (L1): the driver's errors, the
lease that gives one process the sealer's or a projection's work, and SQLite-style
placeholders turned into PostgreSQL's."""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]

DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    # Seen when a query meets a connection the server has just terminated.
    asyncpg.exceptions.InternalClientError,
    OSError,
    TimeoutError,
)


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


def dollar_placeholders(sql: str) -> str:
    """SQLite's ``?`` placeholders as PostgreSQL's ``$1, $2, ...`` (outside quotes)."""
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
