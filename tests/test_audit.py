"""The audit, as a user runs it: clean logs give an anchor, tampered ones name the position."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from eventsvc import events as ev
from eventsvc.audit import audit
from eventsvc.chain import GENESIS, chain_hash
from eventsvc.cli import main
from eventsvc.store import open_store
from eventsvc.store.sqlite import SqliteEventStore
from eventsvc.testing import FakeClock


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def filled(tmp_path: Path) -> Path:
    database = tmp_path / "e.db"
    assert run("run", "--example", "math-grid", "--db", str(database))[0] == 0
    return database


def sql(database: Path, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(statement, params).fetchall()


def test_a_clean_log_gives_its_anchor_and_passes_through_it_later(tmp_path: Path) -> None:
    database = filled(tmp_path)
    code, out = run("audit", "--db", str(database), "--json")
    report = json.loads(out)
    assert (code, report["clean"], report["findings"]) == (0, True, [])
    position, _ = report["anchor"].split(":")
    assert int(position) == report["events"]
    assert run("run", "--example", "math-grid", "--db", str(database))[0] == 0
    code, out = run("audit", "--db", str(database), "--anchor", report["anchor"])
    assert code == 0
    assert "clean; anchor" in out


def test_an_edited_payload_is_found_at_its_position(tmp_path: Path) -> None:
    database = filled(tmp_path)
    sql(
        database, "UPDATE events SET data = replace(data, 'default', 'tampered') WHERE position = 7"
    )
    code, out = run("audit", "--db", str(database))
    assert code == 1
    assert "chain: position 7" in out


def test_a_truncated_tail_is_caught_by_the_anchor(tmp_path: Path) -> None:
    database = filled(tmp_path)
    anchor = json.loads(run("audit", "--db", str(database), "--json")[1])["anchor"]
    sql(database, "DELETE FROM events WHERE position > 40")
    # A cut tail still chains; only the projections' checkpoints, beyond the log now, tell.
    code, plain = findings(database)
    assert code == 1
    assert [(check, position, stream) for check, position, stream, _ in plain] == [
        ("projection", 97, None),
        ("projection", 97, None),
    ]
    for (*_, reason), name in zip(plain, ("queue", "stats"), strict=True):
        assert reason.startswith(f"{name}: checkpoint 97 is beyond the log")
        assert reason.endswith("(40)")
    code, anchored = findings(database, "--anchor", anchor)
    assert code == 1
    assert ("anchor", 97, None, "the log ends at position 40, before the anchor") in anchored
    assert {f[0] for f in anchored} == {"anchor", "projection"}
    code, out = run("audit", "--db", str(database), "--anchor", anchor)
    assert "anchor: position 97: the log ends at position 40, before the anchor" in out


def test_a_version_gap_and_an_undecodable_event_are_named(tmp_path: Path) -> None:
    database = filled(tmp_path)
    sql(database, "UPDATE events SET version = version + 1000 WHERE position = 3")
    sql(database, "UPDATE events SET schema_version = 9 WHERE position = 5")
    code, out = run("audit", "--db", str(database), "--json")
    checks = {(f["check"], f["position"]) for f in json.loads(out)["findings"]}
    assert code == 1
    assert {("versions", 3), ("decode", 5), ("chain", 3)} <= checks


def test_a_malformed_anchor_is_refused() -> None:
    code, out = run("audit", "--db", "/nonexistent.db", "--anchor", "12:abc")
    assert (code, out.strip()) == (2, "an anchor is POSITION:SHA256-HEX, got '12:abc'")


# --- tampering with the log ----------------------------------------------------------------

Found = tuple[str, int, str | None, str]


def findings(database: Path, *argv: str) -> tuple[int, list[Found]]:
    code, out = run("audit", "--db", str(database), "--json", *argv)
    report = json.loads(out)
    assert report["clean"] is (code == 0)
    found = [(f["check"], f["position"], f["stream"], f["reason"]) for f in report["findings"]]
    return code, found


def first_broken(found: list[Found]) -> tuple[int, str]:
    """The one chain finding (audit names only the first break) and its reason."""
    [(position, reason)] = [(f[1], f[3]) for f in found if f[0] == "chain"]
    return position, reason


def stream_at(database: Path, position: int) -> str:
    [(stream,)] = sql(database, "SELECT stream FROM events WHERE position = ?", (position,))
    return str(stream)


def test_an_untouched_store_is_clean(tmp_path: Path) -> None:
    database = filled(tmp_path)
    code, out = run("audit", "--db", str(database))
    assert code == 0
    [(hash_,)] = sql(database, "SELECT hex(hash) FROM events WHERE position = 97")
    assert out == f"audit: 97 events, clean; anchor 97:{hash_.lower()}\n"


@pytest.mark.parametrize(
    ("column", "edit"),
    [
        ("data", "replace(data, '\"attempt\":1', '\"attempt\":2')"),
        ("metadata", '\'{"correlation_id":"forged"}\''),
    ],
)
def test_an_edited_event_breaks_the_chain_at_its_position(
    tmp_path: Path, column: str, edit: str
) -> None:
    database = filled(tmp_path)
    select = f"SELECT {column} FROM events WHERE position = 23"
    before = sql(database, select)
    sql(database, f"UPDATE events SET {column} = {edit} WHERE position = 23")
    assert sql(database, select) != before
    code, found = findings(database)
    assert code == 1
    assert first_broken(found) == (23, "hash does not chain to the previous event")
    assert next(f for f in found if f[0] == "chain")[2] == stream_at(database, 23)
    assert all(f[1] >= 23 for f in found)


def test_a_deleted_row_is_named(tmp_path: Path) -> None:
    database = filled(tmp_path)
    assert stream_at(database, 30) == stream_at(database, 31)
    sql(database, "DELETE FROM events WHERE position = 30")
    code, found = findings(database)
    assert code == 1
    assert first_broken(found) == (31, "expected position 30, found 31")
    [version] = [f for f in found if f[0] == "versions"]
    assert version[1] == 31
    assert all(f[1] >= 30 for f in found)


def test_two_swapped_rows_are_named_at_the_first(tmp_path: Path) -> None:
    database = filled(tmp_path)
    columns = "tag, data, metadata, hash"
    rows = {
        row[0]: row[1:]
        for row in sql(
            database, f"SELECT position, {columns} FROM events WHERE position IN (20, 50)"
        )
    }
    assert rows[20] != rows[50]
    for position, other in ((20, 50), (50, 20)):
        sql(
            database,
            "UPDATE events SET tag = ?, data = ?, metadata = ?, hash = ? WHERE position = ?",
            (*rows[other], position),
        )
    code, found = findings(database)
    assert code == 1
    assert first_broken(found) == (20, "hash does not chain to the previous event")
    assert all(f[1] >= 20 for f in found)


def recompute_chain(database: Path, after: int) -> None:
    """Rewrite every hash after position ``after`` so the chain holds again (a forger's work)."""
    with sqlite3.connect(database) as conn:
        [(previous,)] = conn.execute(
            "SELECT coalesce((SELECT hash FROM events WHERE position = ?), ?)", (after, GENESIS)
        )
        rows = conn.execute(
            "SELECT position, stream, version, event_id, tag, schema_version, recorded_at, "
            "data, metadata FROM events WHERE position > ? ORDER BY position",
            (after,),
        ).fetchall()
        for *fields, data, metadata in rows:
            previous = chain_hash(previous, *fields, data.encode(), metadata.encode())
            conn.execute("UPDATE events SET hash = ? WHERE position = ?", (previous, fields[0]))


def test_a_recomputed_chain_after_an_edit_is_caught_by_the_anchor(tmp_path: Path) -> None:
    database = filled(tmp_path)
    code, out = run("audit", "--db", str(database), "--json")
    anchor = json.loads(out)["anchor"]
    assert (code, anchor.split(":")[0]) == (0, "97")
    assert run("run", "--example", "math-grid", "--db", str(database))[0] == 0
    sql(database, 'UPDATE events SET metadata = \'{"causation_id":"x"}\' WHERE position = 97')
    recompute_chain(database, after=96)
    # Every hash chains again, and metadata is folded into no projection: only the anchor tells.
    assert findings(database) == (0, [])
    code, found = findings(database, "--anchor", anchor)
    assert code == 1
    assert found == [
        (
            "anchor",
            97,
            stream_at(database, 97),
            "the chain no longer passes through the anchor's hash",
        )
    ]


# --- tampering with the projections -------------------------------------------------------


def test_tampered_projection_rows_are_named_by_table_key_and_column(tmp_path: Path) -> None:
    database = filled(tmp_path)
    [(batch_id, completed)] = sql(database, "SELECT batch_id, n_completed FROM queue_batches")
    [(first_run,)] = sql(database, "SELECT min(position) FROM stats_runs")
    sql(database, "UPDATE queue_batches SET n_completed = n_completed + 5")
    sql(database, "DELETE FROM stats_runs WHERE position = ?", (first_run,))
    sql(
        database,
        "INSERT INTO queue_sessions (session_id, batch_id, idx, queue_id, priority, "
        "batch_position, status, attempt, updated_position) "
        "VALUES ('bogus.0', 'bogus', 0, 'default', 0, 1, 'completed', 1, 5)",
    )
    code, found = findings(database)
    assert code == 1
    assert sorted(found) == [
        (
            "projection",
            97,
            None,
            f"queue: queue_batches row batch_id={batch_id!r}: n_completed is {completed + 5}, "
            f"a rebuild gives {completed}",
        ),
        (
            "projection",
            97,
            None,
            "queue: queue_sessions row session_id='bogus.0' is not in a rebuild",
        ),
        (
            "projection",
            97,
            None,
            f"stats: stats_runs row position={first_run} is missing; a rebuild has it",
        ),
    ]


# --- illegal transitions written straight to the store -------------------------------------

IDS: dict[str, Any] = {"queue_id": "default", "batch_id": "b1", "session_id": "b1.0"}
NODE: dict[str, Any] = {"node_id": "n0", "source_node_id": "n0", "node_type": "add"}


def enqueued() -> ev.Event:
    return ev.BatchEnqueued(
        queue_id="default", batch_id="b1", graph={"nodes": {}, "edges": []}, session_count=2
    )


def batch_canceled() -> ev.Event:
    return ev.BatchCanceled(queue_id="default", batch_id="b1")


def started(worker: str = "w1", attempt: int = 1) -> ev.Event:
    return ev.SessionStarted(**IDS, worker_id=worker, attempt=attempt)


def resumed(worker: str) -> ev.Event:
    return ev.SessionResumed(**IDS, worker_id=worker, previous_worker_id="w1")


def node_started(worker: str | None = "w1", attempt: int = 1) -> ev.Event:
    return ev.InvocationStarted(**IDS, **NODE, worker_id=worker, attempt=attempt)


def node_completed(worker: str | None = "w1", attempt: int = 1) -> ev.Event:
    return ev.InvocationCompleted(**IDS, **NODE, worker_id=worker, attempt=attempt, outputs={})


def node_failed(worker: str = "w1") -> ev.Event:
    return ev.InvocationFailed(**IDS, **NODE, worker_id=worker, error_type="E", error_message="m")


def completed(attempt: int = 1) -> ev.Event:
    return ev.SessionCompleted(**IDS, attempt=attempt)


def failed() -> ev.Event:
    return ev.SessionFailed(**IDS, error_type="E", error_message="m")


def canceled() -> ev.Event:
    return ev.SessionCanceled(**IDS, reason="batch canceled")


def retried(attempt: int = 2) -> ev.Event:
    return ev.SessionRetried(**IDS, attempt=attempt)


async def audited(tmp_path: Path, log: list[ev.Event]) -> list[tuple[str, int, str | None, str]]:
    """Append ``log`` one event per append (event i lands at position i + 1), bypassing the
    service, then audit the file read-only."""
    url = f"sqlite://{tmp_path}/e.db"
    async with open_store(url, clock=FakeClock()) as store:
        for event in log:
            stream = "batch-b1" if isinstance(event, ev.BatchEnqueued | ev.BatchCanceled) else ""
            await store.append(stream or "session-b1.0", [event])
    async with open_store(url, read_only=True) as store:
        assert isinstance(store, SqliteEventStore)
        report = await audit(store)
        assert report.events == len(log)
    return [(f.check, f.position, f.stream, f.reason) for f in report.findings]


ILLEGAL = {
    "a second start without a retry": (
        [enqueued(), started("w1"), started("w2")],
        3,
        "session.started while the session is in_progress",
    ),
    "a start after completion without a retry": (
        [enqueued(), started(), completed(), started()],
        4,
        "session.started while the session is completed",
    ),
    "a node event after the session ended": (
        [enqueued(), started(), node_started(), node_completed(), completed(), node_started()],
        6,
        "invocation.started while the session is completed",
    ),
    "a node event before the session started": (
        [enqueued(), node_started()],
        2,
        "invocation.started while the session is uninitialized",
    ),
    "a node event from the worker a resume fenced off": (
        [enqueued(), started("w1"), node_started("w1"), resumed("w2"), node_completed("w1")],
        5,
        "invocation.completed of n0 written by w1, fenced off when the session was handed to w2",
    ),
    "node events in an attempt started after the batch's cancel": (
        [enqueued(), batch_canceled(), started(), node_started()],
        4,
        "invocation.started of n0 in an attempt started after its batch was canceled at position 2",
    ),
    "an attempt started after the batch's cancel that completes": (
        [enqueued(), batch_canceled(), started(), completed()],
        4,
        "session.completed ends an attempt started after its batch was canceled at position 2; "
        "it must end canceled",
    ),
    "a retry of a running session": (
        [enqueued(), started(), retried()],
        3,
        "session.retried while the session is in_progress",
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(ILLEGAL))
async def test_an_illegal_transition_is_named_at_its_position(tmp_path: Path, case: str) -> None:
    log, position, reason = ILLEGAL[case]
    assert await audited(tmp_path, log) == [("lifecycle", position, "session-b1.0", reason)]


LEGAL = {
    "a retry before the restart": [
        enqueued(),
        started("w1"),
        node_started("w1"),
        node_failed("w1"),
        failed(),
        retried(2),
        started("w2", attempt=2),
        node_started("w2", attempt=2),
        node_completed("w2", attempt=2),
        completed(attempt=2),
    ],
    "a retry after the batch's cancel": [
        enqueued(),
        batch_canceled(),
        started(),
        canceled(),
        retried(2),
        started(attempt=2),
        node_started(attempt=2),
        node_completed(attempt=2),
        completed(attempt=2),
    ],
    "an attempt started after the cancel that ends canceled": [
        enqueued(),
        batch_canceled(),
        started(),
        canceled(),
    ],
    "a running session whose batch is canceled": [
        enqueued(),
        started(),
        node_started(),
        batch_canceled(),
        node_completed(),
        canceled(),
    ],
    "the resuming worker carries on": [
        enqueued(),
        started("w1"),
        node_started("w1"),
        resumed("w2"),
        node_started("w2"),
        node_completed("w2"),
        completed(),
    ],
    "node events of an older log, without a worker": [
        enqueued(),
        started("w1"),
        resumed("w2"),
        node_started(None),
        node_completed(None),
        completed(),
    ],
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(LEGAL))
async def test_a_legal_sequence_has_no_finding(tmp_path: Path, case: str) -> None:
    assert await audited(tmp_path, LEGAL[case]) == []


def test_an_anchor_whose_event_was_deleted_is_named(tmp_path: Path) -> None:
    database = filled(tmp_path)
    anchor = json.loads(run("audit", "--db", str(database), "--json")[1])["anchor"]
    assert run("run", "--example", "math-grid", "--db", str(database))[0] == 0
    sql(database, "DELETE FROM events WHERE position = 97")
    code, found = findings(database, "--anchor", anchor)
    assert code == 1
    assert first_broken(found) == (98, "expected position 97, found 98")
    [(_, position, _, reason)] = [f for f in found if f[0] == "anchor"]
    assert position == 97
    # The log goes on to position 194: the anchor's event is missing, not beyond the end.
    assert "before the anchor" not in reason, reason


def test_a_dropped_projection_table_is_a_finding(tmp_path: Path) -> None:
    database = filled(tmp_path)
    sql(database, "DROP TABLE stats_runs")
    code, out = run("audit", "--db", str(database), "--json")
    assert code == 1, out  # findings, not "the store cannot be opened" (2)
    report = json.loads(out)
    [(check, position, reason)] = [
        (f["check"], f["position"], f["reason"]) for f in report["findings"]
    ]
    assert (check, position) == ("projection", 97)
    assert "stats_runs" in reason


def test_projections_made_by_another_version_are_named_until_rebuilt(tmp_path: Path) -> None:
    database = filled(tmp_path)
    # As an older eventsvc left them: another schema recorded for the stats tables.
    sql(database, "UPDATE projection_schemas SET digest = 'older' WHERE name = 'stats'")
    code, found = findings(database)
    assert code == 1
    [(check, position, _, reason)] = found
    assert (check, position) == ("projection", 97)
    assert reason.startswith("stats: its tables were made by another version of eventsvc")
    assert reason.endswith("or run `eventsvc replay --projection stats`")
    assert run("replay", "--projection", "stats", "--db", str(database))[0] == 0
    assert findings(database) == (0, [])


def test_an_edited_event_id_is_a_finding(tmp_path: Path) -> None:
    database = filled(tmp_path)
    sql(database, "UPDATE events SET event_id = 'not-a-uuid' WHERE position = 5")
    code, found = findings(database)
    assert code == 1
    assert first_broken(found) == (5, "hash does not chain to the previous event")
    assert all(f[1] == 5 for f in found), found


@pytest.mark.anyio
async def test_a_batch_enqueued_twice_is_named_at_the_second_enqueue(tmp_path: Path) -> None:
    findings = await audited(tmp_path, [enqueued(), enqueued()])
    assert findings == [("lifecycle", 2, "batch-b1", "batch 'b1' enqueued again")]


# --- values no backend can fold -------------------------------------------------------------


def test_an_event_no_projection_can_fold_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    database = filled(tmp_path)
    [(batch_id,)] = sql(database, "SELECT batch_id FROM queue_batches")
    position = int(sql(database, "SELECT max(position) FROM events")[0][0]) + 1
    stream = f"batch-{batch_id}"
    # A forger (or an older eventsvc) wrote what the log no longer accepts, and chained it.
    event = ev.BatchReprioritized(queue_id="default", batch_id=batch_id, priority=5)
    data = ev.CODEC.encode(event).decode().replace('"priority":5', f'"priority":{2**63}')
    [(version,)] = sql(database, "SELECT max(version) FROM events WHERE stream = ?", (stream,))
    sql(
        database,
        "INSERT INTO events (position, stream, version, event_id, tag, schema_version, "
        "recorded_at, data, metadata, hash) VALUES (?, ?, ?, ?, 'batch.reprioritized', 1, "
        "(SELECT max(recorded_at) FROM events), ?, '{}', x'00')",
        (position, stream, version + 1, "00000000-0000-4000-8000-000000000001", data),
    )
    recompute_chain(database, after=position - 1)

    code, found = findings(database)
    assert code == 1
    assert [(check, at) for check, at, _, _ in found] == [
        ("bounds", position),
        ("projection", position),
    ]
    assert "priority: integer 9223372036854775808 is outside the 64-bit range" in found[0][3]
    assert found[1][3].startswith("queue: cannot fold this 'batch.reprioritized' event")


def test_a_nul_in_a_stored_text_is_a_finding(tmp_path: Path) -> None:
    database = filled(tmp_path)
    [(position, data)] = sql(
        database, "SELECT position, data FROM events WHERE tag = 'batch.enqueued'"
    )
    sql(
        database,
        "UPDATE events SET data = ? WHERE position = ?",
        (data.replace('"origin":null', '"origin":"a\\u0000b"'), position),
    )
    recompute_chain(database, after=position - 1)
    code, found = findings(database)
    assert code == 1
    assert ("bounds", position) in [(check, at) for check, at, _, _ in found]
    [reason] = [reason for check, _, _, reason in found if check == "bounds"]
    assert reason == "origin: text holds a NUL character at index 1"


@pytest.mark.parametrize("spacing", ["", "\n"], ids=["compact", "raw-newline"])
def test_a_value_nested_too_deep_is_a_finding(tmp_path: Path, spacing: str) -> None:
    # A payload with a raw newline of its own is sieved row by row, not with the page.
    database = filled(tmp_path)
    [(position, data)] = sql(
        database,
        "SELECT position, data FROM events WHERE tag = 'invocation.completed' "
        "ORDER BY position LIMIT 1",
    )
    nested = "[" * 70 + "0" + "]" * 70
    edited = data.replace('"outputs":{', f'"outputs":{spacing}{{"deep":{nested},', 1)
    assert edited != data
    sql(database, "UPDATE events SET data = ? WHERE position = ?", (edited, position))
    recompute_chain(database, after=position - 1)
    code, found = findings(database)
    assert code == 1
    assert [(check, at) for check, at, _, _ in found if check == "bounds"] == [("bounds", position)]
    assert "nested more than 64 levels deep" in found[0][3]
