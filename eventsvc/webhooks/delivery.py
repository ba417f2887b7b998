"""Delivering one webhook: follow the log from its checkpoint, POST what its filter selects.

Events go out in log order, one request at a time, each of up to ``batch_size`` events;
after each answered request the checkpoint moves past it (so a crash repeats only the request
in flight, with the same ``webhook-id``). A request that fails (no 2xx answer in time) is sent
again after ``backoff(failures)`` seconds; after ``max_failures`` in a row the webhook is
``failing`` and delivery stops until it is retried. The subscription is the store's bounded
one: a slow receiver falls behind and reads on from the store, it never holds up an append.
The lease is renewed a third of its length apart, which also saves the checkpoint past
skipped events; losing it stops delivery at once.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import httpx
import msgspec

from eventsvc.clock import Clock
from eventsvc.errors import SubscriberLaggedError
from eventsvc.events import CODEC, RecordedEvent
from eventsvc.store.protocols import EventStore
from eventsvc.webhooks import signing
from eventsvc.webhooks.destinations import AllowList, DestinationError
from eventsvc.webhooks.model import Webhook
from eventsvc.webhooks.registry import Lease, WebhookRegistry

log = logging.getLogger("eventsvc.webhooks")

Backoff = Callable[[int], float]
Sleep = Callable[[float], Awaitable[None]]


def exponential_backoff(base: float, cap: float = 600.0) -> Backoff:
    """Seconds to wait after ``failures`` failures in a row: doubling from ``base`` up to
    ``cap``, with jitter (between half and all of it) so that receivers coming back are not
    hit by every sender at once."""

    def delay(failures: int) -> float:
        return min(cap, math.ldexp(base, failures - 1)) * random.uniform(0.5, 1.0)

    return delay


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    allow: AllowList
    max_failures: int = 10
    timeout: float = 10.0
    backoff: Backoff = field(default_factory=lambda: exponential_backoff(1.0))
    sleep: Sleep = anyio.sleep


class LeaseLost(Exception):
    """Another holder delivers this webhook now (or it was removed)."""


class Stopped(Exception):
    """The webhook is failing now; delivery waits for a retry."""


def payload(record: RecordedEvent) -> dict[str, object]:
    return {
        "id": str(record.event_id),
        "type": record.tag,
        "timestamp": record.recorded_datetime.isoformat().replace("+00:00", "Z"),
        "position": record.position,
        "stream": record.stream,
        "data": msgspec.json.decode(CODEC.encode(record.data)),
    }


def request_of(batch: list[RecordedEvent], batched: bool) -> tuple[str, bytes]:
    """The ``webhook-id`` and body of one request: one event, or (when batching) a list.

    A batch's id is its first event's id and how many follow; each event in it carries its
    own ``id``, by which a receiver deduplicates."""
    if not batched:
        return str(batch[0].event_id), msgspec.json.encode(payload(batch[0]))
    message_id = str(batch[0].event_id) + (f"+{len(batch) - 1}" if len(batch) > 1 else "")
    body = msgspec.json.encode({"type": "events", "events": [payload(r) for r in batch]})
    return message_id, body


class Delivery:
    """One webhook delivered by this process while it holds the lease."""

    def __init__(
        self,
        store: EventStore,
        registry: WebhookRegistry,
        webhook: Webhook,
        secret: str,
        lease: Lease,
        options: DeliveryOptions,
        clock: Clock,
    ) -> None:
        self._store = store
        self._registry = registry
        self._webhook = webhook
        self._key = signing.key_of(secret)
        self._lease = lease
        self._options = options
        self._clock = clock
        self._done = lease.position  # everything up to here is delivered or skipped

    async def run(self) -> None:
        """Deliver until the lease is lost (``LeaseLost``) or the webhook fails (``Stopped``)."""
        timeout = httpx.Timeout(self._options.timeout)
        try:
            async with httpx.AsyncClient(timeout=timeout) as http, anyio.create_task_group() as tg:
                tg.start_soon(self._keep_lease)
                await self._follow(http)
        except BaseExceptionGroup as group:  # the task group's: say what ended it
            raise _first_reason(group) from None

    async def _keep_lease(self) -> None:
        while True:
            await anyio.sleep(self._registry.lease_seconds / 3)
            if not await self._registry.advance(self._lease, self._done):
                raise LeaseLost(self._webhook.webhook_id)

    async def _follow(self, http: httpx.AsyncClient) -> None:
        while True:
            try:
                async with self._store.subscribe(after=self._done) as subscription:
                    async for runs in subscription.runs():
                        await self._step(http, [e for run in runs for e in run.events()])
            except SubscriberLaggedError:
                continue  # fell behind the live ring: read on from the store

    async def _step(self, http: httpx.AsyncClient, records: list[RecordedEvent]) -> None:
        wanted = [r for r in records if self._webhook.filter.matches(r)]
        size = self._webhook.batch_size
        for start in range(0, len(wanted), size):
            batch = wanted[start : start + size]
            await self._deliver(http, batch)
            self._done = batch[-1].position
            if not await self._registry.advance(self._lease, self._done, len(batch)):
                raise LeaseLost(self._webhook.webhook_id)
        if records:
            self._done = records[-1].position  # saved with the next renewal

    async def _deliver(self, http: httpx.AsyncClient, batch: list[RecordedEvent]) -> None:
        """POST ``batch`` until a 2xx answer; ``Stopped`` once it has failed too often."""
        message_id, body = request_of(batch, self._webhook.batch_size > 1)
        while True:
            error = await self._attempt(http, message_id, body)
            if error is None:
                return
            failures = await self._registry.failed(self._lease, error, self._options.max_failures)
            log.warning("webhook %s: %s (%d in a row)", self._webhook.webhook_id, error, failures)
            if failures >= self._options.max_failures:
                raise Stopped(self._webhook.webhook_id)
            await self._options.sleep(self._options.backoff(failures))

    async def _attempt(self, http: httpx.AsyncClient, message_id: str, body: bytes) -> str | None:
        """One request; what went wrong, or None on a 2xx answer."""
        try:
            await self._options.allow.check(self._webhook.url)
        except DestinationError as exc:
            return str(exc)
        timestamp = self._clock.now_us() // 1_000_000
        headers = signing.headers(self._key, message_id, timestamp, body)
        try:
            response = await http.post(self._webhook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if 200 <= response.status_code < 300:
            return None
        return f"the receiver answered {response.status_code}"


def _first_reason(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """What ended the delivery, out of the task group's wrapping: a lost lease or a stop,
    else the group as it is."""
    ours, _ = group.split((LeaseLost, Stopped))
    reason: BaseException | None = ours
    while isinstance(reason, BaseExceptionGroup):
        reason = reason.exceptions[0]
    return group if reason is None else reason
