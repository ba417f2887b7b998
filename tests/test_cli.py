"""The command line as a user runs it: exit codes, progress, the stats table, the artifacts."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn

from eventsvc.api import create_app
from eventsvc.batches import Batch, BatchDatum
from eventsvc.cli import main
from eventsvc.config import Settings
from eventsvc.graph import parse_graph
from eventsvc.projections.builtin import open_projected
from eventsvc.service import Service
from eventsvc.testing import append_traffic
from tests.cli_process import running


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_the_math_example_runs_to_completion(tmp_path: Path) -> None:
    code, out, err = run("run", "--example", "math-grid", "--db", str(tmp_path / "e.db"))
    assert code == 0
    assert "sessions 12/12  failed 0" in err
    assert out.splitlines()[0].split() == [
        "Node",
        "Calls",
        "Hits",
        "Misses",
        "Seconds",
        "p95",
        "VRAM",
    ]
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
    assert "without a token" in err


# --- events export and import -------------------------------------------------------------


def filled(directory: Path) -> Path:
    database = directory / "e.db"
    assert run("run", "--example", "math-grid", "--db", str(database))[0] == 0
    return database


def stored(database: Path) -> list[tuple[Any, ...]]:
    if not database.exists():
        return []
    with sqlite3.connect(database) as conn:
        return conn.execute("SELECT * FROM events ORDER BY position").fetchall()


def exported(database: Path, path: Path, *argv: str) -> list[dict[str, Any]]:
    code, out, err = run("events", "export", "--db", str(database), *argv)
    assert (code, err) == (0, "")
    path.write_text(out)
    return [json.loads(line) for line in out.splitlines()]


def test_an_export_imports_into_an_empty_store_once(tmp_path: Path) -> None:
    source = filled(tmp_path / "a")
    lines = exported(source, tmp_path / "log.ndjson")
    assert [line["position"] for line in lines] == list(range(1, 98))
    target = tmp_path / "b" / "e.db"
    code, out, _ = run("events", "import", str(tmp_path / "log.ndjson"), "--db", str(target))
    assert code == 0
    assert out.startswith(f"imported 97 of 97 events from {tmp_path / 'log.ndjson'}")
    assert "the log ends at position 97" in out
    assert stored(target) == stored(source)
    audits = [json.loads(run("audit", "--db", str(db), "--json")[1]) for db in (source, target)]
    assert audits[0] == audits[1]
    assert (audits[1]["clean"], audits[1]["anchor"].split(":")[0]) == (True, "97")
    code, out, _ = run("events", "import", str(tmp_path / "log.ndjson"), "--db", str(target))
    assert code == 0
    assert out.startswith("imported 0 of 97 events")
    assert stored(target) == stored(source)
    code, stats, _ = run("stats", "--db", str(target), "--json")
    assert {t["node_type"]: t["calls"] for t in json.loads(stats)["node_types"]} == {
        "add": 12,
        "multiply": 12,
        "string_format": 12,
    }


def test_an_export_after_a_position_cannot_start_an_empty_log(tmp_path: Path) -> None:
    source = filled(tmp_path / "a")
    lines = exported(source, tmp_path / "log.ndjson", "--after", "40")
    assert [line["position"] for line in lines] == list(range(41, 98))
    target = tmp_path / "b" / "e.db"
    code, out, err = run("events", "import", str(tmp_path / "log.ndjson"), "--db", str(target))
    assert (code, out) == (2, "")
    assert "cannot import the event at position 41" in err
    assert "Traceback" not in err
    assert stored(target) == []


def test_a_tampered_line_is_refused_by_position_and_nothing_is_imported(tmp_path: Path) -> None:
    source = filled(tmp_path / "a")
    lines = exported(source, tmp_path / "log.ndjson")
    lines[49]["data"] = lines[49]["data"].replace('"default"', '"forged"')
    assert (
        lines[49]["data"]
        != json.loads(run("events", "export", "--db", str(source))[1].splitlines()[49])["data"]
    )
    (tmp_path / "log.ndjson").write_text("".join(json.dumps(line) + "\n" for line in lines))
    target = tmp_path / "b" / "e.db"
    code, _, err = run("events", "import", str(tmp_path / "log.ndjson"), "--db", str(target))
    assert code == 2
    assert "cannot import the event at position 50" in err
    assert stored(target) == []


def test_a_store_holding_another_log_is_refused_by_position(tmp_path: Path) -> None:
    exported(filled(tmp_path / "a"), tmp_path / "log.ndjson")
    target = filled(tmp_path / "b")
    before = stored(target)
    code, _, err = run("events", "import", str(tmp_path / "log.ndjson"), "--db", str(target))
    assert code == 2
    assert "cannot import the event at position 1" in err
    assert "another event" in err
    assert stored(target) == before


def test_a_malformed_line_is_named_by_its_number(tmp_path: Path) -> None:
    exported(filled(tmp_path / "a"), tmp_path / "log.ndjson")
    text = (tmp_path / "log.ndjson").read_text().splitlines(keepends=True)
    text[2] = '{"position": 3, "stream": \n'
    (tmp_path / "log.ndjson").write_text("".join(text))
    target = tmp_path / "b" / "e.db"
    code, _, err = run("events", "import", str(tmp_path / "log.ndjson"), "--db", str(target))
    assert code == 2
    assert f"{tmp_path / 'log.ndjson'}, line 3: not an exported event" in err
    assert stored(target) == []


def test_importing_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.ndjson"
    code, out, err = run("events", "import", str(missing), "--db", str(tmp_path / "e.db"))
    assert (code, out, err) == (2, "", f"cannot read {missing}: No such file or directory\n")


# --- replay -------------------------------------------------------------------------------


def test_replay_to_a_position_prints_the_queue_and_stats_as_they_were(tmp_path: Path) -> None:
    database = filled(tmp_path)
    db = ("--db", str(database))
    stats_then = json.loads(run("stats", *db, "--json")[1])
    assert run("run", "--example", "math-grid", *db)[0] == 0
    stats_now = json.loads(run("stats", *db, "--json")[1])
    assert stats_now != stats_then
    code, out, err = run("replay", "--to-position", "97", "--json", *db)
    assert (code, err) == (0, "")
    then = json.loads(out)
    assert then["position"] == 97
    assert then["stats"] == stats_then
    [queue] = then["queues"]
    assert (queue["queue_id"], queue["batches"], queue["paused"]) == ("default", 1, False)
    assert queue["counts"] == {
        "uninitialized": 0,
        "in_progress": 0,
        "completed": 12,
        "failed": 0,
        "canceled": 0,
    }
    [batch] = then["batches"]
    assert (batch["session_count"], batch["counts"]["completed"]) == (12, 12)
    now = json.loads(run("replay", "--to-position", "194", "--json", *db)[1])
    assert (now["position"], len(now["batches"]), now["stats"]) == (194, 2, stats_now)
    code, text, _ = run("replay", "--to-position", "97", *db)
    assert code == 0
    assert text.startswith("as of position 97 (")
    assert "queue default: 1 batch(es); uninitialized 0, in_progress 0, completed 12" in text
    # The live projections were left alone.
    assert json.loads(run("stats", *db, "--json")[1]) == stats_now
    code, out, err = run("replay", "--to-position", "195", *db)
    assert (code, out) == (2, "")
    assert err == "eventsvc: position 195 is not in the log (its head is 194)\n"


def test_replay_all_rebuilds_a_store_no_service_holds(tmp_path: Path) -> None:
    database = filled(tmp_path)
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE queue_batches SET n_completed = 0")
        conn.execute("DELETE FROM stats_runs")
    assert run("audit", "--db", str(database))[0] == 1
    code, out, err = run("replay", "--all", "--db", str(database))
    assert (code, err) == (0, "")
    assert "queue" in out
    assert "stats" in out
    assert "up to position 97" in out
    assert run("audit", "--db", str(database))[0] == 0
    code, out, _ = run("replay", "--projection", "stats", "--db", str(database))
    assert code == 0
    assert out.startswith("rebuilt stats from the log up to position 97")


@pytest.mark.anyio
async def test_replay_while_a_service_holds_the_store_points_to_the_url(tmp_path: Path) -> None:
    settings = Settings(
        store_url=f"sqlite://{tmp_path}/e.db", artifacts_dir=str(tmp_path / "artifacts")
    )
    async with Service.open(settings):
        code, out, err = await anyio.to_thread.run_sync(
            run, "replay", "--all", "--db", str(tmp_path / "e.db")
        )
    assert (code, out) == (2, "")
    assert "already open for writing" in err
    assert "--url" in err


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Service, str]]:
    """A service behind a real uvicorn on a free loopback port, with a token."""
    settings = Settings(
        store_url=f"sqlite://{tmp_path}/e.db", artifacts_dir=str(tmp_path / "artifacts")
    )
    async with Service.open(settings) as service:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        app = create_app(service, token="T0ken")
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [listener])
            yield service, f"http://127.0.0.1:{port}"
            server.should_exit = True
        listener.close()


@pytest.mark.anyio
async def test_replay_through_a_running_service(
    served: tuple[Service, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, url = served
    (tmp_path / "token").write_text("T0ken\n")
    graph = parse_graph({"nodes": {"a": {"type": "add", "id": "a"}}})
    data = [[BatchDatum(node_path="a", field_name="a", items=[1, 2, 3])]]
    await service.enqueue_batch("default", Batch(batch_id="b1", graph=graph, data=data))
    await service.cancel_session("b1.1")
    head = await service.store.head()
    assert head == 2
    code, out, err = await anyio.to_thread.run_sync(
        run,
        "replay",
        "--projection",
        "queue",
        "--url",
        url,
        "--token-file",
        str(tmp_path / "token"),
    )
    assert (code, err) == (0, "")
    assert out.startswith("rebuilt queue from the log up to position 2 in ")
    monkeypatch.setenv("EVENTSVC_TOKEN", "T0ken")
    code, out, err = await anyio.to_thread.run_sync(run, "replay", "--all", "--url", url)
    assert err == ""
    assert code == 0
    assert [line.split(" from ")[0] for line in out.splitlines()] == [
        "rebuilt queue",
        "rebuilt stats",
    ]
    status = await service.queue.batch_status("b1")
    assert (status.counts.uninitialized, status.counts.canceled) == (2, 1)


@pytest.mark.anyio
async def test_replay_through_a_service_with_a_wrong_token_is_a_clear_error(
    served: tuple[Service, str],
) -> None:
    _, url = served
    code, out, err = await anyio.to_thread.run_sync(
        run, "replay", "--projection", "queue", "--url", url, "--token", "wrong"
    )
    assert (code, out) == (2, "")
    assert "401" in err
    assert "Traceback" not in err


def test_a_tampered_line_is_refused_by_a_store_already_holding_the_log(tmp_path: Path) -> None:
    source = filled(tmp_path / "a")
    lines = exported(source, tmp_path / "log.ndjson")
    lines[49]["data"] = lines[49]["data"].replace('"default"', '"forged"')
    (tmp_path / "log.ndjson").write_text("".join(json.dumps(line) + "\n" for line in lines))
    before = stored(source)
    code, out, err = run("events", "import", str(tmp_path / "log.ndjson"), "--db", str(source))
    # The file is not this log (its line 50 is not the event stored there), whatever its hashes say.
    assert (code, out) == (2, ""), out
    assert "position 50" in err
    assert stored(source) == before


def test_replay_through_an_unreachable_service_is_a_clear_error() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]  # bound, not listening: connections are refused
    try:
        code, out, err = run("replay", "--all", "--url", f"http://127.0.0.1:{port}")
    finally:
        listener.close()
    assert (code, out) == (2, "")
    assert f"127.0.0.1:{port}" in err


# --- cache --------------------------------------------------------------------------------

CACHE_FIELDS = {"enabled", "entries", "size", "max_entries", "max_bytes", "hits", "misses"}


def cache_json(*argv: str) -> dict[str, Any]:
    code, out, err = run("cache", "--json", *argv)
    assert (code, err) == (0, "")
    status: dict[str, Any] = json.loads(out)
    assert set(status) == CACHE_FIELDS | {"removed"}
    return status


def test_the_cache_command_shows_clears_and_switches_the_cache(tmp_path: Path) -> None:
    db = ("--db", str(tmp_path / "e.db"))
    code, out, err = run("cache", *db)
    assert (code, err) == (0, "")
    assert out == "cache on: 0 of 100000 entries, 0 of 1073741824 bytes; 0 hits, 0 misses\n"
    assert run("run", "--example", "math-grid", *db)[0] == 0
    first = cache_json(*db)
    assert first["removed"] is None
    assert first["enabled"] is True
    assert first["entries"] == first["misses"] > 0  # one worker: each miss kept one entry
    assert first["size"] > 0
    assert run("run", "--example", "math-grid", *db)[0] == 0
    second = cache_json(*db)
    assert second["hits"] == first["hits"] + 12 * 3  # every node of every session hit
    assert (second["misses"], second["entries"], second["size"]) == (
        first["misses"],
        first["entries"],
        first["size"],
    )
    code, out, _ = run("cache", "--clear", *db)
    assert code == 0
    assert out == (
        f"removed {first['entries']} entries\n"
        f"cache on: 0 of 100000 entries, 0 of 1073741824 bytes; "
        f"{second['hits']} hits, {second['misses']} misses\n"
    )
    code, out, _ = run("cache", "--disable", *db)
    assert (code, out.split(":")[0]) == (0, "cache off")
    assert run("run", "--example", "math-grid", *db)[0] == 0
    off = cache_json(*db)
    assert (off["enabled"], off["entries"], off["hits"]) == (False, 0, second["hits"])
    on = cache_json("--enable", *db)
    assert (on["enabled"], on["removed"]) == (True, None)
    assert cache_json("--clear", *db)["removed"] == 0


def test_the_cache_command_takes_one_change_at_a_time(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        run("cache", "--clear", "--disable", "--db", str(tmp_path / "e.db"))
    assert exited.value.code == 2


@pytest.mark.anyio
async def test_the_cache_command_while_a_service_holds_the_store_points_to_the_url(
    tmp_path: Path,
) -> None:
    settings = Settings(
        store_url=f"sqlite://{tmp_path}/e.db", artifacts_dir=str(tmp_path / "artifacts")
    )
    async with Service.open(settings) as service:
        await service.cache.put("k", "add", {"type": "integer_output", "value": 1})
        code, out, err = await anyio.to_thread.run_sync(
            run, "cache", "--clear", "--db", str(tmp_path / "e.db")
        )
        assert (await service.cache.status()).entries == 1
    assert (code, out) == (2, "")
    assert "already open for writing" in err
    assert "--url" in err
    assert "Traceback" not in err


@pytest.mark.anyio
async def test_the_cache_command_through_a_running_service(
    served: tuple[Service, str], tmp_path: Path
) -> None:
    service, url = served
    await service.cache.put("k", "add", {"type": "integer_output", "value": 1})
    (tmp_path / "token").write_text("T0ken")
    remote = ("--url", url, "--token-file", str(tmp_path / "token"))
    status = await anyio.to_thread.run_sync(cache_json, *remote)
    assert (status["entries"], status["enabled"], status["removed"]) == (1, True, None)
    code, out, err = await anyio.to_thread.run_sync(run, "cache", "--clear", *remote)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "removed 1 entries"
    assert (await service.cache.status()).entries == 0
    code, out, _ = await anyio.to_thread.run_sync(run, "cache", "--disable", *remote)
    assert (code, out.split(":")[0]) == (0, "cache off")
    assert not (await service.cache.status()).enabled
    code, out, err = await anyio.to_thread.run_sync(
        run, "cache", "--enable", "--url", url, "--token", "wrong"
    )
    assert (code, out) == (2, "")
    assert "401" in err
    assert not (await service.cache.status()).enabled


@pytest.fixture
def served_configs(monkeypatch: pytest.MonkeyPatch) -> list[uvicorn.Config]:
    """The uvicorn config of each ``serve`` run in this test, which returns at once."""
    served: list[uvicorn.Config] = []

    async def capture(self: uvicorn.Server) -> None:
        served.append(self.config)

    monkeypatch.setattr(uvicorn.Server, "serve", capture)
    monkeypatch.delenv("EVENTSVC_TOKEN", raising=False)
    return served


def middleware(config: uvicorn.Config, cls: type) -> list[Any]:
    """The app's middleware of class ``cls`` (the app runs inside the server's Drain)."""
    return [m for m in config.app.app.user_middleware if m.cls is cls]


def test_serve_passes_its_cors_origins_to_the_app(
    tmp_path: Path, served_configs: list[uvicorn.Config]
) -> None:
    from starlette.middleware.cors import CORSMiddleware

    served = served_configs
    origin = "https://ui.example"
    code, _, _ = run("serve", "--db", str(tmp_path / "e.db"), "--cors-origin", origin)
    assert code == 0
    [cors] = middleware(served[0], CORSMiddleware)
    assert cors.kwargs["allow_origins"] == [origin]


def test_serve_on_loopback_without_a_token_guards_hosts_and_origins(
    tmp_path: Path, served_configs: list[uvicorn.Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventsvc.api.loopback import LoopbackGuard

    assert run("serve", "--db", str(tmp_path / "e.db"))[0] == 0
    monkeypatch.setenv("EVENTSVC_TOKEN", "T0ken")
    assert run("serve", "--db", str(tmp_path / "e.db"))[0] == 0
    guarded = [bool(middleware(config, LoopbackGuard)) for config in served_configs]
    assert guarded == [True, False]


# --- the token ----------------------------------------------------------------------------


def served_token(config: uvicorn.Config) -> str:
    from eventsvc.api.app import BearerToken

    [bearer] = middleware(config, BearerToken)
    token: str = bearer.kwargs["token"]
    return token


def test_serve_takes_its_token_from_a_file_the_environment_or_the_command_line(
    tmp_path: Path, served_configs: list[uvicorn.Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ("--db", str(tmp_path / "e.db"))
    (tmp_path / "token").write_text("from-file\n")
    code, _, err = run("serve", *db, "--token-file", str(tmp_path / "token"))
    assert (code, served_token(served_configs[-1])) == (0, "from-file")
    assert "warning" not in err
    monkeypatch.setenv("EVENTSVC_TOKEN", "from-env")
    code, _, err = run("serve", *db)
    assert (code, served_token(served_configs[-1])) == (0, "from-env")
    assert "warning" not in err
    assert "from-env" not in err
    code, _, err = run("serve", *db, "--token-file", str(tmp_path / "token"))
    assert served_token(served_configs[-1]) == "from-file"
    code, _, err = run("serve", *db, "--token", "from-argv")
    assert (code, served_token(served_configs[-1])) == (0, "from-argv")
    assert "--token is visible to every local user in the process list" in err
    assert "from-argv" not in err


def test_a_token_that_cannot_serve_is_a_clear_error_that_never_shows_it(
    tmp_path: Path, served_configs: list[uvicorn.Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ("--db", str(tmp_path / "e.db"))
    code, _, err = run("serve", *db, "--token-file", str(tmp_path / "missing"))
    assert code == 2
    assert f"cannot read the token file {tmp_path / 'missing'}: No such file" in err
    (tmp_path / "empty").write_text(" \n")
    code, _, err = run("serve", *db, "--token-file", str(tmp_path / "empty"))
    assert code == 2
    assert "is empty; expected the token in it" in err
    (tmp_path / "spaced").write_text("two words\n")
    code, _, err = run("serve", *db, "--token-file", str(tmp_path / "spaced"))
    assert code == 2
    assert "printable ASCII without spaces" in err
    monkeypatch.setenv("EVENTSVC_TOKEN", "caf\u00e9")
    code, _, err = run("serve", *db)
    assert code == 2
    assert "words" not in err
    assert "caf" not in err
    assert served_configs == []


# --- Ctrl-C -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_ctrl_c_ends_events_tail_follow_quietly_with_130(tmp_path: Path) -> None:
    db = str(tmp_path / "e.db")
    code, _, _ = await anyio.to_thread.run_sync(run, "run", "--example", "math-grid", "--db", db)
    assert code == 0
    async with running("events", "tail", "--follow", "--db", db) as command:
        with anyio.fail_after(30):
            await command.wait_for(r'"position": 97', stdout=True)  # caught up, following
            command.process.send_signal(signal.SIGINT)
            code = await command.finish()
    assert code == 130, command.stderr
    assert "Traceback" not in command.stderr


@pytest.mark.anyio
async def test_ctrl_c_ends_run_quietly_with_130(tmp_path: Path) -> None:
    batch = {"graph": {"nodes": {"a": {"type": "add", "id": "a"}}}, "runs": 1_000_000}
    (tmp_path / "batch.json").write_text(json.dumps(batch))
    db = str(tmp_path / "e.db")
    async with running("run", str(tmp_path / "batch.json"), "--db", db) as command:
        with anyio.fail_after(60):
            await command.wait_for(r"sessions 1/1000000")
            command.process.send_signal(signal.SIGINT)
            code = await command.finish()
    assert code == 130, command.stderr
    assert "Traceback" not in command.stderr
    # The store was closed, not abandoned: another writer may open it.
    assert (await anyio.to_thread.run_sync(run, "stats", "--db", db))[0] == 0


# --- in pipes -------------------------------------------------------------------------------


def eventsvc_command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "eventsvc", *argv]


async def traffic(database: Path, events: int) -> None:
    async with open_projected(f"sqlite://{database}") as store:
        await append_traffic(store, events)


def test_a_reader_that_stops_reading_ends_the_command_quietly(tmp_path: Path) -> None:
    database = tmp_path / "e.db"
    anyio.run(traffic, database, 3000)
    for argv in (("events", "export"), ("events", "tail"), ("stats", "--by-type")):
        process = subprocess.Popen(
            [*eventsvc_command(*argv), "--db", str(database)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        process.stdout.readline()  # as `| head -1` does, then the reader is gone
        process.stdout.close()
        _, stderr = process.communicate(timeout=60)
        assert b"Traceback" not in stderr, (argv, stderr.decode())
        assert b"BrokenPipe" not in stderr, argv
        assert process.returncode in (0, 141), (argv, process.returncode)  # 141: 128 + SIGPIPE


def test_without_a_terminal_progress_is_lines_not_redraws(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        finished = subprocess.run(
            eventsvc_command("run", "--example", "math-grid", "--db", str(tmp_path / "e.db")),
            stdout=subprocess.DEVNULL,
            stderr=out,
            timeout=120,
        )
    assert finished.returncode == 0
    text = log.read_text()
    assert "\r" not in text
    progress = [line for line in text.splitlines() if line.startswith("sessions ")]
    assert 1 <= len(progress) <= 12  # the first, then one a tenth of the batch (or a few s)
    assert progress[-1].startswith("sessions 12/12  failed 0")
    assert progress[-1].endswith("(100%)")


# --- archives -----------------------------------------------------------------------------


def test_archive_audit_and_restore_from_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "e.db")
    for _ in range(2):
        assert run("run", "--example", "math-grid", "--db", db)[0] == 0
    head = json.loads(run("audit", "--db", db, "--json")[1])["events"]
    with contextlib.closing(sqlite3.connect(db)) as conn:
        [(batch_id,)] = conn.execute("SELECT batch_id FROM queue_batches LIMIT 1").fetchall()
    assert run("stats", "--batch", batch_id, "--db", db, "--json")[0] == 0

    code, out, _ = run("archive", "--db", db, "--older-than", "1d", "--dry-run")
    assert (code, out.startswith("nothing to archive")) == (0, True)
    code, out, _ = run("archive", "--db", db, "--before-position", str(head + 1), "--dry-run")
    assert (code, out.startswith(f"would archive positions 1 to {head}")) == (0, True)
    code, out, err = run("archive", "--db", db, "--before-position", str(head + 1), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["first_position"], report["last_position"]) == (1, head)
    archived = Path(report["file"])
    assert archived.parent == tmp_path / "e.db.archive"

    # The live log starts after the marker; reading before it is refused by name.
    code, out, err = run("events", "tail", "--db", db)
    assert code == 2
    assert f"the live log starts at position {head + 1}" in err
    assert archived.name in err
    assert "Traceback" not in err
    for what in (["--batch", batch_id], ["--session", f"{batch_id}.0"]):
        code, out, err = run("stats", *what, "--db", db)
        assert (code, f"is archived in {archived.name}" in err) == (2, True), (out, err)
    code, out, _ = run("audit", "--db", db, "--archive", str(archived))
    assert code == 0
    assert f"audit: 1 events and {head} archived, clean" in out

    into = tmp_path / "restored.db"
    code, out, err = run("archive", "restore", archived.name, "--db", db, "--into", str(into))
    assert code == 0, err
    assert f"restored positions 1 to {head}" in out
    code, out, _ = run("replay", "--to-position", str(head), "--db", str(into))
    assert code == 0
    assert "completed 24" in out


def test_bad_archive_input_is_named_without_a_traceback(tmp_path: Path) -> None:
    db = str(tmp_path / "e.db")
    assert run("run", "--example", "math-grid", "--db", db)[0] == 0
    for argv, message in [
        (["--older-than", "soon"], "'soon' is not a duration"),
        (["--before-position", "100000"], "beyond the log's head"),
        ([], "give --older-than DURATION"),
    ]:
        code, _, err = run("archive", "--db", db, *argv)
        assert code == 2, err
        assert message in err
        assert "Traceback" not in err
    code, _, err = run("archive", "restore", "no-such-file.ndjson.gz", "--db", db)
    assert (code, "no archive file no-such-file.ndjson.gz" in err) == (2, True)
