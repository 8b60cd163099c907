"""Prep and the live engine with and without a competing CPU load, thread policy vs torch's default.

The benchmark makes the load itself: one busy process per core (a Python
spin loop), started before and killed after each loaded run. Each workload
runs in a fresh process so its torch threads start clean:

- ``prep``: ``livegan prep`` of one demo section with the tiny models
  (``--steps`` optimiser steps), timed from start to exit;
- ``engine``: the live engine (render worker + path maths + a 60 Hz display
  loop to a null output) with biggan-deep-128 random weights: frames/s.

"policy" is livegan's thread choice (livegan/threads.py: both take the
machine's load into account; the show starts with a core kept for its
display loop and its render worker then measures more cores in place);
"default" is torch's default, one thread per core (``--threads N`` /
``set_num_threads(N)``). Runs alternate policy/default so load drift hits
both alike. Prints JSON; the ratios are what to compare on a shared machine.

    python benchmarks/bench_threads.py --steps 12 --seconds 10 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
SPIN = "while True: pass"

ENGINE = """
import json, sys, torch
from livegan.bench import engine_run
from livegan.models.registry import load_generator
from livegan.threads import apply_thread_policy, live_worker_options
mode, seconds = sys.argv[1], float(sys.argv[2])
c = apply_thread_policy("show", None if mode == "policy" else torch.get_num_threads())
gen = load_generator("biggan-deep-128", random_weights=True, device="cpu")
r = engine_run(gen, seconds, cue_every=3.0, worker_options=live_worker_options(gen, c, 4))
print(json.dumps({"threads": r["chosen"]["threads"], "engine_fps": r["engine_fps"], "display_fps": r["display_fps"]}))
"""


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def start_load(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]


def stop_load(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def run_prep(mode: str, steps: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "livegan.cli", "prep", str(ROOT / "setlists" / "demo.yaml"), "--model", "tiny",
           "--clip", "tiny", "--song", "Be Kind to Animals", "--steps", str(steps), "--out", str(out), "-q",
           "--no-sheets"]
    if mode == "default":
        cmd += ["--threads", str(cores())]
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return {"seconds": round(time.perf_counter() - t0, 2)}


def run_engine(mode: str, seconds: float) -> dict:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    r = subprocess.run([sys.executable, "-c", ENGINE, mode, str(seconds)], env=env, capture_output=True,
                       text=True, cwd=ROOT)
    lines = r.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=12, help="prep optimiser steps per section")
    ap.add_argument("--seconds", type=float, default=10.0, help="engine seconds per run")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--only", choices=["prep", "engine"], default=None)
    a = ap.parse_args()
    n = cores()
    results: dict = {"cores": n, "load_at_start": round(os.getloadavg()[0], 2), "runs": []}
    work = [w for w in ("prep", "engine") if a.only in (None, w)]
    for rep in range(a.repeats):
        for loaded in (False, True):
            for w in work:
                for mode in ("policy", "default"):
                    procs = start_load(n) if loaded else []
                    try:
                        time.sleep(1.0 if loaded else 0.0)  # let the spinners take the cores
                        load = round(os.getloadavg()[0], 2)
                        with tempfile.TemporaryDirectory() as d:
                            r = run_prep(mode, a.steps, Path(d)) if w == "prep" else run_engine(mode, a.seconds)
                    finally:
                        stop_load(procs)
                    row = {"work": w, "mode": mode, "competing_load": loaded, "loadavg": load, **r}
                    print(json.dumps(row), file=sys.stderr)
                    results["runs"].append(row)
    summary = {}
    for w in work:
        key = "seconds" if w == "prep" else "engine_fps"
        for loaded in (False, True):
            for mode in ("policy", "default"):
                xs = [r[key] for r in results["runs"] if r["work"] == w and r["mode"] == mode
                      and r["competing_load"] == loaded]
                summary[f"{w}_{mode}_{'load' if loaded else 'noload'}_{key}_median"] = median(xs)
        s = summary
        if w == "prep":  # seconds: load / no load (>1 = slower under load); default / policy (>1 = policy faster)
            s["prep_load_slowdown_policy"] = round(s["prep_policy_load_seconds_median"] / s["prep_policy_noload_seconds_median"], 2)
            s["prep_load_slowdown_default"] = round(s["prep_default_load_seconds_median"] / s["prep_default_noload_seconds_median"], 2)
            s["prep_default_over_policy_under_load"] = round(s["prep_default_load_seconds_median"] / s["prep_policy_load_seconds_median"], 2)
        else:  # fps: load / no load (<1 = slower under load); policy / default (>1 = policy faster)
            s["engine_load_ratio_policy"] = round(s["engine_policy_load_engine_fps_median"] / s["engine_policy_noload_engine_fps_median"], 2)
            s["engine_load_ratio_default"] = round(s["engine_default_load_engine_fps_median"] / s["engine_default_noload_engine_fps_median"], 2)
            s["engine_policy_over_default_under_load"] = round(s["engine_policy_load_engine_fps_median"] / s["engine_default_load_engine_fps_median"], 2)
    results["summary"] = summary
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
