"""Injected clocks: the engine never reads the wall clock directly.

``MonotonicClock`` is for live shows, ``ManualClock`` for tests and offline
render (time advances only when told).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...
    # Optional: ``wait(event, seconds) -> bool``, a sleep that ends early when the event is set
    # (MonotonicClock). Without it (ManualClock: time moves only when told) the show just sleeps.


class MonotonicClock:
    """Real time, seconds since this clock was made."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._t0

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep ``seconds``, or less if ``event`` is set meanwhile; whether it was."""
        return event.wait(seconds) if seconds > 0 else event.is_set()


class ManualClock:
    """Time that moves only by ``advance`` (or ``sleep``, which advances it)."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = float(t)

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
