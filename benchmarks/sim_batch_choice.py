"""How many frames the render worker's batch choice loses on a machine whose speed drifts (simulated).

The worker's own choice (``RenderWorker._choose`` and ``_measured``, no
thread, no generator) is driven batch by batch with a cost model: seconds per
frame at batch 1, 2 and 4 (biggan-deep-128 or -256 compiled bf16 on the 2-core
development CPU, or three nearly equal ones), times the machine's speed, which
jumps to a new level (log-normal, ``sigma``) every few batches (a spell), times
one-sided noise per batch (exponential, mean ``noise``). Each run is compared
with always rendering the best batch under the same speeds: ``efficiency`` is
frames per second over that. Seeded: the same numbers every time.

    python benchmarks/sim_batch_choice.py --runs 10 --batches 2000

Prints one JSON line per cost model and drift.
"""

from __future__ import annotations

import argparse
import json
import random

from livegan.clock import ManualClock
from livegan.engine.worker import RenderWorker

COSTS = {"128": {1: 0.120, 2: 0.085, 4: 0.067}, "256": {1: 0.300, 2: 0.238, 4: 0.227},
         "flat": {1: 0.100, 2: 0.099, 4: 0.098}}
# (sigma of the speed's level, spell lengths in batches, mean one-sided noise per batch)
DRIFTS = [(0.0, (5, 40), 0.03), (0.25, (5, 40), 0.08), (0.4, (3, 15), 0.15), (0.5, (1, 5), 0.2)]


def run(per: dict[int, float], seed: int, sigma: float, spell: tuple[int, int], noise: float,
        batches: int) -> tuple[float, dict[int, int]]:
    rng = random.Random(seed)
    worker = RenderWorker(None, None, ManualClock(), fps=60, max_batch=4, batches=tuple(per))
    worker.interruptible = True  # as a show's compiled generator: no latency budget, no tolerance
    fastest = min(per, key=per.__getitem__)
    speed, left = 1.0, 0
    t = t_best = 0.0
    frames = 0
    used = dict.fromkeys(per, 0)
    for _ in range(batches):
        if left <= 0:
            speed, left = rng.lognormvariate(0, sigma), rng.randint(*spell)
        left -= 1
        cfg = worker._choose(False)
        worker._config = cfg
        b = cfg[0]
        slow = speed * (1 + rng.expovariate(1 / noise))
        worker._attempts[cfg] = worker._attempts.get(cfg, 0) + 1  # as RenderWorker._run
        worker._measured(cfg, b * per[b] * slow)
        t += b * per[b] * slow
        t_best += b * per[fastest] * slow
        frames += b
        used[b] += 1
    return t_best / t, used


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="seeds per cost model and drift")
    ap.add_argument("--batches", type=int, default=2000, help="batches per run")
    a = ap.parse_args()
    for name, per in COSTS.items():
        for sigma, spell, noise in DRIFTS:
            rs = [run(per, seed, sigma, spell, noise, a.batches) for seed in range(a.runs)]
            eff = [r[0] for r in rs]
            print(json.dumps({"costs": name, "sigma": sigma, "spell": spell, "noise": noise,
                              "efficiency_mean": round(sum(eff) / len(eff), 3), "efficiency_min": round(min(eff), 3),
                              "batches": {b: sum(r[1][b] for r in rs) for b in per}}), flush=True)


if __name__ == "__main__":
    main()
