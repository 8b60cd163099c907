"""Base class of every trigger source (keyboard, MIDI, audio, cue file).

In the style of mido's backends: the public methods guard state and never
raise into the show loop; a backend implements only ``_open``, ``_poll`` and
``_close``. A source that fails is logged, closed, and retried later
(DESIGN.md rule 5): the show never stops because of one device.
"""

from __future__ import annotations

import logging
from typing import Callable

from ..clock import Clock
from .events import Event, EventQueue

log = logging.getLogger(__name__)


class TriggerSource:
    """A source of Cue/Param events. Subclasses implement _open/_poll/_close.

    ``_poll`` is called from the show loop (or a source's own thread) and
    returns events; sources whose hardware calls back on its own thread may
    instead call :meth:`emit` from there.
    """

    name: str = "trigger"
    retry_seconds: float = 2.0

    def __init__(self, events: EventQueue, clock: Clock) -> None:
        self.events = events
        self.clock = clock
        self.is_open = False
        self.failures = 0
        self.last_error: str | None = None
        self._retry_at = 0.0
        self.on_warning: Callable[[str], None] | None = None

    # -- public, guarded -------------------------------------------------
    def open(self) -> bool:
        """Try to open; on failure warn once and schedule a retry. Never raises."""
        if self.is_open:
            return True
        try:
            self._open()
        except Exception as e:  # noqa: BLE001 - a device must never stop the show
            self._fail(e)
            return False
        self.is_open = True
        self.last_error = None
        return True

    def poll(self) -> int:
        """Move pending input onto the queue; reopen a failed source when due."""
        if not self.is_open:
            if self.clock.now() >= self._retry_at:
                self.open()
            return 0
        try:
            evs = self._poll()
        except Exception as e:  # noqa: BLE001
            self._fail(e)
            return 0
        for ev in evs:
            self.events.put(ev)
        return len(evs)

    def close(self) -> None:
        if not self.is_open:
            return
        self.is_open = False
        try:
            self._close()
        except Exception as e:  # noqa: BLE001
            log.debug("%s: error while closing: %s", self.name, e)

    def emit(self, ev: Event) -> None:
        """Thread-safe: put one event on the queue (for callback-driven backends)."""
        self.events.put(ev)

    # -- for backends ------------------------------------------------------
    def _open(self) -> None:
        pass

    def _poll(self) -> list[Event]:
        return []

    def _close(self) -> None:
        pass

    def _fail(self, e: BaseException) -> None:
        msg = f"{self.name}: {e}".strip()
        self.failures += 1
        if msg != self.last_error:  # warn once per distinct problem, not every retry
            log.warning("%s (retrying every %.0f s; the show goes on)", msg, self.retry_seconds)
            if self.on_warning:
                self.on_warning(msg)
        self.last_error = msg
        if self.is_open:
            self.is_open = False
            try:
                self._close()
            except Exception:  # noqa: BLE001
                pass
        self._retry_at = self.clock.now() + self.retry_seconds
