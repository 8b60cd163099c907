"""Soft, tonal onsets: the `soft` preset (SuperFlux lag, longer window, 12 ms latency) against today's default."""

from __future__ import annotations

import numpy as np
import pytest

from onsetsynth import f1, material

from livegan.audio.onset import OnsetDetector, detect_signal
from livegan.audio.settings import OnsetSettings, load_onset_settings


def score(settings: OnsetSettings, kind: str, seconds: float = 8.0) -> float:
    x, truth = material(kind, seconds, seed=1)
    return f1([o.time for o in detect_signal(x, 48000, settings, block=2048)], truth)[0]


def test_soft_preset_stays_within_12_ms_and_hears_soft_attacks_better():
    soft, default = load_onset_settings("soft"), OnsetSettings()
    assert OnsetDetector(soft, 48000).latency_seconds <= 0.012 + 1e-9
    for kind in ("piano", "vowels"):
        assert score(soft, kind) > score(default, kind) + 0.05, kind
    assert score(soft, "plucked") >= score(default, "plucked") - 0.03, "clear attacks stay found"


def test_lag_one_is_the_plain_frame_to_frame_flux():
    """lag=1 (the default) must give exactly what the detector gave before the lag existed."""
    x, _ = material("plucked", 6.0, seed=2)
    a = detect_signal(x, 48000, OnsetSettings())
    b = detect_signal(x, 48000, OnsetSettings(lag=1))
    assert [o.time for o in a] == [o.time for o in b] and len(a) > 5


def test_lag_adds_no_latency_to_a_sharp_attack():
    sr = 48000
    x = np.zeros(sr, np.float32)
    x[sr // 2:sr // 2 + 4800] = np.sin(np.arange(4800) * 0.3) * np.exp(-np.arange(4800) / 800)
    for lag in (1, 4):
        (o,) = detect_signal(x, sr, OnsetSettings(lag=lag))
        assert abs(o.time - 0.5) < 0.011, (lag, o.time)


@pytest.mark.parametrize("kind", ["plucked", "piano", "vowels", "slow-tones", "mixed"])
def test_material_has_known_onsets_and_f1_scores_itself_perfectly(kind):
    x, truth = material(kind, 6.0, seed=0)
    assert x.dtype == np.float32 and np.abs(x).max() <= 1.0 and len(truth) >= 5
    assert f1(truth, truth)[0] == 1.0 and f1([], truth)[0] == 0.0
    assert f1([t + 0.06 for t in truth], truth)[0] < 0.2, "outside ±50 ms is a miss and a false alarm"
