"""Pure MIDI handling: byte streams -> messages -> events, curves, bounce guard."""

from __future__ import annotations

from livegan.triggers.events import Cue, Param
from livegan.triggers.midi_map import (
    MidiByteParser, MidiMapper, curve_value, parse_preset,
)


def mapper(*mappings: dict, interval: float = 0.15) -> MidiMapper:
    return MidiMapper(parse_preset({"name": "t", "min_cue_interval": interval, "mappings": list(mappings)}))


# -- the byte parser ---------------------------------------------------------
def test_parser_whole_messages():
    p = MidiByteParser()
    assert p.feed([0x90, 60, 100, 0xB0, 7, 64, 0xC0, 5]) == [(0x90, 60, 100), (0xB0, 7, 64), (0xC0, 5)]


def test_parser_running_status_and_fragments():
    p = MidiByteParser()
    # one note-on status, then three notes as data pairs only, split across feeds
    assert p.feed([0x91, 60]) == []
    assert p.feed([100, 62, 0, 64]) == [(0x91, 60, 100), (0x91, 62, 0)]
    assert p.feed([90]) == [(0x91, 64, 90)]
    # program change (one data byte) keeps running status too
    assert p.feed([0xC2, 1, 2, 3]) == [(0xC2, 1), (0xC2, 2), (0xC2, 3)]


def test_parser_ignores_realtime_even_inside_a_message():
    p = MidiByteParser()
    assert p.feed([0xF8, 0x90, 0xF8, 60, 0xFE, 100, 0xFA, 61, 0xFC, 101]) == [(0x90, 60, 100), (0x90, 61, 101)]


def test_parser_skips_sysex_and_cancels_running_status():
    p = MidiByteParser()
    out = p.feed([0x90, 60, 100, 0xF0, 0x42, 0x10, 0x7F, 0xF7, 61, 100, 0xB0, 1, 2])
    # data bytes right after sysex have no running status to use: dropped
    assert out == [(0x90, 60, 100), (0xB0, 1, 2)]


def test_parser_drops_stray_data_and_handles_system_common():
    p = MidiByteParser()
    assert p.feed([5, 6, 7]) == []
    assert p.feed([0xF2, 1, 2, 0xF6, 0xF3, 4]) == [(0xF2, 1, 2), (0xF6,), (0xF3, 4)]
    assert p.feed([60, 100]) == []  # system common cancelled running status


# -- mapping -------------------------------------------------------------------
def test_note_on_velocity_zero_is_note_off():
    m = mapper({"note": 60, "cue": "next"})
    assert m.feed([0x90, 60, 100], 0.0) == [Cue("next", source="midi", t=0.0)]
    assert m.feed([0x90, 60, 0], 1.0) == []      # note-off written as note-on vel 0
    assert m.feed([0x80, 60, 64], 2.0) == []     # a real note-off
    assert m.feed([0x90, 60, 1], 3.0) == [Cue("next", source="midi", t=3.0)]


def test_running_status_presses_all_fire():
    m = mapper({"note": 60, "cue": "next"}, {"note": 62, "cue": "prev"})
    evs = m.feed([0x90, 60, 100, 60, 0, 62, 90], 0.0)
    assert [e.kind for e in evs] == ["next", "prev"]


def test_channel_filter():
    m = mapper({"note": 60, "channel": 2, "cue": "next"}, {"note": 60, "cue": "freeze"})
    assert [e.kind for e in m.feed([0x90, 60, 100], 0.0)] == ["freeze"]           # channel 1
    assert [e.kind for e in m.feed([0x91, 60, 100], 1.0)] == ["next", "freeze"]   # channel 2


def test_velocity_threshold():
    m = mapper({"note": 36, "cue": "tap", "velocity_min": 40})
    assert m.feed([0x99, 36, 39], 0.0) == []
    assert [e.kind for e in m.feed([0x99, 36, 40], 1.0)] == ["tap"]


def test_cc_param_linear_endpoints_and_middle():
    m = mapper({"cc": 7, "param": "master_fade", "range": [0, 1]})
    assert m.feed([0xB0, 7, 0], 0.0) == [Param("master_fade", 0.0, source="midi", t=0.0)]
    assert m.feed([0xB0, 7, 127], 0.0)[0].value == 1.0
    assert abs(m.feed([0xB0, 7, 64], 0.0)[0].value - 64 / 127) < 1e-12


def test_curves_endpoints_and_monotonic():
    for lo, hi in [(0.25, 8.0), (0.0, 1.0), (8.0, 0.25), (1.0, 0.0)]:
        for curve in ("linear", "exponential"):
            vals = [curve_value(v / 127, lo, hi, curve) for v in range(128)]
            assert abs(vals[0] - lo) < 1e-9 and abs(vals[-1] - hi) < 1e-9, (lo, hi, curve)
            steps = [b - a for a, b in zip(vals, vals[1:])]
            assert all(s > 0 for s in steps) if hi > lo else all(s < 0 for s in steps)
    # exponential with positive ends is geometric: the middle is the geometric mean
    assert abs(curve_value(0.5, 0.25, 4.0, "exponential") - 1.0) < 1e-9
    # and it really is a different shape from linear
    assert curve_value(0.5, 0.0, 1.0, "exponential") < 0.5


def test_cc_exponential_through_mapper():
    m = mapper({"cc": 3, "param": "transition", "range": [0.25, 8.0], "curve": "exponential"})
    vals = [m.feed([0xB0, 3, v], 0.0)[0].value for v in range(128)]
    assert vals[0] == 0.25 and abs(vals[-1] - 8.0) < 1e-9
    assert vals == sorted(vals)


def test_cc_button_fires_on_rising_edge_only():
    m = mapper({"cc": 41, "cue": "next"}, interval=0.0)
    assert [e.kind for e in m.feed([0xB0, 41, 127], 0.0)] == ["next"]
    assert m.feed([0xB0, 41, 127], 1.0) == []   # still held: no new press
    assert m.feed([0xB0, 41, 0], 2.0) == []     # release
    assert [e.kind for e in m.feed([0xB0, 41, 127], 3.0)] == ["next"]
    assert m.feed([0xB0, 41, 63], 4.0) == []    # below the middle is not pressed
    m.feed([0xB0, 41, 0], 5.0)
    assert m.feed([0xB0, 41, 63], 6.0) == []
    assert [e.kind for e in m.feed([0xB0, 41, 64], 7.0)] == ["next"]  # crossing 64


def test_cc_edge_is_per_channel():
    m = mapper({"cc": 41, "cue": "next"}, interval=0.0)
    m.feed([0xB0, 41, 127], 0.0)
    assert [e.kind for e in m.feed([0xB1, 41, 127], 1.0)] == ["next"]


def test_double_trigger_guard_per_cue():
    m = mapper({"note": 60, "cue": "next"}, {"note": 61, "cue": "freeze"}, interval=0.15)
    assert len(m.feed([0x90, 60, 100], 10.0)) == 1
    assert m.feed([0x90, 60, 100], 10.05) == []                        # bounce
    assert [e.kind for e in m.feed([0x90, 61, 100], 10.06)] == ["freeze"]  # another cue: fine
    assert m.feed([0x90, 60, 100], 10.14) == []
    assert len(m.feed([0x90, 60, 100], 10.16)) == 1
    assert m.suppressed == 2


def test_guard_distinguishes_goto_targets_and_spares_params():
    m = mapper({"note": "0-63", "cue": "goto", "arg": 1}, {"cc": 7, "param": "master_fade"})
    evs = m.feed([0x90, 0, 100, 0x90, 9, 100], 0.0)
    assert [(e.kind, e.arg) for e in evs] == [("goto", 1), ("goto", 10)]
    assert len(m.feed([0xB0, 7, 1, 0xB0, 7, 2], 0.0)) == 2


def test_program_change_any_is_goto():
    m = mapper({"program": "any", "cue": "goto", "arg": 1})
    assert m.feed([0xC0, 0], 0.0) == [Cue("goto", 1, source="midi", t=0.0)]
    assert m.feed([0xC5, 11], 1.0) == [Cue("goto", 12, source="midi", t=1.0)]


def test_unmapped_messages_give_nothing():
    m = mapper({"note": 60, "cue": "next"})
    assert m.feed([0xE0, 0, 64, 0xA0, 60, 10, 0xD0, 5, 0xB0, 60, 127], 0.0) == []
