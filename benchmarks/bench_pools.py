"""The live engine with and without the main thread's OpenMP workers given back, side by side.

GNU libgomp keeps a pool of worker threads for every thread that ever ran
parallel work. A show loads and compiles the generator on its main thread,
then renders on the render thread: two pools. With more threads managed than
cores, libgomp's barriers spin only briefly and then sleep, at every step of
every render, and on a virtual machine the host may hand an idle vCPU to a
neighbour. ``RenderWorker.start`` therefore gives the starting thread's
workers back (``threads.release_openmp_workers``). This runs, in turn, for
``--seconds`` each:

- ``raw``: bare ``gen.render`` batches on the main thread (the bench's yardstick),
- ``released``: the real render worker beside a 60 Hz loop, as a show starts it,
- ``kept``: the same with the release switched off (the main thread's pool lives on),

and prints per round: fps, the share of the machine's CPU the host stole
(``/proc/stat``), and the render thread's voluntary context switches per
batch (``/proc/self/task/<tid>/status``: how often it slept).

    python benchmarks/bench_pools.py --model biggan-deep-128 --seconds 6 --rounds 6

Linux only. Compiles (cached) where the CPU has native bf16, else eager fp32.
"""

from __future__ import annotations

import argparse
import json


def voluntary_switches(tid: int) -> int | None:
    try:
        with open(f"/proc/self/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="biggan-deep-128")
    ap.add_argument("--batch", type=int, default=4, choices=(1, 2, 4), help="the raw loop's batch")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--rounds", type=int, default=6)
    a = ap.parse_args()

    from livegan.heap import keep_freed_memory

    keep_freed_memory()  # as the livegan command does
    import torch

    from livegan import threads as thread_policy
    from livegan.bench import _DisplayLoop, _keyframes
    from livegan.bench_configs import cpu_info, raw_fps
    from livegan.clock import MonotonicClock
    from livegan.engine.director import Director
    from livegan.engine.state import SongPlan, Transition
    from livegan.engine.worker import RenderWorker
    from livegan.models.compiled import compile_generator
    from livegan.models.interrupt import interrupt_on_cue
    from livegan.models.registry import load_generator
    from livegan.threads import apply_thread_policy, cpu_ticks, live_worker_options, steal_share

    info = cpu_info()
    gen = load_generator(a.model, random_weights=True, device="cpu", dtype="float32")
    policy = apply_thread_policy("show")
    threads = info["cores"]
    if info["native_bf16"]:
        gen.dtype = torch.bfloat16
        compile_generator(gen, "on", batches=[1, 2, 4], threads=threads)
    options = live_worker_options(gen, policy, 4)
    clock = MonotonicClock()
    kfs = _keyframes(gen.num_latents, 8, 0)
    plan = SongPlan("pools", len(kfs), [1] * len(kfs), [Transition(1.0)] * len(kfs))
    director = Director([plan], lambda s, sec, v: kfs[sec], t0=clock.now())
    worker = RenderWorker(director, gen, clock, fps=60.0, max_batch=4, **options)
    interrupt_on_cue(gen, worker)
    loop = _DisplayLoop(clock, worker, director, None, 60.0, len(kfs), overlay=False)
    release = thread_policy.release_openmp_workers

    def raw() -> dict:
        return {"fps": raw_fps(gen, a.seconds, batch=a.batch, dtype=gen.dtype, threads=threads)}

    def engine(give_back: bool) -> dict:
        (torch.ones(4_000_000) * 2).sum()  # parallel work on this thread, as loading the model does
        thread_policy.release_openmp_workers = release if give_back else (lambda: False)
        try:
            worker.start()
        finally:
            thread_policy.release_openmp_workers = release
        tid = worker._thread.native_id
        first = worker.stats.frames
        loop.run(60.0, until=lambda: worker.stats.frames > first)  # a first batch, not counted
        v0, b0, t0 = voluntary_switches(tid), worker.stats.batches, worker.timer()
        loop.run(a.seconds)  # the bench's 60 Hz display loop, presenting to nothing
        v1, batches, t1 = voluntary_switches(tid), worker.stats.batches - b0, worker.timer()
        worker.stop()
        ends = [h for h in list(worker.stats.history) if t0 <= h[0] <= t1]
        fps = (ends[-1][1] - ends[0][1]) / (ends[-1][0] - ends[0][0]) if len(ends) > 1 else None
        sleeps = None if v0 is None or v1 is None or not batches else round((v1 - v0) / batches)
        return {"fps": fps, "sleeps_per_batch": sleeps, "batches": dict(worker.stats.batch_sizes)}

    print(json.dumps({"cpu": info["cpu"], "features": info["features"], "model": a.model,
                      "dtype": str(gen.dtype).replace("torch.", ""), "threads": threads}), flush=True)
    engine(True)  # the worker's first measurements, outside the rounds
    modes = [("raw", raw), ("released", lambda: engine(True)), ("kept", lambda: engine(False))]
    for r in range(a.rounds):
        row = {}
        for name, run in modes[r % 3:] + modes[:r % 3]:
            worker.stats.batch_sizes.clear()
            c0 = cpu_ticks()
            out = run()
            out["steal"] = steal_share(c0, cpu_ticks())
            out["fps"] = None if out["fps"] is None else round(out["fps"], 2)
            row[name] = out
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
