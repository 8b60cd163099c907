"""Wires a show together: tick, poll, update, render, present.

The main loop (:meth:`Show.run`) is short on purpose: everything it calls
owns its own job. Triggers put events on the queue; the loop drains it once
per frame into the director; the render worker renders on its own thread;
the loop blends the newest frames, applies brightness and presents. Time
comes from the injected clock, so tests run the real loop headless.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..clock import Clock
from ..engine.director import Director
from ..engine.worker import RenderWorker
from ..outputs.base import Output
from ..threads import cpu_ticks, steal_share
from ..triggers.base import TriggerSource
from ..triggers.events import Cue, EventQueue, Param, Tempo
from ..triggers.keyboard import Action, KeyMapper

log = logging.getLogger(__name__)
BAD_FRAMES_WARN = 5  # more NaN frames than this is said in the overlay, the log and the summary


@dataclass
class ShowOptions:
    fps: float = 60.0                # display rate the loop paces itself to
    overlay: bool = False            # overlay visible at start (H toggles)
    notice: str | None = None        # e.g. "OFFLINE: stand-in models" (always shown)
    lyrics: list[list[str]] = field(default_factory=list)  # per song, per section text


@dataclass
class ShowSummary:
    frames: int = 0          # frames presented
    cues: int = 0            # cues handled (taken off the queue and given to the director)
    dropped_cues: int = 0    # cues lost (queue overflow)
    fps: float = 0.0         # presented frames per second of show time
    generated: int = 0       # frames the generator rendered (and kept)
    longest_stall_ms: float = 0.0  # longest real-time gap between two presented frames
    host_steal: float | None = None  # share of the machine's CPU a virtual machine's host took meanwhile
    faults: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class Show:
    """One running show: director + render worker + output + trigger sources."""

    def __init__(self, director: Director, worker: RenderWorker, output: Output, clock: Clock,
                 events: EventQueue, sources: list[TriggerSource], options: ShowOptions | None = None,
                 timer: Callable[[], float] = time.perf_counter) -> None:
        self.director, self.worker, self.output, self.clock = director, worker, output, clock
        self.events, self.sources = events, sources
        self.opt = options or ShowOptions()
        self.keys = KeyMapper(clock)
        self.timer = timer  # real time, only to measure display stalls
        self.summary = ShowSummary()
        self._last_present = timer()  # real time of the last present (run() starts it again)
        self.overlay_on = self.opt.overlay
        self.message: tuple[str, float] | None = None
        self.warnings: list[str] = []
        self.quit = False
        self.on_song_change: list[Callable[[int], None]] = []
        self.on_action: Callable[[Action, float], None] | None = None  # e.g. 'learn'
        self.capture: Callable[[object, float], bool] | None = None  # sees key events first (MIDI learn)
        self.on_tick: list[Callable[[float], None]] = []  # called once per frame after polling
        self._song = director.position.song
        self._last_cue = "-"
        self._shown: deque[float] = deque(maxlen=30)  # show times of recent frames, for the overlay's fps
        for src in sources:
            src.on_warning = self.warn

    def warn(self, msg: str) -> None:
        """Shown in the overlay and the log; never stops the show."""
        self.warnings = (self.warnings + [msg])[-5:]
        self.summary.warnings.append(msg)

    def say(self, msg: str, t: float, seconds: float = 2.5) -> None:
        self.message = (msg, t + seconds)

    # -- the loop ------------------------------------------------------------
    def run(self, seconds: float | None = None) -> ShowSummary:
        start = self.clock.now()
        frame_dt = 1.0 / self.opt.fps
        next_t = start
        self._last_present = self.timer()
        ticks = cpu_ticks()  # a shared VM's host taking CPU explains a low fps that nothing here can fix
        self.worker.start()
        try:
            while not self.quit:
                t = self.clock.now()
                if seconds is not None and t - start >= seconds:
                    break
                self.poll(t)
                self.worker.watchdog()
                self._show_frame(t)
                next_t = max(next_t + frame_dt, self.clock.now() - frame_dt)  # don't chase a backlog
                self._wait_until(next_t)
        finally:
            self.worker.stop()
            for src in self.sources:
                src.close()
        self.summary.host_steal = steal_share(ticks, cpu_ticks())
        return self._finish(self.clock.now() - start)

    def _show_frame(self, t: float) -> None:
        frame = self.worker.frame_at(t)
        if frame is None:
            return
        self.present(frame, t)
        now = self.timer()
        self.summary.longest_stall_ms = max(self.summary.longest_stall_ms, 1000 * (now - self._last_present))
        self._last_present = now
        self.worker.prune(t)

    def _wait_until(self, next_t: float) -> None:
        """Sleep until the next tick; a new path's first frame (a cue's) landing meanwhile goes on screen at once.

        Waiting for the tick instead cost a cue up to one more refresh. The
        cadence is kept: the tick still comes at ``next_t``.
        """
        wait = getattr(self.worker, "wait_for_new_path", None)
        while True:
            left = next_t - self.clock.now()
            if wait is None or left <= 0:
                self.clock.sleep(left)
                return
            if not wait(left):
                return
            self._show_frame(self.clock.now())

    def poll(self, t: float) -> None:
        """Sources and keys -> queue -> director, once per frame."""
        for src in self.sources:
            src.poll()
        for key in self.output.poll_events():
            for ev in self.keys.feed(key, t):
                if self.capture is not None and self.capture(ev, t):
                    continue
                if isinstance(ev, Action):
                    self._action(ev, t)
                else:
                    self.events.put(ev)
        for ev in self.events.drain():
            self.dispatch(ev, t)
        self.director.tick(t)  # quantised cues due by now land on their beat
        for fn in self.on_tick:
            fn(t)
        self._check_bad_frames()
        song = self.director.position.song
        if song != self._song:
            self._song = song
            for fn in self.on_song_change:
                fn(song)

    def _check_bad_frames(self) -> None:
        bad = self.worker.stats.bad_frames
        if bad > BAD_FRAMES_WARN and not getattr(self, "_bad_said", False):
            self._bad_said = True
            msg = f"{bad} frames came out bad (NaN) and were dropped: a broken bank or generator?"
            log.warning("%s", msg)
            self.warn(msg)

    def dispatch(self, ev: Cue | Param | Tempo, t: float) -> None:
        if isinstance(ev, Tempo):
            if ev.bpm is None and ev.source in ("clock", "link"):
                self.warn(f"{ev.source} lost: keeping {self.director.info(t)['tempo'] or 0:.0f} bpm")
        elif isinstance(ev, Cue):
            self.summary.cues += 1
            self._last_cue = f"{ev.kind}{'' if ev.arg is None else ' ' + str(ev.arg)} ({ev.source})"
        elif ev.name == "audio_sensitivity":
            for src in self.sources:
                if hasattr(src, "set_sensitivity"):
                    src.set_sensitivity(ev.value)
            return
        ignored = self.director.state.cues_ignored
        try:
            self.director.handle(ev, t)
            if self.director.state.cues_ignored > ignored:  # say why, e.g. "goto 9: song 'X' has 3 sections"
                self.say(self.director.state.ignored[-1], t)
        except Exception as e:  # noqa: BLE001 - one bad event never stops the show
            log.exception("event %s failed", ev)
            self.warn(f"event {ev} failed: {e}")

    def _action(self, a: Action, t: float) -> None:
        if a.kind == "quit":
            self.quit = True
        elif a.kind == "overlay":
            self.overlay_on = not self.overlay_on
        elif a.kind == "message" and a.arg:
            self.say(a.arg, t, 1.0)
        elif self.on_action is not None:
            self.on_action(a, t)

    # -- presenting ----------------------------------------------------------
    def present(self, frame: np.ndarray, t: float) -> None:
        b = self.director.brightness(t)
        if b < 0.999:
            frame = (frame.astype(np.float32) * b).astype(np.uint8)  # (H, W, 3)
        self.output.present(frame, self.overlay(t))
        self.summary.frames += 1
        self._shown.append(t)

    def overlay(self, t: float) -> dict | None:
        msg = self.message[0] if self.message and t < self.message[1] else None
        if not (self.overlay_on or msg or self.opt.notice or self.warnings):
            return None
        info = self.director.info(t)
        lyrics = self.opt.lyrics[info["song_index"]] if self.opt.lyrics else []
        sec = info["section"]
        st = self.worker.stats
        status = [s for s, on in (("BLACKOUT", info["blackout"]), ("FROZEN", info["frozen"])) if on]
        status.extend(getattr(self.worker, "badges", ()))  # e.g. BAKED: frames from baked clips
        if info.get("tempo"):
            status.append(f"{info['tempo']:.0f} bpm · {info.get('tempo_source') or 'song'}")
        for kind, arg, wait in info.get("pending") or []:
            status.append(f"PENDING {kind}{'' if arg is None else ' ' + str(arg)} in {max(0.0, wait):.1f} s")
        return {
            "panel": self.overlay_on, "help": self.overlay_on,
            # Labelled: "Alpha  (1/2)  1/3" read as two unexplained fractions.
            "song": f"{info['song']}  (song {info['song_index'] + 1}/{info['songs']})",
            "section": f"section {sec + 1}/{info['sections']}",
            "lyric": lyrics[sec] if sec < len(lyrics) else "",
            "next_lyric": self._next_lyric(info),
            "fps": (len(self._shown) - 1) / (self._shown[-1] - self._shown[0])
            if len(self._shown) > 1 and self._shown[-1] > self._shown[0] else None,
            "gen_ms": 1000 * st.frame_seconds,
            "cue": self._last_cue,
            "status": status,
            "warnings": self.warnings[-3:],
            "message": msg,
            "notice": self.opt.notice,
        }

    def _next_lyric(self, info: dict) -> str:
        """The line a ``next`` goes to; across a song boundary, the next song's title and first line.

        (The overlay prints it after "next: ", so "next song: X" read "next: next song: X".)
        """
        nxt, song = info.get("next_section"), info["song_index"]
        if nxt is None or not info.get("next_song"):
            return "end of setlist"
        if info["next_song"] != info["song"]:
            song += 1  # ShowState.next_section moves to the first section of the following song
        lines = self.opt.lyrics[song] if song < len(self.opt.lyrics) else []
        line = lines[nxt] if nxt < len(lines) else ""
        if song == info["song_index"]:
            return line
        return f"{info['next_song']} - {line}" if line else str(info["next_song"])

    def _finish(self, seconds: float) -> ShowSummary:
        s = self.summary
        s.seconds = seconds
        s.fps = s.frames / seconds if seconds > 0 else 0.0
        s.dropped_cues = self.events.dropped_cues
        self._check_bad_frames()
        w = self.worker.stats
        s.generated = w.frames
        s.faults = {"generator_errors": w.errors, "out_of_memory": w.ooms, "bad_frames": w.bad_frames,
                    "worker_restarts": w.restarts, "stale_frames_dropped": w.dropped_stale,
                    "source_failures": sum(src.failures for src in self.sources)}
        return s
