"""The webhooks the store keeps, their checkpoints and their leases (tables beside the log).

Webhooks live beside the log rather than in it because a webhook holds a secret, and the log
is exported and streamed to every subscriber. Their tables are made by step 4 of the store's
migrations (``eventsvc.store.migrations``), the same on both backends.

Each webhook's checkpoint row also holds its lease: one holder at a time delivers it, judged
by the database's clock and fenced by an epoch that grows with every change of holder. Every
checkpoint write renews the lease and names the epoch, so a holder that lost its lease can no
longer move the checkpoint (what it delivered meanwhile is delivered again: at least once).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio

from eventsvc.errors import NotFoundError
from eventsvc.store.protocols import Tables, Transaction
from eventsvc.webhooks.model import Webhook, WebhookCounts, WebhookFilter

_T = TypeVar("_T")
_COLUMNS = (
    "w.webhook_id, w.url, w.filter, w.batch_size, w.state, c.position, w.failures, "
    "w.last_error, w.delivered, w.created_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM webhooks w JOIN webhook_checkpoints c USING (webhook_id)"


class Lease:
    """One holder's claim on delivering one webhook."""

    def __init__(self, webhook_id: str, holder: str, epoch: int, position: int) -> None:
        self.webhook_id = webhook_id
        self.holder = holder
        self.epoch = epoch
        self.position = position


class WebhookRegistry:
    """Webhooks in one store's database."""

    def __init__(self, tables: Tables, lease_seconds: float = 5.0) -> None:
        self._tables = tables
        self.lease_seconds = lease_seconds
        self._written = anyio.Event()
        now = tables.db_now
        self._now = now
        self._acquire = (
            f"UPDATE webhook_checkpoints SET holder = ?, epoch = epoch + 1, "
            f"expires_at = {now} + ? WHERE webhook_id = ? "
            f"AND (holder IS NULL OR holder = ? OR expires_at < {now}) RETURNING epoch, position"
        )
        self._advance = (
            f"UPDATE webhook_checkpoints SET position = CASE WHEN position < ? THEN ? "
            f"ELSE position END, expires_at = {now} + ? "
            "WHERE webhook_id = ? AND holder = ? AND epoch = ? RETURNING position"
        )

    def next_write(self) -> anyio.Event:
        """Set by this process's next write to a webhook or its checkpoint."""
        return self._written

    async def _write(self, work: Callable[[Transaction], _T], action: str) -> _T:
        try:
            return await self._tables.write_beside(work, action)
        finally:
            self._written.set()
            self._written = anyio.Event()

    # --- registration -----------------------------------------------------------------

    async def add(
        self, url: str, secret: str, filter: WebhookFilter, batch_size: int, after: int
    ) -> Webhook:
        webhook_id = f"wh_{uuid.uuid4().hex[:20]}"
        spec = filter.model_dump_json(exclude_none=True)

        def insert(tx: Transaction) -> None:
            tx.execute(
                "INSERT INTO webhooks (webhook_id, url, secret, filter, batch_size, state, "
                f"created_at) VALUES (?, ?, ?, ?, ?, 'active', {self._now})",
                (webhook_id, url, secret, spec, batch_size),
            )
            tx.execute(
                "INSERT INTO webhook_checkpoints (webhook_id, position) VALUES (?, ?)",
                (webhook_id, after),
            )

        await self._write(insert, "add a webhook")
        return await self.get(webhook_id)

    async def get(self, webhook_id: str) -> Webhook:
        rows = await self._tables.query(f"{_SELECT} WHERE w.webhook_id = ?", (webhook_id,))
        if not rows:
            raise NotFoundError(f"no webhook {webhook_id!r}")
        return _webhook(rows[0])

    async def all(self) -> list[Webhook]:
        rows = await self._tables.query(f"{_SELECT} ORDER BY w.created_at, w.webhook_id")
        return [_webhook(row) for row in rows]

    async def secret(self, webhook_id: str) -> str:
        rows = await self._tables.query(
            "SELECT secret FROM webhooks WHERE webhook_id = ?", (webhook_id,)
        )
        if not rows:
            raise NotFoundError(f"no webhook {webhook_id!r}")
        return str(rows[0][0])

    async def remove(self, webhook_id: str) -> None:
        def delete(tx: Transaction) -> bool:
            found = tx.fetchall(
                "DELETE FROM webhooks WHERE webhook_id = ? RETURNING webhook_id", (webhook_id,)
            )
            tx.execute("DELETE FROM webhook_checkpoints WHERE webhook_id = ?", (webhook_id,))
            return bool(found)

        if not await self._write(delete, "remove a webhook"):
            raise NotFoundError(f"no webhook {webhook_id!r}")

    async def retry(self, webhook_id: str) -> Webhook:
        """Make a failing webhook active again, from its checkpoint."""

        def resume(tx: Transaction) -> bool:
            return bool(
                tx.fetchall(
                    "UPDATE webhooks SET state = 'active', failures = 0 "
                    "WHERE webhook_id = ? RETURNING webhook_id",
                    (webhook_id,),
                )
            )

        if not await self._write(resume, "retry a webhook"):
            raise NotFoundError(f"no webhook {webhook_id!r}")
        return await self.get(webhook_id)

    async def active_ids(self) -> list[str]:
        rows = await self._tables.query(
            "SELECT webhook_id FROM webhooks WHERE state = 'active' ORDER BY webhook_id"
        )
        return [str(row[0]) for row in rows]

    async def counts(self) -> WebhookCounts:
        """Webhooks by state and the events delivered (what a metrics gauge reads)."""
        rows = await self._tables.query(
            "SELECT state, count(*), coalesce(sum(delivered), 0) FROM webhooks GROUP BY state"
        )
        by_state = {str(state): (int(n), int(d)) for state, n, d in rows}
        return WebhookCounts(
            active=by_state.get("active", (0, 0))[0],
            failing=by_state.get("failing", (0, 0))[0],
            delivered=sum(d for _, d in by_state.values()),
        )

    # --- delivery (under the lease) ---------------------------------------------------

    async def acquire(self, webhook_id: str, holder: str) -> Lease | None:
        """Take the webhook's lease if it is free, expired or already ``holder``'s."""
        rows = await self._write(
            lambda tx: tx.fetchall(self._acquire, (holder, self.lease_seconds, webhook_id, holder)),
            "take a webhook's lease",
        )
        if not rows:
            return None
        return Lease(webhook_id, holder, int(rows[0][0]), int(rows[0][1]))

    async def advance(self, lease: Lease, position: int, delivered: int = 0) -> bool:
        """Move the checkpoint to ``position`` (never back) and renew the lease; count
        ``delivered`` events and clear the failures. False once the lease is lost."""

        def write(tx: Transaction) -> bool:
            rows = tx.fetchall(
                self._advance,
                (position, position, self.lease_seconds, lease.webhook_id, lease.holder,
                 lease.epoch),
            )  # fmt: skip
            if rows and delivered:
                tx.execute(
                    "UPDATE webhooks SET delivered = delivered + ?, failures = 0, "
                    "last_error = NULL WHERE webhook_id = ?",
                    (delivered, lease.webhook_id),
                )
            return bool(rows)

        held = await self._write(write, "write a webhook's checkpoint")
        if held:
            lease.position = max(lease.position, position)
        return held

    async def failed(self, lease: Lease, error: str, max_failures: int) -> int:
        """Count a failed attempt (``failing`` once there are ``max_failures`` in a row);
        the failures in a row now."""

        def write(tx: Transaction) -> int:
            rows = tx.fetchall(
                "UPDATE webhooks SET failures = failures + 1, last_error = ?, "
                "state = CASE WHEN failures + 1 >= ? THEN 'failing' ELSE state END "
                "WHERE webhook_id = ? RETURNING failures",
                (error[:1000], max_failures, lease.webhook_id),
            )
            return int(rows[0][0]) if rows else max_failures

        return await self._write(write, "count a webhook's failure")

    async def release(self, lease: Lease) -> None:
        await self._write(
            lambda tx: tx.execute(
                "UPDATE webhook_checkpoints SET holder = NULL "
                "WHERE webhook_id = ? AND holder = ? AND epoch = ?",
                (lease.webhook_id, lease.holder, lease.epoch),
            ),
            "release a webhook's lease",
        )


def _webhook(row: Sequence[Any]) -> Webhook:
    webhook_id, url, spec, batch_size, state, position, failures, error, delivered, at = row
    return Webhook(
        webhook_id=webhook_id,
        url=url,
        filter=WebhookFilter.model_validate(json.loads(spec)),
        batch_size=int(batch_size),
        state=state,
        checkpoint=int(position),
        failures=int(failures),
        last_error=error,
        delivered=int(delivered),
        created_at=float(at),
    )
