"""What `show --baked` puts on screen, checked against the generator: the issue's acceptance run.

    OMP_NUM_THREADS=1 python benchmarks/check_baked_demo.py

Bakes ``setlists/demo.yaml`` with the stand-in generator (``tiny``, drift 0
so a settled picture is exactly its keyframe), then runs the real show
headless in real time with ``--baked`` and a cue file that taps 120 bpm
before a "2 beats" transition (baked at the song's 104 bpm: 1.154 s; live
after the taps: 1.0 s). Prints JSON: the PSNR of the frames at settled
times against the generator's own render of each keyframe, and of the frames
around the tapped landing time (just before it, and from it on).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from livegan.bake.runner import bake_setlist  # noqa: E402
from livegan.clock import MonotonicClock  # noqa: E402
from livegan.models.registry import load_generator  # noqa: E402
from livegan.outputs.null import NullOutput  # noqa: E402
from livegan.show.session import ShowConfig, build_show, run_show  # noqa: E402
from livegan.setlist import load_setlist  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CUES = "0.5 next\n3.6 tap\n4.1 tap\n4.6 tap\n5.1 tap\n5.5 next\n8 song-next\n"
# (show time, position) where the picture has settled: (song, section, variant)
SETTLED = [(0.4, (0, 0, 0)), (3.55, (0, 1, 0)), (7.9, (0, 2, 0)), (11.9, (1, 0, 0))]
LANDING = 5.5 + 1.0  # the tapped 2-beat transition ends here (not at 5.5 + 1.154)


class Keep(NullOutput):
    def __init__(self, clock) -> None:
        super().__init__()
        self.clock, self.seen = clock, []

    def _open(self) -> None:
        self.t0 = self.clock.now()

    def _present(self, frame, overlay) -> None:
        self.seen.append((self.clock.now() - self.t0, frame.copy()))


def psnr(a, b) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else round(10 * np.log10(255.0 ** 2 / mse), 2)


def main() -> None:
    sl_path = ROOT / "setlists" / "demo.yaml"
    gen = load_generator("tiny", device="cpu")
    with tempfile.TemporaryDirectory() as d:
        banks = Path(d) / "banks"
        t0 = time.monotonic()
        s = bake_setlist(load_setlist(sl_path), banks, gen, drift=0.0, progress=False)
        bake_s = time.monotonic() - t0
        cues = Path(d) / "cues.txt"
        cues.write_text(CUES)
        clock = MonotonicClock()
        out = Keep(clock)
        show = build_show(ShowConfig(setlist=sl_path, banks=banks, headless=True, baked=True, drift=0.0, cues=cues),
                          clock=clock, output=out, notice=lambda m: None)
        summary = run_show(show, 12.5)
    kf = show.director.keyframe

    def render(pos) -> np.ndarray:
        k = kf(*pos)
        return gen.render(k.z[None], k.y[None], 0.7)[0]

    def frame_at(t: float) -> tuple[float, np.ndarray]:
        return min(out.seen, key=lambda x: abs(x[0] - t))

    settled = {f"{t}s {pos}": psnr(frame_at(t)[1], render(pos)) for t, pos in SETTLED}
    target = render((0, 2, 0))
    around = {f"{dt:+.2f}s": psnr(frame_at(LANDING + dt)[1], target) for dt in (-0.3, -0.1, 0.0, 0.05, 0.15)}
    print(json.dumps({"bake": {"clips": s.done, "frames": s.frames, "seconds": round(bake_s, 1),
                               "mb_per_minute": round(s.mb_per_minute, 3)},
                      "show": {"frames": summary.frames, "fps": round(summary.fps, 1), "cues": summary.cues,
                               "longest_stall_ms": round(summary.longest_stall_ms, 1)},
                      "psnr_settled_vs_generator_db": settled,
                      "psnr_vs_landing_keyframe_around_tapped_landing_db": around}, indent=1))


if __name__ == "__main__":
    main()
