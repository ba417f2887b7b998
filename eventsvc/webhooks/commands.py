"""The webhook commands the API and the CLI call: checked, then written to the registry.

Bad input is an ``InvalidValueError`` naming each problem (the URL, the destination, the
secret, a filter tag); an unknown webhook id a ``NotFoundError``. A secret is checked for its
form and never quoted. A new webhook starts at the head of the log unless ``after`` says
where. Each command wakes this process's dispatcher, so delivery starts or stops at once.
"""

from __future__ import annotations

from eventsvc.errors import InvalidValueError, Problem
from eventsvc.store.protocols import EventStore
from eventsvc.webhooks import signing
from eventsvc.webhooks.destinations import AllowList, DestinationError
from eventsvc.webhooks.dispatcher import Dispatcher
from eventsvc.webhooks.model import Webhook, WebhookCounts, WebhookFilter
from eventsvc.webhooks.registry import WebhookRegistry

MAX_BATCH_SIZE = 1000


class Webhooks:
    def __init__(
        self,
        store: EventStore,
        registry: WebhookRegistry,
        allow: AllowList,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self._store = store
        self.registry = registry
        self._allow = allow
        self.dispatcher = dispatcher

    async def add(
        self,
        url: str,
        secret: str,
        filter: WebhookFilter | None = None,
        *,
        batch_size: int = 1,
        after: int | None = None,
    ) -> Webhook:
        filter = filter or WebhookFilter()
        problems = list(filter.problems())
        try:
            await self._allow.check(url)
        except DestinationError as exc:
            problems.insert(0, Problem(code="bad_destination", message=str(exc), field="url"))
        why = signing.secret_problem(secret)
        if why is not None:
            problems.append(Problem(code="bad_secret", message=why, field="secret"))
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            message = f"expected 1 to {MAX_BATCH_SIZE}, found {batch_size}"
            problems.append(Problem(code="bad_batch_size", message=message, field="batch_size"))
        if after is not None and after < 0:
            problems.append(Problem(code="bad_after", message="a position is >= 0", field="after"))
        if problems:
            raise InvalidValueError("invalid webhook", problems)
        start = await self._store.head() if after is None else after
        webhook = await self.registry.add(url, secret, filter, batch_size, start)
        self._wake()
        return webhook

    async def all(self) -> list[Webhook]:
        return await self.registry.all()

    async def get(self, webhook_id: str) -> Webhook:
        return await self.registry.get(webhook_id)

    async def remove(self, webhook_id: str) -> None:
        await self.registry.remove(webhook_id)
        self._wake()

    async def retry(self, webhook_id: str) -> Webhook:
        webhook = await self.registry.retry(webhook_id)
        self._wake()
        return webhook

    async def counts(self) -> WebhookCounts:
        """Webhooks by state and deliveries: the read model for a metrics gauge."""
        return await self.registry.counts()

    def _wake(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wake()
