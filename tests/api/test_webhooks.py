"""``/api/v1/webhooks`` through the typed client over ASGITransport: add, list, show, retry,
remove; every bad input a 422 naming it, an unknown id a 404, and no answer carrying a secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from eventsvc.api import create_app
from eventsvc.client import AsyncClient, InvalidRequest, NotFound
from eventsvc.config import Settings
from eventsvc.service import Service
from eventsvc.webhooks import WebhookFilter
from tests.webhooks.helpers import SECRET

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    settings = Settings(
        store_url=f"sqlite://{tmp_path}/events.db",
        artifacts_dir=str(tmp_path / "artifacts"),
        webhooks_allow=("hooks.example.com", "127.0.0.1/32"),
    )
    async with Service.open(settings) as service:
        transport = httpx.ASGITransport(app=create_app(service))
        async with AsyncClient("http://test", transport=transport) as opened:
            yield opened


async def test_add_list_show_retry_and_remove(client: AsyncClient) -> None:
    added = await client.add_webhook(
        "http://127.0.0.1:9/hook", SECRET, WebhookFilter(tags=["session.*"]), batch_size=5
    )
    assert added.webhook_id.startswith("wh_")
    assert (added.state, added.batch_size, added.filter.tags) == ("active", 5, ["session.*"])
    assert [w.webhook_id for w in await client.webhooks()] == [added.webhook_id]
    assert (await client.webhook(added.webhook_id)).url == "http://127.0.0.1:9/hook"
    assert (await client.retry_webhook(added.webhook_id)).state == "active"
    await client.remove_webhook(added.webhook_id)
    assert await client.webhooks() == []


async def test_no_answer_carries_the_secret(client: AsyncClient, tmp_path: Path) -> None:
    added = await client.add_webhook("http://127.0.0.1:9/hook", SECRET)
    http = client._http  # the raw answers, not the parsed models
    for path in ("/api/v1/webhooks", f"/api/v1/webhooks/{added.webhook_id}"):
        response = await http.get(path)
        assert SECRET not in response.text
        assert SECRET.removeprefix("whsec_") not in response.text


@pytest.mark.parametrize(
    ("url", "secret", "tags", "field", "says"),
    [
        ("ftp://127.0.0.1/x", SECRET, None, "url", "http or https"),
        ("not a url", SECRET, None, "url", "scheme"),
        ("http://127.0.0.2/hook", SECRET, None, "url", "private or loopback"),
        ("http://10.0.0.1/hook", SECRET, None, "url", "private or loopback"),
        ("http://user:pw@hooks.example.com/", SECRET, None, "url", "credentials"),
        ("http://127.0.0.1/hook", "hunter2", None, "secret", "whsec_"),
        ("http://127.0.0.1/hook", "whsec_!!!", None, "secret", "base64"),
        ("http://127.0.0.1/hook", "whsec_AAAA", None, "secret", "24 to 64 bytes"),
        ("http://127.0.0.1/hook", SECRET, ["sesion.*"], "filter.tags", "matches no event tag"),
    ],
)
async def test_bad_input_is_a_422_naming_it(
    client: AsyncClient, url: str, secret: str, tags: list[str] | None, field: str, says: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        await client.add_webhook(url, secret, WebhookFilter(tags=tags))
    [detail] = raised.value.details
    assert detail.field == field
    assert says in detail.message
    assert secret not in str(raised.value) or secret == SECRET


async def test_an_unknown_webhook_is_a_404(client: AsyncClient) -> None:
    for call in (client.webhook, client.retry_webhook, client.remove_webhook):
        with pytest.raises(NotFound, match="no webhook 'wh_nope'"):
            await call("wh_nope")
