"""Render speed: `livegan render`'s frames per second against the raw generator, side by side.

    python benchmarks/bench_render.py --model biggan-deep-128 --seconds 10

Both loops run in one process on the same generator (random weights of the
real architecture): the raw loop is batch-1 fp32 forward passes; the render
loop is the real offline renderer (director, batches between cues, autocast)
into a null sink and into an mp4 at the generator's own size. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livegan.bench_configs import raw_fps  # noqa: E402
from livegan.engine.cuefile import parse_cue_file  # noqa: E402
from livegan.models.registry import load_generator  # noqa: E402
from livegan.outputs.null import NullOutput  # noqa: E402
from livegan.outputs.recorder import VideoRecorder  # noqa: E402
from livegan.render import RenderJob, render_frames  # noqa: E402
from livegan.show.session import auto_dtype  # noqa: E402
from livegan.setlist import load_setlist  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="biggan-deep-128")
    ap.add_argument("--seconds", type=float, default=10.0, help="video seconds to render (and raw-loop seconds)")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--batch", type=int, default=4)
    a = ap.parse_args(argv)
    gen = load_generator(a.model, random_weights=True, dtype=auto_dtype("cpu"))
    sl = load_setlist(ROOT / "setlists" / "demo.yaml")
    cues = parse_cue_file(ROOT / "setlists" / "demo-cues.txt")
    raw = raw_fps(gen, a.seconds)
    job = RenderJob(song=0, seconds=a.seconds, fps=a.fps, size=gen.size, batch=a.batch)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        with NullOutput() as sink:
            n = render_frames(sl, gen, Path(d) / "no-banks", job, cues, sink)
        null_fps = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        with VideoRecorder(Path(d) / "v.mp4", a.fps) as rec:
            n2 = render_frames(sl, gen, Path(d) / "no-banks", job, cues, rec)
        mp4_fps = n2 / (time.perf_counter() - t0)
    print(json.dumps({"model": a.model, "size": gen.size, "dtype": str(gen.dtype), "batch": a.batch,
                      "raw_fps": raw, "render_fps_null": null_fps, "render_fps_mp4": mp4_fps,
                      "ratio_null": null_fps / raw, "ratio_mp4": mp4_fps / raw, "frames": n}, indent=1))


if __name__ == "__main__":
    main()
