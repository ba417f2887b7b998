from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    # uvicorn, aiosqlite and asyncpg need asyncio; anyio would otherwise run every test twice.
    return "asyncio"
