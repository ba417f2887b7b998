"""``POST /api/v1/archive``, and the 410 answers for what an archive moved out of the live log:
the event stream (by ``after`` or ``Last-Event-ID``), a logged event, a batch, a session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from eventsvc.api import create_app
from eventsvc.archive import ArchiveRequest
from eventsvc.client import Conflict, EventsvcClient, Gone, InvalidRequest
from eventsvc.service import Service
from eventsvc.store import archives
from eventsvc.testing import FakeClock
from tests.api.test_events import batch, parse, settings_for
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
        assert body["archived"] == {"first_live_position": head + 1, "files": [name]}
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
        assert (caught.value.first_live_position, len(caught.value.files)) == (head + 1, 1)
        with pytest.raises(Gone):
            await client.session_stats("old.0")
        with pytest.raises(Gone), anyio.fail_after(10):
            async for _ in client.subscribe(after=0):
                pass
        with pytest.raises(InvalidRequest):
            await client.archive(older_than="soon")
        async with service.store.archiving():
            with pytest.raises(Conflict):
                await client.archive(older_than="1s")


async def test_an_archive_by_age_moves_what_is_older_and_keeps_the_rest(tmp_path: Path) -> None:
    clock = FakeClock()
    async with Service.open(settings_for(tmp_path), clock=clock) as service:
        await service.enqueue_batch("default", batch("old", 2))
        await settle(service, ["old"])
        clock.advance(2 * 86_400)
        await service.enqueue_batch("default", batch("new", 2))
        await settle(service, ["new"])
        transport = httpx.ASGITransport(app=create_app(service, token="s3cret"))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"Authorization": "Bearer s3cret"}
        ) as client:
            nothing = await client.post("/api/v1/archive", json={"older_than": "3d"})
            assert nothing.status_code == 200, nothing.text
            assert (nothing.json()["events"], nothing.json()["file"]) == (0, None)
            done = await client.post("/api/v1/archive", json={"older_than": "1d"})
            assert done.status_code == 200, done.text
            result = done.json()
            assert result["events"] > 0
            assert result["held_back"] == ""
            old = await client.get("/api/v1/queue/default/b/old/status")
            new = await client.get("/api/v1/queue/default/b/new/status")
            assert (old.status_code, new.status_code) == (410, 200)
            assert new.json()["counts"]["completed"] == 2
            late = await client.post(
                "/api/v1/archive", json={"before_position": result["first_position"]}
            )
            assert late.status_code == 422
            assert "archived already" in late.json()["details"][0]["message"]


async def test_stats_of_an_archived_session_or_batch_are_410_not_empty(
    client: httpx.AsyncClient, service: Service
) -> None:
    live = await client.get("/api/v1/stats/sessions/old.1")
    assert live.status_code == 200, live.text
    assert live.json()["node_types"]
    await service.archive(ArchiveRequest(before_position=await service.store.head() + 1))
    for path in ("/api/v1/stats/sessions/old.1", "/api/v1/stats/batches/old"):
        answer = await client.get(path)
        assert (answer.status_code, answer.json()["code"]) == (410, "archived"), answer.text
        assert "archive-000000000001-" in answer.json()["message"]
    never = await client.get("/api/v1/stats/sessions/never.0")
    assert never.status_code == 200


async def test_the_event_stream_resumes_from_the_first_live_position(
    client: httpx.AsyncClient, service: Service
) -> None:
    head = await service.store.head()
    await service.archive(ArchiveRequest(before_position=head + 1))
    gone = await client.get("/api/v1/events", params={"after": head - 1, "follow": "false"})
    assert gone.status_code == 410
    assert gone.headers["content-type"].startswith("application/json")
    assert f"position {head} is archived" in gone.json()["message"]
    assert f"the live log starts at position {head + 1}" in gone.json()["message"]
    first_live = (await client.get("/api/v1/health")).json()["first_live"]
    resumed = await client.get(
        "/api/v1/events", params={"follow": "false"}, headers={"Last-Event-ID": str(first_live - 1)}
    )
    assert resumed.status_code == 200
    assert [f["id"] for f in parse(resumed.text) if "id" in f][:1] == [str(first_live)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"before_position": "3"}, "before_position"),
        ({"before_position": 2.5}, "before_position"),
        ({"before_position": -1}, "before_position"),
        ({"before_position": 2**53}, "before_position"),
        ({"older_than": 30}, "older_than"),
        ({"older_than": ""}, "older_than"),
        ({"older_than": "-1d"}, "older_than"),
        ({"older_than": "1d" * 30}, "older_than"),
        ({"older_than": None, "before_position": None}, "before_position"),
        ({"before_position": 3, "dry_run": "yes"}, "dry_run"),
        ([], None),
        ("3", None),
    ],
)
async def test_every_bad_archive_body_is_422_naming_what_is_wrong(
    client: httpx.AsyncClient, body: object, field: str | None
) -> None:
    answer = await client.post("/api/v1/archive", json=body)
    assert answer.status_code == 422, (body, answer.text)
    details = answer.json()["details"]
    assert details, answer.json()
    assert all(d["message"] for d in details), answer.json()
    if field is not None:
        assert field in [d["field"] for d in details], answer.json()


async def test_an_archive_body_that_is_not_json_is_a_4xx_saying_so(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post(
        "/api/v1/archive", content=b"{before_position", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code in (400, 422), answer.text
    assert "JSON" in answer.text


async def test_archiving_needs_the_token(service: Service) -> None:
    transport = httpx.ASGITransport(app=create_app(service, token="s3cret"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
        answer = await anonymous.post("/api/v1/archive", json={"older_than": "0s"})
    assert answer.status_code == 401
    assert await archives.markers(service.store) == []
