"""The show's state machine: where we are in the setlist and what cues do.

Pure: times are passed in and nothing here reads a clock or touches arrays.
:class:`ShowState` records *what* the picture is heading for (a
:class:`Segment`: target position, start time, length); the director turns
that into latents, taking the from-picture at the segment's start time.

Cue rules, in one place:

- ``next`` moves to the next section; on a song's last section it moves to
  the next song's first section (the end of a song waits for a cue); at the
  end of the setlist it is ignored.
- ``prev`` moves to the previous section; on a song's first section it moves
  to the previous song's *last* section (the mirror of ``next``, so a stray
  ``next`` across a song boundary is undone by one ``prev``); on the very
  first section it is ignored.
- ``goto N`` is 1-based within the current song; out of range is ignored.
- ``song-next`` / ``song-prev`` go to the first section of that song.
- ``blackout`` and ``freeze`` toggle.
- ``tap`` sets the tempo from the average of recent tap intervals; a gap of
  more than 2 s starts a new count. The tapped tempo belongs to the song it
  was tapped in and is forgotten on a song change (songs have their own bpm).
  It times legs started after the tap; a leg already under way keeps its length.
- Tempo from the rig (Link, MIDI clock, OSC) and tap tempo meet in one
  :class:`~livegan.engine.tempo.TempoBoard`; its priority rules are there.
- Every (re-)entry into a section advances its variant (a repeated lyric
  line gets its next picture), modulo the section's variant count.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

from ..setlist import Setlist, Transition, section_transition, section_variants
from ..triggers.events import Cue, Tempo
from .tempo import MAX_BPM, MIN_BPM, TempoBoard

log = logging.getLogger(__name__)

TAP_RESET_SECONDS = 2.0  # a longer gap than this starts a new tap count
TAP_MAX_INTERVALS = 4  # average over the last few intervals: steady, yet follows a change
UNFREEZE_SECONDS = 1.0  # shortest glide from a held picture back onto the path


class Position(NamedTuple):
    """Where the show is: song, section (0-based) and which keyframe variant."""

    song: int
    section: int
    variant: int


@dataclass(frozen=True)
class SongPlan:
    """What the live show needs to know about one song (no text, no arrays)."""

    title: str
    sections: int
    variants: list[int]  # keyframes per section, each >= 1
    transitions: list[Transition]  # transition *into* each section
    bpm: float | None = None
    beats_per_bar: int = 4
    quantise: str = "off"  # cues without a quantise of their own wait for: off, beat or bar

    def __post_init__(self) -> None:
        if self.sections < 1:
            raise ValueError(f"song {self.title!r} needs at least one section")
        if len(self.variants) != self.sections or len(self.transitions) != self.sections:
            raise ValueError(f"song {self.title!r}: variants and transitions need one entry per section")
        if any(v < 1 for v in self.variants):
            raise ValueError(f"song {self.title!r}: every section needs at least one variant")


def plans_from_setlist(sl: Setlist) -> list[SongPlan]:
    """The SongPlans of a loaded setlist (variants and transitions resolved)."""
    return [
        SongPlan(
            title=song.title,
            sections=len(song.sections),
            variants=[section_variants(sl, sec) for sec in song.sections],
            transitions=[section_transition(sl, song, sec) for sec in song.sections],
            bpm=song.bpm,
            beats_per_bar=song.beats_per_bar,
            quantise=song.quantise or sl.defaults.quantise,
        )
        for song in sl.songs
    ]


@dataclass(frozen=True)
class Segment:
    """One leg of the path: from the picture at ``start`` to ``target`` over ``seconds``."""

    start: float
    seconds: float
    target: Position
    id: int  # new id = new leg; the director re-takes its from-picture


@dataclass
class ShowState:
    """Show position and toggles, driven by ``handle(cue, t)``."""

    plans: Sequence[SongPlan]
    start: Position | None = None
    t0: float = 0.0
    position: Position = field(init=False)
    segment: Segment = field(init=False)
    blackout: bool = field(default=False, init=False)
    blackout_at: float = field(default=float("-inf"), init=False)
    frozen: bool = field(default=False, init=False)
    frozen_at: float = field(default=float("-inf"), init=False)
    tempo_board: TempoBoard = field(default_factory=TempoBoard, init=False)
    transition_override: float | None = field(default=None, init=False)
    version: int = field(default=0, init=False)
    cues_handled: int = field(default=0, init=False)
    cues_ignored: int = field(default=0, init=False)
    ignored: deque = field(default_factory=lambda: deque(maxlen=50), init=False)  # recent reasons
    last_cue: Cue | None = field(default=None, init=False)
    _taps: list[float] = field(default_factory=list, init=False, repr=False)
    _visits: dict[tuple[int, int], int] = field(default_factory=dict, init=False, repr=False)
    _pending: float = field(default=0.0, init=False, repr=False)  # leg length owed after unfreeze

    def __post_init__(self) -> None:
        if not self.plans:
            raise ValueError("a show needs at least one song")
        p = self._clamp(self.start or Position(0, 0, 0))
        self._visits[(p.song, p.section)] = p.variant + 1
        self.position = p
        # The first picture is there at once: a zero-length leg.
        self.segment = Segment(self.t0, 0.0, p, 0)

    # -- queries -----------------------------------------------------------
    @property
    def plan(self) -> SongPlan:
        return self.plans[self.position.song]

    @property
    def tapped_bpm(self) -> float | None:
        r = self.tempo_board.readings.get("tap")
        return None if r is None else r.bpm

    @tapped_bpm.setter
    def tapped_bpm(self, bpm: float | None) -> None:  # resume restores it
        if bpm is None:
            self.tempo_board.readings.pop("tap", None)
        else:
            self.tempo_board.set("tap", bpm, 0.0)

    @property
    def tempo(self) -> float | None:
        """The tempo for beat/bar transitions now (see TempoBoard for who rules)."""
        return self.tempo_board.current(self.plan.bpm)[0]

    @property
    def tempo_source(self) -> str | None:
        return self.tempo_board.current(self.plan.bpm)[1]

    def transition_seconds(self, song: int, section: int) -> float:
        """Length of the leg into (song, section): the override, else the section's own."""
        if self.transition_override is not None:
            return self.transition_override
        plan = self.plans[song]
        bpm = self.tempo if song == self.position.song else self._running_bpm(plan.bpm)
        return plan.transitions[section].seconds(bpm, plan.beats_per_bar)

    def _running_bpm(self, song_bpm: float | None) -> float | None:
        """Another song's tempo: a clock or Link carries over, manual tempos don't."""
        r = self.tempo_board.ruling()
        if r is not None and r[0] in ("link", "clock"):
            return r[1].bpm
        return song_bpm

    def handle_tempo(self, ev: Tempo) -> bool:
        """A reading from a tempo source; True when the ruling tempo changed."""
        if ev.bpm is None:
            return self.tempo_board.lose(ev.source)
        return self.tempo_board.set(ev.source, ev.bpm, ev.t, ev.beat)

    def next_boundary(self, t: float, mode: str) -> float | None:
        """When a cue quantised to ``mode`` (beat/bar) lands; None: at once."""
        return self.tempo_board.next_boundary(t, mode, self.plan.bpm, self.plan.beats_per_bar)

    def progress(self, t: float) -> float:
        """Linear progress 0..1 of the current leg (1 when it is done)."""
        seg = self.segment
        if seg.seconds <= 0.0:
            return 1.0 if t >= seg.start else 0.0
        return min(1.0, max(0.0, (t - seg.start) / seg.seconds))

    def next_section(self) -> tuple[int, int] | None:
        """(song, section) a ``next`` would go to, or None at the end of the setlist."""
        s, i = self.position.song, self.position.section
        if i + 1 < self.plans[s].sections:
            return s, i + 1
        if s + 1 < len(self.plans):
            return s + 1, 0
        return None

    # -- the one entry point -------------------------------------------------
    def handle(self, cue: Cue, t: float) -> bool:
        """Apply one cue at time t; True when the show changed. Never raises for a valid Cue."""
        self.last_cue = cue
        s, i = self.position.song, self.position.section
        kind = cue.kind
        if kind == "next":
            nxt = self.next_section()
            if nxt is None:
                return self._ignore(cue, "already at the last section of the setlist")
            return self._enter(*nxt, t)
        if kind == "prev":
            if i > 0:
                return self._enter(s, i - 1, t)
            if s > 0:
                return self._enter(s - 1, self.plans[s - 1].sections - 1, t)
            return self._ignore(cue, "already at the first section of the setlist")
        if kind == "goto":
            n = int(cue.arg or 0)
            if not 1 <= n <= self.plan.sections:
                k = self.plan.sections
                return self._ignore(cue, f"song {self.plan.title!r} has {k} section{'s' if k != 1 else ''} (1..{k})")
            return self._enter(s, n - 1, t)
        if kind == "song-next":
            if s + 1 >= len(self.plans):
                return self._ignore(cue, "already at the last song")
            return self._enter(s + 1, 0, t)
        if kind == "song-prev":
            if s == 0:
                return self._ignore(cue, "already at the first song")
            return self._enter(s - 1, 0, t)
        if kind == "blackout":
            self.blackout = not self.blackout
            self.blackout_at = t
            return self._changed()
        if kind == "freeze":
            return self._toggle_freeze(t)
        if kind == "tap":
            return self._tap(t)
        return self._ignore(cue, f"unknown cue {kind!r}")  # pragma: no cover - Cue validates

    def set_transition_override(self, seconds: float | None) -> None:
        """Fix every following leg's length (seconds, clamped 0..600); None restores the setlist's."""
        self.transition_override = None if seconds is None else min(600.0, max(0.0, float(seconds)))

    # -- internals -------------------------------------------------------------
    def _changed(self) -> bool:
        self.cues_handled += 1
        self.version += 1
        return True

    def _ignore(self, cue: Cue, reason: str) -> bool:
        self.cues_ignored += 1
        self.ignored.append(f"{cue.kind}{'' if cue.arg is None else f' {cue.arg}'}: {reason}")
        log.info("cue %s from %s ignored: %s", cue.kind, cue.source, reason)
        return False

    def _enter(self, song: int, section: int, t: float) -> bool:
        if song != self.position.song:
            self.tempo_board.forget_manual()  # a tapped tempo belongs to its song
            self._taps.clear()
        seconds = self.transition_seconds(song, section)
        n = self._visits.get((song, section), 0)
        self._visits[(song, section)] = n + 1
        self.position = Position(song, section, n % self.plans[song].variants[section])
        self.segment = Segment(t, seconds, self.position, self.segment.id + 1)
        if self.frozen:
            self._pending = seconds  # the whole leg is still owed once unfrozen
        return self._changed()

    def _toggle_freeze(self, t: float) -> bool:
        if not self.frozen:
            self.frozen, self.frozen_at = True, t
            seg = self.segment
            self._pending = max(0.0, seg.start + seg.seconds - t)
        else:
            self.frozen = False
            # Glide from the held picture onto the path: a fresh leg from here.
            seconds = max(UNFREEZE_SECONDS, self._pending)
            self.segment = Segment(t, seconds, self.position, self.segment.id + 1)
        return self._changed()

    def _tap(self, t: float) -> bool:
        self.cues_handled += 1
        if self._taps and (t - self._taps[-1] > TAP_RESET_SECONDS or t <= self._taps[-1]):
            self._taps.clear()
        self._taps.append(t)
        del self._taps[: -(TAP_MAX_INTERVALS + 1)]
        if len(self._taps) < 2:
            return False
        avg = (self._taps[-1] - self._taps[0]) / (len(self._taps) - 1)
        bpm = min(MAX_BPM, max(MIN_BPM, 60.0 / avg))
        changed = bpm != self.tapped_bpm
        # The last tap is a beat: the grid counts from the first tap of the count.
        self.tempo_board.set("tap", bpm, t, beat=float(len(self._taps) - 1))
        return changed

    def _clamp(self, p: Position) -> Position:
        """A position that fits these plans; a resumed setlist may have changed."""
        s = min(max(0, int(p.song)), len(self.plans) - 1)
        i = min(max(0, int(p.section)), self.plans[s].sections - 1)
        v = max(0, int(p.variant)) % self.plans[s].variants[i]
        q = Position(s, i, v)
        if q != tuple(p):
            log.warning("position %s does not fit the setlist; starting at %s", tuple(p), tuple(q))
        return q

    # -- resume ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data for --resume (times are not kept: the clock restarts)."""
        return {
            "position": {"song": self.position.song, "section": self.position.section,
                         "variant": self.position.variant},
            "song_title": self.plan.title,
            "visits": [[s, i, n] for (s, i), n in sorted(self._visits.items())],
            "tapped_bpm": self.tapped_bpm,
            "transition_override": self.transition_override,
            "cues_handled": self.cues_handled,
            "cues_ignored": self.cues_ignored,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], plans: Sequence[SongPlan], t0: float = 0.0) -> "ShowState":
        """Rebuild a state saved by :meth:`to_dict`; positions that no longer fit are clamped.

        Blackout and freeze are not restored: after a crash the picture should come back.
        Raises ValueError on malformed data.
        """
        try:
            pos = d["position"]
            start = Position(int(pos["song"]), int(pos["section"]), int(pos["variant"]))
            st = cls(plans, start=start, t0=t0)
            for s, i, n in d.get("visits", []):
                s, i, n = int(s), int(i), int(n)
                if 0 <= s < len(plans) and 0 <= i < plans[s].sections and n >= 0:
                    st._visits[(s, i)] = n
            # The position's own count must agree with its variant, or the next visit repeats it.
            key = (st.position.song, st.position.section)
            vc = plans[key[0]].variants[key[1]]
            if st._visits.get(key, 0) % vc != (st.position.variant + 1) % vc:
                st._visits[key] = st.position.variant + 1
            if d.get("tapped_bpm") is not None and st.plan.title == d.get("song_title", st.plan.title):
                st.tapped_bpm = min(MAX_BPM, max(MIN_BPM, float(d["tapped_bpm"])))
            if d.get("transition_override") is not None:
                st.set_transition_override(float(d["transition_override"]))
            st.cues_handled = int(d.get("cues_handled", 0))
            st.cues_ignored = int(d.get("cues_ignored", 0))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"saved show state is malformed ({e})") from None
        return st
