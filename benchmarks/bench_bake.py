"""Bake throughput against the raw generator, side by side.

    OMP_NUM_THREADS=1 python benchmarks/bench_bake.py benchmarks/bake-bench.yaml --model biggan-deep-128 --loop 2

Renders the very frames a bake renders (same latents, same batches) with the
bare generator and nothing else, then bakes them for real (encoding, atomic
files, index) into a temporary folder, then the bare generator again; prints
one JSON object: raw fps (mean of the two runs), bake fps, their ratio, and
MB per minute of clips. Ratios measured in one run are what to compare.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import sys
import time
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livegan.bake.clips import DriftSettings  # noqa: E402
from livegan.bake.runner import bake_setlist, clip_latents, song_clips  # noqa: E402
from livegan.engine.path import Drift  # noqa: E402
from livegan.engine.state import plans_from_setlist  # noqa: E402
from livegan.setlist import load_setlist  # noqa: E402
from livegan.show.banks import ShowKeyframes  # noqa: E402


def raw_seconds(gen, sl, banks: Path, songs: list[int], fps: float, loop: float, batch: int) -> tuple[int, float]:
    """(frames, seconds) for the bare generator on exactly the bake's frames."""
    gid = {"name": gen.id.name, "weights": gen.id.weights}
    kf = ShowKeyframes(sl, banks, gid, gen.num_latents)
    plans = [dataclasses.replace(p, variants=kf.variants(i)) for i, p in enumerate(plans_from_setlist(sl))]
    d = DriftSettings()
    drift = Drift(gen.num_latents, seed=0)
    specs = [s for i in songs for s in song_clips(i, plans[i], kf, fps, d, loop, sl.defaults.truncation, gid, gen.size)]
    lat = [clip_latents(s, kf, fps, drift, d) for s in specs]  # latents outside the timing, as the bake's are cheap
    n, t = 0, 0.0
    for z, y in lat:
        for b in range(0, len(z), batch):
            t0 = time.perf_counter()
            gen.render(z[b:b + batch], y[b:b + batch], sl.defaults.truncation)
            t += time.perf_counter() - t0
            n += len(z[b:b + batch])
    return n, t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("setlist", type=Path)
    ap.add_argument("--song", default=None)
    ap.add_argument("--model", default="biggan-deep-128")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--loop", type=float, default=4.0)
    ap.add_argument("--batch", type=int, default=None)
    a = ap.parse_args(argv)
    from livegan.models.registry import load_generator, resolve_device
    from livegan.show.session import auto_dtype

    dev = resolve_device(a.device)
    gen = load_generator(a.model, random_weights=True, device=dev, dtype=auto_dtype(dev) if a.dtype == "auto" else a.dtype)
    sl = load_setlist(a.setlist)
    songs = [sl.song_index(a.song)] if a.song else list(range(len(sl.songs)))
    batch = a.batch or (2 if gen.device.type == "cpu" else 8)
    tmp = Path(tempfile.mkdtemp(prefix="livegan-bakebench-"))
    try:
        gen.render(*[x[:1] for x in _warm(gen)], sl.defaults.truncation)
        n1, t1 = raw_seconds(gen, sl, tmp, songs, a.fps, a.loop, batch)
        t_bake = time.perf_counter()
        s = bake_setlist(sl, tmp, gen, fps=a.fps, loop_seconds=a.loop, songs=songs, batch=batch, progress=False)
        t_bake = time.perf_counter() - t_bake
        n2, t2 = raw_seconds(gen, sl, tmp, songs, a.fps, a.loop, batch)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    raw = (n1 + n2) / (t1 + t2)
    bake = s.frames / t_bake
    print(json.dumps({"model": a.model, "size": gen.size, "device": dev, "dtype": str(gen.dtype), "batch": batch,
                      "fps": a.fps, "frames": s.frames, "clips": s.done, "raw_fps_before": n1 / t1,
                      "raw_fps_after": n2 / t2, "raw_fps": raw, "bake_fps": bake, "ratio": bake / raw,
                      "mb": s.bytes / 1e6, "clip_minutes": s.clip_seconds / 60, "mb_per_minute": s.mb_per_minute},
                     indent=1))


def _warm(gen):
    import numpy as np
    return np.zeros((1, gen.num_latents, 128), np.float32), np.full((1, 1000), 1e-3, np.float32)


if __name__ == "__main__":
    main()
