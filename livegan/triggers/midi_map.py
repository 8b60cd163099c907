"""MIDI controller maps: the preset schema, its loader, and the pure bytes -> events mapping.

A preset (``presets/midi/*.yaml``) lists mappings from a note, control change
(CC) or program change to either a cue (``next``, ``goto 3``…) or a
continuous parameter (``master_fade`` from 0 to 1 along a curve). Nothing
here touches hardware: :class:`MidiByteParser` turns a raw byte stream into
whole messages (running status, realtime bytes, sysex), and
:class:`MidiMapper` turns messages into :class:`Cue`/:class:`Param` events.
Both are driven from the MIDI callback thread only, so they hold plain state.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, field_validator

from ..errors import ConfigError
from ..yamlio import load_yaml, locate, to_plain, validate
from .events import CUE_KINDS, QUANTISE_MODES, Cue, Event, Param

PRESET_DIR = Path(__file__).resolve().parents[2] / "presets" / "midi"
DEFAULT_PRESET_PATH = PRESET_DIR / "generic.yaml"
DEFAULT_MIN_CUE_INTERVAL = 0.15  # seconds; faster repeats of one cue are contact bounce

# Parameters a MIDI control may set, with the range used when a mapping gives
# none (``default``) and the widest range a mapping may ask for (``limits``).
# audio_level/audio_pulse are measured from sound, so MIDI may not set them.
PARAM_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "transition": {"default": (0.25, 8.0), "limits": (0.0, 60.0)},
    "drift_amount": {"default": (0.0, 1.0), "limits": (0.0, 1.0)},
    "drift_speed": {"default": (0.1, 4.0), "limits": (0.0, 10.0)},
    "truncation": {"default": (0.05, 1.0), "limits": (0.02, 1.0)},
    "master_fade": {"default": (0.0, 1.0), "limits": (0.0, 1.0)},
    "audio_sensitivity": {"default": (0.25, 4.0), "limits": (0.0, 10.0)},
}

# Steepness of the exponential curve when the range touches zero (a true
# geometric curve is impossible there): e^k - 1 = 63, i.e. six doublings.
EXP_STEEPNESS = math.log(64.0)

CURVES = ("linear", "exponential")
_RANGE_RE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


class Mapping(BaseModel):
    """One control -> one cue or parameter. Exactly one of note/cc/program."""

    model_config = ConfigDict(extra="forbid")

    note: int | str | None = None     # 0..127, or "A-B" for a block of notes
    cc: int | str | None = None       # controller number 0..127 or "A-B"
    program: int | str | None = None  # program number 0..127, "A-B" or "any"
    channel: int | None = None        # 1..16; none = any channel
    cue: str | None = None            # one of CUE_KINDS
    arg: int | None = None            # goto's section (1-based); first of a block
    param: str | None = None          # one of PARAM_RANGES
    range: tuple[float, float] | None = None  # [value at 0, value at 127]
    curve: str = "linear"             # one of CURVES
    velocity_min: int = 1             # notes softer than this are ignored
    label: str | None = None          # for humans: "fader 1", "play"

    @field_validator("note", "cc", "program", "channel", "arg", "velocity_min", mode="before")
    @classmethod
    def _no_bools(cls, v: Any) -> Any:
        # YAML's `true` would otherwise pass as the number 1: a silent mapping nobody meant.
        if isinstance(v, bool):
            raise ValueError(f"must be a number, not {str(v).lower()}")
        return v


class MidiPreset(BaseModel):
    """A whole controller map."""

    model_config = ConfigDict(extra="forbid")

    name: str = "unnamed"
    port: str | None = None           # port-name substring used when --midi gives none
    min_cue_interval: float = DEFAULT_MIN_CUE_INTERVAL
    quantise: str | None = None       # off, beat or bar for this controller's cues; none: the song's
    mappings: list[Mapping]


# -- validation beyond what pydantic can say --------------------------------
def _numbers(spec: int | str | None, field: str) -> list[int] | None:
    """The MIDI numbers a note/cc/program spec covers; ValueError names the allowed range."""
    if spec is None:
        return None
    if isinstance(spec, int):
        lo = hi = spec
    elif field == "program" and spec.strip().lower() == "any":
        lo, hi = 0, 127
    else:
        m = _RANGE_RE.match(spec)
        if not m:
            raise ValueError(f"{field} must be a number 0..127 or a block like \"0-63\", got {spec!r}")
        lo, hi = int(m.group(1)), int(m.group(2))
    for n in (lo, hi):
        if not 0 <= n <= 127:
            raise ValueError(f"{field} must be in range 0..127, got {n}")
    if lo > hi:
        raise ValueError(f"{field} block must go from low to high, got {lo}-{hi}")
    return list(range(lo, hi + 1))


def param_range(m: Any) -> tuple[float, float]:
    return m.range if m.range is not None else PARAM_RANGES[m.param or "master_fade"]["default"]


def _check_mapping(m: Mapping) -> tuple[str, str] | None:
    """First problem of one mapping as (key it belongs to, message), or None."""
    triggers = [f for f in ("note", "cc", "program") if getattr(m, f) is not None]
    if len(triggers) != 1:
        return ("note" if triggers else "", "a mapping needs exactly one of note, cc, program"
                f" (got {', '.join(triggers) or 'none'})")
    field = triggers[0]
    try:
        _numbers(getattr(m, field), field)
    except ValueError as e:
        return field, str(e)
    if m.channel is not None and not 1 <= m.channel <= 16:
        return "channel", f"channel must be in range 1..16, got {m.channel}"
    if not 1 <= m.velocity_min <= 127:
        return "velocity_min", f"velocity_min must be in range 1..127, got {m.velocity_min}"
    return check_target(m)


def check_target(m: Any) -> tuple[str, str] | None:
    """What a mapping (MIDI or OSC) does: exactly one of cue/param, valid arg/range/curve."""
    if m.curve not in CURVES:
        return "curve", f"curve must be one of {', '.join(CURVES)}, got '{m.curve}'{_near(m.curve, CURVES)}"
    if (m.cue is None) == (m.param is None):
        return ("cue" if m.cue else "", "a mapping needs exactly one of cue, param")
    if m.cue is not None:
        if m.cue not in CUE_KINDS:
            return "cue", f"unknown cue '{m.cue}'{_near(m.cue, CUE_KINDS)} (one of {', '.join(CUE_KINDS)})"
        if m.cue == "goto" and m.arg is None:
            return "cue", "cue goto needs arg: the section number (1-based)"
        if m.arg is not None and m.cue != "goto":
            return "arg", f"arg is only for cue goto, not '{m.cue}'"
        if m.arg is not None and m.arg < 1:
            return "arg", f"arg must be a section number >= 1, got {m.arg}"
        if m.range is not None:
            return "range", "range is only for param mappings"
        return None
    names = tuple(PARAM_RANGES)
    if m.param not in PARAM_RANGES:
        return "param", f"unknown param '{m.param}'{_near(str(m.param), names)} (one of {', '.join(names)})"
    if m.arg is not None:
        return "arg", "arg is only for cue goto"
    lo, hi = param_range(m)
    lim_lo, lim_hi = PARAM_RANGES[m.param]["limits"]
    if lo == hi:
        return "range", f"range for {m.param} needs two different ends, got [{lo}, {hi}]"
    for v in (lo, hi):
        if not lim_lo <= v <= lim_hi:
            return "range", f"range for {m.param} must be within {lim_lo:g}..{lim_hi:g}, got [{lo:g}, {hi:g}]"
    return None


def _near(word: str, options: Iterable[str]) -> str:
    import difflib

    near = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{near[0]}'?" if near else ""


def refuse_unknown_keys(model: type, data: Any, root: Any, name: str) -> None:
    """A preset's unknown top-level key, with its position and a near spelling (MIDI and OSC presets).

    A misspelt top-level key would otherwise surface as "'mappings' is required".
    """
    if isinstance(data, dict):
        allowed = list(model.model_fields)
        for k in data:
            if k not in allowed:
                raise ConfigError(f"unknown key '{k}'{_near(str(k), allowed)} (allowed: {', '.join(allowed)})",
                                  locate(root, (k,), name))


def parse_preset(data: Any, root: Any = None, name: str = "<preset>") -> MidiPreset:
    """Validate a preset's plain data (``root``: the ruamel tree, for line numbers)."""
    root = data if root is None else root
    refuse_unknown_keys(MidiPreset, data, root, name)
    preset = validate(MidiPreset, data, root, name)
    if not 0.0 <= preset.min_cue_interval <= 2.0:
        raise ConfigError(f"min_cue_interval must be in range 0..2 seconds, got {preset.min_cue_interval:g}",
                          locate(root, ("min_cue_interval",), name))
    if preset.quantise is not None and preset.quantise not in QUANTISE_MODES:
        raise ConfigError(f"quantise must be one of {', '.join(QUANTISE_MODES)}, got '{preset.quantise}'"
                          f"{_near(preset.quantise, QUANTISE_MODES)}", locate(root, ("quantise",), name))
    if not preset.mappings:
        raise ConfigError("mappings is empty; a preset needs at least one mapping",
                          locate(root, ("mappings",), name))
    for i, m in enumerate(preset.mappings):
        problem = _check_mapping(m)
        if problem:
            key, msg = problem
            loc: tuple[Any, ...] = ("mappings", i, key) if key else ("mappings", i)
            raise ConfigError(msg, locate(root, loc, name))
    _check_contradictions(preset, root, name)
    return preset


def _cue_targets(m: Mapping) -> list[tuple[str, int, int | None, tuple[str, int | None]]]:
    """(kind, number, channel, (cue, arg)) for each control a cue mapping covers."""
    kind = "note" if m.note is not None else "cc" if m.cc is not None else "program"
    nums = _numbers(getattr(m, kind), kind) or []
    return [(kind, n, m.channel, (str(m.cue), None if m.arg is None else m.arg + k)) for k, n in enumerate(nums)]


# Cues that move the show somewhere: one control can't mean two of them (next and prev,
# goto 2 and goto 5). Toggles (blackout, freeze, tap) may ride along with a move.
MOVES = ("next", "prev", "goto", "song-next", "song-prev")


def _check_contradictions(preset: MidiPreset, root: Any, name: str) -> None:
    """The same note/CC/program (on overlapping channels) mapped to two different moves would
    fire both at once: an error naming both mappings."""
    seen: dict[tuple[str, int], list[tuple[int | None, tuple[str, int | None], int]]] = {}
    for i, m in enumerate(preset.mappings):
        if m.cue not in MOVES:
            continue
        for kind, num, ch, cue in _cue_targets(m):
            for other_ch, other_cue, j in seen.get((kind, num), []):
                if (ch is None or other_ch is None or ch == other_ch) and cue != other_cue:
                    raise ConfigError(
                        f"{kind} {num} is mapped to cue '{cue[0]}'{'' if cue[1] is None else f' {cue[1]}'} "
                        f"here and to cue '{other_cue[0]}'{'' if other_cue[1] is None else f' {other_cue[1]}'} "
                        f"by mapping {j + 1}: they contradict each other (one control, one move)",
                        locate(root, ("mappings", i, kind), name))
            seen.setdefault((kind, num), []).append((ch, cue, i))


def load_midi_preset(path: str | Path | None = None) -> MidiPreset:
    """Load and check a MIDI preset file (default: the generic map); ConfigError on problems.

    A bare name such as ``nanokontrol2`` is looked up in ``presets/midi/``.
    """
    p = Path(path) if path is not None else DEFAULT_PRESET_PATH
    if path is not None and not p.exists() and p.suffix == "" and (PRESET_DIR / f"{p}.yaml").exists():
        p = PRESET_DIR / f"{p}.yaml"
    root = load_yaml(p)
    return parse_preset(to_plain(root), root, str(path if path is not None else p))


def shipped_presets() -> list[Path]:
    return sorted(PRESET_DIR.glob("*.yaml"))


# -- pure byte handling ------------------------------------------------------
def _data_len(status: int) -> int:
    """Number of data bytes after a status byte."""
    if status < 0xF0:
        return 1 if status & 0xF0 in (0xC0, 0xD0) else 2
    return {0xF1: 1, 0xF2: 2, 0xF3: 1}.get(status, 0)


class MidiByteParser:
    """Raw MIDI bytes -> whole messages, as a stream (state survives between feeds).

    Handles running status (data bytes reuse the last channel status), drops
    realtime bytes (0xF8-0xFF, allowed even inside a message) and skips sysex
    (0xF0 … 0xF7). Data bytes with no status to attach to are dropped.
    """

    def __init__(self) -> None:
        self._running: int | None = None  # last channel-voice status
        self._msg: list[int] = []
        self._need = 0
        self._in_sysex = False

    def feed(self, data: Iterable[int]) -> list[tuple[int, ...]]:
        out: list[tuple[int, ...]] = []
        for b in data:
            b &= 0xFF
            if b >= 0xF8:  # realtime (clock, start, active sensing…): never part of a message
                continue
            if b >= 0x80:  # any other status byte ends sysex and starts a message
                self._in_sysex = b == 0xF0
                self._msg = []
                if b >= 0xF0:
                    self._running = None  # system common cancels running status
                    if not self._in_sysex and b != 0xF7:
                        self._start(b, out)
                    continue
                self._running = b
                self._start(b, out)
                continue
            if self._in_sysex:
                continue
            if not self._msg:
                if self._running is None:
                    continue  # stray data byte: nothing to attach it to
                self._start(self._running, out)
            self._msg.append(b)
            if len(self._msg) == self._need + 1:
                out.append(tuple(self._msg))
                self._msg = []
        return out

    def _start(self, status: int, out: list[tuple[int, ...]]) -> None:
        self._need = _data_len(status)
        self._msg = [status]
        if self._need == 0:
            out.append((status,))
            self._msg = []


def curve_value(x: float, lo: float, hi: float, curve: str) -> float:
    """Map x in 0..1 to lo..hi; ``exponential`` is geometric when both ends share a sign."""
    x = min(1.0, max(0.0, x))
    if curve == "linear":
        return lo + (hi - lo) * x
    if lo * hi > 0:
        k = math.log(hi / lo)  # geometric: equal knob travel = equal ratio
    else:
        k = EXP_STEEPNESS
    return lo + (hi - lo) * math.expm1(k * x) / math.expm1(k)


@dataclass(frozen=True)
class _Entry:
    mapping: Mapping
    first: int  # first number of the mapping's block (for goto offsets)


class MidiMapper:
    """Messages -> Cue/Param events for one preset. Not thread-safe: one feeding thread."""

    def __init__(self, preset: MidiPreset, clock: Any = None) -> None:
        self.preset = preset
        self.clock = clock
        self.parser = MidiByteParser()
        self._index: dict[tuple[str, int], list[_Entry]] = {}
        for m in preset.mappings:
            kind = "note" if m.note is not None else "cc" if m.cc is not None else "program"
            nums = _numbers(getattr(m, kind), kind) or []
            for n in nums:
                self._index.setdefault((kind, n), []).append(_Entry(m, nums[0]))
        self._cc_last: dict[tuple[int, int], int] = {}  # (channel, cc) -> last value
        # Bounce guard per (cue kind, arg), not global: two different buttons hit
        # together on purpose (next + freeze) must both work, while one button's
        # contact bounce or a double hit of `next` must not skip a section.
        self._last_cue: dict[tuple[str, int | None], float] = {}
        self.suppressed = 0  # cues dropped by the guard, for diagnostics

    def feed(self, data: Iterable[int] | bytes, t: float | None = None) -> list[Event]:
        """Bytes (one message, several, or a fragment) -> the events they trigger."""
        if t is None:
            t = self.clock.now() if self.clock is not None else 0.0
        out: list[Event] = []
        for msg in self.parser.feed(data):
            out.extend(self.map_message(msg, t))
        return out

    def map_message(self, msg: tuple[int, ...], t: float) -> list[Event]:
        status = msg[0]
        if status >= 0xF0:
            return []
        kind_bits, ch = status & 0xF0, status & 0x0F
        if kind_bits == 0x90 and msg[2] == 0:
            kind_bits = 0x80  # note-on with velocity 0 is a note-off (running-status idiom)
        if kind_bits == 0x90:
            key, num, value = "note", msg[1], msg[2]
        elif kind_bits == 0xB0:
            key, num, value = "cc", msg[1], msg[2]
            prev = self._cc_last.get((ch, num), 0)
            self._cc_last[(ch, num)] = value
        elif kind_bits == 0xC0:
            key, num, value = "program", msg[1], 127
        else:
            return []  # note-off, aftertouch, pitch bend: nothing mapped to them
        out: list[Event] = []
        for e in self._index.get((key, num), ()):
            m = e.mapping
            if m.channel is not None and m.channel - 1 != ch:
                continue
            if m.param is not None:
                x = value / 127.0
                if key == "program":
                    x = (num - e.first) / max(1, len(_numbers(m.program, "program") or [0]) - 1)
                lo, hi = param_range(m)
                out.append(Param(m.param, curve_value(x, lo, hi, m.curve), source="midi", t=t))
                continue
            if key == "note" and value < m.velocity_min:
                continue
            if key == "cc" and not (prev < 64 <= value):
                continue  # buttons send 127 on press and 0 on release: fire on the rising edge
            arg = (m.arg or 1) + (num - e.first) if m.cue == "goto" else None
            last = self._last_cue.get((m.cue or "", arg))
            if last is not None and t - last < self.preset.min_cue_interval:
                self.suppressed += 1
                continue
            self._last_cue[(m.cue or "", arg)] = t
            out.append(Cue(m.cue or "next", arg, source="midi", t=t, quantise=self.preset.quantise))
        return out
