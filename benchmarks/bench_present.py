"""The engine beside a real window, presenting through pygame (GIL held) or through SDL directly, alternating.

pygame-ce keeps the GIL while a frame goes out (``outputs/sdl_direct.py``);
livegan calls the same SDL functions through ctypes, which lets it go. Each
pair runs the real render worker + director + a 60 Hz loop presenting to a
real window (``bench.engine_run``) once each way, in alternating order, in
one process: the engine's fps, the window's fps and present times, cue
latency. Needs a display (Xvfb will do). Prints one JSON line a run.

    xvfb-run -a -s "-screen 0 3840x2160x24" python benchmarks/bench_present.py --size 3840x2160 --accel off
    xvfb-run -a -s "-screen 0 3840x2160x24" python benchmarks/bench_present.py --size 3840x2160 --accel on
"""

from __future__ import annotations

import argparse
import json

KEYS = ("display_fps", "present_ms_mean", "present_ms_p99", "present_cpu_ms_mean", "engine_fps", "generator_busy",
        "frame_ms_in_show", "held_share", "cue_latency_ms_p99", "cue_frame_ms_p50", "batches_by_size")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="biggan-deep-128")
    ap.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16"))
    ap.add_argument("--size", default="3840x2160", help="window size, WxH (the screen must be as big)")
    ap.add_argument("--accel", default="off", choices=("on", "off"), help="on: SDL renderer; off: software path")
    ap.add_argument("--seconds", type=float, default=16.0, help="per run (plus as long to settle)")
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                    help="compile batches 1/2/4 first (cached), as the bench's best configuration here")
    a = ap.parse_args()

    from livegan.heap import keep_freed_memory

    keep_freed_memory()  # as the livegan command does
    import torch

    from livegan.bench import engine_run
    from livegan.models.compiled import compile_generator
    from livegan.models.registry import load_generator
    from livegan.outputs import presenters
    from livegan.outputs.window import WindowOutput
    from livegan.threads import RENDER_NICE, apply_thread_policy, live_worker_options

    size = tuple(int(v) for v in a.size.lower().split("x"))
    gen = load_generator(a.model, random_weights=True, device="cpu", dtype="float32")
    gen.dtype = getattr(torch, a.dtype)
    policy = apply_thread_policy("show")
    if a.compile:
        compile_generator(gen, "on", batches=[1, 2, 4], threads=policy.threads)
    options = {**live_worker_options(gen, policy, 4), "nice": RENDER_NICE}  # as a show with a window runs it
    direct = presenters.direct
    try:
        for p in range(a.pairs):
            for way in (("pygame", "direct") if p % 2 == 0 else ("direct", "pygame")):
                presenters.direct = direct if way == "direct" else (lambda window_id: None)
                with WindowOutput(windowed=True, size=size, accel=a.accel, vsync=True) as win:
                    r = engine_run(gen, a.seconds, output=win, worker_options=options, cue_every=1.5, overlay=False,
                                   settle_seconds=a.seconds)
                    used = "direct" if win._presenter._sdl is not None else "pygame"
                    print(json.dumps({"present": used, "size": a.size, "path": win.path, "repeats_skipped": win.repeats,
                                      **{k: r.get(k) for k in KEYS}}), flush=True)
    finally:
        presenters.direct = direct


if __name__ == "__main__":
    main()
