"""The event types every trigger produces, and the queue that carries them.

Triggers never touch show state (DESIGN.md): a device thread turns raw input
into :class:`Cue`, :class:`Param` or :class:`Tempo` events and puts them on an
:class:`EventQueue`; the show loop drains it once per frame.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from typing import Union

# Every cue a key, a MIDI note, an onset or a cue file can send.
CUE_KINDS: tuple[str, ...] = (
    "next", "prev", "goto", "song-next", "song-prev", "blackout", "freeze", "tap",
)

# How a cue may wait for the beat grid (None on a cue: the song's setting).
QUANTISE_MODES: tuple[str, ...] = ("off", "beat", "bar")

# Continuous parameters that MIDI knobs, audio and keys can set.
PARAM_NAMES: tuple[str, ...] = (
    "transition",      # seconds; overrides the section's transition time
    "drift_amount",    # 0..1 scale of the drift around the keyframe
    "drift_speed",     # multiplier of the drift's speed
    "truncation",      # BigGAN truncation 0.02..1
    "master_fade",     # 0 (black) .. 1 (full picture)
    "audio_sensitivity",  # onset detector sensitivity multiplier
    "audio_level",     # loudness 0..1 from the audio input (drives drift)
    "audio_pulse",     # onset strength pulse 0..1 (a short kick of motion)
)


@dataclass(frozen=True)
class Cue:
    """Move the show: ``kind`` is one of CUE_KINDS; ``arg`` is goto's 1-based section."""

    kind: str
    arg: int | None = None
    source: str = "key"
    t: float = 0.0  # time the source saw it (the injected clock's time)
    quantise: str | None = None  # one of QUANTISE_MODES; None: the song's setting

    def __post_init__(self) -> None:
        if self.kind not in CUE_KINDS:
            raise ValueError(f"unknown cue {self.kind!r} (one of {', '.join(CUE_KINDS)})")
        if self.quantise is not None and self.quantise not in QUANTISE_MODES:
            raise ValueError(f"quantise must be one of {', '.join(QUANTISE_MODES)}, got {self.quantise!r}")
        if self.kind == "goto" and (self.arg is None or self.arg < 1):
            raise ValueError("goto needs a section number >= 1")


@dataclass(frozen=True)
class Param:
    """Set a continuous parameter to ``value`` (already in its own units)."""

    name: str
    value: float
    source: str = "key"
    t: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in PARAM_NAMES:
            raise ValueError(f"unknown parameter {self.name!r} (one of {', '.join(PARAM_NAMES)})")


@dataclass(frozen=True)
class Tempo:
    """A tempo reading from one tempo source (clock, link, osc, ...).

    ``bpm`` None means the source lost its tempo (the clock stopped arriving);
    ``beat`` is the beat count at time ``t`` where the source knows the beat
    grid (MIDI clock, Link), so cues can be quantised to it.
    """

    bpm: float | None
    source: str
    t: float = 0.0
    beat: float | None = None


Event = Union[Cue, Param, Tempo]


@dataclass
class EventQueue:
    """A bounded thread-safe queue; a flood drops the oldest-arriving extras, counted.

    Producers never block (a MIDI callback must not stall); cues are never
    dropped in favour of params: when full, params are refused first.
    """

    maxsize: int = 4096
    dropped_cues: int = 0
    dropped_params: int = 0
    _q: queue.Queue = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self._q = queue.Queue(maxsize=self.maxsize)

    def put(self, ev: Event) -> bool:
        # Leave headroom for cues: params may only fill 3/4 of the queue.
        if not isinstance(ev, Cue) and self._q.qsize() >= self.maxsize * 3 // 4:
            self.dropped_params += 1
            return False
        try:
            self._q.put_nowait(ev)
            return True
        except queue.Full:
            if isinstance(ev, Cue):
                self.dropped_cues += 1
            else:
                self.dropped_params += 1
            return False

    def drain(self, limit: int = 10_000) -> list[Event]:
        out: list[Event] = []
        while len(out) < limit:
            try:
                out.append(self._q.get_nowait())
            except queue.Empty:
                break
        return out

    def __len__(self) -> int:
        return self._q.qsize()
