"""How long a cue waits for the kernel in flight, per batch size of a compiled generator.

A cue gives up the batch being rendered before the compiled graph's next
kernel (``models/compiled.py``: each kernel of the graph's wrapper asks, once
the warm-up call has found them), so it waits for the kernel in flight. This renders each batch size ``--reps`` times with a ``should_stop``
that never stops but notes the time of every check, and prints per batch
size: the render time, the number of checks, the mean wait of a cue arriving
at a random moment (sum of gap² / 2 × total), the longest gap and where in
the render it is (check index of all).

    python benchmarks/bench_cue_wait.py --model biggan-deep-256 --batch 1 --batch 2 --batch 4

With ``--cost N`` it also renders each batch size N rounds with the checks
and without them (no ``should_stop``), in turns, and prints the ratio.

Compiled (cached) at bf16 where the CPU has it natively, else fp32; on a
render thread after the starter's OpenMP workers are given back, as in a show.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="biggan-deep-128")
    ap.add_argument("--batch", type=int, action="append", help="batch size (repeatable; default 1 and 4)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cost", type=int, default=0, metavar="ROUNDS",
                    help="also what the checks cost: this many rounds of --reps renders with and without "
                         "them, in turns (median of the per-round ratios)")
    a = ap.parse_args()

    from livegan.heap import keep_freed_memory

    keep_freed_memory()  # as the livegan command does
    import torch

    from livegan.bench_configs import _inputs, cpu_info
    from livegan.models.compiled import compile_generator
    from livegan.models.registry import load_generator
    from livegan.threads import release_openmp_workers

    info = cpu_info()
    batches = a.batch or [1, 4]
    gen = load_generator(a.model, random_weights=True, device="cpu", dtype="float32")
    gen.dtype = torch.bfloat16 if info["native_bf16"] else torch.float32
    torch.set_num_threads(a.threads)
    compile_generator(gen, "on", batches=batches, threads=a.threads)
    print(json.dumps({"cpu": info["cpu"], "model": a.model, "dtype": str(gen.dtype).replace("torch.", ""),
                      "threads": a.threads}), flush=True)
    stamps: list[float] = []

    def note() -> bool:
        stamps.append(time.perf_counter())
        return False

    def work() -> None:
        torch.set_num_threads(a.threads)
        gen.should_stop = note
        for b in batches:
            z, y = _inputs(gen, b)
            gen.render(z, y, 0.7)  # warm-up
            rows = []
            for _ in range(a.reps):
                stamps.clear()
                start = time.perf_counter()
                gen.render(z, y, 0.7)
                gaps = [q - p for p, q in zip([start, *stamps], [*stamps, time.perf_counter()])]
                total = sum(gaps)
                rows.append((total, sum(g * g for g in gaps) / (2 * total), max(gaps), gaps.index(max(gaps)), len(gaps)))
            med = lambda i: statistics.median(r[i] for r in rows)  # noqa: E731
            row = {"batch": b, "render_ms": round(1000 * med(0)), "checks": len(stamps),
                   "mean_wait_ms": round(1000 * med(1), 1), "longest_gap_ms": round(1000 * med(2), 1),
                   "longest_at": f"{rows[-1][3]} of {rows[-1][4]}"}
            if a.cost:
                ratios = []
                for r in range(a.cost):
                    per = {}
                    for asked in ((True, False) if r % 2 == 0 else (False, True)):
                        gen.should_stop = (lambda: False) if asked else None
                        per[asked] = statistics.median(_seconds(lambda: gen.render(z, y, 0.7)) for _ in range(a.reps))
                    ratios.append(per[True] / per[False])
                gen.should_stop = note
                row["checked_vs_unchecked"] = round(statistics.median(ratios), 3)
                row["ratios"] = [round(x, 3) for x in ratios]
            print(json.dumps(row), flush=True)

    release_openmp_workers()
    thread = threading.Thread(target=work, name="render-bench")
    thread.start()
    thread.join()


def _seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
