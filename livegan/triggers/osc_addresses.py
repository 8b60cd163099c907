"""The OSC address space under ``/livegan/``: one table, and the pure router that applies it.

``OSC_IN`` and ``OSC_OUT`` are the single source of the addresses: the
router below, ``livegan show --help``, the README table (tested to match) and
``livegan devices`` all read them, as ``KEY_HELP`` is for the keys.

:class:`OscRouter` turns one decoded message (address + arguments) into the
same :class:`Cue`/:class:`Param`/:class:`Tempo` events MIDI makes (source
``osc``), or into a reason it is bad. It never raises: a show must survive any
packet a network can deliver. Bad messages are counted per address and
logged once per address.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from .events import Cue, Event, Param, Tempo
from .midi_map import PARAM_RANGES, curve_value

log = logging.getLogger(__name__)

PREFIX = "/livegan"
DEFAULT_PORT = 9000          # what `livegan devices` suggests and README examples use (Resolume uses 7000)
DEFAULT_HOST = "127.0.0.1"   # only this machine unless --osc-host says otherwise
SOURCE = "osc"

_CUE_HELP: dict[str, tuple[str, str]] = {  # cue kind -> (arguments, what it does)
    "next": ("", "next section"),
    "prev": ("", "previous section"),
    "goto": ("N", "jump to section N (1-based) of the current song"),
    "song-next": ("", "first section of the next song"),
    "song-prev": ("", "first section of the previous song"),
    "blackout": ("", "blackout on/off"),
    "freeze": ("", "freeze on/off"),
    "tap": ("", "tap tempo"),
}


@dataclass(frozen=True)
class OscAddress:
    address: str
    args: str   # how a user writes the arguments: "", "N", "0..1", "BPM", "TEXT"
    does: str


def _build_in() -> list[OscAddress]:
    rows = [OscAddress(f"{PREFIX}/cue/{k}", a, d) for k, (a, d) in _CUE_HELP.items()]
    for name, r in PARAM_RANGES.items():
        lo, hi = r["default"]
        rows.append(OscAddress(f"{PREFIX}/param/{name}", "0..1", f"{name}: 0..1 maps to {lo:g}..{hi:g} (linear)"))
    rows.append(OscAddress(f"{PREFIX}/tempo", "BPM", "set the tempo, 30..300 (tempo source 'osc')"))
    return rows


OSC_IN: list[OscAddress] = _build_in()

OSC_OUT: list[OscAddress] = [
    OscAddress(f"{PREFIX}/song", "N TEXT", "song number (1-based) and title, on a song change"),
    OscAddress(f"{PREFIX}/section", "N COUNT", "section number (1-based) and sections in the song"),
    OscAddress(f"{PREFIX}/lyric", "TEXT", "the current lyric line"),
    OscAddress(f"{PREFIX}/next-lyric", "TEXT", "the line the next cue goes to"),
    OscAddress(f"{PREFIX}/beat", "N BAR-BEAT", "every beat: beat count and beat within the bar (1-based)"),
    OscAddress(f"{PREFIX}/tempo", "BPM SOURCE", "on a change: tempo and its source (link, clock, ...)"),
]


def help_line() -> str:
    """The incoming addresses as one line for ``--help``."""
    return "; ".join(f"{a.address}{' ' + a.args if a.args else ''}" for a in OSC_IN)


def markdown_table() -> str:
    """The README's OSC table (tests check the README holds exactly this)."""
    lines = ["| direction | address | arguments | what |", "| --- | --- | --- | --- |"]
    for way, rows in (("in", OSC_IN), ("out", OSC_OUT)):
        lines += [f"| {way} | `{a.address}` | {a.args or '-'} | {a.does} |" for a in rows]
    return "\n".join(lines)


# -- routing ---------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """What one address does: a cue (with goto's arg) or a param (with range and curve)."""

    cue: str | None = None
    arg: int | None = None
    param: str | None = None
    range: tuple[float, float] | None = None
    curve: str = "linear"
    tempo: bool = False


def builtin_targets() -> dict[str, Target]:
    out = {f"{PREFIX}/cue/{k}": Target(cue=k) for k in _CUE_HELP}
    for name, r in PARAM_RANGES.items():
        out[f"{PREFIX}/param/{name}"] = Target(param=name, range=r["default"])
    out[f"{PREFIX}/tempo"] = Target(tempo=True)
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return 1.0 if v else 0.0  # OSC T/F
    if isinstance(v, (int, float)):
        return float(v)
    return None


class OscRouter:
    """Address + args -> events. Not thread-safe: one receiving thread.

    ``extra``: addresses from an OSC preset (TouchOSC's ``/1/push1``...),
    checked before the built-in ``/livegan/`` ones. ``quantise``: the
    preset's quantise for the cues it makes (None: the song's).
    """

    def __init__(self, extra: dict[str, Target] | None = None, quantise: str | None = None) -> None:
        self.targets = {**builtin_targets(), **(extra or {})}
        self.quantise = quantise
        self.bad: dict[str, int] = {}     # address -> bad messages
        self.handled = 0

    def route(self, address: str, args: list[Any], t: float) -> list[Event]:
        """One message -> events; a bad one is counted (and logged once per address)."""
        target = self.targets.get(address)
        if target is None:
            return self.reject(address, "unknown address")
        try:
            ev = self._apply(target, args, t)
        except (ValueError, TypeError, OverflowError) as e:
            return self.reject(address, str(e))
        if isinstance(ev, str):
            return self.reject(address, ev)
        self.handled += 1
        return [] if ev is None else [ev]

    def reject(self, address: str, why: str) -> list[Event]:
        key = address[:120]  # a hostile sender can't grow the table's keys without bound ...
        if key not in self.bad and len(self.bad) >= 256:
            key = "<other>"  # ... nor their number
        n = self.bad.get(key, 0) + 1
        self.bad[key] = n
        if n == 1:
            log.warning("OSC: ignoring %s: %s (further problems with it are only counted)", key, why)
        return []

    @property
    def bad_total(self) -> int:
        return sum(self.bad.values())

    def _apply(self, tg: Target, args: list[Any], t: float) -> Event | str | None:
        if tg.tempo:
            if len(args) != 1 or _number(args[0]) is None:
                return f"expects one number (BPM), got {len(args)} argument(s)"
            bpm = _number(args[0])
            if not (math.isfinite(bpm) and 30.0 <= bpm <= 300.0):
                return f"tempo must be in range 30..300 BPM, got {bpm:g}"
            return Tempo(bpm, SOURCE, t)
        if tg.param is not None:
            if len(args) != 1 or _number(args[0]) is None:
                return f"expects one number 0..1, got {len(args)} argument(s) {_types(args)}"
            x = _number(args[0])
            if not (math.isfinite(x) and 0.0 <= x <= 1.0):
                return f"value must be in range 0..1, got {x:g}"
            lo, hi = tg.range or PARAM_RANGES[tg.param]["default"]
            return Param(tg.param, curve_value(x, lo, hi, tg.curve), source=SOURCE, t=t)
        if tg.cue == "goto" and tg.arg is None:  # /livegan/cue/goto N
            if len(args) != 1 or _number(args[0]) is None:
                return f"expects one section number, got {len(args)} argument(s) {_types(args)}"
            n = _number(args[0])
            if not (math.isfinite(n) and n == int(n) and 1 <= n <= 10_000):
                return f"section must be a whole number >= 1, got {n:g}"
            return Cue("goto", int(n), source=SOURCE, t=t, quantise=self.quantise)
        # A button: no argument, or one number where 0 is its release (TouchOSC sends 1 then 0).
        if len(args) > 1 or (args and _number(args[0]) is None):
            return f"expects no argument or one number, got {len(args)} argument(s) {_types(args)}"
        if args and not (_number(args[0]) or 0.0) > 0.0:
            return None  # release (or NaN): nothing to do, and nothing wrong
        return Cue(tg.cue or "next", tg.arg, source=SOURCE, t=t, quantise=self.quantise)


def _types(args: list[Any]) -> str:
    return "(" + ", ".join(type(a).__name__ for a in args) + ")" if args else ""
