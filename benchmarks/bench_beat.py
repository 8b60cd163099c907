"""Beat tracker on synthetic drum loops: BPM error and beat-phase error from 4 bars after each tempo change.

    python benchmarks/bench_beat.py

Loops (tests/drumsynth.py): kick on 1 and 3, snare on 2 and 4, hi-hats on
eighths (straight or swung), noise at -40 dB; the tracker only sees what the
live onset detector hears, block by block.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from drumsynth import drum_loop  # noqa: E402

from livegan.audio.beat import BeatTracker  # noqa: E402
from livegan.audio.onset import OnsetDetector  # noqa: E402

CASES = [([(120.0, 64)], 0.5), ([(120.0, 48), (132.0, 48)], 0.5), ([(96.0, 40), (140.0, 56)], 0.67),
         ([(100.0, 48), (104.0, 48)], 0.6), ([(110.0, 48), (150.0, 56)], 0.6), ([(150.0, 48), (85.0, 40)], 0.5)]


def run(segments, swing, seed=0):
    x, beats = drum_loop(segments, swing=swing, seed=seed)
    det = OnsetDetector(sample_rate=48000)
    bt = BeatTracker(48000 / det.hop)
    rs: list = []
    det.on_novelty = lambda t, f: (lambda r: rs.append((t, r)) if r else None)(bt.feed(t, f))
    t0 = time.process_time()
    for i in range(0, x.size, 1024):
        det.process(x[i:i + 1024])
    cpu = (time.process_time() - t0) / (x.size / 48000) * 100
    starts, i = [], 0
    for bpm, n in segments:
        starts.append((beats[i], bpm))
        i += n
    bpm_err, ph_err = [], []
    for tb in beats:
        start, bpm = [s for s in starts if s[0] <= tb][-1]
        if tb < start + 16 * 60.0 / bpm:
            continue
        known = [r for t, r in rs if t < tb - 0.05]
        r = known[-1]
        bpm_err.append(abs(r.bpm - bpm) / bpm * 100)
        p = 60.0 / r.bpm
        ph_err.append(abs(r.beat_time + round((tb - r.beat_time) / p) * p - tb) * 1000)
    return max(bpm_err), float(np.median(ph_err)), max(ph_err), len(ph_err), cpu


if __name__ == "__main__":
    print("tempi (bpm x beats)            swing  BPM err max %  phase err p50/max ms  beats  cpu % (detector+tracker)")
    for segs, sw in CASES:
        e, p50, pmax, n, cpu = run(segs, sw)
        label = " -> ".join(f"{b:g}x{n_}" for b, n_ in segs)
        print(f"{label:30} {sw:5.2f}  {e:12.2f}  {p50:8.1f} / {pmax:5.1f}     {n:5d}  {cpu:5.2f}")
