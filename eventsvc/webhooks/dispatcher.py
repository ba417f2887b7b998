"""Every active webhook delivered in a task of its own, in the service's task group.

The dispatcher looks at the webhooks table when told of a change in this process (``wake``)
and else every ``poll`` seconds (another process may have added one). Each active webhook gets
a task that competes for its lease and, while it holds it, runs its ``Delivery``; tasks are
independent, so a slow or failing receiver holds up no other webhook. A webhook that becomes
failing or is removed ends its task; a retry starts a new one.
"""

from __future__ import annotations

import logging
import os
import uuid

import anyio
import anyio.abc

from eventsvc.clock import Clock, SystemClock
from eventsvc.errors import NotFoundError, StoreError
from eventsvc.store.protocols import EventStore
from eventsvc.webhooks.delivery import Delivery, DeliveryOptions, LeaseLost, Stopped
from eventsvc.webhooks.registry import Lease, WebhookRegistry

log = logging.getLogger("eventsvc.webhooks")


class Dispatcher:
    def __init__(
        self,
        store: EventStore,
        registry: WebhookRegistry,
        options: DeliveryOptions,
        *,
        clock: Clock | None = None,
        poll: float = 1.0,
    ) -> None:
        self._store = store
        self._registry = registry
        self._options = options
        self._clock = clock or SystemClock()
        self._poll = poll
        self._holder = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._running: set[str] = set()
        self._changed = anyio.Event()

    def wake(self) -> None:
        """A webhook was added, removed or retried: look again now."""
        self._changed.set()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        async with anyio.create_task_group() as tg:
            task_status.started()
            while True:
                self._changed = anyio.Event()
                try:
                    for webhook_id in await self._registry.active_ids():
                        if webhook_id not in self._running:
                            self._running.add(webhook_id)
                            tg.start_soon(self._webhook, webhook_id)
                except StoreError as exc:
                    log.warning("webhooks: cannot read the webhooks (%s)", exc)
                with anyio.move_on_after(self._poll):
                    await self._changed.wait()

    async def _webhook(self, webhook_id: str) -> None:
        """Compete for the webhook's lease and deliver it while held, until it stops being
        active here."""
        try:
            while webhook_id in await self._registry.active_ids():
                lease = await self._registry.acquire(webhook_id, self._holder)
                if lease is None:
                    await anyio.sleep(self._registry.lease_seconds / 3)
                    continue
                if not await self._deliver(webhook_id, lease):
                    return
        except (StoreError, NotFoundError) as exc:
            log.warning("webhook %s stopped (%s)", webhook_id, exc)
        finally:
            self._running.discard(webhook_id)

    async def _deliver(self, webhook_id: str, lease: Lease) -> bool:
        """Run the delivery; whether to compete for the lease again."""
        webhook = await self._registry.get(webhook_id)
        secret = await self._registry.secret(webhook_id)
        delivery = Delivery(
            self._store, self._registry, webhook, secret, lease, self._options, self._clock
        )
        log.info("delivering webhook %s from position %d", webhook_id, lease.position)
        try:
            await delivery.run()
        except LeaseLost:
            return True
        except Stopped:
            log.warning("webhook %s is failing; it waits for a retry", webhook_id)
            return False
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                await self._registry.release(lease)  # a stopping service hands it on at once
        return True
