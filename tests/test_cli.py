"""The command line as a user runs it: exit codes, progress, the stats table, the artifacts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from eventsvc.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_the_math_example_runs_to_completion(tmp_path: Path) -> None:
    code, out, err = run("run", "--example", "math-grid", "--db", str(tmp_path / "e.db"))
    assert code == 0
    assert "sessions 12/12  failed 0" in err
    assert out.splitlines()[0].split() == ["Node", "Calls", "Seconds", "p95", "VRAM"]
    assert "12 of 12 completed, 0 failed" in out
    code, out, _ = run("stats", "--db", str(tmp_path / "e.db"), "--json")
    assert code == 0
    assert {t["node_type"]: t["calls"] for t in json.loads(out)["node_types"]} == {
        "add": 12,
        "multiply": 12,
        "string_format": 12,
    }


def test_the_iterate_collect_example_runs(tmp_path: Path) -> None:
    code, out, _ = run("run", "--example", "iterate-collect", "--db", str(tmp_path / "e.db"))
    assert code == 0
    assert "3 of 3 completed" in out


def test_a_batch_with_failing_sessions_exits_1(tmp_path: Path) -> None:
    graph = {"nodes": {"d": {"type": "divide", "id": "d", "a": 6}}}
    data = {"data": [[{"node_path": "d", "field_name": "b", "items": [2, 0, 3]}]]}
    (tmp_path / "graph.json").write_text(json.dumps(graph))
    (tmp_path / "data.json").write_text(json.dumps(data))
    code, out, err = run(
        "run",
        str(tmp_path / "graph.json"),
        "--batch",
        str(tmp_path / "data.json"),
        "--db",
        str(tmp_path / "e.db"),
    )
    assert code == 1
    assert "2 of 3 completed, 1 failed" in out
    assert "failed 1" in err


def test_invalid_input_exits_2_with_one_problem_a_line(tmp_path: Path) -> None:
    graph = {"nodes": {"a": {"type": "ad", "id": "a"}, "m": {"type": "multiply", "id": "x"}}}
    (tmp_path / "graph.json").write_text(json.dumps(graph))
    code, _, err = run("run", str(tmp_path / "graph.json"), "--db", str(tmp_path / "e.db"))
    assert code == 2
    assert err.splitlines() == [
        "unknown_node_type: a.type: unknown node type 'ad'; did you mean 'add'?",
        "node_id_mismatch: m.id: node key 'm' differs from its id 'x'",
    ]
    bad_items = {"data": [[{"node_path": "m", "field_name": "a", "items": ["x"]}]]}
    (tmp_path / "graph.json").write_text(
        json.dumps({"nodes": {"m": {"type": "multiply", "id": "m"}}})
    )
    (tmp_path / "data.json").write_text(json.dumps(bad_items))
    code, _, err = run(
        "run",
        str(tmp_path / "graph.json"),
        "--batch",
        str(tmp_path / "data.json"),
        "--db",
        str(tmp_path / "e.db"),
    )
    assert code == 2
    assert err.startswith("invalid_item: m.a: group 0, datum 0: item 0:")
    code, _, err = run("run", str(tmp_path / "missing.json"), "--db", str(tmp_path / "e.db"))
    assert (code, err.strip()) == (2, f"{tmp_path / 'missing.json'}: No such file or directory")


def test_the_seed_grid_writes_twelve_pngs(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    code, out, _ = run("run", "--example", "seed-grid", "--db", str(tmp_path / "e.db"))
    assert code == 0
    assert f"artifacts: {tmp_path / 'artifacts'} (12 images)" in out
    pngs = [p for p in (tmp_path / "artifacts").rglob("*.type") if p.read_text() == "image/png"]
    assert len(pngs) == 12
    assert all(p.with_suffix("").read_bytes().startswith(b"\x89PNG") for p in pngs)


def test_schema_check_passes_on_the_committed_files() -> None:
    assert run("schema", "--check")[0] == 0


def test_events_tail_prints_the_log_as_json_lines(tmp_path: Path) -> None:
    run("run", "--example", "math-grid", "--db", str(tmp_path / "e.db"))
    code, out, _ = run("events", "tail", "--db", str(tmp_path / "e.db"), "--after", "1")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["position"] == 2
    assert [line["position"] for line in lines] == list(range(2, len(lines) + 2))
    assert lines[-1]["tag"] == "session.completed"
    assert lines[0]["data"]["type"] == lines[0]["tag"]


def test_serving_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    code, _, err = run("serve", "--host", "0.0.0.0", "--db", str(tmp_path / "e.db"))
    assert code == 2
    assert "without --token" in err
