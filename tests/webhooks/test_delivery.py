"""Delivery to a real receiver on a loopback port, on every backend: nothing skipped, order
kept, retries, failing and retry, signatures, filters, and no receiver holding up another."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from eventsvc.service import Service
from eventsvc.webhooks import WebhookFilter
from tests.backends import Backend
from tests.webhook_receiver import Request, receiving
from tests.webhooks.helpers import (
    SECRET,
    append_queue_events,
    delivering,
    eventually,
    settings_for,
)
from tests.webhooks.verify import VerificationError, verify

pytestmark = pytest.mark.anyio


async def refusing_first_three_and_slow_on_some(index: int, request: Request) -> int:
    if index % 7 == 3:
        await anyio.sleep(0.05)  # a slow answer (what is measured is order, not time)
    return 503 if index < 3 else 200


async def test_every_event_arrives_in_order_signed_though_refused_and_slow(
    backend: Backend, tmp_path: Path
) -> None:
    settings = settings_for(backend.url, tmp_path)
    async with (
        receiving(refusing_first_three_and_slow_on_some) as receiver,
        delivering(settings) as service,
    ):
        webhook = await service.webhooks.add(receiver.url, SECRET)
        positions = await append_queue_events(service, 30)
        with anyio.fail_after(30):
            await receiver.wait_for(30)
        await eventually(
            service, lambda: _checkpoint_is(service, webhook.webhook_id, positions[-1])
        )
        shown = await service.webhooks.get(webhook.webhook_id)
    assert [r.json["position"] for r in receiver.accepted] == positions
    assert len(receiver.requests) == 33  # the three refused went again, with the same id
    assert [r.headers["webhook-id"] for r in receiver.requests[:3]] == [
        receiver.requests[3].headers["webhook-id"]
    ] * 3
    assert [r.headers["webhook-id"] for r in receiver.accepted] == [
        r.json["id"] for r in receiver.accepted
    ]
    for request in receiver.requests:
        verify(SECRET, request.headers, request.body, now=int(time.time()))
    assert (shown.state, shown.failures, shown.delivered) == ("active", 0, 30)


async def test_a_tampered_body_or_stale_timestamp_fails_verification(
    backend: Backend, tmp_path: Path
) -> None:
    async with receiving() as receiver, delivering(settings_for(backend.url, tmp_path)) as service:
        await service.webhooks.add(receiver.url, SECRET)
        await append_queue_events(service, 1)
        with anyio.fail_after(30):
            await receiver.wait_for(1)
    [request] = receiver.accepted
    with pytest.raises(VerificationError):
        verify(SECRET, request.headers, request.body + b" ", now=int(time.time()))
    with pytest.raises(VerificationError):
        verify(SECRET, request.headers, request.body, now=int(time.time()) + 3600)
    other = "whsec_" + "A" * 32
    with pytest.raises(VerificationError):
        verify(other, request.headers, request.body, now=int(time.time()))


async def test_filters_select_events_and_the_checkpoint_moves_past_the_rest(
    backend: Backend, tmp_path: Path
) -> None:
    settings = settings_for(backend.url, tmp_path)
    async with (
        receiving() as tags,
        receiving() as queue,
        receiving() as batched,
        delivering(settings) as service,
    ):
        await service.webhooks.add(tags.url, SECRET, WebhookFilter(tags=["queue.res*"]))
        only_b = await service.webhooks.add(queue.url, SECRET, WebhookFilter(queue_id="b"))
        await service.webhooks.add(batched.url, SECRET, batch_size=4)
        a = await append_queue_events(service, 6, queue_id="a")
        b = await append_queue_events(service, 2, queue_id="b")
        more_a = await append_queue_events(service, 2, queue_id="a")
        with anyio.fail_after(30):
            await tags.wait_for(5)
            await queue.wait_for(2)
            await batched.wait_until(lambda: _delivered(batched.accepted) == 10)
        await eventually(service, lambda: _checkpoint_is(service, only_b.webhook_id, more_a[-1]))
    assert [r.json["type"] for r in tags.accepted] == ["queue.resumed"] * 5
    assert [r.json["position"] for r in queue.accepted] == b
    events = [e for r in batched.accepted for e in r.json["events"]]
    assert [e["position"] for e in events] == a + b + more_a
    assert all(len(r.json["events"]) <= 4 for r in batched.accepted)


async def test_a_webhook_is_failing_after_its_failures_and_a_retry_resumes_it(
    backend: Backend, tmp_path: Path
) -> None:
    refusing = True

    async def answer(index: int, request: Request) -> int:
        return 500 if refusing else 200

    settings = settings_for(backend.url, tmp_path, webhook_max_failures=3)
    async with receiving(answer) as receiver, delivering(settings) as service:
        webhook = await service.webhooks.add(receiver.url, SECRET)
        positions = await append_queue_events(service, 3)
        await eventually(service, lambda: _state_is(service, webhook.webhook_id, "failing"))
        failing = await service.webhooks.get(webhook.webhook_id)
        assert len(receiver.requests) == 3
        assert (await service.webhooks.counts()).failing == 1
        refusing = False
        await service.webhooks.retry(webhook.webhook_id)
        with anyio.fail_after(30):
            await receiver.wait_for(3)
        await eventually(
            service, lambda: _checkpoint_is(service, webhook.webhook_id, positions[-1])
        )
        counts = await service.webhooks.counts()
    assert failing.failures == 3
    assert failing.last_error == "the receiver answered 500"
    assert failing.checkpoint < positions[0]
    assert [r.json["position"] for r in receiver.accepted] == positions
    assert (counts.active, counts.failing, counts.delivered) == (1, 0, 3)


async def test_a_blocked_receiver_holds_up_neither_appends_nor_other_webhooks(
    backend: Backend, tmp_path: Path
) -> None:
    release = anyio.Event()

    async def blocked(index: int, request: Request) -> int:
        await release.wait()
        return 200

    settings = settings_for(backend.url, tmp_path)
    async with (
        receiving(blocked) as slow,
        receiving() as fast,
        delivering(settings) as service,
    ):
        await service.webhooks.add(slow.url, SECRET)
        await service.webhooks.add(fast.url, SECRET)
        positions = await append_queue_events(service, 40)
        with anyio.fail_after(30):
            await fast.wait_for(40)
        assert len(slow.requests) == 1
        assert not slow.accepted
        release.set()
        with anyio.fail_after(30):
            await slow.wait_for(40)
    assert [r.json["position"] for r in slow.accepted] == positions


async def _checkpoint_is(service: Service, webhook_id: str, position: int) -> bool:
    return (await service.webhooks.get(webhook_id)).checkpoint >= position


async def _state_is(service: Service, webhook_id: str, state: str) -> bool:
    return (await service.webhooks.get(webhook_id)).state == state


def _delivered(requests: list[Request]) -> int:
    return sum(len(r.json["events"]) for r in requests)
