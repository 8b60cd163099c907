"""Onset F1 (±50 ms) per kind of synthesised material, for each onset preset, side by side.

    python benchmarks/bench_soft_onsets.py [--seconds 20] [--seeds 2]

The first row is an offline, non-causal spectral-flux reference (what a
detector that may look ahead reaches on the same material). Material
(tests/onsetsynth.py): Karplus-Strong plucks, piano-like partials with
3-12 ms attacks, sung vowels (formant-filtered pulse trains, 30-80 ms attacks,
vibrato), tones with 30-100 ms attacks, and plucks mixed with drums and noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from onsetsynth import KINDS, f1, material  # noqa: E402

from livegan.audio.onset import OnsetDetector, detect_signal  # noqa: E402
from livegan.audio.settings import load_onset_settings  # noqa: E402


def offline_flux(x, sr: int = 48000, n: int = 2048, hop: int = 480, delta: float = 0.07) -> list[float]:
    """Reference: offline (non-causal) spectral flux with librosa-style peak picking.

    Centred 2048-point STFT, log magnitude, positive flux summed over bins,
    normalised; a peak is a frame that is the maximum of the last 30 ms and
    the next frame, above the mean of 100 ms either side + delta, 30 ms after
    the previous one. It looks ahead, so it could never run live.
    """
    import numpy as np

    win = np.hanning(n)
    xp = np.pad(x.astype(np.float64), n // 2)
    frames = np.lib.stride_tricks.sliding_window_view(xp, n)[::hop] * win      # (T, n)
    S = np.log1p(100.0 * np.abs(np.fft.rfft(frames, axis=1)))                 # (T, n/2+1)
    flux = np.concatenate([[0.0], np.maximum(S[1:] - S[:-1], 0.0).sum(axis=1)])
    flux /= flux.max() + 1e-12
    fr = sr / hop
    pre_max, pre_avg, post_avg, wait = int(0.03 * fr), int(0.1 * fr), int(0.1 * fr) + 1, int(0.03 * fr)
    out, last = [], -10**9
    for k in range(len(flux)):
        lo = max(0, k - pre_max)
        if flux[k] < flux[lo:k + 2].max():
            continue
        if flux[k] < flux[max(0, k - pre_avg):k + post_avg].mean() + delta or k - last <= wait:
            continue
        out.append(k * hop / sr)
        last = k
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--presets", nargs="*", default=["default", "vocal", "soft"])
    a = ap.parse_args()
    mats = {k: [material(k, a.seconds, seed=s) for s in range(a.seeds)] for k in KINDS}
    print(f"{'preset':8} {'latency':>8} {'cpu':>6}  " + "  ".join(f"{k:>16}" for k in KINDS))
    cells = []
    for k in KINDS:
        tot = [0, 0, 0]
        for x, on in mats[k]:
            _, h, f, m = f1(offline_flux(x), on)
            tot = [tot[0] + h, tot[1] + f, tot[2] + m]
        p, r = tot[0] / max(1, tot[0] + tot[1]), tot[0] / max(1, tot[0] + tot[2])
        cells.append(f"{2 * p * r / max(1e-9, p + r):.2f} ({tot[0]}/{tot[0] + tot[2]})")
    print(f"{'offline':8} {'(n/a)':>8} {'':>6}  " + "  ".join(f"{c:>16}" for c in cells), flush=True)
    for name in a.presets:
        st = load_onset_settings(name)
        cells, t0, audio = [], time.process_time(), 0.0
        for k in KINDS:
            hits = fa = miss = 0
            for x, on in mats[k]:
                _, h, f, m = f1([o.time for o in detect_signal(x, 48000, st, block=1024)], on)
                hits, fa, miss = hits + h, fa + f, miss + m
                audio += x.size / 48000
            p = hits / max(1, hits + fa)
            r = hits / max(1, hits + miss)
            cells.append(f"{2 * p * r / max(1e-9, p + r):.2f} ({hits}/{hits + miss})")
        cpu = (time.process_time() - t0) / audio * 100
        lat = OnsetDetector(st).latency_seconds * 1000
        print(f"{name:8} {lat:6.1f}ms {cpu:5.2f}%  " + "  ".join(f"{c:>16}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
