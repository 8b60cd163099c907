"""One tempo for the show, chosen from every source that knows one, and its beat grid.

Pure: readings carry their own times; nothing here reads a clock.

``TEMPO_SOURCES`` is the single source of the priority order (README and
``--help`` print it). Rules, in one place:

- a *running* source (Link, MIDI clock) that is live wins over everything
  below it; a running source that was lost (the clock stopped arriving) keeps
  its last tempo until a live source of any rank says otherwise;
- *manual* sources (an OSC ``/livegan/tempo``, tap tempo, the audio beat
  tracker) belong to the song they were set in and are forgotten on a song
  change, when the setlist's ``bpm`` takes over again;
- the beat grid comes from the chosen source: Link and MIDI clock know which
  beat is which (bars line up with the drummer's); a tap's first tap is beat
  0; an OSC tempo's arrival is beat 0; the song's bpm counts from time 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# (source, where it comes from), highest priority first.
TEMPO_SOURCES: list[tuple[str, str]] = [
    ("link", "Ableton Link session (--link)"),
    ("clock", "MIDI clock (--clock PORT, or the --midi input)"),
    ("osc", "OSC /livegan/tempo BPM"),
    ("tap", "tap tempo (T key, tap cue)"),
    ("audio", "beat tracker on the audio input"),
    ("song", "the setlist's bpm"),
]
PRIORITY: dict[str, int] = {name: i for i, (name, _) in enumerate(TEMPO_SOURCES)}
RUNNING_SOURCES = ("link", "clock")  # kept across songs; their loss is a warning
MIN_BPM, MAX_BPM = 30.0, 300.0
LATE_GRACE = 0.04  # seconds: a cue this late for a beat is on it (a musician's hit is a little late)


def clamp_bpm(bpm: float) -> float:
    return min(MAX_BPM, max(MIN_BPM, float(bpm)))


def tempo_help() -> str:
    """The priority order as one line, for --help (the README lists what each source is)."""
    return " > ".join(name for name, _ in TEMPO_SOURCES)


@dataclass
class Reading:
    bpm: float
    t: float            # when it was last set
    beat: float         # beat count at time t (0 for sources without a grid of their own)
    live: bool = True   # False: a running source that stopped; its tempo is kept


class TempoBoard:
    """Readings of every source; ``current`` picks the one that rules now."""

    def __init__(self) -> None:
        self.readings: dict[str, Reading] = {}

    def set(self, source: str, bpm: float, t: float, beat: float | None = None) -> bool:
        """Record a reading; True when the ruling tempo or its source changed."""
        if source not in PRIORITY:
            raise ValueError(f"unknown tempo source {source!r} (one of {', '.join(PRIORITY)})")
        if not math.isfinite(bpm) or bpm <= 0:
            return False
        before = self.current(None)
        old = self.readings.get(source)
        if beat is None:
            # Keep a grid-less source's grid continuous: count on from its old anchor.
            beat = 0.0 if old is None else old.beat + (t - old.t) * old.bpm / 60.0
        self.readings[source] = Reading(clamp_bpm(bpm), t, float(beat), True)
        return self.current(None) != before

    def lose(self, source: str) -> bool:
        """A running source stopped: keep its tempo, stop it ruling over live ones."""
        r = self.readings.get(source)
        if r is None or not r.live:
            return False
        r.live = False
        return True

    def forget_manual(self) -> None:
        """On a song change: manual tempos belonged to the old song."""
        for name in [n for n in self.readings if n not in RUNNING_SOURCES]:
            del self.readings[name]

    def ruling(self) -> tuple[str, Reading] | None:
        live = [(PRIORITY[n], n) for n, r in self.readings.items() if r.live]
        lost = [(PRIORITY[n], n) for n, r in self.readings.items() if not r.live]
        for group in (live, lost):
            if group:
                name = min(group)[1]
                return name, self.readings[name]
        return None

    def current(self, song_bpm: float | None) -> tuple[float | None, str | None]:
        """(bpm, source name) that rules now; the song's bpm when no source knows one."""
        r = self.ruling()
        if r is not None:
            return r[1].bpm, r[0]
        return (song_bpm, "song") if song_bpm else (None, None)

    def beat_at(self, t: float, song_bpm: float | None) -> float | None:
        """Beat count at time t on the ruling grid (None with no tempo at all)."""
        r = self.ruling()
        if r is not None:
            return r[1].beat + (t - r[1].t) * r[1].bpm / 60.0
        return t * song_bpm / 60.0 if song_bpm else None

    def next_boundary(self, t: float, mode: str, song_bpm: float | None, beats_per_bar: int = 4) -> float | None:
        """Time of the next beat (``mode`` 'beat') or bar line ('bar') at or after t.

        None when cues are not quantised (``off``) or no tempo is known. A cue
        up to LATE_GRACE after a boundary lands at once (returns t).
        """
        if mode == "off":
            return None
        bpm, _ = self.current(song_bpm)
        b = self.beat_at(t, song_bpm)
        if bpm is None or b is None:
            return None
        unit = float(beats_per_bar if mode == "bar" else 1)
        spb = 60.0 / bpm
        prev = math.floor(b / unit + 1e-9) * unit
        if (b - prev) * spb <= LATE_GRACE:
            return t
        return t + (prev + unit - b) * spb
