"""Beat tracker on the onset detector's novelty: synthetic drum loops with tempo changes and swing."""

from __future__ import annotations

import numpy as np
import pytest

from drumsynth import drum_loop

from livegan.audio.beat import MIN_CONFIDENCE, BeatFollower, BeatTracker
from livegan.audio.onset import OnsetDetector
from livegan.clock import ManualClock
from livegan.triggers.events import EventQueue, Tempo

SR = 48000


def track(x: np.ndarray) -> list[tuple[float, object]]:
    det = OnsetDetector(sample_rate=SR)
    bt = BeatTracker(SR / det.hop)
    out: list = []
    det.on_novelty = lambda t, f: out.append((t, bt.feed(t, f)))
    for i in range(0, x.size, 4096):
        det.process(x[i:i + 4096])
    return [(t, r) for t, r in out if r is not None]


@pytest.mark.parametrize("segments,swing", [
    ([(120.0, 48), (132.0, 48)], 0.5),    # straight, a step up
    ([(96.0, 40), (140.0, 56)], 0.67),    # swung eighths, a big step
    ([(110.0, 48), (150.0, 56)], 0.6),
])
def test_bpm_within_2_percent_and_phase_within_30_ms_four_bars_after_each_change(segments, swing):
    x, beats = drum_loop(segments, swing=swing, seed=7)
    readings = track(x)
    starts, i = [], 0
    for bpm, n in segments:
        starts.append((beats[i], bpm))
        i += n
    checked = 0
    for tb in beats:
        start, bpm = [s for s in starts if s[0] <= tb][-1]
        if tb < start + 4 * 4 * 60.0 / bpm:  # 4 bars to settle after a change
            continue
        known = [r for t, r in readings if t < tb - 0.05]  # only what was heard before this beat: causal
        r = known[-1]
        assert abs(r.bpm - bpm) / bpm < 0.02, (tb, r.bpm, bpm)
        period = 60.0 / r.bpm
        predicted = r.beat_time + round((tb - r.beat_time) / period) * period
        assert abs(predicted - tb) < 0.030, (tb, predicted)
        checked += 1
    assert checked > 30


def test_no_trusted_tempo_from_noise_or_a_steady_tone():
    rng = np.random.default_rng(0)
    t = np.arange(SR * 10) / SR
    for x in ((0.1 * rng.standard_normal(t.size)).astype(np.float32),
              (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)):
        det = OnsetDetector(sample_rate=SR)
        follower = BeatFollower(det)
        evs = []
        for i in range(0, x.size, 4096):
            det.process(x[i:i + 4096])
            evs += follower.events(i / SR)
        assert evs == [], "nothing rhythmic: no tempo"
        assert follower.reading is None or follower.reading.confidence < MIN_CONFIDENCE


def test_audio_file_source_with_beat_tracking_sends_the_audio_tempo(tmp_path):
    import wave

    from livegan.triggers.audio import AudioFileSource

    x, _ = drum_loop([(124.0, 28)], swing=0.5, seed=3)
    path = tmp_path / "loop.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    clock, q = ManualClock(), EventQueue()
    src = AudioFileSource(q, clock, path, play=False)
    src.beat_tracking = True
    assert src.open()
    tempos: list[Tempo] = []
    for _ in range(int(13.0 * 50)):
        clock.advance(0.02)
        src.poll()
        tempos += [e for e in q.drain() if isinstance(e, Tempo)]
    src.close()
    assert len(tempos) >= 8 and all(e.source == "audio" for e in tempos)
    assert abs(tempos[-1].bpm - 124.0) / 124.0 < 0.02
    late = tempos[len(tempos) // 2:]
    for a, b in zip(late, late[1:]):  # the grid is consistent: beats advance with time at the tempo
        assert b.beat > a.beat
        assert abs((b.beat - a.beat) - (b.t - a.t) * 124.0 / 60.0) < 0.1, (a, b)
