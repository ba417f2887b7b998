"""Measuring one node: time, process memory and accelerator memory (L1, DESIGN section 2).

``StatsContext`` wraps one invocation and hands the domain plain numbers; ``stats.py`` folds
them. Accelerator memory is read from ``torch.cuda`` only when a node has already imported
torch and a CUDA device is present: without that nothing on the accelerator can have been
allocated by a node, and the readings are ``None``, never a 0 pretending to be a reading.
Node bodies run in worker threads, so two may run at once in one process; their memory
readings then mix, and every context that ran beside another is flagged ``overlapped``.

This module needs only the standard library and psutil (torch when present), so it can be
checked on an accelerator machine by itself.
"""

from __future__ import annotations

import abc
import os
import sys
import threading
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import psutil

_process = psutil.Process()
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 0


class _ResidentSize:
    """The process's resident set size, read around each node: from ``/proc/self/statm`` kept
    open and read in place where Linux has it (psutil opens, reads and parses the file on each
    call, which cost more than a small node's whole body), else from psutil. Reopened when the
    process is no longer the one that opened it (a forked child)."""

    def __init__(self) -> None:
        self._pid = -1
        self._fd: int | None = None

    def __call__(self) -> int:
        if self._pid != os.getpid():
            self._open()
        if self._fd is None:
            return int(_process.memory_info().rss)
        return int(os.pread(self._fd, 128, 0).split()[1]) * _PAGE_SIZE

    def _open(self) -> None:
        self._pid = os.getpid()
        try:
            self._fd = os.open("/proc/self/statm", os.O_RDONLY) if _PAGE_SIZE else None
        except OSError:
            self._fd = None


resident_size = _ResidentSize()


class _LastReading:
    """The resident size read when the last measured node ended, taken as the next node's
    reading before it when nothing else measured started meanwhile, on the same thread, and
    within ``REUSE_SECONDS``: one read per node instead of two on a run of small nodes (each
    read is a system call, and gives up the interpreter to whichever thread wants it). What
    eventsvc's own bookkeeping allocates in that gap is within a reading's page granularity."""

    REUSE_SECONDS = 0.001

    def __init__(self) -> None:
        self.starts = 0  # measured nodes started in this process
        self._reading: tuple[int, int, float, int] | None = None  # starts, thread, when, rss

    def before(self) -> int:
        """The reading for a node starting now (counted as started)."""
        reading, self._reading = self._reading, None
        self.starts += 1
        if reading is not None:
            starts, thread, when, rss = reading
            fresh = time.perf_counter() - when <= self.REUSE_SECONDS
            if starts == self.starts - 1 and thread == threading.get_ident() and fresh:
                return rss
        return resident_size()

    def after(self) -> int:
        """The reading for a node ending now, kept for the next one (one assignment: another
        thread sees the reading before or after it, never half of it)."""
        rss = resident_size()
        self._reading = (self.starts, threading.get_ident(), time.perf_counter(), rss)
        return rss


_last_reading = _LastReading()
# A broken driver, or torch still being imported by another thread (a partially initialised
# module has no ``cuda`` yet): no reading, never a node failure.
_NO_READING = (RuntimeError, AttributeError)
_active_lock = threading.Lock()
_active: set[StatsContext] = set()


class Sampler(abc.ABC):
    """What is measured around one invocation. Each attribute is documented once, here.

    start_time:    wall-clock start, seconds since the epoch (float).
    started_at:    the start as an aware UTC datetime.
    ended_at:      the end as an aware UTC datetime (None while running).
    wall_seconds:  duration from ``time.perf_counter`` (None while running).
    rss_before:    process resident set size in bytes before the node.
    rss_after:     process resident set size in bytes after the node.
    vram_peak:     peak bytes allocated on the accelerator during the node (its peak counter
                   is reset when the node starts); None without a CUDA reading.
    vram_delta:    accelerator bytes allocated after the node minus before; None likewise.
    overlapped:    another measured node ran in this process meanwhile, so the memory
                   readings include its allocations.
    """

    start_time: float
    started_at: datetime
    ended_at: datetime | None
    wall_seconds: float | None
    rss_before: int
    rss_after: int | None
    vram_peak: int | None
    vram_delta: int | None
    overlapped: bool

    @abc.abstractmethod
    def as_measurement(self) -> dict[str, Any]:
        """The readings as keyword arguments of ``events.NodeMeasurement``."""


class StatsContext(Sampler):
    """``with StatsContext() as stats: output = node.invoke(context)``."""

    def __enter__(self) -> StatsContext:
        self.overlapped = False
        with _active_lock:
            if _active:
                self.overlapped = True
                for other in _active:
                    other.overlapped = True
            _active.add(self)
        self.ended_at = self.wall_seconds = self.rss_after = None
        self.vram_peak = self.vram_delta = None
        self._cuda = _cuda()
        self._vram_before = None
        if self._cuda is not None:
            try:
                self._cuda.reset_peak_memory_stats()
                self._vram_before = self._cuda.memory_allocated()
            except _NO_READING:
                self._cuda = None
        with _active_lock:
            self.rss_before = _last_reading.before()
        self.start_time = time.time()
        self.started_at = datetime.fromtimestamp(self.start_time, UTC)
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.wall_seconds = time.perf_counter() - self._started
        self.ended_at = datetime.now(UTC)
        self.rss_after = _last_reading.after()
        if self._cuda is not None and self._vram_before is not None:
            try:
                self._cuda.synchronize()
                self.vram_peak = self._cuda.max_memory_allocated()
                self.vram_delta = self._cuda.memory_allocated() - self._vram_before
            except _NO_READING:
                self.vram_peak = self.vram_delta = None
        with _active_lock:
            _active.discard(self)

    def as_measurement(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "wall_seconds": self.wall_seconds,
            "rss_before": self.rss_before,
            "rss_after": self.rss_after,
            "vram_peak": self.vram_peak,
            "vram_delta": self.vram_delta,
            "overlapped": self.overlapped,
        }


def update_mem_stats() -> dict[str, int | None]:
    """Memory in use now (sampled at the end of a session): RSS, and VRAM when readable."""
    cuda = _cuda()
    return {
        "rss": resident_size(),
        "vram": None if cuda is None else cuda.memory_allocated(),
    }


def _cuda() -> Any:
    """``torch.cuda`` if a node has imported torch and a CUDA device is present, else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        return torch.cuda if torch.cuda.is_available() else None
    except _NO_READING:
        return None
