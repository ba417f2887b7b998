"""A ``kill -9`` of ``eventsvc serve`` mid-delivery: the next service repeats only the
request that was in flight, with the same ``webhook-id``, and skips nothing."""

from __future__ import annotations

import collections
import itertools
from pathlib import Path

import anyio
import pytest

from eventsvc.service import Service
from tests.cli_process import serving
from tests.webhook_receiver import Request, receiving
from tests.webhooks.helpers import SECRET, append_queue_events, settings_for

pytestmark = pytest.mark.anyio

EVENTS = 20
BLOCKED = 9  # the request in flight at the kill: event 7 (after event 0 was refused twice)


async def test_a_killed_service_repeats_only_the_request_in_flight(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite://{tmp_path}/events.db", tmp_path)
    async with Service.open(settings) as service:
        positions = await append_queue_events(service, EVENTS)
        event_ids = [str(r.event_id) for r in await service.store.read_all(0, EVENTS)]
    release = anyio.Event()

    async def answer(index: int, request: Request) -> int:
        if index == BLOCKED:
            await release.wait()  # never answered: the sender is killed first
        if index % 4 == 1:
            await anyio.sleep(0.02)  # a slow answer
        return 503 if index < 2 else 200

    env = {
        "EVENTSVC_WEBHOOKS_ALLOW": "127.0.0.0/8",
        "EVENTSVC_WEBHOOK_RETRY_SECONDS": "0",
        "EVENTSVC_WEBHOOK_LEASE_SECONDS": "0.5",
    }
    async with receiving(answer) as receiver:
        async with Service.open(settings) as service:
            await service.webhooks.add(receiver.url, SECRET, after=0)
        async with serving("--store", settings.store_url, env=env) as (command, _):
            with anyio.fail_after(60):
                await receiver.wait_until(lambda: len(receiver.requests) > BLOCKED)
            command.process.kill()
            await command.process.wait()
        release.set()
        async with serving("--store", settings.store_url, env=env):
            with anyio.fail_after(60):
                await receiver.wait_until(
                    lambda: (
                        bool(receiver.accepted)
                        and receiver.accepted[-1].headers["webhook-id"] == event_ids[-1]
                    )
                )
    sent = [r.headers["webhook-id"] for r in receiver.requests]
    assert [key for key, _ in itertools.groupby(sent)] == event_ids  # in order, none skipped
    repeated = {key: n for key, n in collections.Counter(sent).items() if n > 1}
    assert repeated == {event_ids[0]: 3, event_ids[7]: 2}  # refused twice; in flight at kill
    assert [
        r.json["position"] for r in receiver.requests if r.headers["webhook-id"] == event_ids[7]
    ] == [positions[7]] * 2
