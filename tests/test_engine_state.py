"""The show state machine: every cue, song ends, variants, freeze, tap tempo, resume."""

from __future__ import annotations

import pytest

from livegan.engine.state import Position, ShowState, SongPlan, plans_from_setlist
from livegan.setlist import Transition
from livegan.triggers.events import Cue


def plans() -> list[SongPlan]:
    return [
        SongPlan("One", 3, [2, 1, 3], [Transition(2.0), Transition(4, "beats"), Transition(1, "bars")], bpm=120),
        SongPlan("Two", 2, [1, 2], [Transition(1.0), Transition(2, "beats")], bpm=None, beats_per_bar=3),
        SongPlan("Three", 1, [1], [Transition(0.5)]),
    ]


def test_start_and_next_through_the_setlist_stops_at_the_end():
    st = ShowState(plans())
    assert st.position == Position(0, 0, 0) and st.segment.seconds == 0.0
    seen = []
    for k in range(5):
        assert st.handle(Cue("next"), float(k + 1))
        seen.append(st.position[:2])
    assert seen == [(0, 1), (0, 2), (1, 0), (1, 1), (2, 0)]  # a song's end waits, then the next song
    v = st.version
    assert not st.handle(Cue("next"), 10.0)
    assert st.position[:2] == (2, 0) and st.version == v
    assert st.cues_ignored == 1 and "last section" in st.ignored[-1]
    assert st.cues_handled == 5


def test_prev_crosses_back_into_previous_song_and_stops_at_the_start():
    st = ShowState(plans(), start=Position(1, 0, 0))
    assert st.handle(Cue("prev"), 1.0)
    assert st.position[:2] == (0, 2)  # the previous song's last section
    assert st.handle(Cue("prev"), 2.0) and st.position[:2] == (0, 1)
    st.handle(Cue("prev"), 3.0)
    assert not st.handle(Cue("prev"), 4.0)
    assert st.position[:2] == (0, 0) and "first section" in st.ignored[-1]


def test_goto_in_range_and_out_of_range():
    st = ShowState(plans())
    assert st.handle(Cue("goto", 3), 1.0) and st.position[:2] == (0, 2)
    assert not st.handle(Cue("goto", 4), 2.0)
    assert st.position[:2] == (0, 2)
    assert "1..3" in st.ignored[-1] and "One" in st.ignored[-1]
    assert st.cues_ignored == 1


def test_song_next_and_prev():
    st = ShowState(plans(), start=Position(0, 2, 0))
    assert st.handle(Cue("song-next"), 1.0) and st.position[:2] == (1, 0)
    assert st.handle(Cue("song-next"), 2.0) and st.position[:2] == (2, 0)
    assert not st.handle(Cue("song-next"), 3.0) and "last song" in st.ignored[-1]
    st.handle(Cue("song-prev"), 4.0)
    st.handle(Cue("next"), 5.0)
    assert st.handle(Cue("song-prev"), 6.0) and st.position[:2] == (0, 0)
    assert not st.handle(Cue("song-prev"), 7.0) and "first song" in st.ignored[-1]


def test_variants_cycle_on_every_reentry():
    st = ShowState(plans())
    variants = [st.position.variant]
    for k in range(4):  # next, prev, next, prev ... returns to section 0 each other time
        st.handle(Cue("next"), 2.0 * k)
        st.handle(Cue("prev"), 2.0 * k + 1)
        variants.append(st.position.variant)
    assert variants == [0, 1, 0, 1, 0]  # section 0 has 2 variants
    # section 2 has 3 variants: goto the same section cycles them
    got = []
    for k in range(4):
        st.handle(Cue("goto", 3), 20.0 + k)
        got.append(st.position.variant)
    assert got == [0, 1, 2, 0]


def test_segments_record_start_length_and_ids():
    st = ShowState(plans())
    st.handle(Cue("next"), 5.0)
    seg = st.segment
    assert seg.start == 5.0 and seg.seconds == pytest.approx(2.0)  # 4 beats at 120 bpm
    assert seg.target == st.position and seg.id == 1
    assert st.progress(5.0) == 0.0 and st.progress(6.0) == pytest.approx(0.5) and st.progress(9.0) == 1.0
    st.handle(Cue("next"), 6.0)  # mid-leg: a new leg from now
    assert st.segment.start == 6.0 and st.segment.id == 2
    assert st.segment.seconds == pytest.approx(2.0)  # 1 bar of 4 at 120


def test_beat_transitions_without_bpm_use_120_or_the_tapped_tempo():
    st = ShowState(plans(), start=Position(1, 0, 0))
    assert st.tempo is None and st.tempo_source is None
    st.handle(Cue("next"), 1.0)  # 2 beats, no bpm: 120 -> 1 s
    assert st.segment.seconds == pytest.approx(1.0)
    for k in range(5):
        st.handle(Cue("tap"), 10.0 + 0.5 * k)  # 120 bpm... no: 0.5 s = 120
    assert st.tempo == pytest.approx(120.0) and st.tempo_source == "tap"
    for k in range(5):
        st.handle(Cue("tap"), 20.0 + 1.0 * k)  # gap > 2 s resets; then 60 bpm
    assert st.tempo == pytest.approx(60.0)
    st.handle(Cue("prev"), 30.0)
    st.handle(Cue("next"), 31.0)
    assert st.segment.seconds == pytest.approx(2.0)  # 2 beats at 60 bpm


def test_tap_tempo_average_bounds_and_reset_on_song_change():
    st = ShowState(plans())
    assert st.tempo == 120 and st.tempo_source == "song"
    assert not st.handle(Cue("tap"), 1.0)  # one tap: no tempo yet
    assert st.handle(Cue("tap"), 1.4)
    assert st.tempo == pytest.approx(150.0)
    st.handle(Cue("tap"), 2.0)  # intervals 0.4, 0.6 -> average 0.5 -> 120
    assert st.tempo == pytest.approx(120.0)
    for k in range(5):  # very fast taps clamp at 300
        st.handle(Cue("tap"), 5.0 + 0.05 * k)
    assert st.tempo == 300.0
    st.handle(Cue("next"), 8.0)
    assert st.segment.seconds == pytest.approx(4 * 60 / 300)  # tapped tempo used for beats
    st.handle(Cue("song-next"), 9.0)
    assert st.tapped_bpm is None and st.tempo is None  # the tap belonged to song One
    assert ShowState(plans()).handle(Cue("tap"), 0.0) is False


def test_blackout_and_freeze_toggle_and_bump_version():
    st = ShowState(plans())
    v = st.version
    assert st.handle(Cue("blackout"), 1.0) and st.blackout and st.blackout_at == 1.0
    assert st.handle(Cue("blackout"), 2.0) and not st.blackout
    assert st.handle(Cue("freeze"), 3.0) and st.frozen
    st.handle(Cue("next"), 3.5)  # moves while frozen: the picture waits
    assert st.position[:2] == (0, 1)
    assert st.handle(Cue("freeze"), 4.0) and not st.frozen
    assert st.segment.start == 4.0 and st.segment.seconds == pytest.approx(2.0)  # the owed leg
    assert st.version == v + 5


def test_unfreeze_without_a_pending_leg_glides_at_least_one_second():
    st = ShowState(plans())
    st.handle(Cue("freeze"), 10.0)
    st.handle(Cue("freeze"), 20.0)
    assert st.segment.start == 20.0 and st.segment.seconds == pytest.approx(1.0)


def test_transition_override():
    st = ShowState(plans())
    st.set_transition_override(0.25)
    st.handle(Cue("next"), 1.0)
    assert st.segment.seconds == 0.25
    st.set_transition_override(None)
    st.handle(Cue("next"), 2.0)
    assert st.segment.seconds == pytest.approx(2.0)
    st.set_transition_override(1e9)
    assert st.transition_override == 600.0


def test_resume_round_trip():
    st = ShowState(plans())
    for k, c in enumerate(["next", "prev", "goto", "prev", "tap", "tap"]):
        st.handle(Cue(c, 3 if c == "goto" else None), 1.0 + 0.5 * k)
    d = st.to_dict()
    back = ShowState.from_dict(d, plans(), t0=100.0)
    assert back.position == st.position and back.tapped_bpm == st.tapped_bpm
    assert back.cues_handled == st.cues_handled and back.segment.start == 100.0
    # the variant cycle continues where it was
    for s in (st, back):
        s.handle(Cue("goto", 1), 200.0)
    assert back.position == st.position == Position(0, 0, 0)  # third entry of a 2-variant section
    import json
    assert json.loads(json.dumps(d)) == d


def test_resume_clamps_a_position_that_no_longer_fits_and_rejects_garbage():
    d = {"position": {"song": 9, "section": 9, "variant": 9}}
    st = ShowState.from_dict(d, plans())
    assert st.position == Position(2, 0, 0)
    with pytest.raises(ValueError, match="malformed"):
        ShowState.from_dict({"position": {"song": "x"}}, plans())
    with pytest.raises(ValueError):
        ShowState.from_dict({}, plans())


def test_songplan_validation_and_from_setlist(tmp_path):
    with pytest.raises(ValueError):
        SongPlan("x", 2, [1], [Transition(1.0)] * 2)
    with pytest.raises(ValueError):
        SongPlan("x", 1, [0], [Transition(1.0)])
    p = tmp_path / "s.yaml"
    p.write_text("defaults: {variants: 2, transition: 3}\n"
                 "songs:\n- title: A\n  bpm: 100\n  sections:\n  - text: a cat\n  - {text: a dog, variants: 3,"
                 " transition: 2 beats}\n")
    from livegan.setlist import load_setlist
    pl = plans_from_setlist(load_setlist(p))
    assert pl[0].variants == [2, 3] and pl[0].bpm == 100
    assert pl[0].transitions == [Transition(3.0), Transition(2.0, "beats")]
