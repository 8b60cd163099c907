"""The live engine against the raw generator for one configuration, side by side, a few times.

What ``livegan bench`` measures for the configuration its sweep found best,
here for the one you name (so eager and compiled, or two batch sizes, can be
compared on a machine whose speed drifts): the real render worker, path maths
and a 60 Hz display loop to a null output (``bench.engine_run``), with the
raw configuration re-measured between pieces of the run (``ratio_interleaved``)
and single raw frames between pieces of the cue phase. Prints one JSON line a
run.

    python benchmarks/bench_engine.py --model biggan-deep-128 --dtype bfloat16 --batch 2 --seconds 12
    python benchmarks/bench_engine.py --model biggan-deep-128 --dtype bfloat16 --batch 2 --compile
"""

from __future__ import annotations

import argparse
import json

KEYS = ("ratio_interleaved", "engine_fps", "raw_fps_interleaved", "generator_busy", "frame_ms_in_show",
        "display_fps", "main_loop_cpu", "chosen", "cue_latency_ms_p50", "cue_latency_ms_p99", "cue_frame_ms_p99", "cue_wait_ms_p99",
        "raw_batch1_frame_ms_p50_interleaved", "raw_batch1_frame_ms_p99_interleaved", "held_share",
        "render_ahead_margin", "batches_by_size")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="biggan-deep-128")
    ap.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16"))
    ap.add_argument("--batch", type=int, default=2, choices=(1, 2, 4))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--compile", action="store_true", help="compile batch 1 and --batch first (cached)")
    a = ap.parse_args()

    from livegan.heap import keep_freed_memory

    keep_freed_memory()  # as the livegan command does
    import torch

    from livegan.bench import engine_run
    from livegan.bench_configs import raw_fps, raw_times
    from livegan.models.compiled import compile_generator
    from livegan.models.registry import load_generator
    from livegan.threads import apply_thread_policy, live_worker_options

    gen = load_generator(a.model, random_weights=True, device="cpu", dtype="float32")
    gen.dtype = getattr(torch, a.dtype)
    policy = apply_thread_policy("show")
    if a.compile:
        print(json.dumps({"compiled": compile_generator(gen, "on", batches=sorted({1, a.batch}), threads=a.threads)}))
    options = live_worker_options(gen, policy, 4)
    for _ in range(a.runs):
        r = engine_run(gen, a.seconds, worker_options=options, cue_every=1.5,
                       raw=lambda s: raw_fps(gen, s, batch=a.batch, dtype=gen.dtype, threads=a.threads),
                       raw_frame=lambda s: raw_times(gen, s, batch=1, dtype=gen.dtype, threads=a.threads))
        print(json.dumps({k: r.get(k) for k in KEYS}), flush=True)


if __name__ == "__main__":
    main()
