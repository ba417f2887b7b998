"""Wall-clock time for the adapters: the one place eventsvc reads the system clock (L1).

The domain never reads a clock; the store stamps ``recorded_at`` from a ``Clock`` it is given,
and tests hand it ``eventsvc.testing.FakeClock``.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_us(self) -> int:
        """The current UTC time in integer microseconds since the epoch."""
        ...


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1000
