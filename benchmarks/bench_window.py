"""The projector path alone: a 60 Hz present loop into a real window, with or without a generator beside it.

One fixed biggan-deep-128 frame (random weights) is presented for a few
seconds, as the show's loop would; ``--generator`` runs the generator in a
thread beside it (the show's render worker does the same work). Prints
presented fps, wall and CPU ms per present, and the generator's fps.

    xvfb-run -a -s "-screen 0 3840x2160x24" python benchmarks/bench_window.py --size 1920x1080 --accel off --generator
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from livegan.models.registry import load_generator
from livegan.outputs.window import WindowOutput


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--accel", default="off", choices=["auto", "on", "off"])
    ap.add_argument("--generator", action="store_true", help="render in a thread beside the display")
    ap.add_argument("--overlay", action="store_true")
    ap.add_argument("--seconds", type=float, default=6.0)
    a = ap.parse_args()
    size = tuple(int(v) for v in a.size.split("x"))
    torch.set_num_threads(1)
    gen = load_generator("biggan-deep-128", random_weights=True, device="cpu")
    z = np.zeros((1, gen.num_latents, 128), np.float32)
    y = np.zeros((1, 1000), np.float32)
    y[0, 1] = 1
    frame = gen.render(z, y, 0.7)[0]
    stop, rendered = threading.Event(), [0]

    def loop() -> None:
        while not stop.is_set():
            gen.render(z, y, 0.7)
            rendered[0] += 1

    ov = {"song": "bench", "lyric": "a goldfish sleeping in a teapot", "fps": 60.0} if a.overlay else None
    th = threading.Thread(target=loop, daemon=True)
    with WindowOutput(windowed=True, size=size, accel=a.accel) as win:
        if a.generator:
            th.start()
        n, wall, cpu = 0, [], 0.0
        t0 = nxt = time.perf_counter()
        while time.perf_counter() - t0 < a.seconds:
            s, c = time.perf_counter(), time.thread_time()
            win.present(frame, ov)
            win.poll_events()
            wall.append(1000 * (time.perf_counter() - s))
            cpu += time.thread_time() - c
            n += 1
            nxt = max(nxt + 1 / 60, time.perf_counter() - 1 / 60)
            time.sleep(max(0.0, nxt - time.perf_counter()))
        el = time.perf_counter() - t0
        stop.set()
        path = win.path
    if a.generator:
        th.join(30)
    wall.sort()
    print(json.dumps({"path": path, "size": a.size, "generator": a.generator, "overlay": a.overlay,
                      "fps": round(n / el, 1), "present_ms_mean": round(sum(wall) / n, 2),
                      "present_ms_p99": round(wall[int(0.99 * (n - 1))], 2),
                      "present_cpu_ms_mean": round(1000 * cpu / n, 2),
                      "generator_fps": round(rendered[0] / el, 2)}))


if __name__ == "__main__":
    main()
