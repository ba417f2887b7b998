"""The dashboard's files at ``/`` and ``/web/``: only what the package holds, no token needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from eventsvc.api import create_app
from eventsvc.api.web import web_files
from eventsvc.config import Settings
from eventsvc.service import Service

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(store_url=f"sqlite://{tmp_path}/events.db")
    async with Service.open(settings) as service:
        transport = httpx.ASGITransport(app=create_app(service, token="secret"))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as opened:
            yield opened


async def test_the_page_and_its_modules_are_served_without_the_token(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    module = await client.get("/web/app.js")
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    assert (await client.get("/api/v1/health")).status_code == 401


async def test_nothing_outside_the_package_is_served(client: httpx.AsyncClient) -> None:
    for path in ("/web/..%2fapi%2fapp.py", "/web/%2e%2e/__init__.py", "/web/missing.js"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


def test_every_module_the_page_imports_is_in_the_package() -> None:
    files = web_files()
    assert {"index.html", "app.js", "api.js", "style.css"} <= set(files)
    assert any(name.startswith("vendor/") and name.endswith("LICENSE.txt") for name in files)
