"""Cue files: a timed list of cues, for offline render and for rehearsing a show.

One cue per line, ``TIME CUE [ARG]``::

    # time   cue
    0        blackout
    1.5      blackout      # fade in
    12.25    next
    1:04.5   goto 3        # m:ss(.s) and h:mm:ss work too

TIME is seconds from the start (or m:ss / h:mm:ss). Lines need not be in
time order: they are sorted stably, so cues at the same time keep their
order. ``#`` starts a comment; blank lines are fine. Any bad line is a
one-line ``FILE:LINE: what (allowed)`` ConfigError.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..clock import Clock
from ..errors import ConfigError, Where, read_text_file
from ..triggers.base import TriggerSource
from ..triggers.events import CUE_KINDS, Cue, Event, EventQueue

if TYPE_CHECKING:
    from .state import Position, SongPlan

MAX_CUE_FILE_BYTES = 2_000_000
MAX_TIME = 24 * 3600.0  # a cue file longer than a day is surely a typo
SOURCE = "cue-file"
_NUM = r"\d+(?:\.\d*)?|\.\d+"
_SECONDS_RE = re.compile(rf"^(?:{_NUM})$")
_CLOCK_RE = re.compile(rf"^(?:(\d+):)?(\d+):({_NUM})$")
_ALLOWED = "next, prev, goto N, song-next, song-prev, blackout, freeze, tap"
_EXAMPLE = "e.g. '12.5 next' or '1:04 goto 3'"


def _parse_time(tok: str, where: Where) -> float:
    if _SECONDS_RE.match(tok):
        t = float(tok)
    elif m := _CLOCK_RE.match(tok):
        h, mnt, sec = int(m.group(1) or 0), int(m.group(2)), float(m.group(3))
        if sec >= 60 or (m.group(1) is not None and mnt >= 60):
            raise ConfigError(f"time {tok!r}: minutes and seconds must be below 60", where)
        t = h * 3600 + mnt * 60 + sec
    elif tok.startswith("-") and (_SECONDS_RE.match(tok[1:]) or _CLOCK_RE.match(tok[1:])):
        raise ConfigError(f"time {tok!r} is negative; times are seconds from the start (>= 0)", where)
    elif tok.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise ConfigError(f"time {tok!r} must be a finite number of seconds >= 0", where)
    else:
        raise ConfigError(f"time {tok!r} is not understood (seconds like 12.5, or m:ss like 1:04.5)", where)
    if t > MAX_TIME:
        raise ConfigError(f"time {tok!r} is too late (at most {MAX_TIME:.0f} seconds, 24 hours)", where)
    return t


def _parse_line(fields: list[str], where: Where) -> tuple[float, Cue]:
    if len(fields) < 2:
        raise ConfigError(f"expected TIME CUE [ARG] ({_EXAMPLE}), got only {fields[0]!r}", where)
    t = _parse_time(fields[0], where)
    kind = fields[1].lower()
    if kind not in CUE_KINDS:
        raise ConfigError(f"unknown cue {fields[1]!r} (allowed: {_ALLOWED})", where)
    args = fields[2:]
    if kind != "goto":
        if args:
            raise ConfigError(f"cue {kind!r} takes no argument, got {' '.join(args)!r} (only goto takes one)",
                              where)
        return t, Cue(kind, None, source=SOURCE, t=t)
    if not args:
        raise ConfigError(f"goto needs a section number (1-based), e.g. '{fields[0]} goto 3'", where)
    if len(args) > 1:
        raise ConfigError(f"goto takes one section number, got {' '.join(args)!r}", where)
    if not re.fullmatch(r"[+-]?\d+", args[0]):
        raise ConfigError(f"goto's section must be a whole number >= 1, got {args[0]!r}", where)
    n = int(args[0])
    if not 1 <= n <= 10_000:
        raise ConfigError(f"goto's section must be in range 1..10000 (1 is the first line), got {n}", where)
    return t, Cue("goto", n, source=SOURCE, t=t)


def parse_cues(text: str, name: str = "<cues>") -> list[tuple[float, Cue]]:
    """Parse cue-file text into (time, Cue) pairs sorted by time (stable)."""
    out: list[tuple[float, Cue]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        out.append(_parse_line(line.split(), Where(name, lineno)))
    out.sort(key=lambda tc: tc[0])  # list.sort is stable: equal times keep file order
    return out


def parse_cue_file(path: str | Path) -> list[tuple[float, Cue]]:
    """Read and parse a cue file; raise a one-line ConfigError on any problem."""
    return parse_cues(read_text_file(path, max_bytes=MAX_CUE_FILE_BYTES), str(path))


def ignored_gotos(cues: list[tuple[float, Cue]], plans: Sequence[SongPlan], name: str,
                  start: Position | None = None) -> list[str]:
    """Warnings for the gotos this cue file would see ignored, replaying it alone from ``start``.

    ``goto N`` counts the current song's sections, so whether N exists depends
    on which song the file has reached by then; keys or MIDI in the show may
    move elsewhere, hence "when it plays alone".
    """
    from .state import ShowState

    state = ShowState(plans, start=start)
    out: list[str] = []
    for t, cue in cues:
        before = state.cues_ignored
        state.handle(cue, t)
        if cue.kind == "goto" and state.cues_ignored > before:
            out.append(f"{name}: at {t:g} s {state.ignored[-1]}; it will be ignored (playing this file alone)")
    return out


class ScriptedCueSource(TriggerSource):
    """Emits each scripted cue once the injected clock reaches ``start + its time``.

    The emitted Cue carries ``t = start + time`` so an offline renderer can
    apply it at its exact time rather than at the next frame.
    """

    name = "cue-file"

    def __init__(self, events: EventQueue, clock: Clock, cues: list[tuple[float, Cue]],
                 start: float = 0.0) -> None:
        super().__init__(events, clock)
        self.cues = sorted(cues, key=lambda tc: tc[0])
        self.start = start
        self._next = 0  # kept across a reopen: a cue is never sent twice

    @classmethod
    def from_file(cls, path: str | Path, events: EventQueue, clock: Clock, start: float = 0.0) -> "ScriptedCueSource":
        return cls(events, clock, parse_cue_file(path), start)

    @property
    def done(self) -> bool:
        return self._next >= len(self.cues)

    @property
    def remaining(self) -> int:
        return len(self.cues) - self._next

    def next_time(self) -> float | None:
        """Clock time of the next cue, or None when all are sent (lets a renderer step to it)."""
        return None if self.done else self.start + self.cues[self._next][0]

    def _poll(self) -> list[Event]:
        now = self.clock.now()
        out: list[Event] = []
        while self._next < len(self.cues) and self.start + self.cues[self._next][0] <= now:
            t, cue = self.cues[self._next]
            out.append(Cue(cue.kind, cue.arg, source=SOURCE, t=self.start + t))
            self._next += 1
        return out
