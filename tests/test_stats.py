from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eventsvc.stats import NodeRun, percentile, render_table, summarize, to_json

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run(node_type: str, seconds: float, start: float, **extra: object) -> NodeRun:
    return NodeRun(
        session_id=str(extra.pop("session", "b.0")), batch_id="b", node_id=f"{node_type}@{start}",
        node_type=node_type, seconds=seconds, started_at=T0 + timedelta(seconds=start),
        ended_at=T0 + timedelta(seconds=start + seconds), **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_summary_per_node_type_and_in_total() -> None:
    runs = [
        run("add", 0.5, 0, rss_before=1000, rss_after=1500),
        run("add", 1.5, 1, vram_peak=2**30),
        run("noise", 2.0, 3, rss_after=4000, session="b.1"),
    ]
    summary = summarize(runs)
    add, noise = summary.node_types
    assert (add.node_type, add.calls, add.total_seconds, add.mean_seconds) == ("add", 2, 2.0, 1.0)
    assert add.p95_seconds == 1.5
    assert add.max_vram == 2**30
    assert noise.max_vram is None
    assert summary.sessions == 2
    assert summary.execution_seconds == 4.0
    assert summary.wall_seconds == 5.0
    assert (summary.ram_in_use, summary.ram_change) == (4000, 3000)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.95) == 0.0
    assert percentile([1.0], 0.95) == 1.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.5) == 50.0


def test_the_table_shows_unknown_readings_as_dashes() -> None:
    table = render_table(summarize([run("add", 0.25, 0)]))
    lines = table.splitlines()
    assert lines[0].split() == ["Node", "Calls", "Hits", "Misses", "Seconds", "p95", "VRAM"]
    assert lines[1].split() == ["add", "1", "0", "0", "0.250s", "0.250s", "-"]
    assert "TOTAL EXECUTION TIME: 0.250s" in table
    assert "RAM IN USE: - (-)" in table


def test_the_json_form_has_every_figure() -> None:
    data = to_json(summarize([run("add", 0.25, 0, vram_peak=10)]))
    assert data["node_types"][0]["max_vram"] == 10
    assert data["execution_seconds"] == 0.25
    assert summarize([]).wall_seconds is None
