"""The on-stage fallback in the real show loop, in real time: generator faults mid-show, what the audience sees.

    OMP_NUM_THREADS=1 python benchmarks/bench_fallback.py --kind error --seconds 8

Bakes a small tiny-model setlist, builds the real show (headless, real clock)
with a cue file, wraps the generator in ``livegan.soak.FaultyGenerator`` and
at 2 s arms a burst of faults (``error``: it raises on every call for ~2 s;
``hang``: one call hangs 2 s). Prints JSON: when the show switched to the
clips and back (show seconds), cues sent vs handled, and the longest display
stall (the real gap between two presented frames).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from banktools import SETLIST, write_banks  # noqa: E402

from livegan.bake.runner import bake_setlist  # noqa: E402
from livegan.clock import MonotonicClock  # noqa: E402
from livegan.models.registry import load_generator  # noqa: E402
from livegan.outputs.null import NullOutput  # noqa: E402
from livegan.show.session import ShowConfig, build_show, run_show  # noqa: E402
from livegan.setlist import load_setlist  # noqa: E402
from livegan.soak import FaultyGenerator  # noqa: E402

CUES = "".join(f"{t:.1f} {c}\n" for t, c in [(0.5, "next"), (1.5, "next"), (2.5, "song-next"), (3.0, "next"),
                                               (3.5, "song-prev"), (4.0, "next"), (4.5, "next"), (6.0, "prev")])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="error", choices=["error", "oom", "hang"])
    ap.add_argument("--seconds", type=float, default=8.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        sl = d / "sl.yaml"
        sl.write_text(textwrap.dedent(SETLIST).lstrip())
        write_banks(sl, d / "banks")
        bake_setlist(load_setlist(sl), d / "banks", load_generator("tiny", device="cpu"), progress=False)
        (d / "cues.txt").write_text(CUES)
        clock = MonotonicClock()
        show = build_show(ShowConfig(setlist=sl, banks=d / "banks", headless=True, device="cpu", dtype="float32",
                                     cues=d / "cues.txt"), clock=clock, output=NullOutput(), notice=lambda m: None)
        fw = show.worker
        gen = FaultyGenerator(fw.generator, hang_seconds=2.0)
        fw.generator = gen

        armed: list[float] = []

        start: list[float] = []

        def tick(t: float) -> None:
            if not start:
                start.append(t)  # the loop's first frame
            if not armed and t - start[0] > 2.0:
                armed.append(t)
                arm()

        def arm() -> None:
            if a.kind == "hang":
                gen.arm("hang", 1)
            else:  # fail every call for about two seconds
                gen.arm(a.kind, 100_000)
                threading.Timer(2.0, lambda: gen._armed.clear()).start()

        show.on_tick.append(tick)
        s = run_show(show, a.seconds)
    print(json.dumps({"kind": a.kind, "armed_at": round(armed[0], 3) if armed else None, "switches": [(round(t, 3), k) for t, k in fw.switches],
                      "faults_injected": dict(gen.injected), "cues_sent": CUES.count("\n"), "cues_handled": s.cues,
                      "dropped_cues": s.dropped_cues, "frames": s.frames, "fps": round(s.fps, 1),
                      "longest_stall_ms": round(s.longest_stall_ms, 1)}, indent=1))


if __name__ == "__main__":
    main()
