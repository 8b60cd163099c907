"""Many outputs at once: the window on the show's thread, every other output on its own thread.

:class:`FanOut` is itself an :class:`Output`, so the show loop does not know
how many outputs there are. It presents to the *direct* outputs (the window,
the console: SDL wants them on the main thread) and hands every frame to one
distributor thread through a one-slot, latest-frame-wins hand-off
(:class:`LatestFrame`). The distributor scales the frame once
(``--output-size``) and offers it to each *sink* (NDI, virtual camera,
Syphon, Spout, recorder), each on its own :class:`OutputThread` with its own
slot. A slow sink only loses frames (counted as drops); a failing sink is
closed, reopened with back-off, and warned about once per failure episode.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .base import KeyEvent, Output, Size, fit_rect

log = logging.getLogger(__name__)


class LatestFrame:
    """A one-slot hand-off: ``put`` never blocks and replaces a frame not yet taken (a drop)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._closed = False
        self.dropped = 0

    def put(self, frame: np.ndarray) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()

    def take(self, timeout: float) -> np.ndarray | None:
        """The newest frame, or None after ``timeout`` seconds (or once closed)."""
        with self._cond:
            if self._frame is None and not self._closed:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def fit_frame(frame: np.ndarray, size: Size | None) -> np.ndarray:
    """``frame`` letterboxed into ``size`` (bilinear: cheap enough per frame at 1080p); as is when it fits."""
    if size is None or (frame.shape[1], frame.shape[0]) == tuple(size):
        return frame
    from PIL import Image

    W, H = size
    x, y, w, h = fit_rect((frame.shape[1], frame.shape[0]), (W, H))
    pic = np.asarray(Image.fromarray(frame).resize((w, h), Image.BILINEAR))  # (h, w, 3)
    if (w, h) == (W, H):
        return pic
    canvas = np.zeros((H, W, 3), np.uint8)  # (H, W, 3)
    canvas[y:y + h, x:x + w] = pic
    return canvas


@dataclass
class SinkStats:
    name: str
    sent: int = 0          # frames the output took
    dropped: int = 0       # frames replaced before the output was ready, or skipped while it was down
    failures: int = 0      # open/present errors
    last_error: str = ""
    last_sent: float = 0.0  # real time of the last frame sent (for the console's health panel)
    up: bool = False


class OutputThread:
    """Runs one output on its own thread, fed through a :class:`LatestFrame`.

    A failure closes the output and reopens it after a back-off that doubles
    from ``backoff[0]`` to ``backoff[1]`` seconds; ``on_warning`` hears about
    the first failure of each episode, once, and about the recovery.
    """

    def __init__(self, output: Output, on_warning: Callable[[str], None] = lambda m: None,
                 backoff: tuple[float, float] = (0.5, 30.0), timer: Callable[[], float] = time.monotonic) -> None:
        self.output = output
        self.on_warning = on_warning
        self.backoff = backoff
        self.timer = timer
        self.slot = LatestFrame()
        self.stats = SinkStats(output.name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"livegan-out-{output.name}", daemon=True)
        self._retry_at = 0.0
        self._delay = backoff[0]
        self._failing = False

    def start(self) -> None:
        self._thread.start()

    def offer(self, frame: np.ndarray) -> None:
        self.slot.put(frame)

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop and close the output; False when it is stuck (its thread is left behind, a daemon)."""
        self._stop.set()
        self.slot.close()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.slot.take(0.1)
                if frame is not None and not self._stop.is_set():
                    self._one(frame)
        finally:
            self._safely(self.output.close)
            self.stats.up = False

    def _one(self, frame: np.ndarray) -> None:
        st = self.stats
        if not self.output.is_open:
            if self.timer() < self._retry_at:
                st.dropped += 1
                return
            try:
                self.output.open()
            except Exception as e:  # noqa: BLE001 - a sink that can't start never stops the show
                self._failed(e)
                st.dropped += 1
                return
        try:
            self.output.present(frame)
        except Exception as e:  # noqa: BLE001
            self._failed(e)
            return
        st.sent += 1
        st.last_sent = self.timer()
        st.up = True
        if self._failing:
            self._failing = False
            self._delay = self.backoff[0]
            self.on_warning(f"{self.output.name}: working again")

    def _failed(self, e: Exception) -> None:
        st = self.stats
        st.failures += 1
        st.up = False
        st.last_error = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        log.debug("%s failed", self.output.name, exc_info=True)
        if not self._failing:
            self._failing = True
            self.on_warning(f"{self.output.name}: {st.last_error} (retrying)")
        self._safely(self.output.abort)
        self._retry_at = self.timer() + self._delay
        self._delay = min(self._delay * 2, self.backoff[1])

    @staticmethod
    def _safely(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - closing a broken device may fail again
            log.debug("closing an output failed", exc_info=True)

    @property
    def dropped(self) -> int:
        return self.stats.dropped + self.slot.dropped


class _Distributor(Output):
    """Scales once per frame, then offers the frame to every sink's slot."""

    name = "distributor"

    def __init__(self, sinks: list[OutputThread], size: Size | None) -> None:
        super().__init__()
        self.sinks, self.out_size = sinks, size

    def _present(self, frame: np.ndarray, overlay: dict | None) -> None:
        frame = fit_frame(frame, self.out_size)
        for s in self.sinks:
            s.offer(frame)


class FanOut(Output):
    """Direct outputs (window, console) on this thread; sinks through the distributor thread.

    ``overlays`` says, per direct output, whether it gets the overlay (the
    projector window gets none when a console shows it instead).
    """

    name = "outputs"

    def __init__(self, direct: list[Output], sinks: list[Output], size: Size | None = None,
                 overlays: list[bool] | None = None, on_warning: Callable[[str], None] | None = None,
                 backoff: tuple[float, float] = (0.5, 30.0), timer: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.direct = direct
        self.overlays = overlays or [True] * len(direct)
        self.on_warning = on_warning
        self.threads = [OutputThread(s, self._warn, backoff, timer) for s in sinks]
        self._dist = OutputThread(_Distributor(self.threads, size), self._warn, backoff, timer)
        self.out_size = size

    def attach(self, *show_parts: object) -> None:
        """Hand the show's parts to direct outputs that read them (the console)."""
        for d in self.direct:
            if hasattr(d, "attach"):
                d.attach(*show_parts)

    def _warn(self, msg: str) -> None:
        if self.on_warning is not None:
            self.on_warning(msg)
        else:
            self.warn(msg)

    def _open(self) -> None:
        for d in self.direct:
            d.open()
            self.warnings.extend(d.warnings)
        if self.threads:
            for th in self.threads:
                th.start()  # each sink opens on its own thread: a slow NDI start never holds the window
            self._dist.start()

    def _present(self, frame: np.ndarray, overlay: dict | None) -> None:
        for d, gets_overlay in zip(self.direct, self.overlays):
            d.present(frame, overlay if gets_overlay else None)
        if self.threads:
            self._dist.offer(frame)

    def _poll_events(self) -> list[KeyEvent]:
        keys: list[KeyEvent] = []
        for d in self.direct:
            keys.extend(d.poll_events())  # keys work in every window
        return keys

    def _close(self) -> None:
        if self.threads:
            self._dist.stop()
            for th in self.threads:
                if not th.stop():
                    log.warning("%s did not stop within 2 s; left behind", th.output.name)
        for d in reversed(self.direct):  # the console before the show window, which shuts SDL's video down
            d.close()

    @property
    def size(self) -> Size | None:
        return self.direct[0].size if self.direct else self.out_size

    def stats(self) -> dict[str, dict]:
        """Per sink: frames sent, dropped (slot + while down), failures, last error."""
        out = {}
        for th in self.threads:
            s = th.stats
            out[s.name] = {"sent": s.sent, "dropped": th.dropped + 0, "failures": s.failures,
                           "last_error": s.last_error, "up": s.up}
        if self.threads:
            out["_scaler_dropped"] = {"dropped": self._dist.dropped}
        return out
