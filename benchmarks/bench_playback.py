"""Baked playback against live rendering, side by side, as a user runs them: display fps and CPU use.

    xvfb-run -a -s "-screen 0 1920x1080x24" python benchmarks/bench_playback.py --seconds 20

Bakes ``benchmarks/bake-bench.yaml`` with biggan-deep-128 (random weights)
into a temporary bank folder (unless ``--banks`` has one), then runs the real
``livegan show`` fullscreen (1920x1080 under Xvfb) with the same cue file
three times: ``--baked``; live biggan-deep-128; live biggan-deep-256 (random
weights, banks without a bake, so no fallback). For each: the show's own summary (display fps, distinct pictures
per second, longest stall) and the process's CPU use (user+sys seconds per
second of show, from getrusage of the child). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETLIST = ROOT / "benchmarks" / "bake-bench.yaml"
CUES = "1 next\n3 next\n5 goto 1\n7 next\n9 tap\n9.5 tap\n10 tap\n10.5 next\n13 prev\n15 next\n17 blackout\n18 blackout\n"


def run(args: list[str], seconds: float, tmp: Path) -> dict:
    summary = tmp / "summary.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "livegan.cli", "show", str(SETLIST), *args, "--cues", str(tmp / "cues.txt"),
                        "--seconds", str(seconds), "--summary", str(summary)], capture_output=True, text=True,
                       cwd=ROOT)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not summary.is_file():
        return {"error": r.stderr.strip().splitlines()[-1:] if r.stderr.strip() else r.returncode}
    s = json.loads(summary.read_text())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"display_fps": s["fps"], "pictures_per_s": s["generated"] / s["seconds"],
            "longest_stall_ms": s["longest_stall_ms"], "cues": s["cues"],
            "cpu_cores_busy": cpu / wall, "process_wall_s": wall, "returncode": r.returncode,
            "faults": {k: v for k, v in s["faults"].items() if v}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--banks", type=Path, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "cues.txt").write_text(CUES)
        banks = a.banks or tmp / "banks"
        if not (banks / "baked" / "index.json").is_file():
            subprocess.run([sys.executable, "-m", "livegan.cli", "bake", str(SETLIST), "--banks", str(banks),
                            "--model", "biggan-deep-128", "--random-weights", "--loop", "2", "--quiet"],
                           check=True, cwd=ROOT)
        out = {"screen": os.environ.get("DISPLAY"), "seconds": a.seconds}
        out["baked_128"] = run(["--banks", str(banks), "--baked"], a.seconds, tmp)
        for m in ("biggan-deep-128", "biggan-deep-256"):
            # No bake in these banks: pure live rendering (with one, a failing generator would switch to it).
            out[f"live_{m[-3:]}"] = run(["--banks", str(tmp / "live-banks"), "--model", m, "--random-weights"],
                                        a.seconds, tmp)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
