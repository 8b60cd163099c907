"""Detector settings, shipped presets and per-song onset rules: defaults, validation, FILE:LINE:COL errors."""

from __future__ import annotations

import pytest

from livegan.audio.onset import OnsetDetector
from livegan.audio.settings import PRESET_DIR, OnsetSettings, SongOnsets, load_onset_settings, preset_names
from livegan.errors import ConfigError


def test_defaults_meet_the_latency_budget() -> None:
    s = load_onset_settings(None)
    assert s == OnsetSettings()
    assert OnsetDetector(s, 48000).latency_seconds <= 0.012


def test_all_shipped_presets_load() -> None:
    names = preset_names()
    assert {"default", "drums", "vocal"} <= set(names)
    for name in names:
        s = load_onset_settings(name)
        assert isinstance(s, OnsetSettings)
        assert load_onset_settings(PRESET_DIR / f"{name}.yaml") == s
        assert OnsetDetector(s, 48000).latency_seconds <= 0.012, name


def test_default_preset_matches_detector_defaults() -> None:
    assert load_onset_settings("default") == OnsetSettings()


def _err(tmp_path, text: str) -> str:
    p = tmp_path / "p.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_onset_settings(str(p))
    return str(e.value)


def test_unknown_key_names_line_and_suggests(tmp_path) -> None:
    msg = _err(tmp_path, "window: 512\nthreshhold: 3\n")
    assert msg.startswith(f"{tmp_path / 'p.yaml'}:2:1:")
    assert "threshhold" in msg and "did you mean 'threshold'" in msg


def test_out_of_range_value_states_the_range(tmp_path) -> None:
    msg = _err(tmp_path, "hop: 256\nrefractory: -1\n")
    assert ":2:1:" in msg and "refractory must be >= 0" in msg


def test_wrong_type_and_cross_field_errors(tmp_path) -> None:
    assert ":1:1:" in _err(tmp_path, "window: big\n")
    assert "power of two" in _err(tmp_path, "window: 500\n")
    assert "hop" in _err(tmp_path, "window: 256\nhop: 512\n")
    assert "fmin" in _err(tmp_path, "fmin: 9000\nfmax: 8000\n")
    assert "mapping" in _err(tmp_path, "- 1\n- 2\n")
    assert "YAML syntax" in _err(tmp_path, "window: [\n")


def test_unknown_preset_name_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as e:
        load_onset_settings("polka")
    assert "polka" in str(e.value) and "drums" in str(e.value)


def test_song_onsets_defaults_and_bounds() -> None:
    s = SongOnsets()
    assert (s.advance, s.every, s.min_level, s.min_interval) == (False, 1, 0.0, 2.0)
    for bad in ({"every": 0}, {"min_level": 1.5}, {"min_interval": -1}, {"advanc": True}):
        with pytest.raises(ValueError):
            SongOnsets(**bad)
    for name, field in SongOnsets.model_fields.items():
        assert field.description, name
