"""OSC presets: arbitrary addresses (TouchOSC's ``/1/push1``, a desk's own) -> cues and params.

The same YAML machinery and checks as the MIDI presets: unknown keys, bad
cues, params, ranges and curves are one ``FILE:LINE:COL`` error with a "did
you mean". A preset adds to the built-in ``/livegan/`` addresses; it never
removes them.

```yaml
name: TouchOSC simple
quantise: bar            # optional: off, beat or bar for these cues (default: the song's)
mappings:
  - address: /2/push1
    cue: next
  - address: /1/fader1
    param: master_fade
    range: [0, 1]        # optional: value at 0 and at 1 (default: the MIDI map's)
    curve: linear        # or exponential
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import ConfigError
from ..yamlio import load_yaml, locate, to_plain, validate
from .events import QUANTISE_MODES
from .midi_map import _near, check_target, param_range, refuse_unknown_keys
from .osc_addresses import Target

PRESET_DIR = Path(__file__).resolve().parents[2] / "presets" / "osc"


class OscMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str                      # exact OSC address, starting with '/'
    cue: str | None = None
    arg: int | None = None            # goto's section (1-based)
    param: str | None = None
    range: tuple[float, float] | None = None  # [value at 0, value at 1]
    curve: str = "linear"
    label: str | None = None


class OscPreset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "unnamed"
    quantise: str | None = None
    mappings: list[OscMapping]

    def targets(self) -> dict[str, Target]:
        return {m.address: Target(cue=m.cue, arg=m.arg, param=m.param,
                                  range=param_range(m) if m.param else None, curve=m.curve)
                for m in self.mappings}


def parse_osc_preset(data: Any, root: Any = None, name: str = "<osc preset>") -> OscPreset:
    """Validate a preset's plain data (``root``: the ruamel tree, for line numbers)."""
    root = data if root is None else root
    refuse_unknown_keys(OscPreset, data, root, name)
    preset = validate(OscPreset, data, root, name)
    if preset.quantise is not None and preset.quantise not in QUANTISE_MODES:
        raise ConfigError(f"quantise must be one of {', '.join(QUANTISE_MODES)}, got '{preset.quantise}'"
                          f"{_near(preset.quantise, QUANTISE_MODES)}", locate(root, ("quantise",), name))
    if not preset.mappings:
        raise ConfigError("mappings is empty; a preset needs at least one mapping", locate(root, ("mappings",), name))
    seen: set[str] = set()
    for i, m in enumerate(preset.mappings):
        a = m.address
        if not a.startswith("/") or any(c in a for c in " #*,?[]{}") or len(a) > 200:
            raise ConfigError(f"address must start with '/' and hold no spaces or # * , ? [ ] {{ }}, got '{a}'",
                              locate(root, ("mappings", i, "address"), name))
        if a in seen:
            raise ConfigError(f"address '{a}' is mapped twice", locate(root, ("mappings", i, "address"), name))
        seen.add(a)
        problem = check_target(m)
        if problem:
            key, msg = problem
            loc: tuple[Any, ...] = ("mappings", i, key) if key else ("mappings", i)
            raise ConfigError(msg, locate(root, loc, name))
    return preset


def load_osc_preset(path: str | Path) -> OscPreset:
    """Load and check an OSC preset; a bare name such as ``touchosc-simple`` is looked up in presets/osc/."""
    p = Path(path)
    if not p.exists() and p.suffix == "" and (PRESET_DIR / f"{p}.yaml").exists():
        p = PRESET_DIR / f"{p}.yaml"
    root = load_yaml(p)
    return parse_osc_preset(to_plain(root), root, str(path))


def shipped_osc_presets() -> list[Path]:
    return sorted(PRESET_DIR.glob("*.yaml"))
