"""The guard of a server on a loopback address without a token: DNS rebinding and CSRF."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from eventsvc.api import create_app
from eventsvc.api.loopback import is_loopback_host
from eventsvc.config import Settings
from eventsvc.service import Service

pytestmark = pytest.mark.anyio

REBUILD = "/api/v1/projections/queue/rebuild"
ENQUEUE = "/api/v1/queue/default/enqueue_batch"
BATCH = {"batch": {"graph": {"nodes": {"a": {"type": "add", "id": "a"}}}}}

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    """Clients of one service's app with the loopback guard, as ``serve`` builds it."""
    settings = Settings(
        store_url=f"sqlite://{tmp_path}/e.db", artifacts_dir=str(tmp_path / "artifacts")
    )
    async with Service.open(settings) as service:

        @asynccontextmanager
        async def connect(
            cors_origins: tuple[str, ...] = (), base_url: str = "http://localhost:9090"
        ) -> AsyncIterator[httpx.AsyncClient]:
            app = create_app(service, cors_origins=cors_origins, loopback_only=True)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
                yield http

        yield connect


def test_loopback_names_with_any_port_are_loopback_hosts() -> None:
    for host in ("localhost", "LOCALHOST:9090", "127.0.0.1", "127.0.0.1:1", "[::1]", "[::1]:80"):
        assert is_loopback_host(host), host
    for host in ("evil.example", "localhost.evil.example", "127.0.0.1.nip.io:9090", "::1",
                 "localhost:", "localhost:90a", "[::1]x", "127.0.0.2", "0.0.0.0:9090"):  # fmt: skip
        assert not is_loopback_host(host), host


async def test_a_foreign_host_is_refused_by_name(client: Client) -> None:
    async with client() as http:
        answer = await http.get("/api/v1/health", headers={"Host": "evil.example:9090"})
        assert answer.status_code == 421
        body = answer.json()
        assert body["code"] == "host_not_allowed"
        assert "'evil.example:9090'" in body["message"]
        assert body["details"] == []
        page = await http.get("/", headers={"Host": "rebound.example"})
        assert page.status_code == 421


@pytest.mark.parametrize(
    "base_url", ["http://localhost:9090", "http://127.0.0.1:9090", "http://[::1]:9090"]
)
async def test_loopback_hosts_are_served(client: Client, base_url: str) -> None:
    async with client(base_url=base_url) as http:
        assert (await http.get("/api/v1/health")).status_code == 200


async def test_a_cross_site_form_post_is_refused(client: Client) -> None:
    form = {
        "Origin": "https://evil.example",
        "Sec-Fetch-Site": "cross-site",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with client() as http:
        answer = await http.post(REBUILD, headers=form, content=b"x=1")
        assert answer.status_code == 403
        assert answer.json()["code"] == "cross_site_request"
        assert "'cross-site'" in answer.json()["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:9090"},  # another origin than the Host the page used
    ],
)
async def test_a_cross_site_state_change_is_refused(
    client: Client, headers: dict[str, str]
) -> None:
    async with client() as http:
        for method, path in (("POST", REBUILD), ("PUT", "/api/v1/queue/default/processor/pause")):
            answer = await http.request(method, path, headers=headers)
            assert answer.status_code == 403, (method, headers)
            assert answer.json()["code"] == "cross_site_request"
            assert answer.json()["details"] == []
        # Reading stays allowed: the browser itself keeps another site from seeing the answer.
        assert (await http.get("/api/v1/health", headers=headers)).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", None],
)
async def test_a_state_change_with_a_body_that_is_not_json_is_refused(
    client: Client, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    async with client() as http:
        answer = await http.post(ENQUEUE, headers=headers, content=b'{"batch": {}}')
        assert answer.status_code == 415
        body = answer.json()
        assert body["code"] == "unsupported_media_type"
        assert "'application/json'" in body["message"]
        assert body["details"] == []


async def test_a_client_that_is_no_browser_keeps_working(client: Client) -> None:
    async with client() as http:
        assert (await http.post(REBUILD)).status_code == 200
        assert (await http.put("/api/v1/queue/default/processor/pause")).status_code == 200
        enqueued = await http.post(ENQUEUE, json=BATCH)
        assert enqueued.status_code == 200


async def test_the_servers_own_pages_may_change_state(client: Client) -> None:
    own = {"Origin": "http://localhost:9090", "Sec-Fetch-Site": "same-origin"}
    async with client() as http:
        assert (await http.post(ENQUEUE, json=BATCH, headers=own)).status_code == 200
        assert (await http.post(REBUILD, headers=own)).status_code == 200


async def test_a_configured_cors_origin_may_change_state(client: Client) -> None:
    ui = {"Origin": "https://ui.example", "Sec-Fetch-Site": "cross-site"}
    async with client(cors_origins=("https://ui.example",)) as http:
        answer = await http.post(REBUILD, headers=ui)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "https://ui.example"
        other = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        assert (await http.post(REBUILD, headers=other)).status_code == 403
