"""Synthetic drum loops with known beats (tempo changes, swing, noise) for the beat tracker's tests."""

from __future__ import annotations

import numpy as np


def _kick(sr: int) -> np.ndarray:
    t = np.arange(int(0.25 * sr)) / sr
    f = 50 + 70 * np.exp(-t / 0.03)
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.12)


def _snare(sr: int, rng) -> np.ndarray:
    t = np.arange(int(0.18 * sr)) / sr
    return (0.6 * rng.standard_normal(t.size) + 0.5 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.06)


def _hat(sr: int, rng) -> np.ndarray:
    t = np.arange(int(0.05 * sr)) / sr
    return np.diff(rng.standard_normal(t.size + 1)) * 0.25 * np.exp(-t / 0.015)


def beat_times(segments: list[tuple[float, int]]) -> list[float]:
    """[(bpm, beats), ...] -> the time of every beat."""
    out, t = [], 0.0
    for bpm, n in segments:
        for _ in range(n):
            out.append(t)
            t += 60.0 / bpm
    return out


def drum_loop(segments: list[tuple[float, int]], sr: int = 48000, swing: float = 0.5, noise_db: float = -40.0,
              seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """Kick on beats 1 and 3, snare on 2 and 4, hi-hats on eighths (``swing`` = where the off-beat
    falls within the beat: 0.5 straight, 0.67 swung). Returns (mono float32 samples, beat times)."""
    rng = np.random.default_rng(seed)
    beats = beat_times(segments)
    periods = [60.0 / bpm for bpm, n in segments for _ in range(n)]
    total = beats[-1] + periods[-1] + 0.5
    x = np.zeros(int(total * sr) + sr, np.float64)
    kick, hat = _kick(sr), _hat(sr, rng)

    def add(sound: np.ndarray, t: float, gain: float) -> None:
        i = int(round(t * sr))
        x[i:i + sound.size] += gain * sound[: x.size - i]

    for i, (tb, p) in enumerate(zip(beats, periods)):
        if i % 4 in (0, 2):
            add(kick, tb, 0.8)
        else:
            add(_snare(sr, rng), tb, 0.5)
        add(hat, tb, 0.3)
        add(hat, tb + swing * p, 0.2)
    x += 10 ** (noise_db / 20) * rng.standard_normal(x.size)
    return (x / max(1.0, np.abs(x).max())).astype(np.float32), beats
