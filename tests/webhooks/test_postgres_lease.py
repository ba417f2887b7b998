"""On PostgreSQL, services sharing a store deliver each webhook from one of them at a time,
under its lease; when the holder stops, another takes over from the checkpoint. Every event
arrives once, in order, whichever delivers it."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from eventsvc.service import Service
from tests.backends import PostgresBackend
from tests.webhook_receiver import receiving
from tests.webhooks.helpers import SECRET, append_queue_events, settings_for

pytestmark = pytest.mark.anyio


async def test_one_service_delivers_at_a_time_and_another_takes_over(
    postgres_backend: PostgresBackend, tmp_path: Path
) -> None:
    settings = settings_for(postgres_backend.url, tmp_path)
    async with (
        receiving() as receiver,
        Service.open(settings) as one,
        Service.open(settings) as two,
        anyio.create_task_group() as tg,
    ):
        services = [one, two]
        scopes = [anyio.CancelScope(), anyio.CancelScope()]
        for service, scope in zip(services, scopes, strict=True):
            tg.start_soon(_dispatch, service, scope)
        webhook = await services[0].webhooks.add(receiver.url, SECRET)
        positions = await append_queue_events(services[0], 20)
        with anyio.fail_after(30):
            await receiver.wait_for(20)
        [(holder,)] = await postgres_backend.fetch(
            "SELECT holder FROM webhook_checkpoints WHERE webhook_id = $1", webhook.webhook_id
        )
        holders = [s.webhooks.dispatcher._holder for s in services]  # type: ignore[union-attr]
        held_by = holders.index(holder)
        scopes[held_by].cancel()  # the holder stops; the other must take over
        other = services[1 - held_by]
        positions += await append_queue_events(other, 20)
        with anyio.fail_after(30):
            await receiver.wait_for(40)
        [(holder,)] = await postgres_backend.fetch(
            "SELECT holder FROM webhook_checkpoints WHERE webhook_id = $1", webhook.webhook_id
        )
        tg.cancel_scope.cancel()
    assert holder == holders[1 - held_by]
    assert [r.json["position"] for r in receiver.requests] == positions


async def _dispatch(service: Service, scope: anyio.CancelScope) -> None:
    assert service.webhooks.dispatcher is not None
    with scope:
        await service.webhooks.dispatcher.run()
