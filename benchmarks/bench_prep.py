"""Prep optimiser steps per second: ``search_section`` against a bare loop of the same work.

Both run the same generator (default ``biggan-deep-128`` with random weights:
the real FLOPs) and CLIP (default ``tiny``) on the same batch (candidates x
cutouts) in the same process. The bare loop is generator forward, cutouts,
CLIP image encode, loss, backward and an Adam step, nothing else;
``search_section`` adds scoring the whole images, tracking the best
candidates and progress. Runs alternate (bare, search, bare, search, ...) so
a change in machine load hits both alike; the rates reported are the best
run of each (load only ever slows a run down), with medians alongside.
Prints JSON with both rates and their ratio (goal: ratio >= 0.8).

    python benchmarks/bench_prep.py --model biggan-deep-128 --clip tiny --steps 8 --repeats 3

On a busy two-core machine torch's two threads spin against other processes
and rates swing by 3x; ``--threads 1`` gives steadier numbers there.

``measure_prep(...)`` returns the numbers as a dict.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __name__ == "__main__" and not __package__:  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F

from livegan.models.clip import Clip, load_clip
from livegan.models.registry import load_generator
from livegan.prep.search import SearchSettings, initial_latents, make_cutouts, search_section

TEXT = "a goldfish sleeping in a teapot"


def bare_loop_rate(gen, clip: Clip, s: SearchSettings, warmup: int) -> float:
    """Optimiser steps per second of the minimal loop (same loss as search_section)."""
    g = torch.Generator().manual_seed(s.seed)
    text_emb = clip.encode_text([TEXT])[0]                                  # (D,)
    n = max(s.candidates, s.variants)
    z, logits = initial_latents(gen, [1, 849], s, g, n)
    z = z.to(gen.device).requires_grad_(True)                               # (n, L, 128)
    logits = logits.to(gen.device).requires_grad_(True)                     # (n, 1000)
    opt = torch.optim.Adam([z, logits], lr=s.lr)
    t0 = 0.0
    for step in range(warmup + s.steps):
        if step == warmup:
            t0 = time.perf_counter()
        y = torch.softmax(logits, dim=-1)
        img = gen(z, y, s.truncation)                                       # (n, 3, S, S)
        cuts = make_cutouts(img, s.cutouts, clip.image_size, g)             # (n*K, 3, s, s)
        sim = (clip.encode_image(cuts) @ text_emb).view(n, s.cutouts)       # (n, K)
        entropy = -(y * torch.log(y + 1e-12)).sum(-1)
        prior = (z ** 2).mean(dim=(1, 2)) + 10 * F.relu(z.abs() - 2.0).pow(2).mean(dim=(1, 2))
        loss = (-sim.mean(1) + s.z_weight * prior + s.class_entropy * entropy).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return s.steps / (time.perf_counter() - t0)


def search_rate(gen, clip: Clip, s: SearchSettings, warmup: int) -> float:
    """Optimiser steps per second inside search_section, timed between its progress callbacks.

    The callback comes once per step, after the step's forward and whole-image score and before
    its backward, so the time between two callbacks is exactly one full step.
    """
    stamps: list[float] = []
    run = SearchSettings(**{**s.__dict__, "steps": warmup + s.steps})
    search_section(gen, clip, TEXT, [1, 849], run, progress=lambda i, score: stamps.append(time.perf_counter()))
    timed = stamps[warmup:]
    return (len(timed) - 1) / (timed[-1] - timed[0])


def measure_prep(model: str = "biggan-deep-128", clip_spec: str = "tiny", steps: int = 8, warmup: int = 2,
                 candidates: int = 2, cutouts: int = 32, repeats: int = 3, device: str = "cpu") -> dict[str, Any]:
    gen = load_generator(model, random_weights=True, device=device)
    clip = load_clip(clip_spec, random_weights=clip_spec != "tiny", device=device)
    s = SearchSettings(steps=steps, candidates=candidates, variants=min(2, candidates), cutouts=cutouts)
    bare, search = [], []
    for _ in range(repeats):
        bare.append(bare_loop_rate(gen, clip, s, warmup))
        search.append(search_rate(gen, clip, s, warmup))
    b, r = max(bare), max(search)  # the least disturbed run of each: load only ever slows a run down
    return {
        "generator": gen.id.key(), "clip": str(clip.id), "device": str(gen.device),
        "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "candidates": candidates, "cutouts": cutouts, "steps_timed": steps, "repeats": repeats,
        "bare_steps_per_s": round(b, 4), "search_steps_per_s": round(r, 4), "ratio": round(r / b, 3),
        "median_ratio": round(statistics.median(search) / statistics.median(bare), 3),
        "bare_runs": [round(x, 4) for x in bare], "search_runs": [round(x, 4) for x in search],
        "goal_ratio": 0.8,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="biggan-deep-128", help="generator (random weights)")
    ap.add_argument("--clip", default="tiny", help="CLIP spec (random weights unless tiny)")
    ap.add_argument("--steps", type=int, default=8, help="timed optimiser steps per run")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps before each run")
    ap.add_argument("--candidates", type=int, default=2)
    ap.add_argument("--cutouts", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs of each; the best is reported")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    print(json.dumps(measure_prep(a.model, a.clip, a.steps, a.warmup, a.candidates, a.cutouts, a.repeats,
                                  a.device), indent=2))  # the benchmark's output
    return 0


if __name__ == "__main__":
    sys.exit(main())
