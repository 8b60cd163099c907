"""The director: turns cues, params and time into one (z, y, truncation, brightness) per frame.

It owns a :class:`ShowState` (what the show is heading for) and computes the
path: every leg starts from the picture on screen at the moment of the cue
(drift included, so a cue never makes the picture jump), eases to the target
keyframe, and fades the drift around the target in as it goes.

Between events :meth:`Director.frame_at` is a pure function of t, so a render
worker may compute frames ahead. ``version`` goes up whenever a cue changes
the path (moves, freeze, blackout); a worker drops frames rendered for an
older version. Params (knobs, audio) do *not* bump it: they are continuous,
arrive many times a second, and a render-ahead's worth of lag is invisible
on them, while dropping frames on every knob tick would defeat rendering
ahead. Every param glides to its new value (a few tens of ms), so a stepped
knob or a jumpy loudness never makes the picture jump either.

Quantised cues: a move or blackout whose source or song asks for ``beat`` or
``bar`` waits, pending, for the next line of the tempo's beat grid;
:meth:`Director.tick` (once per frame) applies it *at the grid time*, so the
new leg starts on the beat even if the frame that sees it is a little late.
Cues arriving while others wait queue behind them (order is kept: a second
GO lands on the same line, right after the first).

``handle``, ``frame_at`` and ``info`` take one lock, so a render worker may
call ``frame_at`` from its own thread while the show loop handles events.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..triggers.events import Cue, Param, Tempo
from .path import Drift, Keyframe, blend, ease
from .state import Position, ShowState, SongPlan

log = logging.getLogger(__name__)

BLACKOUT_SECONDS = 0.7  # fade to / back from black
EASING = "smooth"  # transitions start and land with zero speed
LEVEL_GAIN = 1.0  # full loudness doubles the drift amplitude
PULSE_GAIN = 0.8  # an onset of strength 1 adds this much amplitude at its peak
PULSE_RISE = 0.06  # seconds from onset to the kick's peak; it has faded by ~0.5 s
PULSE_PHASE = 1.5  # drift phase (seconds at speed 1) a strength-1 kick moves on
PULSE_KEEP = 2.0  # pulses older than this no longer matter
_GLIDE_TAU = {"drift_amount": 0.1, "truncation": 0.1, "master_fade": 0.05, "audio_level": 0.08}
_RANGES = {"drift_amount": (0.0, 1.0), "drift_speed": (0.0, 10.0), "truncation": (0.02, 1.0),
           "master_fade": (0.0, 1.0), "audio_level": (0.0, 1.0), "audio_pulse": (0.0, 1.0)}

QUANTISED_CUES = ("next", "prev", "goto", "song-next", "song-prev", "blackout")  # tap/freeze act at once

KeyframeFn = Callable[[int, int, int], Keyframe]


@dataclass(frozen=True)
class FrameSpec:
    """Everything the renderer needs for one frame."""

    z: np.ndarray  # (L, 128) float32
    y: np.ndarray  # (1000,) float32
    truncation: float
    brightness: float  # 0 (black) .. 1; applied to the rendered image
    version: int  # path version this frame belongs to
    t: float


class Glide:
    """A value that approaches its target exponentially: continuous in t, pure between sets."""

    def __init__(self, value: float, tau: float, t: float = 0.0) -> None:
        self.v0 = self.target = float(value)
        self.t0 = t
        self.tau = tau

    def at(self, t: float) -> float:
        dt = t - self.t0
        if dt <= 0.0:
            return self.v0
        if dt > 12.0 * self.tau:  # snap: e^-12 is invisible, and 0 must become exactly 0
            return self.target
        return self.target + (self.v0 - self.target) * math.exp(-dt / self.tau)

    def set(self, target: float, t: float) -> None:
        self.v0 = self.at(t)
        self.t0 = t
        self.target = float(target)


class Director:
    """Cues + params + time -> FrameSpec. See the module docstring for the rules."""

    def __init__(self, plans: Sequence[SongPlan], keyframe: KeyframeFn, *, drift_amount: float = 0.15,
                 drift_speed: float = 0.25, truncation: float = 0.7, seed: int = 0,
                 start: Position | None = None, t0: float = 0.0, state: ShowState | None = None) -> None:
        self.keyframe = keyframe
        self.state = state if state is not None else ShowState(plans, start=start, t0=t0)
        self._target = self._fetch(self.state.position)
        self._from = self._target
        self._seg_id = self.state.segment.id
        self._held: Keyframe | None = None
        self.drift = Drift(self._target.layers, seed=seed)
        self._amount = Glide(drift_amount, _GLIDE_TAU["drift_amount"], t0)
        self._trunc = Glide(truncation, _GLIDE_TAU["truncation"], t0)
        self._fade = Glide(1.0, _GLIDE_TAU["master_fade"], t0)
        self._level = Glide(0.0, _GLIDE_TAU["audio_level"], t0)
        self._speed = float(drift_speed)
        self._phase_base, self._phase_t = 0.0, t0  # drift phase, integrated so speed changes never jump
        self._pulses: list[tuple[float, float]] = []  # (time, strength)
        self._pulse_phase = 0.0  # phase already added by pulses that were dropped
        self._b_from = 1.0  # brightness when blackout last toggled
        self.last_source: str | None = None
        self._lock = threading.RLock()  # a render thread may call frame_at while the loop handles
        self.on_position_change: Callable[[Position], None] | None = None  # e.g. StateSaver.save
        self._notified = self.state.position
        self.pending: list[tuple[float, Cue]] = []  # (due time, cue) of quantised cues, in order

    # -- public ------------------------------------------------------------------
    @property
    def position(self) -> Position:
        return self.state.position

    @property
    def version(self) -> int:
        return self.state.version

    def handle(self, ev: Cue | Param | Tempo, t: float) -> bool:
        """Apply one event at time t; True when something changed (False also while a cue waits)."""
        if isinstance(ev, Tempo):
            with self._lock:
                return self.state.handle_tempo(ev)
        if isinstance(ev, Cue):
            with self._lock:
                due = self._due(ev, t)
                if due is not None:
                    self.pending.append((due, ev))
                    return False
        return self._apply(ev, t)

    def tick(self, t: float) -> int:
        """Apply the quantised cues due by t, each at its own grid time; how many."""
        n = 0
        while True:
            with self._lock:
                if not self.pending or self.pending[0][0] > t:
                    return n
                due, cue = self.pending.pop(0)
            self._apply(cue, due)
            n += 1

    def _due(self, cue: Cue, t: float) -> float | None:
        """When a cue should land; None: now."""
        if cue.kind not in QUANTISED_CUES:
            return None
        mode = cue.quantise or self.state.plan.quantise
        due = self.state.next_boundary(t, mode)
        if self.pending:  # wait behind the cues already waiting: order is kept
            due = max(due if due is not None else t, self.pending[-1][0])
        return due if due is not None and due > t else None

    def _apply(self, ev: Cue | Param, t: float) -> bool:
        with self._lock:
            changed = self._handle(ev, t)
        if changed and isinstance(ev, Cue) and self.state.position != self._notified:
            self._notified = self.state.position
            if self.on_position_change is not None:
                try:
                    self.on_position_change(self._notified)
                except Exception:  # noqa: BLE001 - saving state must never stop the show
                    log.exception("position-change callback failed")
        return changed

    def _handle(self, ev: Cue | Param, t: float) -> bool:
        self.last_source = ev.source
        if isinstance(ev, Param):
            return self._param(ev, t)
        before = self._latent(t)  # the picture on screen now, old path
        b_before = self._blackout_level(t)
        was_frozen, was_blackout = self.state.frozen, self.state.blackout
        if not self.state.handle(ev, t):
            return False
        if self.state.frozen and not was_frozen:
            self._held = before
        if self.state.blackout != was_blackout:
            self._b_from = b_before
        if self.state.segment.id != self._seg_id:
            # A new leg: it starts from exactly what is on screen (never a jump).
            self._seg_id = self.state.segment.id
            self._from = before
            self._target = self._fetch(self.state.segment.target)
        return True

    def frame_at(self, t: float) -> FrameSpec:
        """The frame at time t; pure in t until the next handled event."""
        with self._lock:
            kf = self._latent(t)
            return FrameSpec(kf.z, kf.y, self._truncation(t), self.brightness(t), self.version, t)

    def brightness(self, t: float) -> float:
        with self._lock:
            return min(1.0, max(0.0, self._blackout_level(t) * self._fade.at(t)))

    def info(self, t: float) -> dict[str, Any]:
        """What the overlay shows: where we are, what is next, toggles and counters."""
        with self._lock:
            return self._info(t)

    def _info(self, t: float) -> dict[str, Any]:
        st = self.state
        nxt = st.next_section()
        return {
            "song": st.plan.title,
            "song_index": st.position.song,
            "songs": len(st.plans),
            "section": st.position.section,  # 0-based lyric index
            "sections": st.plan.sections,
            "variant": st.position.variant,
            "next_section": None if nxt is None else nxt[1],
            "next_song": None if nxt is None else st.plans[nxt[0]].title,
            "progress": st.progress(t),
            "blackout": st.blackout,
            "frozen": st.frozen,
            "tempo": st.tempo,
            "tempo_source": st.tempo_source,
            "beats_per_bar": st.plan.beats_per_bar,
            "last_cue": None if st.last_cue is None else st.last_cue.kind,
            "pending": [(c.kind, c.arg, due - t) for due, c in self.pending],
            "beat": st.tempo_board.beat_at(t, st.plan.bpm),
            "last_source": self.last_source,
            "cues_handled": st.cues_handled,
            "cues_ignored": st.cues_ignored,
            "last_ignored": st.ignored[-1] if st.ignored else None,
            "drift_amount": self._amount.at(t),
            "truncation": self._truncation(t),
            "brightness": self.brightness(t),
            "version": self.version,
        }

    # -- internals ---------------------------------------------------------------
    def _fetch(self, p: Position) -> Keyframe:
        kf = self.keyframe(p.song, p.section, p.variant)
        return Keyframe(np.asarray(kf.z, np.float32), np.asarray(kf.y, np.float32))

    def _truncation(self, t: float) -> float:
        return min(1.0, max(0.02, self._trunc.at(t)))

    def _blackout_level(self, t: float) -> float:
        target = 0.0 if self.state.blackout else 1.0
        u = ease((t - self.state.blackout_at) / BLACKOUT_SECONDS, EASING)
        return self._b_from + (target - self._b_from) * u

    def _envelope(self, t: float) -> tuple[float, float]:
        """(amplitude boost, extra phase) from recent onset pulses: smooth attack, fast decay."""
        amp, phase = 0.0, self._pulse_phase
        for tp, s in self._pulses:
            x = (t - tp) / PULSE_RISE
            if x <= 0.0:
                continue
            e = math.exp(-x)
            amp += s * x * math.e * e  # x*e^(1-x): 0 at the onset, s at the peak
            phase += s * PULSE_PHASE * (1.0 - (1.0 + x) * e)  # its integral: a smooth step forward
        return amp, phase

    def _phase(self, t: float) -> float:
        return self._phase_base + self._speed * (t - self._phase_t)

    def _drift(self, t: float) -> np.ndarray:
        amount = self._amount.at(t)
        if amount == 0.0:
            return self.drift.at_phase(0.0, 0.0)  # exact zeros
        boost, kick = self._envelope(t)
        amp = amount * (1.0 + LEVEL_GAIN * self._level.at(t) + PULSE_GAIN * boost)
        return self.drift.at_phase(self._phase(t) + kick, amp)  # (L, 128)

    def _latent(self, t: float) -> Keyframe:
        if self.state.frozen and self._held is not None:
            return self._held
        u = ease(self.state.progress(t), EASING)
        kf = blend(self._from, self._target, u)
        if u == 0.0:
            return kf  # exactly the from-picture
        z = kf.z + np.float32(u) * self._drift(t)  # (L, 128); drift around the target fades in
        return Keyframe(z.astype(np.float32, copy=False), kf.y)

    def _param(self, ev: Param, t: float) -> bool:
        name, v = ev.name, float(ev.value)
        if not math.isfinite(v):
            log.debug("param %s ignored: not a finite number", name)
            return False
        if name == "transition":
            self.state.set_transition_override(None if v < 0 else v)  # negative: back to the setlist's
            return True
        if name in _RANGES:
            lo, hi = _RANGES[name]
            v = min(hi, max(lo, v))
        if name == "drift_amount":
            self._amount.set(v, t)
        elif name == "drift_speed":
            self._phase_base, self._phase_t, self._speed = self._phase(t), t, v
        elif name == "truncation":
            self._trunc.set(v, t)
        elif name == "master_fade":
            self._fade.set(v, t)
        elif name == "audio_level":
            self._level.set(v, t)
        elif name == "audio_pulse":
            if v <= 0.0:
                return False
            self._pulse_phase = self._envelope_dropped(t)
            self._pulses.append((t, v))
        else:
            return False  # e.g. audio_sensitivity: the onset detector's, not ours
        return True

    def _envelope_dropped(self, t: float) -> float:
        """Fold pulses too old to matter into the base phase, keeping the phase continuous."""
        keep: list[tuple[float, float]] = []
        phase = self._pulse_phase
        for tp, s in self._pulses:
            if t - tp > PULSE_KEEP:
                phase += s * PULSE_PHASE  # its whole step (the rest after 2 s is < 1e-12)
            else:
                keep.append((tp, s))
        self._pulses = keep
        return phase
