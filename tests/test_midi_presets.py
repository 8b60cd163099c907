"""MIDI presets: every shipped map loads and maps its controls; bad maps give FILE:LINE:COL errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from livegan.errors import ConfigError
from livegan.triggers.midi_map import (
    DEFAULT_PRESET_PATH, MidiMapper, load_midi_preset, shipped_presets,
)


def test_all_shipped_presets_load():
    names = {p.stem for p in shipped_presets()}
    assert {"generic", "nanokontrol2", "apc_mini", "launch_control_xl"} <= names
    for p in shipped_presets():
        preset = load_midi_preset(p)
        assert preset.mappings, p
        assert "#" in p.read_text().splitlines()[0], f"{p} should start with a comment saying its layout"


def kinds(path: str, data: list[int], t: float = 0.0) -> list[tuple]:
    m = MidiMapper(load_midi_preset(path))
    return [(e.kind, e.arg) if hasattr(e, "kind") else (e.name, round(e.value, 4)) for e in m.feed(data, t)]


def test_generic_is_default_and_maps_keys_pedal_and_program():
    assert load_midi_preset().name == load_midi_preset(DEFAULT_PRESET_PATH).name == "generic"
    assert kinds("generic", [0x90, 60, 100]) == [("next", None)]
    assert kinds("generic", [0xB3, 64, 127]) == [("next", None)]   # sustain pedal, any channel
    assert kinds("generic", [0xB0, 7, 127]) == [("master_fade", 1.0)]
    assert kinds("generic", [0xC0, 2]) == [("goto", 3)]


def test_nanokontrol2():
    assert kinds("nanokontrol2", [0xB0, 41, 127]) == [("next", None)]    # play
    assert kinds("nanokontrol2", [0xB0, 43, 127]) == [("prev", None)]    # rew
    assert kinds("nanokontrol2", [0xB0, 59, 127]) == [("song-next", None)]
    assert kinds("nanokontrol2", [0xB0, 34, 127]) == [("goto", 3)]       # S3
    assert kinds("nanokontrol2", [0xB0, 0, 0]) == [("master_fade", 0.0)]  # fader 1


def test_apc_mini():
    assert kinds("apc_mini", [0x90, 0, 127]) == [("goto", 1)]
    assert kinds("apc_mini", [0x90, 63, 127]) == [("goto", 64)]
    assert kinds("apc_mini", [0x90, 67, 127]) == [("next", None)]        # right arrow
    assert kinds("apc_mini", [0xB0, 56, 127]) == [("master_fade", 1.0)]  # master fader
    assert kinds("apc_mini", [0x90, 98, 127]) == []                       # shift: unmapped


def test_launch_control_xl_cc_and_notes_with_same_numbers():
    assert kinds("launch_control_xl", [0xB8, 107, 127]) == [("next", None)]       # right (CC)
    assert kinds("launch_control_xl", [0x98, 107, 127]) == [("freeze", None)]     # solo (note)
    assert kinds("launch_control_xl", [0x98, 58, 127]) == [("goto", 6)]           # track focus 6
    assert kinds("launch_control_xl", [0x98, 92, 127]) == [("goto", 16)]
    assert kinds("launch_control_xl", [0xB8, 77, 127]) == [("master_fade", 1.0)]


BAD = [
    # (yaml text, expected line, expected col, words in the message)
    ("name: x\nmappings:\n  - {note: 60, cue: next, chanel: 2}\n", 3, 27, ["unknown key 'chanel'", "did you mean 'channel'"]),
    ("name: x\nmappings:\n  - note: 60\n    cue: next\n    channel: 17\n", 5, 5, ["channel must be in range 1..16", "17"]),
    ("name: x\nmappings:\n  - {note: 60, cue: nxet}\n", 3, 16, ["unknown cue 'nxet'", "did you mean 'next'"]),
    ("name: x\nmappings:\n  - {cc: 128, cue: next}\n", 3, 6, ["cc must be in range 0..127", "128"]),
    ("name: x\nmappings:\n  - {cc: 1, param: truncation, range: [0, 1]}\n", 3, 32, ["truncation must be within 0.02..1"]),
    ("name: x\nmappings:\n  - {cc: 1, param: speed}\n", 3, 13, ["unknown param 'speed'", "drift_speed"]),
    ("name: x\nmappings:\n  - {note: 60, cc: 1, cue: next}\n", 3, 6, ["exactly one of note, cc, program"]),
    ("name: x\nmappings:\n  - {note: 60, cue: goto}\n", 3, 16, ["goto needs arg"]),
    ("name: x\nmin_cue_interval: 5\nmappings:\n  - {note: 60, cue: next}\n", 2, 1, ["min_cue_interval must be in range 0..2"]),
    ("name: x\nmappings:\n  - {cc: 1, param: drift_amount, curve: log}\n", 3, 34, ["curve must be one of linear, exponential", "'log'"]),
    ("name: x\nmappings:\n  - {note: \"63-0\", cue: goto, arg: 1}\n", 3, 6, ["low to high"]),
    ("name: x\nmappings: []\n", 2, 1, ["at least one mapping"]),
    ("name: x\nmapings:\n  - {note: 60, cue: next}\n", 2, 1, ["unknown key 'mapings'", "did you mean 'mappings'"]),
    ("name: x\nmappings:\n  - {note: 60, cue: next, velocity_min: 0}\n", 3, 27, ["velocity_min must be in range 1..127"]),
    ("name: x\nquantise: bars\nmappings:\n  - {note: 60, cue: next}\n", 2, 1, ["quantise must be one of off, beat, bar",
                                                                            "did you mean 'bar'"]),
]


@pytest.mark.parametrize("text,line,col,words", BAD)
def test_bad_presets_point_at_the_line(tmp_path: Path, text, line, col, words):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as ei:
        load_midi_preset(f)
    msg = str(ei.value)
    assert msg.startswith(f"{f}:{line}:{col}: "), msg
    for w in words:
        assert w in msg, msg
    assert "\n" not in msg


def test_missing_preset_file_is_one_line(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        load_midi_preset(tmp_path / "nope.yaml")


def test_preset_quantise_reaches_the_cues():
    from livegan.triggers.midi_map import MidiMapper, parse_preset
    p = parse_preset({"quantise": "beat", "mappings": [{"note": 60, "cue": "next"}]})
    (cue,) = MidiMapper(p).feed([0x90, 60, 100], 1.0)
    assert cue.quantise == "beat"
    (cue,) = MidiMapper(parse_preset({"mappings": [{"note": 60, "cue": "next"}]})).feed([0x90, 60, 100], 1.0)
    assert cue.quantise is None, "no quantise in the preset: the song decides"
