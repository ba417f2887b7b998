"""``POST /api/v1/archive``, and the 410 answers for what an archive moved out of the live log:
the event stream (by ``after`` or ``Last-Event-ID``), a logged event, a batch, a session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from eventsvc.api import create_app
from eventsvc.client import Conflict, EventsvcClient, Gone, InvalidRequest
from eventsvc.service import Service
from tests.api.test_events import batch, settings_for
from tests.test_executor import settle

pytestmark = pytest.mark.anyio


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    async with Service.open(settings_for(tmp_path)) as opened:
        await opened.enqueue_batch("default", batch("old", 3))
        await settle(opened, ["old"])
        yield opened


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service, token="s3cret"))
    headers = {"Authorization": "Bearer s3cret"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=headers
    ) as opened:
        yield opened


async def test_an_admin_archives_and_reads_below_the_horizon_are_410(
    client: httpx.AsyncClient, service: Service, tmp_path: Path
) -> None:
    head = await service.store.head()
    dry = await client.post("/api/v1/archive", json={"before_position": head + 1, "dry_run": True})
    assert (dry.status_code, dry.json()["dry_run"], dry.json()["events"]) == (200, True, head)
    done = await client.post("/api/v1/archive", json={"before_position": head + 1})
    assert done.status_code == 200, done.text
    result = done.json()
    assert (result["first_position"], result["last_position"], result["horizon"]) == (
        1,
        head,
        head + 1,
    )
    assert result["event_position"] == head + 1
    assert result["bytes_after"] < result["bytes_before"]
    assert Path(result["file"]).parent == tmp_path / "events.db.archive"
    name = Path(result["file"]).name

    answers = [
        await client.get("/api/v1/events", params={"after": 0, "follow": "false"}),
        await client.get("/api/v1/events", headers={"Last-Event-ID": "2"}),
        await client.get("/api/v1/log/3"),
        await client.get("/api/v1/queue/default/b/old/status"),
        await client.get("/api/v1/queue/default/s/old.1"),
        await client.get("/api/v1/queue/default/s/old.1/events"),
        await client.put("/api/v1/queue/default/s/old.1/cancel"),
    ]
    for answer in answers:
        assert answer.status_code == 410, (answer.request.url, answer.text)
        body = answer.json()
        assert body["code"] == "archived"
        assert name in body["message"]
    assert f"the live log starts at position {head + 1}" in answers[0].json()["message"]
    live = await client.get("/api/v1/events", params={"after": head, "follow": "false"})
    assert (live.status_code, "event: log.archived" in live.text) == (200, True)
    assert (await client.get(f"/api/v1/log/{head + 1}")).status_code == 200
    health = (await client.get("/api/v1/health")).json()
    assert (health["head"], health["first_live"]) == (head + 1, head + 1)


async def test_bad_archive_requests_are_422_naming_the_field(
    client: httpx.AsyncClient, service: Service
) -> None:
    head = await service.store.head()
    for body, field in [
        ({"older_than": "a while"}, "older_than"),
        ({"before_position": head + 10}, "before_position"),
        ({}, "before_position"),
        ({"older_than": "1d", "before_position": 3}, "before_position"),
        ({"before_position": 0}, "before_position"),
        ({"before_position": 3, "extra": 1}, "extra"),
    ]:
        answer = await client.post("/api/v1/archive", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert field in [d["field"] for d in answer.json()["details"]], answer.json()


async def test_a_second_archive_meanwhile_is_409(
    client: httpx.AsyncClient, service: Service
) -> None:
    async with service.store.archiving():
        answer = await client.post("/api/v1/archive", json={"older_than": "1s"})
    assert (answer.status_code, answer.json()["code"]) == (409, "conflict")
    assert "already running" in answer.json()["message"]


async def test_the_client_archives_and_raises_gone(service: Service) -> None:
    transport = httpx.ASGITransport(app=create_app(service, token="s3cret"))
    async with EventsvcClient("http://test", token="s3cret", transport=transport) as client:
        head = await service.store.head()
        result = await client.archive(before_position=head + 1)
        assert result.events == head
        with pytest.raises(Gone) as caught:
            await client.batch_status("default", "old")
        assert (caught.value.status, caught.value.code) == (410, "archived")
        with pytest.raises(Gone), anyio.fail_after(10):
            async for _ in client.subscribe(after=0):
                pass
        with pytest.raises(InvalidRequest):
            await client.archive(older_than="soon")
        async with service.store.archiving():
            with pytest.raises(Conflict):
                await client.archive(older_than="1s")
