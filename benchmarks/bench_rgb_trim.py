"""BigGAN's last convolution with all its output channels against only the 3 the picture uses, side by side.

pytorch-pretrained-biggan's ``conv_to_rgb`` computes 128 channels at full
resolution and keeps 3; ``livegan.models.biggan.trim_rgb_conv`` (applied by
``load_generator``) keeps only those 3. This builds one random-weight model,
makes a full and a trimmed generator of it (the same weights), checks they
draw the same picture, and then renders them in turns, ``--rounds`` times for
``--seconds`` each, printing fps per round and the trimmed/full ratio of the
medians. Also the FLOPs of one frame of each (``torch.utils.flop_counter``).

    python benchmarks/bench_rgb_trim.py --model biggan-deep-128 --model biggan-deep-256 --batch 1 --batch 4

At the dtype ``livegan bench`` would pick first on this CPU (bf16 where it is
native, else fp32), eager or (``--compile``) compiled, torch's threads as a
show sets them unless ``--threads``.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="architecture (repeatable; default biggan-deep-128)")
    ap.add_argument("--batch", type=int, action="append", help="batch size (repeatable; default 1)")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--threads", type=int, help="torch threads (default: the show's policy)")
    ap.add_argument("--compile", action="store_true", help="torch.compile both (cached) at these batches")
    a = ap.parse_args()

    from livegan.heap import keep_freed_memory

    keep_freed_memory()  # as the livegan command does
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from livegan.bench_configs import _inputs, cpu_info, raw_fps
    from livegan.models.biggan import Generator, GeneratorId, bake_spectral_norm, build_random, trim_rgb_conv
    from livegan.threads import apply_thread_policy

    info = cpu_info()
    threads = a.threads or apply_thread_policy("show").threads
    torch.set_num_threads(threads)
    dtype = torch.bfloat16 if info["native_bf16"] else torch.float32
    print(json.dumps({"cpu": info["cpu"], "features": info["features"], "threads": threads,
                      "dtype": str(dtype).replace("torch.", ""), "torch": torch.__version__}), flush=True)
    for name in a.model or ["biggan-deep-128"]:
        model = build_random(name, seed=0)
        bake_spectral_norm(model)
        full = Generator(model, GeneratorId(name, "random:0"), "cpu", dtype)
        trimmed = Generator(copy.deepcopy(model), GeneratorId(name, "random:0"), "cpu", dtype)
        trim_rgb_conv(trimmed.model)
        z, y = _inputs(full, 1)
        same = int(np.abs(full.render(z, y, 0.7).astype(int) - trimmed.render(z, y, 0.7).astype(int)).max())
        flops = []
        for gen in (full, trimmed):
            with FlopCounterMode(display=False) as counter, torch.no_grad():
                gen.forward(torch.from_numpy(z), torch.from_numpy(y), 0.7)
            flops.append(counter.get_total_flops())
        print(json.dumps({"model": name, "gflop_per_frame": {"full": round(flops[0] / 1e9, 1),
                                                             "trimmed": round(flops[1] / 1e9, 1)},
                          "max_pixel_difference": same}), flush=True)
        if a.compile:
            from livegan.models.compiled import compile_generator

            for gen in (full, trimmed):
                compile_generator(gen, "on", batches=a.batch or [1], threads=threads)
        for batch in a.batch or [1]:
            fps: dict[str, list[float]] = {"full": [], "trimmed": []}
            gens = [("full", full), ("trimmed", trimmed)]
            for r in range(a.rounds):
                for key, gen in gens[r % 2:] + gens[:r % 2]:  # each goes first in turn
                    fps[key].append(round(raw_fps(gen, a.seconds, batch=batch, dtype=dtype, threads=threads), 3))
            ratio = statistics.median(fps["trimmed"]) / statistics.median(fps["full"])
            print(json.dumps({"model": name, "batch": batch, "fps": fps, "ratio": round(ratio, 3)}), flush=True)


if __name__ == "__main__":
    main()
