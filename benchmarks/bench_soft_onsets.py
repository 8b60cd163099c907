"""Onset F1 (±50 ms) per kind of synthesised material, for each onset preset, side by side.

    python benchmarks/bench_soft_onsets.py [--seconds 20] [--seeds 2]

Material (tests/onsetsynth.py): Karplus-Strong plucks, piano-like partials with
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--presets", nargs="*", default=["default", "vocal", "soft"])
    a = ap.parse_args()
    mats = {k: [material(k, a.seconds, seed=s) for s in range(a.seeds)] for k in KINDS}
    print(f"{'preset':8} {'latency':>8} {'cpu':>6}  " + "  ".join(f"{k:>16}" for k in KINDS))
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
