"""How one process follows the sealed log: it knows the head, hands newly sealed rows to its
own subscribers (``Fanout``), and resolves its waiting appends.

What this process sealed itself goes to its subscribers from memory; what another process
sealed is read back, woken by that sealer's NOTIFY (which carries the new head and the last
position of every batch it sealed). A bounded poll stands in for a lost notification: when an
append has waited a poll interval for its seal, or subscribers have heard of no seal for that
long.

A projection runner of this process reads its pages here first (``recent``): the groups this
process sealed or read for its subscribers lately, kept once a runner has asked, and only
while they follow on from one another; anything else is read from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from eventsvc.errors import StoreError
from eventsvc.events import RecordedEvent
from eventsvc.store.postgres.common import Database, parse_sealed_payload
from eventsvc.store.postgres.waiting import Waiting
from eventsvc.store.rows import decode_rows, record
from eventsvc.store.subscription import Fanout

log = logging.getLogger("eventsvc.store")

ReadPage = Callable[[int, int], Awaitable[list[RecordedEvent]]]
# Events of the groups kept for ``recent``, at most (a larger group is kept alone).
_RECENT_EVENTS = 2000


class Follower:
    def __init__(
        self,
        db: Database,
        fanout: Fanout,
        waiting: Waiting,
        read_page: ReadPage,
        poll_interval: float,
    ) -> None:
        self._db = db
        self._fanout = fanout
        self._waiting = waiting
        self._read_page = read_page
        self._poll_interval = poll_interval
        self.known_head = 0
        self._published = 0
        self._publishing = anyio.Lock()
        self._tick: anyio.Event | None = None  # made when someone waits for the next seal
        self._heard_at = 0.0
        self._behind = anyio.Event()
        # Groups sealed lately, consecutive, once a runner reads pages here (``recent``).
        self._kept: list[list[RecordedEvent]] = []
        self._kept_events = 0
        self._keeping = False

    @property
    def tick(self) -> anyio.Event:
        """Set at the next seal heard of, or poll made."""
        if self._tick is None:
            self._tick = anyio.Event()
        return self._tick

    def start_at(self, head: int) -> None:
        self.known_head = self._published = head

    async def wait_for_head(self, position: int) -> None:
        """Return once the sealed log reaches ``position`` (woken by seals, else a poll)."""
        while self.known_head < position:
            tick = self.tick
            with anyio.move_on_after(self._poll_interval):
                await tick.wait()
            if not tick.is_set():
                self.observe_head(await self.read_head())

    async def read_head(self) -> int:
        row = await self._db.fetchrow(
            "SELECT position FROM events WHERE position IS NOT NULL ORDER BY position DESC LIMIT 1"
        )
        return 0 if row is None else int(row[0])

    def observe_head(self, head: int) -> None:
        if head > self.known_head:
            self.known_head = head
        if self._tick is not None:
            self._tick.set()
            self._tick = None
        if self.known_head > self._published:
            if len(self._fanout) or self._publishing.locked():
                self._behind.set()  # subscribers to feed: the follower reads and publishes
            else:
                self._published = self.known_head

    def sealed_here(self, sealed: list[tuple[Any, ...]], lasts: dict[int, int]) -> None:
        """After this process's seal: resolve waiting appends, hand the rows to subscribers."""
        first, last = sealed[0][0], sealed[-1][0]
        records = self._records(sealed) if self._keeping else None
        if len(self._fanout) and self._published == first - 1 and not self._publishing.locked():
            records = records or self._records(sealed)
            self._fanout.publish(records)
            self._published = last
        if records is not None:
            self._keep(records)
        self._heard_at = anyio.current_time()
        self._waiting.resolve(lasts)
        self.observe_head(last)

    def on_sealed(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        """A seal's NOTIFY (another process's: this one's own is handled by ``sealed_here``)."""
        if pid == conn.get_server_pid():
            return
        head, lasts = parse_sealed_payload(payload)
        if len(self._fanout):  # only subscribers' silence makes the follower poll
            self._heard_at = anyio.current_time()
        self._waiting.resolve(lasts)
        self.observe_head(head)

    def _records(self, sealed: list[tuple[Any, ...]]) -> list[RecordedEvent]:
        """Sealed rows as events: this process's own from memory, the others decoded in one
        page."""
        pending = self._waiting.pending
        others = iter(decode_rows([row[:10] for row in sealed if row[10] not in pending]))
        return [
            next(others)
            if (waiting := pending.get(row[10])) is None
            else record(row, waiting.event(row[2]))
            for row in sealed
        ]

    async def run(self) -> None:
        """Hand sealed rows to this process's subscribers; poll when nothing was heard."""
        while True:
            behind = self._behind
            with anyio.move_on_after(self._poll_interval):
                await behind.wait()
            if behind.is_set():
                self._behind = anyio.Event()
            try:
                if not behind.is_set() and self._overdue():
                    await self._poll()
                await self._publish()
            except StoreError as exc:  # the database's errors arrive translated
                log.warning("following the log at %s: %s", self._db.where, exc)
                await anyio.sleep(self._poll_interval)

    def _overdue(self) -> bool:
        """Whether to poll: an append has waited a poll interval for its seal (its
        notification lost, or cut to the head), or subscribers heard of no seal that long."""
        horizon = anyio.current_time() - self._poll_interval
        oldest = self._waiting.oldest()
        if oldest is not None and oldest.since <= horizon:
            return True
        return bool(len(self._fanout)) and self._heard_at <= horizon

    async def _poll(self) -> None:
        """The fallback for lost notifications: the head, and the fate of waiting appends."""
        if self._waiting.pending:
            pendings = list(self._waiting.pending.values())
            rows = await self._db.fetch(
                "SELECT u.batch, e.position FROM unnest($1::bigint[], $2::text[], $3::bigint[]) "
                "AS u(batch, stream, version) JOIN events e "
                "ON e.stream = u.stream AND e.version = u.version WHERE e.position IS NOT NULL",
                [p.batch for p in pendings],
                [p.stream for p in pendings],
                [p.last_version for p in pendings],
            )
            self._waiting.resolve({int(batch): int(position) for batch, position in rows})
        self.observe_head(await self.read_head())

    async def _publish(self) -> None:
        """Read what was sealed since the last publication and hand it to subscribers."""
        async with self._publishing:
            if not len(self._fanout):
                self._published = max(self._published, self.known_head)
                return
            while self._published < self.known_head and len(self._fanout):
                page = await self._read_page(self._published, 1000)
                if not page:
                    return
                self._fanout.publish(page)
                self._published = page[-1].position
                if self._keeping:
                    self._keep(page)

    def recent(self, after: int, limit: int) -> list[RecordedEvent] | None:
        """The events after ``after`` (up to ``limit``) if the groups kept hold the next one,
        else None; from the first call on, groups are kept."""
        self._keeping = True
        kept = self._kept
        for n in range(len(kept) - 1, -1, -1):  # a runner reads near the head: newest first
            start = after + 1 - kept[n][0].position
            if start < 0:
                continue
            if start >= len(kept[n]) or kept[n][start].position != after + 1:
                return None
            page = kept[n][start : start + limit]
            for later in kept[n + 1 :]:
                if len(page) >= limit:
                    break
                page.extend(later[: limit - len(page)])
            return page
        return None

    def _keep(self, group: list[RecordedEvent]) -> None:
        """Keep ``group`` for ``recent``: after the others if it follows on from them (else
        alone), dropping the oldest beyond ``_RECENT_EVENTS``."""
        if self._kept and self._kept[-1][-1].position + 1 != group[0].position:
            self._kept, self._kept_events = [], 0
        self._kept.append(group)
        self._kept_events += len(group)
        if self._kept_events > 2 * _RECENT_EVENTS:
            while len(self._kept) > 1 and self._kept_events > _RECENT_EVENTS:
                self._kept_events -= len(self._kept.pop(0))
