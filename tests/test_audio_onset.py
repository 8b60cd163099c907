"""Onset detector on synthetic signals with known onsets: accuracy, silence, streaming equivalence."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from livegan.audio.io import read_audio, write_wav
from livegan.audio.onset import Onset, OnsetDetector, detect_file, detect_signal, format_onsets
from livegan.audio.settings import OnsetSettings
from livegan.errors import ConfigError

SR = 48000


def f1(detected: list[float], truth: list[float], tol: float = 0.05) -> float:
    """F1 of detected vs true onset times; each true onset matches at most one detection within tol."""
    used: set[int] = set()
    tp = 0
    for t in truth:
        cands = [(abs(d - t), j) for j, d in enumerate(detected) if j not in used and abs(d - t) <= tol]
        if cands:
            used.add(min(cands)[1])
            tp += 1
    p = tp / len(detected) if detected else 1.0
    r = tp / len(truth) if truth else 1.0
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def onset_times(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.3 + np.arange(n) * 0.37 + rng.uniform(0, 0.1, n)


def noise_floor(dur: float, db: float = -60.0, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(dur * SR)) * 10 ** (db / 20)).astype(np.float32)


def clicks(ts: np.ndarray, amp: float = 0.8) -> np.ndarray:
    x = noise_floor(ts[-1] + 0.6)
    for t in ts:
        i = int(t * SR)
        x[i:i + 4] += amp * np.array([1, -1, 0.5, -0.5], np.float32)
    return x


def drum_hits(ts: np.ndarray, amps: list[float], seed: int = 2) -> np.ndarray:
    """Noise bursts with a 40 ms exponential decay."""
    rng = np.random.default_rng(seed)
    x = noise_floor(ts[-1] + 0.6)
    n = int(0.25 * SR)
    env = np.exp(-np.arange(n) / (0.04 * SR))
    for t, a in zip(ts, amps):
        i = int(t * SR)
        x[i:i + n] += (a * rng.standard_normal(n) * env)[: len(x) - i].astype(np.float32)
    return x


def tone_notes(ts: np.ndarray, attacks: list[float], seed: int = 3) -> np.ndarray:
    """Sine notes of random pitch with a linear attack, exp decay and a smooth release."""
    rng = np.random.default_rng(seed)
    x = noise_floor(ts[-1] + 0.6)
    n = int(0.3 * SR)
    tt = np.arange(n) / SR
    for t, att in zip(ts, attacks):
        i = int(t * SR)
        env = np.minimum(tt / att, 1) * np.exp(-np.maximum(tt - att, 0) / 0.08) * np.minimum(1, (0.3 - tt) / 0.1)
        x[i:i + n] += (0.5 * env * np.sin(2 * np.pi * rng.uniform(150, 2000) * tt))[: len(x) - i].astype(np.float32)
    return x


def times_of(onsets: list[Onset]) -> list[float]:
    return [o.time for o in onsets]


TS = onset_times(20)
CASES = {
    "clicks": lambda: clicks(TS),
    "drums": lambda: drum_hits(TS, [0.9] * 20),
    "quiet_and_loud": lambda: drum_hits(TS, [0.9 if i % 2 else 0.01 for i in range(20)]),  # 39 dB apart
    "attack_2ms": lambda: tone_notes(TS, [0.002] * 20),
    "attack_20ms": lambda: tone_notes(TS, [0.02] * 20),
    "attacks_2_to_20ms": lambda: tone_notes(TS, list(np.linspace(0.002, 0.02, 20))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_known_onsets_found(name: str) -> None:
    got = times_of(detect_signal(CASES[name](), SR))
    assert f1(got, list(TS)) >= 0.95, (name, got)


def test_onsets_are_on_time_and_within_latency() -> None:
    det = OnsetDetector()
    assert det.latency_seconds == pytest.approx((256 + 256) / 48000)
    assert det.latency_seconds <= 0.012
    got = np.array(times_of(detect_signal(drum_hits(TS, [0.9] * 20), SR)))
    err = np.array([np.min(np.abs(got - t)) for t in TS])
    assert err.max() < 0.012


@pytest.mark.parametrize("kind", ["tone", "chord", "noise_loud", "noise_quiet", "silence"])
def test_steady_signals_give_no_onsets(kind: str) -> None:
    t = np.arange(8 * SR) / SR
    x = {
        "tone": 0.5 * np.sin(2 * np.pi * 440 * t) + noise_floor(8),
        "chord": sum(0.2 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)),
        "noise_loud": 0.3 * np.random.default_rng(5).standard_normal(t.size),
        "noise_quiet": noise_floor(8, -50, seed=6),
        "silence": np.zeros(t.size),
    }[kind]
    assert detect_signal(np.asarray(x, np.float32), SR) == []


def test_block_size_does_not_change_results() -> None:
    x = drum_hits(TS, [0.9 if i % 2 else 0.05 for i in range(20)])
    ref = detect_signal(x, SR)
    assert len(ref) == 20
    for block in (1, 100, 256, 1000, 4096):
        assert detect_signal(x, SR, block=block) == ref


def test_file_path_equals_streaming_path(tmp_path) -> None:
    x = tone_notes(TS, [0.005] * 20)
    p = tmp_path / "song.wav"
    write_wav(p, x, SR)
    y, sr = read_audio(p)
    assert sr == SR and y.dtype == np.float32 and np.abs(y - x).max() < 1e-4
    det = OnsetDetector(sample_rate=SR)
    streamed: list[Onset] = []
    for i in range(0, y.size, 480):  # 10 ms blocks, as a sound card would deliver them
        streamed.extend(det.process(y[i:i + 480]))
    assert detect_file(p) == streamed
    assert f1(times_of(streamed), list(TS)) >= 0.95


def test_other_formats_decode_via_ffmpeg(tmp_path) -> None:
    import subprocess

    import imageio_ffmpeg

    wav = tmp_path / "a.wav"
    write_wav(wav, clicks(TS[:5]), 44100)
    flac = tmp_path / "a.flac"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(wav), str(flac)], check=True)
    y, sr = read_audio(flac)
    assert sr == 48000 and y.size > 0


def test_sensitivity_changes_what_is_heard() -> None:
    x = drum_hits(TS, [0.9 if i % 2 else 0.003 for i in range(20)])
    loud_only = detect_signal(x, SR, OnsetSettings(sensitivity=0.05))
    everything = detect_signal(x, SR)
    assert len(loud_only) < len(everything)


def test_level_follows_loudness() -> None:
    det = OnsetDetector()
    det.process(np.zeros(SR // 10, np.float32))
    assert det.level == 0.0
    det.process((0.5 * np.sin(np.arange(SR // 10) * 0.1)).astype(np.float32))
    assert 0.8 < det.level <= 1.0
    det.process(np.zeros(SR, np.float32))
    assert det.level < 0.1


def test_format_onsets() -> None:
    ons = [Onset(0.5123, 3.14159), Onset(1.0, 1.5)]
    assert format_onsets(ons, as_json=False) == "0.512\n1.000"
    assert json.loads(format_onsets(ons, as_json=True)) == [{"time": 0.512, "strength": 3.14},
                                                            {"time": 1.0, "strength": 1.5}]
    assert format_onsets([], as_json=True) == "[]"


@pytest.mark.parametrize("content", [None, b"", b"this is not audio at all\n", b"RIFF\x00\x00garbage"])
def test_unreadable_files_are_config_errors(tmp_path, content: bytes | None) -> None:
    p = tmp_path / "x.wav"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        detect_file(p)
    assert "x.wav" in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "y.mp3").write_bytes(b"nope")
    with pytest.raises(ConfigError):
        detect_file(tmp_path / "y.mp3")
    with pytest.raises(ConfigError):
        detect_file(tmp_path)


def test_detector_keeps_up_with_real_time() -> None:
    """CPU time of this thread (not wall time: other processes don't count) per hop, against the hop's
    own duration: a detector slower than real time would fall behind live audio on any load. The
    measured share (1.4 % on the dev machine) is `benchmarks/bench_onsets.py`'s job."""
    x = drum_hits(TS, [0.9] * 20)
    det = OnsetDetector()
    t0 = time.thread_time()
    det.process(x)
    per_hop = (time.thread_time() - t0) / (x.size / det.hop)
    print(f"{1000 * per_hop:.3f} ms CPU per {1000 * det.hop / SR:.2f} ms hop")
    assert per_hop < det.hop / SR
