"""MIDI clock in: 24 pulses per quarter note, Start/Stop/Continue and Song Position -> Tempo events.

Pure: :class:`MidiClock` is fed raw bytes with their arrival times (from the
MIDI callback thread) and returns :class:`~livegan.triggers.events.Tempo`
readings; :meth:`MidiClock.check` (from the show loop) notices a clock that
stopped arriving. Nothing here reads a clock or touches hardware.

Smoothing: the tempo is the least-squares slope of the last ``WINDOW`` pulse
times (one beat). A straight line through 24 points averages out USB/driver
jitter (a 1 ms jitter moves the slope ~0.1 %), and a tempo change has fully
replaced the window one beat later, so the BPM follows a change within 2
beats. Pulses that arrive far off the line (a dropped or doubled pulse) are
not fitted: the window restarts from them.
"""

from __future__ import annotations

from collections import deque

from .events import Tempo

PPQN = 24              # MIDI clock pulses per quarter note
WINDOW = PPQN          # pulses fitted for the tempo: one beat
MIN_FIT = 6            # pulses needed before a first tempo is reported
LOST_SECONDS = 0.5     # no pulse for this long (or 8 pulses' worth, if longer): clock lost
OUTLIER = 0.5          # an interval this far (relative) from the fitted one restarts the fit
CLOCK, START, CONTINUE, STOP, SPP = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
SOURCE = "clock"


def fit_period(times: list[float]) -> float:
    """Least-squares seconds per pulse through evenly numbered pulse times."""
    n = len(times)
    mx = (n - 1) / 2.0
    my = sum(times) / n
    sxx = sum((i - mx) ** 2 for i in range(n))
    sxy = sum((i - mx) * (y - my) for i, y in enumerate(times))
    return sxy / sxx


class MidiClock:
    """Clock bytes -> smoothed BPM and beat position. One feeding thread (the MIDI callback)."""

    def __init__(self) -> None:
        self.times: deque[float] = deque(maxlen=WINDOW)
        self.bpm: float | None = None
        self.pulse = 0             # pulses since song position 0 (Start resets it)
        self.count = 0             # every pulse, running or not: readings go out once per beat
        self.running = False       # between Start/Continue and Stop
        self.lost = False
        self.last_pulse: float | None = None
        self._spp: list[int] | None = None  # bytes of a Song Position Pointer being read

    def feed(self, data: list[int] | bytes, t: float) -> list[Tempo]:
        """Bytes that arrived at time t -> tempo readings (one per beat, and on start/lock)."""
        out: list[Tempo] = []
        for b in data:
            b &= 0xFF
            if self._spp is not None and b < 0x80:
                self._spp.append(b)
                if len(self._spp) == 2:
                    # Song position counts sixteenth notes: 6 pulses each.
                    self.pulse = (self._spp[0] | (self._spp[1] << 7)) * 6
                    self._spp = None
                continue
            if b >= 0x80 and b < 0xF8:
                self._spp = [] if b == SPP else None
            if b == CLOCK:
                ev = self._tick(t)
                if ev is not None:
                    out.append(ev)
            elif b == START:
                self.pulse, self.running = 0, True
            elif b == CONTINUE:
                self.running = True
            elif b == STOP:
                self.running = False
        return out

    def _tick(self, t: float) -> Tempo | None:
        if self.times:
            dt = t - self.times[-1]
            expect = 60.0 / (self.bpm * PPQN) if self.bpm else None
            if dt <= 0 or (expect is not None and abs(dt - expect) > OUTLIER * expect and len(self.times) >= MIN_FIT):
                self.times.clear()  # a gap or a burst: start the fit again from here
        self.times.append(t)
        self.last_pulse = t
        was_lost, self.lost = self.lost, False
        beat_pulse = self.pulse
        on_beat = (beat_pulse if self.running else self.count) % PPQN == 0
        self.count += 1
        if self.running:
            self.pulse += 1
        new = self.bpm is None
        if len(self.times) >= MIN_FIT:
            self.bpm = 60.0 / (fit_period(list(self.times)) * PPQN)
        if self.bpm is None:
            return None
        if on_beat or new or was_lost:
            return Tempo(self.bpm, SOURCE, t, beat_pulse / PPQN if self.running else None)
        return None

    def check(self, t: float) -> Tempo | None:
        """From the show loop: a Tempo(None) once when pulses stopped arriving."""
        if self.lost or self.last_pulse is None or self.bpm is None:
            return None
        limit = max(LOST_SECONDS, 8 * 60.0 / (self.bpm * PPQN))
        if t - self.last_pulse > limit:
            self.lost = True
            self.times.clear()
            return Tempo(None, SOURCE, t)
        return None


def clock_bytes(bpm_at, seconds: float, jitter: float = 0.0, seed: int = 0, start: bool = True
                ) -> list[tuple[float, list[int]]]:
    """Synthetic clock: (time, bytes) pulses for ``bpm_at(t)`` with uniform ±jitter seconds.

    For tests and ``livegan bench``: a tempo function in, a byte stream out.
    """
    import random

    rng = random.Random(seed)
    out: list[tuple[float, list[int]]] = [(0.0, [START])] if start else []
    t = 0.0
    while t < seconds:
        out.append((max(0.0, t + rng.uniform(-jitter, jitter)), [CLOCK]))
        t += 60.0 / (bpm_at(t) * PPQN)
    return out
