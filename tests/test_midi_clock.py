"""MIDI clock: byte streams with jitter, steps and ramps -> BPM within 0.5 % two beats after a change."""

from __future__ import annotations

import pytest

from livegan.clock import ManualClock
from livegan.triggers.events import Cue, EventQueue, Tempo
from livegan.triggers.midi import FakeMidiBackend, MidiInput
from livegan.triggers.midi_clock import CLOCK, CONTINUE, PPQN, SPP, START, STOP, MidiClock, clock_bytes, fit_period


def run(bpm_at, seconds: float, jitter: float = 0.0, seed: int = 0) -> list[Tempo]:
    c = MidiClock()
    out: list[Tempo] = []
    for t, data in clock_bytes(bpm_at, seconds, jitter=jitter, seed=seed):
        out.extend(c.feed(data, t))
    return out


def err(ev: Tempo, true_bpm: float) -> float:
    return abs(ev.bpm - true_bpm) / true_bpm


def test_fit_period_is_exact_on_even_pulses():
    assert fit_period([0.5 + 0.02 * i for i in range(24)]) == pytest.approx(0.02)


@pytest.mark.parametrize("bpm", [60.0, 120.0, 174.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_steady_clock_with_one_ms_jitter_is_within_half_a_percent(bpm, seed):
    evs = run(lambda t: bpm, 16.0, jitter=0.001, seed=seed)
    later = [e for e in evs if e.t > 2 * 60 / bpm]  # from two beats in
    assert len(later) >= 10
    assert max(err(e, bpm) for e in later) < 0.005
    beats = [e.beat for e in evs if e.beat is not None]
    assert beats[0] == pytest.approx(5 / PPQN), "a first reading as soon as the fit has 6 pulses"
    assert beats[1:5] == [1.0, 2.0, 3.0, 4.0], "then one reading per beat, counted from Start"


@pytest.mark.parametrize("before,after", [(120.0, 140.0), (140.0, 96.0), (90.0, 91.0)])
def test_a_tempo_step_is_followed_within_two_beats(before, after):
    change = 4.0
    evs = run(lambda t: before if t < change else after, 10.0, jitter=0.001, seed=3)
    settled = change + 2 * 60.0 / after
    late = [e for e in evs if e.t >= settled]
    assert late and max(err(e, after) for e in late) < 0.005
    assert max(err(e, before) for e in evs if 2.0 < e.t < change) < 0.005


def test_a_ramp_is_followed_and_settles_within_two_beats_of_its_end():
    def bpm(t: float) -> float:  # 100 -> 130 bpm over 6 s (an accelerando of 5 bpm/s), then steady
        return 100.0 if t < 2 else min(130.0, 100.0 + 5.0 * (t - 2))
    evs = run(bpm, 14.0, jitter=0.001, seed=4)
    during = [e for e in evs if 3.0 < e.t < 8.0]
    assert during and max(err(e, bpm(e.t)) for e in during) < 0.02, "tracks the ramp (lags it by half a beat)"
    settled = 8.0 + 2 * 60.0 / 130.0
    assert max(err(e, 130.0) for e in evs if e.t >= settled) < 0.005
    gentle = run(lambda t: 120.0 + 0.5 * t, 12.0, jitter=0.001, seed=5)  # a drifting band: 0.5 bpm/s
    assert max(err(e, 120.0 + 0.5 * e.t) for e in gentle if e.t > 1.0) < 0.005


def test_start_stop_continue_and_song_position():
    c, t = MidiClock(), 0.0
    period = 60.0 / (120 * PPQN)
    beats: list[float | None] = []

    def pulses(n: int) -> None:
        nonlocal t
        for _ in range(n):
            beats.extend(e.beat for e in c.feed([CLOCK], t))
            t += period

    c.feed([START], t)
    pulses(2 * PPQN)
    assert [b for b in beats if b is not None] == [5 / PPQN, 1.0]
    c.feed([STOP], t)
    pulses(PPQN)  # clock keeps running while stopped: tempo yes, beat position no
    assert beats[-1] is None and c.bpm == pytest.approx(120.0)
    beats.clear()
    c.feed([SPP, 16, 0], t)  # sixteenth 16 = beat 4
    c.feed([CONTINUE], t)
    pulses(PPQN + 1)
    assert [b for b in beats if b is not None] == [4.0, 5.0]


def test_a_lost_clock_says_so_once_and_keeps_its_tempo():
    c = MidiClock()
    for t, data in clock_bytes(lambda t: 128.0, 2.0):
        c.feed(data, t)
    assert c.check(2.1) is None
    lost = c.check(3.0)
    assert lost == Tempo(None, "clock", 3.0)
    assert c.check(4.0) is None and c.check(9.0) is None, "warned once"
    assert c.bpm == pytest.approx(128.0, rel=1e-3)
    back = c.feed([CLOCK], 10.0)
    assert back and back[0].bpm == pytest.approx(128.0, rel=1e-3), "first pulse back: a reading at once"


def test_midi_input_turns_clock_bytes_into_tempo_beside_its_cues():
    be, clock, q = FakeMidiBackend(["Drum machine 20:0"]), ManualClock(), EventQueue()
    src = MidiInput(q, clock, port="drum", backend=be)
    assert src.open()
    be.send("Drum machine 20:0", [START])
    for i in range(3 * PPQN):
        clock.t = i * 60.0 / (100 * PPQN)
        be.send("Drum machine 20:0", [CLOCK])
    be.send("Drum machine 20:0", [0x90, 36, 100])  # generic map: note 36 = next
    evs = q.drain()
    tempos = [e for e in evs if isinstance(e, Tempo)]
    assert tempos[-1].bpm == pytest.approx(100.0) and tempos[-1].source == "clock"
    assert [e for e in evs if isinstance(e, Cue)][0].kind == "next"
    clock.advance(5.0)
    src.poll()
    assert q.drain() == [Tempo(None, "clock", clock.t)]


def test_clock_only_input_ignores_notes():
    be, clock, q = FakeMidiBackend(["Sync 20:0"]), ManualClock(), EventQueue()
    src = MidiInput(q, clock, port="sync", backend=be, clock_only=True)
    assert src.open() and src.name == "MIDI clock"
    be.send("Sync 20:0", [0x90, 36, 100])
    for i in range(PPQN):
        clock.t = i * 0.02
        be.send("Sync 20:0", [CLOCK])
    evs = q.drain()
    assert evs and all(isinstance(e, Tempo) for e in evs)
