"""How the generator's speed follows the CPU time a virtual machine's host takes ("steal").

One process renders the best CPU configuration (compiled bf16 where the CPU
has it, else eager fp32; a batch of 4, on a render thread as a show does) in
short pieces, and records for each piece: fps, the share of the machine's CPU
time the host stole (``/proc/stat``), and the share the guest's CPUs sat
idle (OpenMP threads asleep at a barrier, waiting for the one whose CPU was
taken). Pieces are sorted by stolen share at the end, so the relation shows.
With ``--wait-policies`` the same runs again in fresh processes with
``OMP_WAIT_POLICY=active`` (threads spin instead of sleeping), alternating.

    python benchmarks/bench_steal.py --model biggan-deep-128 --pieces 8 --seconds 3

Linux only (``/proc/stat``). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading

CHILD = "--child"


def idle_ticks() -> tuple[int, int]:
    from livegan.threads import cpu_times

    v = cpu_times()
    return v[3] + v[4], sum(v)  # idle + iowait, all


def child(model: str, pieces: int, seconds: float) -> list[dict]:
    import torch

    from livegan.bench_configs import cpu_info, raw_fps
    from livegan.heap import keep_freed_memory
    from livegan.models.compiled import compile_generator
    from livegan.models.registry import load_generator
    from livegan.threads import cpu_ticks, release_openmp_workers, steal_share

    keep_freed_memory()  # as a show does, before any thread allocates
    gen = load_generator(model, random_weights=True, device="cpu", dtype="float32")
    threads = min(2, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    if cpu_info()["native_bf16"]:
        gen.dtype = torch.bfloat16
        compile_generator(gen, "on", batches=[4], threads=threads)
    rows = []
    for _ in range(pieces):
        box: dict = {}

        def work() -> None:
            box["fps"] = raw_fps(gen, seconds, batch=4, dtype=gen.dtype, threads=threads)

        i0, c0 = idle_ticks(), cpu_ticks()
        t = threading.Thread(target=work)
        release_openmp_workers()  # as a show does before its render thread (threads.py; bench_pools.py)
        t.start()
        t.join()
        i1 = idle_ticks()
        rows.append({"fps": round(box["fps"], 2), "steal": steal_share(c0, cpu_ticks()),
                     "idle": round((i1[0] - i0[0]) / max(1, i1[1] - i0[1]), 3)})
    return rows


def run(model: str, pieces: int, seconds: float, env: dict[str, str]) -> list[dict]:
    out = subprocess.run([sys.executable, __file__, CHILD, model, str(pieces), str(seconds)],
                         env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="biggan-deep-128")
    ap.add_argument("--pieces", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--wait-policies", action="store_true", help="also OMP_WAIT_POLICY=active, alternating")
    ap.add_argument("--repeats", type=int, default=1, help="processes per setting")
    a = ap.parse_args()
    settings = {"default": {}} | ({"active": {"OMP_WAIT_POLICY": "active"}} if a.wait_policies else {})
    result: dict[str, list[dict]] = {k: [] for k in settings}
    for _ in range(a.repeats):
        for name, env in settings.items():
            result[name] += run(a.model, a.pieces, a.seconds, env)
    print(json.dumps({k: sorted(v, key=lambda r: r["steal"] or 0.0) for k, v in result.items()}, indent=1))


if __name__ == "__main__":
    main()
