"""Show time for tests of the real loop: one frame of show time per loop iteration, whatever the load.

With the wall clock a loaded machine presents fewer frames per second and the
generator's first frame comes late, so windows of show time held 0 frames and
tests failed for reasons that had nothing to do with livegan. ``PacedClock``
advances only by the loop's own ``sleep`` (which really sleeps that long, so
the render worker and device threads get their real time): every show-second
has exactly the display rate's frames, and a loaded machine just makes show
time run slower than real time. ``warm_up`` renders the first frame before the
show starts, so show time 0 already has a picture.
"""

from __future__ import annotations

import threading
import time


class PacedClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = float(t)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
            with self._lock:
                self.t += seconds


class FollowClock(PacedClock):
    """A :class:`PacedClock` whose show time also waits for the render worker to get there.

    For tests of how smooth the picture is: on a loaded machine the generator
    falls behind show time, the display holds its last frame and then jumps,
    which is right for a show but says nothing about the path or the blend.
    Here each sleep also waits (really, up to ``cap`` seconds) until a frame
    of the director's current path at or past the new show time is rendered.
    Set ``worker`` after the show is built.
    """

    def __init__(self, t: float = 0.0, cap: float = 5.0) -> None:
        super().__init__(t)
        self.worker = None
        self.cap = cap
        self.waited = 0.0  # real seconds spent waiting for the generator

    def sleep(self, seconds: float) -> None:
        w = self.worker
        if seconds > 0 and w is not None:
            a = time.monotonic()
            end = a + self.cap
            while time.monotonic() < end and not self._rendered(w, self.t + seconds):
                time.sleep(0.002)
            self.waited += time.monotonic() - a
        super().sleep(seconds)

    @staticmethod
    def _rendered(worker, t: float) -> bool:
        version = worker.director.version
        with worker._lock:  # the worker's own frames (a test helper may look inside)
            return any(f.version == version and f.t >= t for f in worker._frames)


def warm_up(show, cap: float = 300.0) -> None:
    """Render the show's first frame before it starts (waits for the event; the cap only stops a hang)."""
    worker = show.worker
    worker.start()
    end = time.monotonic() + cap
    while not worker.has_frames_for(show.director.version) and time.monotonic() < end:
        time.sleep(0.005)
    worker.stop()
    assert worker.has_frames_for(show.director.version), "no first frame"
