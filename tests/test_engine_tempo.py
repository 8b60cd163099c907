"""One tempo from many sources, and cues quantised to its beat grid (injected time only)."""

from __future__ import annotations

import numpy as np
import pytest

from livegan.engine.director import Director
from livegan.engine.path import Keyframe
from livegan.engine.state import Position, ShowState, SongPlan
from livegan.engine.tempo import LATE_GRACE, TEMPO_SOURCES, TempoBoard, tempo_help
from livegan.setlist import Transition
from livegan.triggers.events import Cue, Tempo


def plan(title="A", n=4, bpm=120.0, quantise="off", bpb=4) -> SongPlan:
    return SongPlan(title, n, [1] * n, [Transition(1.0, "beats")] * n, bpm=bpm, beats_per_bar=bpb, quantise=quantise)


def kf(song: int, sec: int, var: int) -> Keyframe:
    rng = np.random.default_rng(10 * song + sec)
    return Keyframe(rng.standard_normal((2, 128)).astype(np.float32), np.eye(1000, dtype=np.float32)[sec])


# -- priority -----------------------------------------------------------------------------------
def test_priority_order_is_one_table():
    assert [n for n, _ in TEMPO_SOURCES] == ["link", "clock", "osc", "tap", "audio", "song"]
    assert tempo_help() == "link > clock > osc > tap > audio > song"


def test_live_sources_rule_by_priority_and_a_lost_clock_keeps_its_tempo():
    b = TempoBoard()
    assert b.current(100.0) == (100.0, "song") and b.current(None) == (None, None)
    b.set("tap", 90.0, 1.0)
    assert b.current(100.0) == (90.0, "tap")
    b.set("clock", 124.0, 2.0, beat=0.0)
    assert b.current(100.0) == (124.0, "clock"), "a running clock beats a tap"
    b.set("tap", 80.0, 3.0)
    assert b.current(100.0) == (124.0, "clock")
    b.set("link", 128.0, 3.5, beat=10.0)
    assert b.current(100.0) == (128.0, "link")
    b.lose("link")
    assert b.current(100.0) == (124.0, "clock"), "a lost Link gives way to a live clock"
    b.lose("clock")
    assert b.current(100.0) == (80.0, "tap"), "a live tap beats lost running sources"
    b.forget_manual()
    assert b.current(100.0) == (128.0, "link"), "lost sources keep their tempo, highest first"
    assert not b.set("osc", float("nan"), 4.0) and "osc" not in b.readings
    with pytest.raises(ValueError, match="one of link, clock"):
        b.set("drummer", 100.0, 0.0)


def test_state_tempo_follows_the_board_and_manual_tempos_belong_to_their_song():
    st = ShowState([plan("A", bpm=100.0), plan("B", bpm=None)])
    st.handle_tempo(Tempo(140.0, "osc", 0.5))
    assert (st.tempo, st.tempo_source) == (140.0, "osc")
    assert st.transition_seconds(0, 1) == pytest.approx(60 / 140), "beat transitions follow it"
    st.handle(Cue("song-next"), 1.0)
    assert st.tempo is None, "song B has no bpm and the OSC tempo belonged to song A"
    st.handle_tempo(Tempo(124.0, "clock", 2.0, beat=0.0))
    st.handle(Cue("song-prev"), 3.0)
    assert (st.tempo, st.tempo_source) == (124.0, "clock"), "a clock carries across songs"
    assert st.transition_seconds(1, 0) == pytest.approx(60 / 124)


# -- the grid -----------------------------------------------------------------------------------
def test_next_boundary_on_a_clock_grid():
    b = TempoBoard()
    b.set("clock", 120.0, 10.0, beat=0.0)  # beats every 0.5 s from t=10; bars every 2 s
    assert b.next_boundary(10.2, "beat", None) == pytest.approx(10.5)
    assert b.next_boundary(10.2, "bar", None) == pytest.approx(12.0)
    assert b.next_boundary(12.0 + LATE_GRACE / 2, "bar", None) == 12.0 + LATE_GRACE / 2, "just late: at once"
    assert b.next_boundary(12.1, "bar", None) == pytest.approx(14.0)
    assert b.next_boundary(10.2, "off", None) is None
    assert TempoBoard().next_boundary(1.0, "beat", None) is None, "no tempo: no grid, the cue goes at once"
    assert TempoBoard().next_boundary(0.1, "beat", 60.0) == pytest.approx(1.0), "song bpm counts from 0"


def test_tap_grid_counts_from_the_first_tap():
    st = ShowState([plan(bpm=None, quantise="bar")])
    for t in (1.0, 1.5, 2.0, 2.5):
        st.handle(Cue("tap"), t)
    assert st.tempo == pytest.approx(120.0) and st.tempo_source == "tap"
    assert st.next_boundary(2.6, "bar") == pytest.approx(3.0), "taps at 1.0..2.5 are beats 0-3: bar 2 at 3.0"


# -- quantised cues ----------------------------------------------------------------------------------
FPS = 60.0


def frames_until(d: Director, t0: float, t1: float) -> list[float]:
    """Step a display loop at FPS from t0 to t1 calling tick; the frame times at which cues landed."""
    landed = []
    t = t0
    while t <= t1:
        if d.tick(t):
            landed.append(t)
        t += 1.0 / FPS
    return landed


def test_a_quantised_cue_lands_on_the_grid_within_one_frame():
    d = Director([plan(quantise="bar")], kf, drift_amount=0.0)
    d.handle(Tempo(120.0, "clock", 0.0, beat=0.0), 0.0)
    assert not d.handle(Cue("next", source="midi"), 0.73), "waits for the bar"
    assert d.position == Position(0, 0, 0) and d.info(0.8)["pending"][0][0] == "next"
    assert d.info(0.8)["pending"][0][2] == pytest.approx(2.0 - 0.8), "countdown to the bar line"
    landed = frames_until(d, 0.75, 3.0)
    assert len(landed) == 1 and 2.0 <= landed[0] < 2.0 + 1.0 / FPS, "the first frame at or after the bar"
    assert d.position == Position(0, 1, 0)
    assert d.state.segment.start == pytest.approx(2.0), "the leg starts exactly on the bar, not at the frame"
    assert d.info(2.1)["pending"] == []


def test_source_quantise_overrides_the_song_and_tap_freeze_never_wait():
    d = Director([plan(quantise="bar")], kf, drift_amount=0.0)
    d.handle(Tempo(120.0, "link", 0.0, beat=0.0), 0.0)
    assert d.handle(Cue("next", source="osc", quantise="off"), 0.3), "this controller never waits"
    assert d.handle(Cue("freeze"), 0.4) and d.state.frozen
    assert not d.handle(Cue("next", source="key"), 0.6)
    assert d.handle(Cue("tap"), 0.7) is not None and d.pending and d.pending[0][1].kind == "next"
    assert not d.handle(Cue("blackout", quantise="beat"), 0.8)
    assert [c.kind for _, c in d.pending] == ["next", "blackout"]
    assert d.pending[1][0] == pytest.approx(2.0), "a cue behind a waiting one waits with it: order kept"


def test_second_go_while_pending_lands_right_after_the_first():
    d = Director([plan(n=5, quantise="beat")], kf, drift_amount=0.0)
    d.handle(Tempo(100.0, "clock", 0.0, beat=0.0), 0.0)  # beats every 0.6 s
    d.handle(Cue("next"), 0.1)
    d.handle(Cue("next"), 0.2)
    assert d.position.section == 0 and len(d.pending) == 2
    frames_until(d, 0.2, 0.7)
    assert d.position.section == 2, "both GOs land on the beat at 0.6, in order"
    assert d.state.segment.start == pytest.approx(0.6)


def test_without_a_tempo_quantised_cues_go_at_once():
    d = Director([plan(bpm=None, quantise="bar")], kf, drift_amount=0.0)
    assert d.handle(Cue("next"), 0.3) and d.position.section == 1
