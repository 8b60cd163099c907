"""Synthesised test material with known onsets, by kind: plucked strings, piano-like tones, sung
vowels, slow-attack tones, and plucks mixed with drums and noise. Plus onset F1 (±50 ms).

Used by tests/test_audio_soft_onsets.py and benchmarks/bench_soft_onsets.py.
"""

from __future__ import annotations

import numpy as np

from drumsynth import drum_loop

SR = 48000
KINDS = ("plucked", "piano", "vowels", "slow-tones", "mixed")


def _times(rng, seconds: float, lo: float, hi: float) -> list[float]:
    t, out = 0.3, []
    while t < seconds - 1.0:
        out.append(t)
        t += rng.uniform(lo, hi)
    return out


def _pluck(rng, f0: float, seconds: float) -> np.ndarray:
    """Karplus-Strong: a noise burst in a delay line with a lowpass in the loop (as one IIR filter)."""
    from scipy.signal import lfilter

    n = int(seconds * SR)
    p = max(2, int(round(SR / f0)))
    x = np.zeros(n)
    x[:p] = rng.uniform(-1, 1, p)
    a = np.zeros(p + 2)
    a[0], a[p], a[p + 1] = 1.0, -0.498, -0.498  # y[n] = x[n] + 0.996 * (y[n-p] + y[n-p-1]) / 2
    return lfilter([1.0], a, x)


def _partials(f0: float, seconds: float, attack: float, decay: float, n: int = 8,
              inharm: float = 0.0, vibrato: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    env = np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)
    vib = 1.0 + vibrato * np.sin(2 * np.pi * 5.5 * t)
    x = np.zeros_like(t)
    for k in range(1, n + 1):
        fk = f0 * k * np.sqrt(1 + inharm * k * k)
        if fk > SR / 2.2:
            break
        x += np.sin(2 * np.pi * np.cumsum(fk * vib) / SR) / k
    return x * env


def _vowel(rng, f0: float, seconds: float, attack: float) -> np.ndarray:
    """A glottal-like pulse train through three formant resonators, with vibrato and a soft attack."""
    from scipy.signal import lfilter

    t = np.arange(int(seconds * SR)) / SR
    f = f0 * (1 + 0.017 * np.sin(2 * np.pi * 5.5 * t))  # ±30 cents vibrato
    phase = np.cumsum(f) / SR
    src = (phase % 1.0) - 0.5  # sawtooth
    formants = {"a": (730, 1090, 2440), "i": (270, 2290, 3010), "u": (300, 870, 2240), "e": (530, 1840, 2480)}
    x = np.zeros_like(t)
    for fc in formants[rng.choice(list(formants))]:
        r = np.exp(-np.pi * 80 / SR)
        a = [1, -2 * r * np.cos(2 * np.pi * fc / SR), r * r]
        x += lfilter([1 - r], a, src)
    env = np.minimum(1.0, t / attack) * np.minimum(1.0, (seconds - t) / 0.05)
    return x / (np.abs(x).max() + 1e-9) * env


def material(kind: str, seconds: float = 20.0, seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """(mono float32 at SR, onset times) for one kind of material."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(seconds * SR) + SR)
    onsets: list[float] = []
    if kind == "mixed":
        drums, beats = drum_loop([(100.0, int(seconds * 100 / 60) - 2)], seed=seed, noise_db=-35)
        n = min(x.size, drums.size)
        x[:n] += 0.5 * drums[:n]
        plucks, ponsets = material("plucked", seconds, seed + 1)
        n = min(x.size, plucks.size)
        x[:n] += plucks[:n]
        merged = sorted(beats + ponsets)
        onsets = [t for i, t in enumerate(merged) if i == 0 or t - merged[i - 1] > 0.05]  # one per 50 ms
        return (x / np.abs(x).max()).astype(np.float32), onsets
    for t in _times(rng, seconds, 0.3, 0.9):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        gain = rng.uniform(0.25, 1.0)
        if kind == "plucked":
            note = _pluck(rng, f0, 1.2)
        elif kind == "piano":
            note = _partials(f0, 1.5, attack=rng.uniform(0.003, 0.012), decay=rng.uniform(0.4, 1.0), inharm=4e-4)
        elif kind == "vowels":
            note = _vowel(rng, f0 * 1.5, rng.uniform(0.35, 0.8), attack=rng.uniform(0.03, 0.08))
        elif kind == "slow-tones":
            note = _partials(f0, 1.2, attack=rng.uniform(0.03, 0.1), decay=0.8, n=4)
        else:
            raise ValueError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        i = int(t * SR)
        x[i:i + note.size] += gain * note[: x.size - i]
        onsets.append(t)
    x += 10 ** (-50 / 20) * rng.standard_normal(x.size)
    return (x / np.abs(x).max()).astype(np.float32), onsets


def f1(detected: list[float], truth: list[float], tol: float = 0.05) -> tuple[float, int, int, int]:
    """(F1, hits, false alarms, misses): each true onset matches at most one detection within ±tol."""
    used = [False] * len(detected)
    hits = 0
    for t in truth:
        best, bi = tol + 1e-9, -1
        for i, d in enumerate(detected):
            if not used[i] and abs(d - t) <= best:
                best, bi = abs(d - t), i
        if bi >= 0:
            used[bi] = True
            hits += 1
    fa, miss = len(detected) - hits, len(truth) - hits
    p = hits / len(detected) if detected else 0.0
    r = hits / len(truth) if truth else 0.0
    return (2 * p * r / (p + r) if p + r else 0.0), hits, fa, miss
