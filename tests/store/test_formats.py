"""Stores made by an earlier eventsvc open with this one, and every stored payload decodes.

The fixtures under ``tests/data/formats/`` were written by the release that first had each
format (``tests/data/formats/make.py`` made them): a SQLite file, a PostgreSQL schema as plain
SQL, and one stored payload of every event tag. They are never regenerated: what they prove
is that what was once stored is read forever.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import asyncpg
import pytest

from eventsvc.audit import audit
from eventsvc.events import CODEC
from eventsvc.projections.builtin import ProjectedStore, open_projected
from eventsvc.store import migrations
from tests.backends import PostgresBackend, blocking

FORMATS = Path(__file__).parent.parent / "data" / "formats"
# One stored payload of every tag of version 1, and of each tag added since (a file each).
V1 = json.loads((FORMATS / "events-v1.json").read_text())
GOLDEN = {
    tag: payload
    for path in sorted(FORMATS.glob("events-*.json"))
    for tag, payload in json.loads(path.read_text()).items()
}
DUMPED_SCHEMA = "eventsvc_fixture_v1"

pytestmark = pytest.mark.anyio


def test_every_tag_has_a_golden_payload() -> None:
    assert set(GOLDEN) == set(CODEC.versions)


@pytest.mark.parametrize("tag", sorted(GOLDEN))
def test_a_golden_payload_decodes_to_its_tag(tag: str) -> None:
    stored = GOLDEN[tag]
    event = CODEC.decode(tag, stored["schema_version"], stored["data"])
    assert type(event).__struct_config__.tag == tag


async def read_everything(store: ProjectedStore) -> int:
    """Every event decoded, and a clean audit (the projections equal a rebuild)."""
    events = await store.read_all(limit=100_000)
    assert [e.position for e in events] == list(range(1, len(events) + 1))
    assert {e.tag for e in events} == set(V1)
    report = await audit(store)
    assert report.clean, report.findings
    assert report.events == len(events)
    return len(events)


async def test_the_sqlite_store_of_version_1_opens_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    shutil.copyfile(FORMATS / "store-v1.db", path)
    async with open_projected(f"sqlite://{path}") as store:
        count = await read_everything(store)
        batches = await store.query("SELECT count(*) FROM queue_batches")
        version = await store.query("SELECT version FROM eventsvc_schema")
    assert count > 100
    assert batches[0][0] == 2
    assert version == [(migrations.current(),)]


def load_dump(backend: PostgresBackend) -> None:
    """The dumped schema loaded into this test's schema (the dump names its own)."""
    lines = (FORMATS / "store-v1.postgres.sql").read_text().splitlines()
    # psql meta-commands (pg_dump's \restrict guard) are for psql alone.
    script = "\n".join(line for line in lines if not line.startswith("\\"))
    script = script.replace(f"CREATE SCHEMA {DUMPED_SCHEMA};", "")
    script = script.replace(f"{DUMPED_SCHEMA}.", f"{backend.schema}.")

    async def run() -> None:
        conn = await asyncpg.connect(backend.dsn)
        try:
            await conn.execute(script)
        finally:
            await conn.close()

    blocking(run)


async def test_the_postgres_store_of_version_1_opens_and_reads_back(
    postgres_backend: PostgresBackend,
) -> None:
    load_dump(postgres_backend)
    async with open_projected(postgres_backend.url) as store:
        await store.wait_for_projections(await store.head())
        count = await read_everything(store)
        version = await store.query("SELECT version FROM eventsvc_schema")
    assert count > 100
    assert version == [(migrations.current(),)]
