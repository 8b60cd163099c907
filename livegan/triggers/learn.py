"""MIDI learn: press a control for each action, get a preset file.

``livegan learn --midi nano -o presets/midi/mine.yaml`` walks through the
actions one by one ("press the control for NEXT…"), records the first
message that arrives for each, lets the user skip (Enter, or a timeout), and
writes a preset that loads back with :func:`load_midi_preset`. The flow only
needs a port with a non-blocking ``poll()`` of raw messages and an injected
clock, so tests drive it with the fake backend and a ManualClock.
``learn_one`` learns a single action (usable from show mode through
``MidiInput.raw_tap()``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from ..clock import Clock, MonotonicClock
from ..errors import ConfigError, Where
from ..fsio import atomic_write_bytes
from .events import CUE_KINDS
from .midi_map import DEFAULT_MIN_CUE_INTERVAL, PARAM_RANGES, MidiByteParser, parse_preset

log = logging.getLogger(__name__)

DEFAULT_LEARN_ACTIONS: tuple[str, ...] = (
    "next", "prev", "song-next", "song-prev", "blackout", "freeze", "tap",
    "master_fade", "drift_amount", "drift_speed", "truncation", "transition",
)
DEFAULT_TIMEOUT = 20.0  # seconds to wait for a control before skipping the action
SETTLE_SECONDS = 0.3    # after a press, swallow its release and bounces

Control = tuple[str, int, int]  # (note | cc | program, channel 1..16, number)


class RawPort(Protocol):
    def poll(self) -> list[list[int]]: ...


def control_of(msg: tuple[int, ...]) -> Control | None:
    """The control a press or move comes from; None for releases and other messages."""
    status = msg[0]
    if status >= 0xF0:
        return None
    kind, ch = status & 0xF0, (status & 0x0F) + 1
    if kind == 0x90 and len(msg) == 3 and msg[2] > 0:
        return ("note", ch, msg[1])
    if kind == 0xB0 and len(msg) == 3:
        return ("cc", ch, msg[1])
    if kind == 0xC0 and len(msg) == 2:
        return ("program", ch, msg[1])
    return None


def check_action(action: str) -> str:
    """Normalise an action ('next', 'goto 3', 'master_fade'); ValueError lists the valid ones."""
    a = " ".join(action.strip().lower().replace(":", " ").split())
    if a.startswith("goto "):
        n = a.split(" ", 1)[1]
        if n.isdigit() and int(n) >= 1:
            return f"goto {int(n)}"
        raise ValueError(f"goto needs a section number >= 1, got {action!r}")
    if a in CUE_KINDS and a != "goto" or a in PARAM_RANGES:
        return a
    valid = [c for c in CUE_KINDS if c != "goto"] + ["goto N"] + list(PARAM_RANGES)
    raise ValueError(f"unknown action {action!r} (one of {', '.join(valid)})")


def mapping_for(action: str, control: Control) -> dict[str, Any]:
    """A preset mapping (plain dict) that binds ``control`` to ``action``."""
    kind, ch, num = control
    a = check_action(action)
    m: dict[str, Any] = {kind: num, "channel": ch}
    if a.startswith("goto "):
        m.update(cue="goto", arg=int(a.split()[1]))
    elif a in PARAM_RANGES:
        lo, hi = PARAM_RANGES[a]["default"]
        m.update(param=a, range=[lo, hi])
    else:
        m["cue"] = a
    return m


class OneShotLearner:
    """Pure: offer raw messages until one comes from a control not yet taken."""

    def __init__(self, action: str, taken: Iterable[Control] = ()) -> None:
        self.action = check_action(action)
        self.taken = set(taken)
        self.parser = MidiByteParser()

    def offer(self, data: list[int]) -> dict[str, Any] | None:
        for msg in self.parser.feed(data):
            control = control_of(msg)
            if control is not None and control not in self.taken:
                return mapping_for(self.action, control)
        return None


def _control_of_mapping(m: dict[str, Any]) -> Control:
    kind = next(k for k in ("note", "cc", "program") if k in m)
    return (kind, int(m["channel"]), int(m[kind]))


def learn_one(port: RawPort, action: str, clock: Clock | None = None, timeout: float = DEFAULT_TIMEOUT,
              ask_skip: Callable[[], bool] | None = None, taken: Iterable[Control] = (),
              poll_interval: float = 0.01, flush: bool = True) -> dict[str, Any] | None:
    """Wait for one control for ``action``; its mapping dict, or None if skipped/timed out.

    ``flush`` forgets what arrived before the call (pass False when the
    caller flushed before showing its prompt).
    """
    clock = clock or MonotonicClock()
    learner = OneShotLearner(action, taken)
    if flush:
        port.poll()
    deadline = clock.now() + timeout
    while True:
        for data in port.poll():
            m = learner.offer(data)
            if m is not None:
                return m
        if ask_skip is not None and ask_skip():
            return None
        if clock.now() >= deadline:
            return None
        clock.sleep(poll_interval)


def run_learn(port: RawPort, actions: Iterable[str] = DEFAULT_LEARN_ACTIONS,
              prompt: Callable[[str], None] = log.info, ask_skip: Callable[[], bool] | None = None,
              clock: Clock | None = None, timeout: float = DEFAULT_TIMEOUT,
              name: str = "learned", port_name: str | None = None) -> dict[str, Any]:
    """Walk through ``actions`` and return a preset dict (write it with write_preset).

    Each control is used once: a fader that keeps sending while the next
    action is prompted can't be learned twice by accident.
    """
    clock = clock or MonotonicClock()
    acts = [check_action(a) for a in actions]  # fail before the first prompt, not halfway
    mappings: list[dict[str, Any]] = []
    taken: set[Control] = set()
    for i, action in enumerate(acts, 1):
        port.poll()  # forget anything pressed before the prompt
        prompt(f"[{i}/{len(acts)}] press or move the control for {action.upper()}… "
               f"(Enter to skip, {timeout:.0f} s)")
        m = learn_one(port, action, clock, timeout, ask_skip, taken, flush=False)
        if m is None:
            prompt(f"  {action}: skipped")
            continue
        kind = next(k for k in ("note", "cc", "program") if k in m)
        prompt(f"  {action}: {kind} {m[kind]} on channel {m['channel']}")
        mappings.append(m)
        taken.add(_control_of_mapping(m))
        settle_until = clock.now() + SETTLE_SECONDS
        while clock.now() < settle_until:  # swallow the release and any bounce
            port.poll()
            clock.sleep(0.01)
    preset: dict[str, Any] = {"name": name, "min_cue_interval": DEFAULT_MIN_CUE_INTERVAL,
                              "mappings": mappings}
    if port_name:
        preset["port"] = port_name
    return preset


def _flow(value: Any) -> str:
    # JSON scalars and lists are valid YAML flow values, and quote anything odd.
    return json.dumps(value, ensure_ascii=False)


def format_preset(preset: dict[str, Any]) -> str:
    """The YAML text of a preset dict (one flow mapping per line, like the shipped presets)."""
    lines = ["# MIDI map written by `livegan learn`; edit freely, see presets/midi/generic.yaml."]
    for key in ("name", "port", "min_cue_interval"):
        if preset.get(key) is not None:
            lines.append(f"{key}: {_flow(preset[key])}")
    lines.append("mappings:")
    for m in preset.get("mappings", []):
        lines.append("  - {" + ", ".join(f"{k}: {_flow(v)}" for k, v in m.items()) + "}")
    return "\n".join(lines) + "\n"


def write_preset(preset: dict[str, Any], path: str | Path) -> Path:
    """Check ``preset`` and write it atomically (temp file + rename); ConfigError if invalid.

    An empty learn (everything skipped) is refused rather than written as a
    preset that won't load.
    """
    p = Path(path)
    parse_preset(preset, name=str(p))  # the same checks the loader applies
    try:
        atomic_write_bytes(p, format_preset(preset).encode("utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot write preset ({e.strerror or e})", Where(str(p))) from None
    return p
