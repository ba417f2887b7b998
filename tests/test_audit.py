"""The audit, as a user runs it: clean logs give an anchor, tampered ones name the position."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

from eventsvc.cli import main


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def filled(tmp_path: Path) -> Path:
    database = tmp_path / "e.db"
    assert run("run", "--example", "math-grid", "--db", str(database))[0] == 0
    return database


def sql(database: Path, statement: str) -> None:
    with sqlite3.connect(database) as conn:
        conn.execute(statement)


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
    plain, _ = run("audit", "--db", str(database))
    assert plain == 0  # a cut tail still chains: only the anchor can tell
    code, out = run("audit", "--db", str(database), "--anchor", anchor)
    assert code == 1
    assert "anchor: position" in out
    assert "before the anchor" in out


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
