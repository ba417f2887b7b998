"""Make the fixtures of the store formats as this eventsvc writes them (run once per format).

    python tests/data/formats/make.py

- ``store-v1.db``: a SQLite store holding a representative batch run (``eventsvc run
  --example math-grid``) and one event of every other tag, appended to a batch of its own;
- ``store-v1.postgres.sql``: the same rows imported into a PostgreSQL schema
  (``eventsvc_fixture_v1``) by the PostgreSQL store, as ``pg_dump --inserts`` prints it
  (plain SQL: the test loads it without psql); needs ``EVENTSVC_TEST_POSTGRES_DSN``;
- ``events-v1.json``: one stored payload of every event tag, exactly as stored.

Tests open copies of these with today's code (``tests/store/test_formats.py``): the format of
a store, once released, is read forever.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import anyio
import asyncpg

from eventsvc import events as ev
from eventsvc.chain import StoredRow
from eventsvc.events import CODEC
from eventsvc.ids import batch_stream, queue_stream, session_stream
from eventsvc.projections.builtin import open_projected
from eventsvc.store import NO_STREAM

HERE = Path(__file__).parent
SCHEMA = "eventsvc_fixture_v1"


def run_example(db: Path) -> None:
    env = {**os.environ, "EVENTSVC_HOME": str(db.parent)}
    subprocess.run(
        ["eventsvc", "run", "--example", "math-grid", "--db", str(db)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


async def append_every_other_tag(url: str) -> None:
    """One event of each tag a plain run does not write, in an order the projections fold."""
    ids = {"queue_id": "default", "batch_id": "fixture"}
    one, two = "fixture.0", "fixture.1"
    async with open_projected(url) as store:
        await store.append(
            batch_stream("fixture"),
            [
                ev.BatchEnqueued(**ids, graph={"nodes": {}, "edges": []}, session_count=3),
                ev.BatchReprioritized(**ids, priority=5),
            ],
        )
        started = ev.SessionStarted(**ids, session_id=one, worker_id="w1")
        await store.append(session_stream(one), [started], NO_STREAM)
        node = {"node_id": "n", "source_node_id": "n", "node_type": "add", "worker_id": "w2"}
        await store.append(
            session_stream(one),
            [
                ev.SessionResumed(**ids, session_id=one, worker_id="w2", previous_worker_id="w1"),
                ev.InvocationStarted(**ids, session_id=one, **node),
                ev.InvocationFailed(
                    **ids, session_id=one, **node, error_type="ValueError", error_message="no"
                ),
                ev.SessionFailed(
                    **ids, session_id=one, error_type="ValueError", error_message="no"
                ),
                ev.SessionRetried(**ids, session_id=one, attempt=2),
                ev.SessionCanceled(**ids, session_id=one, attempt=2, reason="fixture"),
            ],
        )
        await store.append(
            session_stream(two),
            [
                ev.SessionStarted(**ids, session_id=two, worker_id="w1"),
                ev.GraphInvalid(**ids, session_id=two, problems=[]),
                ev.SessionFailed(**ids, session_id=two, error_type="GraphValidationError",
                                 error_message="invalid"),
            ],
        )  # fmt: skip
        await store.append(batch_stream("fixture"), [ev.BatchCanceled(**ids, reason="fixture")])
        await store.append(
            queue_stream("default"),
            [
                ev.QueuePaused(queue_id="default"),
                ev.QueueResumed(queue_id="default"),
                ev.QueuePruned(queue_id="default"),
            ],
        )


def golden_payloads(db: Path) -> dict[str, dict[str, object]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT tag, schema_version, data FROM events WHERE position IN "
            "(SELECT min(position) FROM events GROUP BY tag) ORDER BY tag"
        ).fetchall()
    found = {tag: {"schema_version": version, "data": data} for tag, version, data in rows}
    missing = set(CODEC.versions) - set(found)
    assert not missing, f"no stored event of tags {sorted(missing)}"
    return found


def stored(db: Path) -> list[StoredRow]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT position, stream, version, event_id, tag, schema_version, recorded_at, "
            "data, metadata, hash FROM events ORDER BY position"
        ).fetchall()
    return [StoredRow(p, s, v, i, t, sv, r, d.encode(), m.encode(), h)
            for p, s, v, i, t, sv, r, d, m, h in rows]  # fmt: skip


async def postgres_dump(dsn: str, rows: list[StoredRow]) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
        async with open_projected(f"{dsn}?search_path={SCHEMA}") as store:
            await store.import_rows(rows)
            await store.wait_for_projections(rows[-1].position)
        dumped = await anyio.run_process(
            ["pg_dump", "--schema", SCHEMA, "--no-owner", "--no-privileges", "--inserts",
             "--dbname", dsn]
        )  # fmt: skip
        dump = dumped.stdout.decode()
        await conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
        return dump
    finally:
        await conn.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store.db"
        run_example(db)
        anyio.run(append_every_other_tag, f"sqlite://{db}")
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
        shutil.copyfile(db, HERE / "store-v1.db")
        payloads = golden_payloads(db)
        (HERE / "events-v1.json").write_text(json.dumps(payloads, indent=1, sort_keys=True) + "\n")
        dsn = os.environ["EVENTSVC_TEST_POSTGRES_DSN"]
        dump = anyio.run(postgres_dump, dsn, stored(db))
        (HERE / "store-v1.postgres.sql").write_text(dump)
    print(f"wrote {sorted(p.name for p in HERE.iterdir())}")


if __name__ == "__main__":
    main()
