"""MIDI learn against the fake backend: walk the actions, skip, write, load back."""

from __future__ import annotations

from pathlib import Path

import pytest

from livegan.clock import ManualClock
from livegan.errors import ConfigError, DeviceError
from livegan.triggers.learn import learn_one, run_learn, write_preset
from livegan.triggers.midi import FakeMidiBackend, open_raw
from livegan.triggers.midi_map import MidiMapper, load_midi_preset

PORT = "nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0"


def scripted_learn(script: dict[str, list[list[int]]], skip: set[str] = frozenset(), **kw):
    """Run the learn flow; when it prompts for an action, the 'user' sends its messages."""
    be = FakeMidiBackend([PORT])
    tap, handle = open_raw("nano", be)
    clock = ManualClock()
    prompts: list[str] = []
    current = {"action": None}

    def prompt(text: str) -> None:
        prompts.append(text)
        if text.startswith("["):
            action = text.split("control for ")[1].split("…")[0].lower()
            current["action"] = action
            for msg in script.get(action, []):
                be.send(PORT, msg)

    def ask_skip() -> bool:
        return current["action"] in skip

    preset = run_learn(tap, list(kw.pop("actions", script)), prompt, ask_skip, clock,
                       port_name="nanoKONTROL2", **kw)
    handle.close()
    return preset, prompts, clock


def test_learn_walks_through_actions_and_loads_back(tmp_path: Path):
    script = {
        "next": [[0xB0, 41, 127], [0xB0, 41, 0]],          # CC button press + release
        "prev": [[0x91, 60, 100], [0x91, 60, 0]],           # a note on channel 2
        "freeze": [],                                        # nothing pressed: times out
        "blackout": [[0xF8], [0xB0, 42, 127]],              # clock byte first: ignored
        "master_fade": [[0xB0, 0, 10], [0xB0, 0, 20]],      # a fader
        "goto 3": [[0xC0, 7]],                              # a program change
    }
    preset, prompts, clock = scripted_learn(script, timeout=5.0)
    assert preset["mappings"] == [
        {"cc": 41, "channel": 1, "cue": "next"},
        {"note": 60, "channel": 2, "cue": "prev"},
        {"cc": 42, "channel": 1, "cue": "blackout"},
        {"cc": 0, "channel": 1, "param": "master_fade", "range": [0.0, 1.0]},
        {"program": 7, "channel": 1, "cue": "goto", "arg": 3},
    ]
    assert any("FREEZE" in p for p in prompts) and "  freeze: skipped" in prompts
    assert clock.now() >= 5.0                                # freeze waited for its timeout
    out = write_preset(preset, tmp_path / "sub" / "mine.yaml")
    loaded = load_midi_preset(out)
    assert loaded.port == "nanoKONTROL2" and len(loaded.mappings) == 5
    m = MidiMapper(loaded)
    assert [e.kind for e in m.feed([0xB0, 41, 127, 0x91, 60, 99], 10.0)] == ["next", "prev"]
    assert [(e.kind, e.arg) for e in m.feed([0xC0, 7], 11.0)] == [("goto", 3)]
    assert not list(tmp_path.glob("sub/.*tmp"))             # no temp file left behind


def test_skip_and_one_control_per_action():
    script = {
        "next": [[0xB0, 41, 127]],
        # the same button again for PREV is refused (already NEXT); then a new one
        "prev": [[0xB0, 41, 0], [0xB0, 41, 127], [0xB0, 43, 127]],
        "tap": [],                                           # the user presses Enter instead
    }
    preset, prompts, clock = scripted_learn(script, skip={"tap"})
    assert clock.now() < 2.0                                 # skipped at once, not by timeout
    assert preset["mappings"] == [{"cc": 41, "channel": 1, "cue": "next"},
                                  {"cc": 43, "channel": 1, "cue": "prev"}]
    assert "  tap: skipped" in prompts


def test_unknown_action_fails_before_prompting():
    with pytest.raises(ValueError, match="unknown action 'nxt'"):
        scripted_learn({"nxt": []})


def test_learn_one_returns_none_on_timeout_and_mapping_on_press():
    be = FakeMidiBackend([PORT])
    tap, handle = open_raw(None, be)
    clock = ManualClock()
    assert learn_one(tap, "freeze", clock, timeout=1.0) is None
    assert clock.now() >= 1.0

    def skip_after_sending() -> bool:
        be.send(PORT, [0x9F, 36, 90])
        return False

    assert learn_one(tap, "tap", clock, timeout=1.0, ask_skip=skip_after_sending) == \
        {"note": 36, "channel": 16, "cue": "tap"}
    handle.close()


def test_write_preset_refuses_an_empty_learn(tmp_path: Path):
    with pytest.raises(ConfigError, match="at least one mapping"):
        write_preset({"name": "x", "mappings": []}, tmp_path / "x.yaml")
    assert not (tmp_path / "x.yaml").exists()


def test_open_raw_names_available_ports():
    with pytest.raises(DeviceError, match="available: a, b"):
        open_raw("nano", FakeMidiBackend(["a", "b"]))
