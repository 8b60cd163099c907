"""Never go dark: the live render worker, with the baked clips standing by.

:class:`FallbackWorker` owns both a live :class:`~livegan.engine.worker.RenderWorker`
and a :class:`~livegan.bake.player.BakedPlayer` and offers the show loop the
same interface as either. Each frame (in :meth:`watchdog`) it judges the live
generator, in show time from the injected clock:

- **failing**: ``FAIL_ERRORS`` generator errors in a row with no frame kept
  in between (an out-of-memory on every device ends here too: the worker's
  CPU fallback fails again), or the worker's own watchdog restarted it;
- **hung**: the worker has been inside one generator call for longer than
  ``max(HANG_FLOOR, 4 x its usual batch time)`` of show time (judged once a
  first batch has told how long a batch takes).

Either switches to the baked clips at once (a short crossfade from the last
live picture), says so through ``on_switch`` (overlay and log) and shows the
``BAKED`` badge. The live worker keeps retrying meanwhile; once it has kept
``RECOVER_FRAMES`` frames in a row without an error, the picture fades back
to it. Cues go to the director either way, so none is lost; the baked player
follows the director's legs even while it is not shown, and its decoder keeps
the clips around the current position warm, so switching needs no decode.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from ..clock import Clock
from ..engine.director import EASING
from ..engine.path import ease
from ..engine.worker import RenderWorker
from .player import BakedPlayer, _fit, _mix

log = logging.getLogger(__name__)

FAIL_ERRORS = 3        # generator errors in a row that count as "failing"
HANG_FLOOR = 0.5       # s of show time inside one render that count as "hung" (at least)
RECOVER_FRAMES = 3     # frames kept in a row before switching back
SWITCH_FADE = 0.25     # s: baked -> live crossfade


class FallbackWorker:
    """Live frames while the generator works, baked clips while it does not (see the module docstring)."""

    def __init__(self, live: RenderWorker, baked: BakedPlayer, clock: Clock,
                 on_switch: Callable[[str], None] | None = None) -> None:
        self.live, self.baked, self.clock = live, baked, clock
        self.on_switch = on_switch
        self.active = False            # True while the baked clips are on screen
        self.switches: list[tuple[float, str]] = []  # (show time, "baked"/"live")
        self._frames = live.stats.frames
        self._errors = live.stats.errors
        self._restarts = live.stats.restarts
        self._bad_in_row = 0
        self._good_in_row = 0
        self._busy_key: float | None = None
        self._busy_seen = 0.0
        self._last: np.ndarray | None = None
        self._back: tuple[float, np.ndarray] | None = None  # (time, baked picture) while fading back

    @property
    def stats(self):
        return self.live.stats

    @property
    def generator(self):
        return self.live.generator

    @generator.setter
    def generator(self, gen) -> None:  # e.g. the soak's fault injector wraps the live generator
        self.live.generator = gen

    @property
    def on_oom(self):
        return self.live.on_oom

    @on_oom.setter
    def on_oom(self, fn) -> None:
        self.live.on_oom = fn

    @property
    def badges(self) -> tuple[str, ...]:
        return ("BAKED",) if self.active else ()

    def start(self) -> None:
        self.live.start()
        self.baked.cache.start()

    def stop(self, timeout: float = 2.0) -> None:
        self.live.stop(timeout)
        self.baked.stop(timeout)

    def prune(self, t: float) -> None:
        self.live.prune(t)

    def has_frames_for(self, version: int) -> bool:
        return self.baked.has_frames_for(version) if self.active else self.live.has_frames_for(version)

    def wait_for_new_path(self, seconds: float) -> bool:
        """The live worker's (a cue's first live frame wakes the display); the clips need no waking."""
        return self.live.wait_for_new_path(seconds)

    # -- judging the generator, once per frame ------------------------------------
    def watchdog(self) -> bool:
        restarted = self.live.watchdog()
        now = self.clock.now()
        s = self.live.stats
        if s.errors > self._errors:
            self._bad_in_row += s.errors - self._errors
            self._good_in_row = 0
            self._errors = s.errors
        if s.frames > self._frames:
            self._good_in_row += s.frames - self._frames
            self._bad_in_row = 0
            self._frames = s.frames
        restarts = s.restarts - self._restarts
        self._restarts = s.restarts
        # Before its first batch nobody knows how long a frame takes (a big model on a CPU: seconds): no hang yet.
        hung = self._hung(now, s.batch_seconds) and s.batches > 0
        if not self.active:
            self.baked.sync(now)
            self.baked.prefetch()
            why = ("the generator failed %d times in a row" % self._bad_in_row if self._bad_in_row >= FAIL_ERRORS
                   else "the generator hung and was restarted" if restarts or restarted
                   else "the generator is stuck in one frame" if hung else None)
            if why:
                self._switch(now, baked=True, why=why)
        elif self._good_in_row >= RECOVER_FRAMES and not hung:
            self._switch(now, baked=False, why="the generator works again")
        return restarted

    def _hung(self, now: float, batch_seconds: float) -> bool:
        busy = getattr(self.live, "_busy_since", None)  # the worker's own marker (real time, one per call)
        if busy is None:
            self._busy_key = None
            return False
        if busy != self._busy_key:
            self._busy_key, self._busy_seen = busy, now
        return now - self._busy_seen > max(HANG_FLOOR, 4.0 * batch_seconds)

    def _switch(self, t: float, baked: bool, why: str) -> None:
        self.active = baked
        self.switches.append((t, "baked" if baked else "live"))
        if baked:
            self.baked.take_over(t, self._last)
            msg = f"{why}: playing the baked clips (BAKED)"
            log.error("%s", msg)
        else:
            if self._last is not None:
                self._back = (t, self._last)
            self._good_in_row = 0
            msg = f"{why}: back to live rendering"
            log.warning("%s", msg)
        if self.on_switch is not None:
            self.on_switch(msg)

    # -- pictures ------------------------------------------------------------------
    def frame_at(self, t: float) -> np.ndarray | None:
        if self.active:
            img = self.baked.frame_at(t)
        else:
            img = self.live.frame_at(t)
            if img is None:
                img = self._last
            elif self._back is not None:
                t0, pic = self._back
                w = ease((t - t0) / SWITCH_FADE, EASING)
                if w >= 1.0:
                    self._back = None
                else:
                    img = _mix(_fit(pic, img), img, w)
        if img is not None:
            self._last = img
        return img
