"""The director: continuous paths across cues, freeze, blackout, params, versions, info."""

from __future__ import annotations

import numpy as np
import pytest

from livegan.engine.director import BLACKOUT_SECONDS, Director
from livegan.engine.path import Keyframe
from livegan.engine.state import Position, ShowState, SongPlan
from livegan.setlist import Transition
from livegan.triggers.events import Cue, Param

L = 4


def keyframe(song: int, section: int, variant: int) -> Keyframe:
    rng = np.random.default_rng(1000 * song + 10 * section + variant)
    y = np.zeros(1000, np.float32)  # (1000,)
    y[(37 * song + 11 * section + variant) % 1000] = 1.0
    return Keyframe(rng.standard_normal((L, 128)).astype(np.float32), y)  # (L, 128)


def plans() -> list[SongPlan]:
    return [
        SongPlan("One", 3, [2, 1, 1], [Transition(2.0), Transition(4, "beats"), Transition(1.0)], bpm=120),
        SongPlan("Two", 2, [1, 1], [Transition(1.0), Transition(1, "bars")], bpm=90),
    ]


def make(**kw) -> Director:
    return Director(plans(), keyframe, **kw)


def dist(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def test_first_frame_is_the_start_keyframe_without_drift():
    d = make(drift_amount=0.0)
    f = d.frame_at(0.0)
    assert f.z.shape == (L, 128) and f.z.dtype == np.float32 and f.y.shape == (1000,)
    assert np.array_equal(f.z, keyframe(0, 0, 0).z) and np.array_equal(f.y, keyframe(0, 0, 0).y)
    assert f.truncation == pytest.approx(0.7) and f.brightness == 1.0 and f.version == 0
    d2 = make(start=Position(1, 1, 0), drift_amount=0.0)
    assert np.array_equal(d2.frame_at(0.0).z, keyframe(1, 1, 0).z)


def test_transition_ends_exactly_on_the_keyframe_with_no_drift():
    d = make(drift_amount=0.0)
    assert d.handle(Cue("next"), 1.0)
    assert d.version == 1
    assert np.array_equal(d.frame_at(1.0).z, keyframe(0, 0, 0).z)  # starts where the picture was
    mid = d.frame_at(2.0)  # 4 beats at 120 bpm = 2 s: halfway
    assert 0 < dist(mid.z, keyframe(0, 1, 0).z) and 0 < dist(mid.z, keyframe(0, 0, 0).z)
    end = d.frame_at(3.0)
    assert np.array_equal(end.z, keyframe(0, 1, 0).z) and np.array_equal(end.y, keyframe(0, 1, 0).y)
    assert np.array_equal(d.frame_at(50.0).z, keyframe(0, 1, 0).z)


def test_drift_moves_around_the_keyframe_bounded_and_continuous():
    d = make(drift_amount=0.15, drift_speed=1.0)
    kz = keyframe(0, 0, 0).z
    frames = [d.frame_at(t).z for t in np.arange(0, 20, 1 / 30)]
    offs = [np.linalg.norm(f - kz, axis=1).max() for f in frames]
    assert max(offs) <= d.drift.bound(0.15) + 1e-4 and max(offs) > 0.1
    steps = [dist(a, b) for a, b in zip(frames, frames[1:])]
    assert max(steps) < 0.1


def _check_no_jump(d: Director, t: float, cue: Cue, eps: float = 1e-3, tol: float = 0.05) -> None:
    before = d.frame_at(t - eps).z
    at_cue = d.frame_at(t).z
    d.handle(cue, t)
    after = d.frame_at(t).z
    assert np.array_equal(at_cue, after), f"{cue.kind}: the picture jumped at the cue"
    assert dist(before, d.frame_at(t + eps).z) < tol


@pytest.mark.parametrize("kind", ["next", "prev", "goto", "song-next", "song-prev", "freeze"])
def test_cues_mid_transition_never_jump(kind):
    d = make(drift_amount=0.2, drift_speed=1.0, start=Position(1, 0, 0))
    d.handle(Cue("prev"), 1.0)  # into One/3, 1 s leg
    d.handle(Cue("prev"), 1.4)  # into One/2 mid-leg, 2 s leg
    _check_no_jump(d, 2.3, Cue(kind, 1 if kind == "goto" else None))


def test_rapid_cue_storm_stays_continuous():
    d = make(drift_amount=0.2, drift_speed=1.0)
    t, prev = 0.0, d.frame_at(0.0).z
    kinds = ["next", "next", "prev", "goto", "song-next", "song-prev", "next", "prev"]
    for k in range(80):
        t += 1 / 60
        if k % 3 == 0:
            kind = kinds[(k // 3) % len(kinds)]
            d.handle(Cue(kind, 2 if kind == "goto" else None), t)
        z = d.frame_at(t).z
        assert dist(prev, z) < 1.0  # a frame's step, never a cut to another keyframe
        prev = z


def test_frame_at_is_pure_between_cues_and_version_bumps():
    d = make(seed=3)
    d.handle(Cue("next"), 1.0)
    ts = [1.1, 2.5, 1.7, 9.0, 2.5]
    a = [d.frame_at(t) for t in ts]
    b = [d.frame_at(t) for t in reversed(ts)][::-1]
    for x, y in zip(a, b):
        assert np.array_equal(x.z, y.z) and np.array_equal(x.y, y.y) and x.version == y.version == 1
    same = Director(plans(), keyframe, seed=3)
    same.handle(Cue("next"), 1.0)
    assert np.array_equal(same.frame_at(2.5).z, a[1].z)
    v = d.version
    assert not d.handle(Cue("goto", 9), 3.0) and d.version == v  # ignored: no bump
    d.handle(Cue("tap"), 3.1)
    d.handle(Cue("tap"), 3.6)
    assert d.version == v  # tempo does not change the path
    d.handle(Cue("blackout"), 4.0)
    d.handle(Cue("freeze"), 4.0)
    d.handle(Cue("prev"), 4.0)
    assert d.version == v + 3
    d.handle(Param("drift_amount", 0.5), 5.0)
    assert d.version == v + 3  # params glide; they never bump the version


def test_freeze_holds_then_continues_smoothly():
    d = make(drift_amount=0.2, drift_speed=1.0)
    d.handle(Cue("next"), 1.0)
    held = d.frame_at(1.5).z
    d.handle(Cue("freeze"), 1.5)
    for t in (1.5, 2.0, 7.0, 30.0):
        assert np.array_equal(d.frame_at(t).z, held)
    d.handle(Cue("next"), 3.0)  # moving while frozen: the overlay changes, the picture holds
    assert np.array_equal(d.frame_at(3.5).z, held) and d.info(3.5)["frozen"]
    d.handle(Cue("freeze"), 10.0)
    assert np.array_equal(d.frame_at(10.0).z, held)
    assert dist(d.frame_at(10.0 + 1 / 60).z, held) < 0.05
    # and it lands on the new target after the owed leg (1 s at One/3)
    d2 = make(drift_amount=0.0)
    d2.handle(Cue("freeze"), 0.5)
    d2.handle(Cue("next"), 1.0)
    d2.handle(Cue("freeze"), 2.0)
    assert np.array_equal(d2.frame_at(4.0).z, keyframe(0, 1, 0).z)


def test_blackout_fades_and_master_fade_multiplies():
    d = make()
    d.handle(Cue("blackout"), 1.0)
    assert d.frame_at(1.0).brightness == 1.0
    mid = d.frame_at(1.0 + BLACKOUT_SECONDS / 2).brightness
    assert 0.0 < mid < 1.0
    assert d.frame_at(1.0 + BLACKOUT_SECONDS).brightness == 0.0
    assert d.info(5.0)["blackout"]
    d.handle(Cue("blackout"), 1.2)  # toggled back mid-fade: from where it is, no jump
    b_at = d.frame_at(1.2).brightness
    assert b_at == pytest.approx(d.frame_at(1.2 - 1e-4).brightness, abs=1e-3)
    assert d.frame_at(1.2 + BLACKOUT_SECONDS).brightness == 1.0
    d.handle(Param("master_fade", 0.5), 3.0)
    assert d.frame_at(10.0).brightness == pytest.approx(0.5)
    d.handle(Param("master_fade", 7.0), 11.0)  # clamped
    assert d.frame_at(20.0).brightness == 1.0


def test_params_truncation_drift_and_transition_override():
    d = make(drift_amount=0.15)
    d.handle(Param("truncation", 0.4), 1.0)
    assert d.frame_at(1.0).truncation == pytest.approx(0.7)  # glides, no step
    assert d.frame_at(3.0).truncation == pytest.approx(0.4)
    d.handle(Param("truncation", 5.0), 4.0)
    assert d.frame_at(9.0).truncation == 1.0
    d.handle(Param("drift_amount", 0.0), 5.0)
    assert np.array_equal(d.frame_at(9.0).z, keyframe(0, 0, 0).z)  # exactly zero drift once settled
    d.handle(Param("transition", 0.5), 10.0)
    d.handle(Cue("next"), 10.0)
    assert np.array_equal(d.frame_at(10.5).z, keyframe(0, 1, 0).z)
    d.handle(Param("transition", -1), 11.0)  # back to the setlist's
    d.handle(Cue("next"), 11.0)
    assert d.state.segment.seconds == 1.0
    assert not d.handle(Param("audio_sensitivity", 2.0), 12.0)
    assert not d.handle(Param("truncation", float("nan")), 12.0)


def test_drift_speed_change_keeps_the_phase_continuous():
    d = make(drift_amount=0.3, drift_speed=0.25)
    before = d.frame_at(100.0).z
    d.handle(Param("drift_speed", 5.0), 100.0)
    assert np.array_equal(before, d.frame_at(100.0).z)
    assert dist(d.frame_at(100.0).z, d.frame_at(100.0 + 1 / 60).z) < 0.2


def test_audio_level_and_pulse_modulate_drift_smoothly():
    quiet, loud = make(drift_amount=0.2), make(drift_amount=0.2)
    kz = keyframe(0, 0, 0).z
    loud.handle(Param("audio_level", 1.0), 0.0)
    ts = np.arange(1.0, 20.0, 0.25)
    q = np.mean([np.linalg.norm(quiet.frame_at(t).z - kz) for t in ts])
    lo = np.mean([np.linalg.norm(loud.frame_at(t).z - kz) for t in ts])
    assert lo == pytest.approx(2 * q, rel=1e-3)  # amplitude follows loudness
    p = make(drift_amount=0.2)
    base = p.frame_at(5.0).z
    p.handle(Param("audio_pulse", 1.0), 5.0)
    assert np.array_equal(p.frame_at(5.0).z, base)  # a kick starts smoothly
    moved = dist(p.frame_at(5.06).z, quiet.frame_at(5.06).z)
    assert moved > 0.01
    frames = [p.frame_at(t).z for t in np.arange(5.0, 6.0, 1 / 120)]
    assert max(dist(a, b) for a, b in zip(frames, frames[1:])) < 0.3
    for k in range(40):  # old pulses are folded away without a jump
        t = 6.0 + 0.1 * k
        z0 = p.frame_at(t).z
        p.handle(Param("audio_pulse", 0.5), t)
        assert np.array_equal(z0, p.frame_at(t).z)
    assert len(p._pulses) <= 21


def test_info_and_position_callback():
    d = make()
    seen = []
    d.on_position_change = seen.append
    d.handle(Cue("next", source="midi"), 1.0)
    info = d.info(2.0)
    assert info["song"] == "One" and info["section"] == 1 and info["next_section"] == 2
    assert info["progress"] == pytest.approx(0.5) and info["tempo"] == 120
    assert info["last_source"] == "midi" and info["last_cue"] == "next"
    assert not info["blackout"] and not info["frozen"]
    d.handle(Cue("blackout"), 2.0)  # no position change
    d.handle(Cue("song-next"), 3.0)
    assert seen == [Position(0, 1, 0), Position(1, 0, 0)]
    d.handle(Cue("next"), 4.0)
    assert d.info(4.0)["next_section"] is None
    d.on_position_change = lambda p: 1 / 0  # a failing saver never stops the show
    d.handle(Cue("prev"), 5.0)
    assert d.position == Position(1, 0, 0)


def test_director_resumes_from_a_state():
    st = ShowState(plans())
    st.handle(Cue("next"), 1.0)
    back = ShowState.from_dict(st.to_dict(), plans(), t0=50.0)
    d = Director(plans(), keyframe, drift_amount=0.0, state=back, t0=50.0)
    assert d.position == Position(0, 1, 0)
    assert np.array_equal(d.frame_at(50.0).z, keyframe(0, 1, 0).z)


def test_frame_at_from_a_render_thread_while_cues_arrive():
    import threading
    d = make(drift_amount=0.2)
    errors: list[BaseException] = []
    stop = threading.Event()

    def render() -> None:
        t = 0.0
        while not stop.is_set():
            try:
                f = d.frame_at(t)
                assert f.z.shape == (L, 128) and np.all(np.isfinite(f.z))
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
                return
            t += 0.01

    th = threading.Thread(target=render)
    th.start()
    for k in range(300):
        d.handle(Cue(["next", "prev", "freeze", "blackout"][k % 4]), 0.01 * k)
    stop.set()
    th.join()
    assert errors == []
