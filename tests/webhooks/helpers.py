"""A service with webhook delivery on a test backend, and events to deliver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from eventsvc import events as ev
from eventsvc.config import Settings
from eventsvc.service import Service

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def settings_for(url: str, directory: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "store_url": url,
        "artifacts_dir": str(directory / "artifacts"),
        "webhooks_allow": ("127.0.0.0/8",),
        "webhook_retry_seconds": 0.0,
        "webhook_lease_seconds": 2.0,
    }
    return Settings(**(values | extra))


@asynccontextmanager
async def delivering(settings: Settings) -> AsyncIterator[Service]:
    """The service with its dispatcher running (and no workers)."""
    async with Service.open(settings) as service, anyio.create_task_group() as tg:
        assert service.webhooks.dispatcher is not None
        await tg.start(service.webhooks.dispatcher.run)
        yield service
        tg.cancel_scope.cancel()


async def append_queue_events(service: Service, count: int, queue_id: str = "q") -> list[int]:
    """``count`` events alternating queue.paused and queue.resumed; their positions."""
    positions = []
    for index in range(count):
        event = ev.QueuePaused if index % 2 == 0 else ev.QueueResumed
        result = await service.store.append(f"queue-{queue_id}", [event(queue_id=queue_id)])
        positions.append(result.last_position)
    return positions


async def eventually(service: Service, check: Callable[[], Awaitable[bool]]) -> None:
    """Until ``check`` holds, looked at after each write of the webhooks' registry."""
    with anyio.fail_after(20):
        while True:
            written = service.webhooks.registry.next_write()
            if await check():
                return
            await written.wait()
