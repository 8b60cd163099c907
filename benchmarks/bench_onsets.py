"""Onset detector cost and latency on synthetic audio, fed block by block as a sound card would.

Builds ``--seconds`` of audio (drum-like hits at known times over a tone bed
and a noise floor), feeds it to :class:`OnsetDetector` in blocks of ``--block``
samples and times every block. Prints JSON: algorithmic latency, CPU
microseconds per block (mean/p50/p99/max) and as a fraction of the block's
duration, and the F1 of the onsets found (±50 ms).

    python benchmarks/bench_onsets.py --seconds 60 --block 256   (or python -m benchmarks.bench_onsets)

``measure_onsets(seconds, block)`` returns the numbers as a dict for `livegan bench`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __name__ == "__main__" and not __package__:  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livegan.audio.onset import OnsetDetector
from livegan.audio.settings import load_onset_settings


def synth(seconds: float, sr: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(samples (N,), onset times): hits every 0.3-0.6 s over a quiet chord and a noise floor."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    x = rng.standard_normal(n) * 10 ** (-60 / 20)
    x += sum(0.05 * np.sin(2 * np.pi * f * t) for f in (110.0, 164.8, 220.0))
    hits = np.cumsum(rng.uniform(0.3, 0.6, int(seconds / 0.3)))
    hits = hits[hits < seconds - 0.5]
    m = int(0.25 * sr)
    env = np.exp(-np.arange(m) / (0.04 * sr))
    for h, a in zip(hits, rng.uniform(0.05, 0.9, hits.size)):
        i = int(h * sr)
        x[i:i + m] += a * rng.standard_normal(m) * env
    return x.astype(np.float32), hits


def _f1(det: list[float], truth: np.ndarray, tol: float = 0.05) -> float:
    d = np.array(det)
    tp = sum(1 for t in truth if d.size and np.min(np.abs(d - t)) <= tol)
    p, r = (tp / max(1, d.size)), tp / max(1, truth.size)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def measure_onsets(seconds: float = 60.0, block: int = 256, sample_rate: int = 48000,
                   preset: str | None = None) -> dict[str, Any]:
    x, truth = synth(seconds, sample_rate)
    det = OnsetDetector(load_onset_settings(preset), sample_rate)
    det.process(np.zeros(det.window, np.float32))  # warm caches / numpy dispatch
    det.reset()
    per_block: list[float] = []
    onsets = []
    for i in range(0, x.size - block + 1, block):
        t0 = time.perf_counter()
        onsets.extend(det.process(x[i:i + block]))
        per_block.append(time.perf_counter() - t0)
    us = np.array(per_block) * 1e6
    block_us = block / sample_rate * 1e6
    return {
        "seconds_of_audio": seconds,
        "sample_rate": sample_rate,
        "block_samples": block,
        "block_ms": round(block_us / 1000, 3),
        "algorithmic_latency_ms": round(det.latency_seconds * 1000, 3),
        "cpu_us_per_block_mean": round(float(us.mean()), 1),
        "cpu_us_per_block_p50": round(float(np.percentile(us, 50)), 1),
        "cpu_us_per_block_p99": round(float(np.percentile(us, 99)), 1),
        "cpu_us_per_block_max": round(float(us.max()), 1),
        "cpu_fraction_of_block_mean": round(float(us.mean() / block_us), 4),
        "cpu_fraction_of_block_p99": round(float(np.percentile(us, 99) / block_us), 4),
        "realtime_factor": round(float(block_us / us.mean()), 1),
        "onsets_true": int(truth.size),
        "onsets_found": len(onsets),
        "f1_50ms": round(_f1([o.time for o in onsets], truth), 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--block", type=int, default=256, help="samples per block fed to the detector")
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--preset", default=None, help="audio preset name or YAML path")
    a = ap.parse_args(argv)
    print(json.dumps(measure_onsets(a.seconds, a.block, a.rate, a.preset), indent=2))  # the benchmark's output
    return 0


if __name__ == "__main__":
    sys.exit(main())
