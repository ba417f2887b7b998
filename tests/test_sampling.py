from __future__ import annotations

import sys
import threading
from datetime import UTC

import psutil
import pytest

from eventsvc.events import NodeMeasurement
from eventsvc.sampling import StatsContext, _LastReading, resident_size, update_mem_stats


def test_a_context_measures_time_and_process_memory() -> None:
    with StatsContext() as stats:
        buffer = bytearray(20 * 2**20)
    assert stats.wall_seconds is not None
    assert stats.wall_seconds >= 0
    assert stats.started_at.tzinfo is UTC
    assert stats.ended_at is not None
    assert stats.ended_at >= stats.started_at
    assert stats.rss_before > 0
    assert stats.rss_after is not None
    assert stats.rss_after > 0
    assert abs(stats.start_time - stats.started_at.timestamp()) < 1e-3
    assert len(buffer) == 20 * 2**20


def test_the_resident_size_is_the_one_psutil_reads() -> None:
    before = psutil.Process().memory_info().rss
    reading = resident_size()
    after = psutil.Process().memory_info().rss
    # Other threads of the test process may allocate between the three readings.
    assert min(before, after) - 2**20 <= reading <= max(before, after) + 2**20


def test_without_a_cuda_device_there_is_no_accelerator_reading() -> None:
    with StatsContext() as stats:
        pass
    assert (stats.vram_peak, stats.vram_delta) == (None, None)
    assert update_mem_stats()["vram"] is None


def test_without_torch_imported_cuda_is_never_consulted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    with StatsContext() as stats:
        pass
    assert stats.vram_peak is None


def test_nodes_running_side_by_side_are_flagged_overlapped() -> None:
    inside, release = threading.Event(), threading.Event()
    results: dict[str, StatsContext] = {}

    def other_node() -> None:
        with StatsContext() as stats:
            inside.set()
            release.wait(10)
        results["other"] = stats

    thread = threading.Thread(target=other_node)
    thread.start()
    inside.wait(10)
    with StatsContext() as mine:
        release.set()
    thread.join()
    assert mine.overlapped
    assert results["other"].overlapped
    with StatsContext() as alone:
        pass
    assert not alone.overlapped


def test_the_readings_make_a_node_measurement() -> None:
    with StatsContext() as stats:
        pass
    measurement = NodeMeasurement(**stats.as_measurement())
    assert measurement.wall_seconds == stats.wall_seconds
    assert measurement.vram_peak is None


def test_a_node_right_after_another_starts_from_its_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readings = iter(range(1000, 2000))
    monkeypatch.setattr("eventsvc.sampling.resident_size", lambda: next(readings))
    monkeypatch.setattr(_LastReading, "REUSE_SECONDS", 60.0)
    with StatsContext() as first:
        pass
    with StatsContext() as second:
        pass
    assert second.rss_before == first.rss_after
    monkeypatch.setattr(_LastReading, "REUSE_SECONDS", -1.0)  # too long ago: read again
    with StatsContext() as third:
        pass
    assert third.rss_before != second.rss_after


def test_a_node_after_another_thread_measured_reads_again(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter(range(1000, 2000))
    monkeypatch.setattr("eventsvc.sampling.resident_size", lambda: next(readings))
    with StatsContext() as first:
        pass
    other = threading.Thread(target=lambda: StatsContext().__enter__().__exit__(None, None, None))
    other.start()
    other.join()
    with StatsContext() as later:
        pass
    assert later.rss_before != first.rss_after
