"""The sealer: one process at a time gives committed rows their positions and hashes.

Every writing process competes for the ``sealer`` row of ``leases``, judged by the database's
clock (``clock_timestamp()``) and taken over when it expires or when its holder's backend is
gone; every takeover bumps the row's ``epoch``. The holder seals committed unsealed rows in
``(batch, version)`` order, a round at a time: it reads them, hashes them (``eventsvc.chain``)
continuing from the last sealed row, and writes positions, hashes and ``recorded_at`` in one
statement that also renews the lease **only if the epoch is still its own and the last sealed
row is still the one it continued from**. A stalled sealer that lost its lease is fenced off by
that statement; a stale head fails instead of forking the chain. The sealer keeps the head in
memory between rounds (read when it takes the lease) and checks it in each seal statement.

``recorded_at`` is stamped from the store's clock, never below the last sealed row's, so it
never decreases along positions. The seal statement commits synchronously, and flushing its WAL
flushes the appends' (committed with ``synchronous_commit = off``) that come before it.

A round reads the unsealed rows back (``_UNSEALED``) only when it must: after taking the lease,
when another process said it appended (its NOTIFY), and at least once a poll interval (a row
committed by a process that still believed it held the lease announces itself to no one).
Otherwise every unsealed row is one this process appended while it held the lease under the
same epoch, which no one else can seal, and the round takes them from memory: one statement
per round instead of two.

The sealer also owns the control connection, where every NOTIFY of the store is heard: seals
(for the follower), unsealed appends (to wake the sealer), a freed lease, projection
checkpoints. A read-only process only listens there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc

from eventsvc.chain import chain_hash
from eventsvc.clock import Clock
from eventsvc.errors import StoreError
from eventsvc.store.postgres.common import (
    DRIVER_ERRORS,
    Database,
    Lease,
    close_quietly,
    read_head,
    sealed_payload,
)
from eventsvc.store.postgres.follower import Follower
from eventsvc.store.postgres.waiting import Waiting
from eventsvc.store.protocols import StoreOptions
from eventsvc.store.rows import Head

log = logging.getLogger("eventsvc.store")

# Payloads of this process's own waiting batches are not read back: the sealer has them.
_UNSEALED = """
SELECT batch, version, stream, event_id, tag, schema_version,
       CASE WHEN batch = ANY($1::bigint[]) THEN NULL ELSE data END,
       CASE WHEN batch = ANY($1::bigint[]) THEN NULL ELSE metadata END
FROM events WHERE position IS NULL ORDER BY batch, version LIMIT $2
"""
_UNSEALED_BATCH = """
SELECT batch, version, stream, event_id, tag, schema_version, data, metadata
FROM events WHERE position IS NULL AND batch = $1 ORDER BY version
"""
# One statement, so one commit: the fence (the epoch is ours and the head is the one we
# continued from; it also renews the lease and locks its row against a takeover), the seal,
# a guard that no row read went missing (a gap would follow), and the readers' wake-up.
# "Nothing sealed past the head" asks for the largest position (one probe of the position
# index, whatever the plan), not for a row beyond the head: a generic plan ran "position >
# head" as a scan of the whole log, and asking for head + 1 alone would miss rows past a gap.
_SEAL = """
WITH fence AS (
    UPDATE leases
    SET expires_at = clock_timestamp() + make_interval(secs => $4::float8),
        holder_pid = pg_backend_pid()
    WHERE name = 'sealer' AND epoch = $1::bigint
      AND ($2::bigint = 0 OR EXISTS (
          SELECT 1 FROM events WHERE position = $2::bigint AND hash = $3::bytea))
      AND coalesce((SELECT max(position) FROM events), 0) = $2::bigint
    RETURNING epoch
), sealed AS (
    UPDATE events AS e
    SET position = $2::bigint + u.n, recorded_at = $5::bigint, hash = u.hash
    FROM fence, unnest($6::bigint[], $7::bigint[], $8::bytea[])
        WITH ORDINALITY AS u(batch, version, hash, n)
    WHERE e.batch = u.batch AND e.version = u.version AND e.position IS NULL
    RETURNING 1
), counted AS (
    SELECT count(*) AS n FROM sealed
)
SELECT
    (SELECT count(*) FROM fence) AS fenced_in,
    CASE WHEN counted.n = cardinality($6::bigint[]) OR NOT EXISTS (SELECT 1 FROM fence)
        THEN counted.n
        ELSE ('sealed ' || counted.n || ' of ' || cardinality($6::bigint[]) || ' rows')::bigint
    END AS sealed,
    CASE WHEN EXISTS (SELECT 1 FROM fence) THEN pg_notify($9::text, $10::text) END
FROM counted
"""
# A seal round takes whole appends, up to this many rows (more only for one larger append).
_SEAL_ROWS = 10_000
_CONTROL_ERRORS: tuple[type[BaseException], ...] = (*DRIVER_ERRORS, StoreError)

Listener = Callable[[Any, int, str, str], None]


class Sealer:
    def __init__(
        self,
        db: Database,
        waiting: Waiting,
        follower: Follower,
        *,
        holder: str,
        clock: Clock,
        options: StoreOptions,
        read_only: bool,
        on_checkpoint: Listener,
        seal_hook: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._db = db
        self._waiting = waiting
        self._follower = follower
        self._clock = clock
        self._options = options
        self._read_only = read_only
        self._on_checkpoint = on_checkpoint
        self._seal_hook = seal_hook
        self.lease = Lease("sealer", holder, options.sealer_lease)
        self.control: Any = None
        self._seal_head = Head()
        self._wake = anyio.Event()
        self._arrived = 0  # appends committed since the last seal
        # This process's batches appended under the current epoch (in order), the other
        # processes' appends heard of since the last read, and when the last read began.
        self._own: dict[int, None] = {}
        self._remote = 0
        self._read_at = float("-inf")
        self._lease_freed = anyio.Event()
        self._renewed_at = 0.0
        self._compete_after = 0.0
        # Seal rounds, and seal rounds fenced off.
        self.rounds = 0
        self.fenced = 0

    @property
    def sealing(self) -> bool:
        """Whether this process holds the sealer lease (as far as it knows)."""
        return self.lease.epoch is not None

    def appended(self, batches: list[int], epoch: int | None) -> None:
        """This process committed appends of these batches, having held the lease under
        ``epoch`` when it inserted them; the sealer, if it is this process, wakes."""
        if self.lease.epoch is not None:
            if epoch == self.lease.epoch:
                self._own.update(dict.fromkeys(batches))
            self._arrived += len(batches)
            self._wake.set()

    async def release(self) -> None:
        """Give the lease up (on close), telling the others at once."""
        if self.lease.epoch is not None:
            with self._db.translated("releasing the sealer lease"):
                await self.lease.release(self._db.pool, self._db.channel("lease"))

    # --- the control connection -------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Listen for wake-ups on the control connection and, in a writing process, compete
        for the sealer lease and seal while holding it. Reconnects when the connection fails;
        it then leaves the lease to the others for one lease period."""
        try:
            await self._control_forever(task_status)
        except Exception as exc:
            # A defect, not a lost connection: no append may wait out its timeout for it.
            self._waiting.stop(f"the store's sealer stopped: {exc!r}")
            raise

    async def _control_forever(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        conn = self.control
        with self._db.translated("opening the store"):
            await self._listen(conn)
            if not self._read_only:
                await self._compete(conn)
        task_status.started()
        while True:
            try:
                if conn is None:
                    conn = self.control = await self._db.connect("control")
                    await self._listen(conn)
                if self._read_only:
                    await self._watch(conn)
                else:
                    await self._seal_loop(conn)
            except _CONTROL_ERRORS as exc:
                if self.lease.epoch is not None or conn is not None:
                    log.warning(
                        "the store's control connection to %s failed (%s); reconnecting, "
                        "and leaving the sealer lease to others for %g s",
                        self._db.where,
                        exc,
                        self.lease.seconds,
                    )
                self.lease.epoch = None
                self._compete_after = anyio.current_time() + self.lease.seconds
                if conn is not None:
                    await close_quietly(conn)
                conn = self.control = None
                await anyio.sleep(min(1.0, self.lease.seconds / 4))

    async def _listen(self, conn: Any) -> None:
        await conn.add_listener(self._db.channel("sealed"), self._follower.on_sealed)
        await conn.add_listener(self._db.channel("lease"), self._on_lease_freed)
        await conn.add_listener(self._db.channel("checkpoints"), self._on_checkpoint)

    async def _watch(self, conn: Any) -> None:
        """A read-only process only listens; notice when its connection goes."""
        closed = anyio.Event()
        conn.add_termination_listener(lambda _: closed.set())
        if not conn.is_closed():
            await closed.wait()
        raise StoreError("the listening connection was closed")

    def _on_unsealed(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._arrived += int(payload) if payload.isdigit() else 1
        self._remote += 1
        self._wake.set()

    def _on_lease_freed(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._lease_freed.set()

    # --- sealing ----------------------------------------------------------------------

    async def _seal_loop(self, conn: Any) -> None:
        while True:
            if self.lease.epoch is None:
                self._lease_freed = anyio.Event()
                await self._compete(conn)
                if self.lease.epoch is None:
                    with anyio.move_on_after(self.lease.seconds / 4):
                        await self._lease_freed.wait()
                    continue
            self._wake = anyio.Event()
            started = anyio.current_time()
            released = await self._seal_round(conn)
            if released is not None:
                await self._gather(released, anyio.current_time() - started)
                continue
            if anyio.current_time() - self._renewed_at >= self.lease.seconds / 3:
                await self._renew(conn)
                continue
            with anyio.move_on_after(self._options.poll_interval):
                await self._wake.wait()

    async def _gather(self, released: int, took: float) -> None:
        """Group commit for the seal. Sealing ``released`` appends woke their writers, and a
        busy writer appends again at once: wait (at most as long as the round took, and never
        past a poll interval) until as many appends have arrived, so that the next round seals
        them together instead of only those that were quickest. Without it, closed-loop writers
        split into two halves that take turns, and each round seals half of them."""
        self._arrived = 0
        with anyio.move_on_after(min(took, self._options.poll_interval)):
            while self._arrived < released:
                self._wake = anyio.Event()
                await self._wake.wait()

    async def _compete(self, conn: Any) -> None:
        if anyio.current_time() < self._compete_after or not await self.lease.acquire(conn):
            return
        self._seal_head = await read_head(conn)
        self._renewed_at = anyio.current_time()
        self._own.clear()
        self._read_at = float("-inf")  # the first round reads whatever others left
        await conn.add_listener(self._db.channel("unsealed"), self._on_unsealed)
        holder, epoch = self.lease.holder, self.lease.epoch
        log.info("%s seals the log at %s (epoch %d)", holder, self._db.where, epoch)

    async def _renew(self, conn: Any) -> None:
        epoch = self.lease.epoch
        if await self.lease.renew(conn):
            self._renewed_at = anyio.current_time()
        else:
            await self._step_down(conn, f"its lease (epoch {epoch}) was taken over")

    async def _step_down(self, conn: Any, why: str) -> None:
        self.lease.epoch = None
        log.warning("%s stops sealing the log at %s: %s", self.lease.holder, self._db.where, why)
        await conn.remove_listener(self._db.channel("unsealed"), self._on_unsealed)

    async def _seal_round(self, conn: Any) -> int | None:
        """Seal the committed unsealed rows (whole appends, a bounded number): how many appends
        were sealed (0 when fenced off), None when none were waiting."""
        rows = await self._unsealed(conn)
        if not rows:
            return None
        self.rounds += 1
        if self._seal_hook is not None:
            await self._seal_hook()
        epoch = self.lease.epoch
        head = self._seal_head
        recorded_at = max(self._clock.now_us(), head.recorded_at)
        position, previous = head.position, head.hash
        batches, versions, hashes, sealed = [], [], [], []
        lasts: dict[int, int] = {}
        for batch, version, stream, event_id, tag, schema_version, data, meta in rows:
            position += 1
            previous = chain_hash(
                previous, position, stream, version, event_id, tag, schema_version,
                recorded_at, data.encode(), meta.encode(),
            )  # fmt: skip
            batches.append(batch)
            versions.append(version)
            hashes.append(previous)
            lasts[batch] = position
            sealed.append(
                (position, stream, version, event_id, tag, schema_version, recorded_at, data,
                 meta, previous, batch)
            )  # fmt: skip
        fenced_in, _, _ = await conn.fetchrow(
            _SEAL, epoch, head.position, head.hash, self.lease.seconds, recorded_at,
            batches, versions, hashes, self._db.channel("sealed"), sealed_payload(position, lasts),
        )  # fmt: skip
        if not fenced_in:
            self.fenced += 1
            await self._fenced_off(conn, epoch, len(rows))
            return 0
        self._renewed_at = anyio.current_time()
        self._seal_head = Head(position, previous, recorded_at)
        self._follower.sealed_here(sealed, lasts)
        return len(lasts)

    async def _unsealed(self, conn: Any) -> list[tuple[Any, ...]]:
        """The next rows to seal, whole appends only, payloads filled in."""
        if self._remote == 0 and anyio.current_time() - self._read_at < self._options.poll_interval:
            return self._own_rows()
        self._remote, self._read_at = 0, anyio.current_time()
        pending = self._waiting.pending
        self._own = {batch: None for batch in self._own if batch in pending}
        rows = [tuple(row) for row in await conn.fetch(_UNSEALED, list(pending), _SEAL_ROWS)]
        if len(rows) == _SEAL_ROWS:
            last = rows[-1][0]
            if rows[0][0] == last:  # one append larger than a round: all of it
                rows = [tuple(row) for row in await conn.fetch(_UNSEALED_BATCH, last)]
            else:  # the last append may be cut short: it goes in the next round
                rows = [row for row in rows if row[0] != last]
        filled = []
        for row in rows:
            if row[6] is None:
                waiting = pending.get(row[0])
                if waiting is None:  # resolved meanwhile: read everything again
                    return [tuple(r) for r in await conn.fetch(_UNSEALED, [], _SEAL_ROWS)]
                row = (*row[:6], *waiting.payload(row[1]))
            filled.append(row)
        return filled

    def _own_rows(self) -> list[tuple[Any, ...]]:
        """The rows of this process's own unsealed appends, from memory, as ``_UNSEALED``
        reads them (whole appends, a bounded number)."""
        pending = self._waiting.pending
        rows: list[tuple[Any, ...]] = []
        for batch in list(self._own):
            waiting = pending.get(batch)
            if waiting is None:  # sealed already
                del self._own[batch]
                continue
            if rows and len(rows) + len(waiting.items) > _SEAL_ROWS:
                break
            first = waiting.last_version - len(waiting.items) + 1
            for version, item in enumerate(waiting.items, first):
                rows.append((batch, version, waiting.stream, *item[:5]))
        return rows

    async def _fenced_off(self, conn: Any, epoch: int | None, count: int) -> None:
        row = await conn.fetchrow("SELECT epoch, holder FROM leases WHERE name = 'sealer'")
        if row is not None and row[0] == epoch:
            # Still ours: the head moved under us (an import, or an edit). Read it again.
            log.warning(
                "the last sealed row at %s is not the one the sealer continued from "
                "(position %d): the log was imported into or edited; reading the head again",
                self._db.where,
                self._seal_head.position,
            )
            self._seal_head = await read_head(conn)
            return
        found = "no holder" if row is None else f"epoch {row[0]} of {row[1]!r}"
        await self._step_down(
            conn,
            f"its seal of {count} row(s) was refused: the lease's epoch is no longer {epoch} "
            f"but {found}",
        )
