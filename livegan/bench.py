"""``livegan bench``: generator speed, live-engine speed and latencies, measured side by side.

For each model, in one process, one after the other, on the same inputs:
- ``raw_fps``: a bare batch-1 generator loop (fp32, no engine);
- ``engine_fps``: frames the real render worker produced while the real path
  maths ran and a display loop presented to a null output (a cue every 1.5 s,
  or every ~8 raw frames on slower generators);
- ``ratio`` = engine_fps / raw_fps (render-ahead batches + autocast can beat 1);
- ``display_fps``: frames presented per second (blending keeps it at the
  display rate whatever the generator speed);
- ``cue_latency_ms_p50/p99``: cue handled -> first frame on the new path ready.
Ratios measured in one run are what to compare; absolute times on a shared
machine are noisy.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .clock import MonotonicClock
from .engine.director import Director
from .engine.path import Keyframe
from .engine.state import SongPlan
from .engine.worker import RenderWorker
from .setlist import Transition
from .triggers.events import Cue


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def _keyframes(layers: int, n: int, seed: int = 0) -> list[Keyframe]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        y = np.zeros(1000, np.float32)
        y[rng.integers(1000)] = 1.0
        out.append(Keyframe((np.clip(rng.standard_normal((layers, 128)), -2, 2) * 0.7).astype(np.float32), y))
    return out


def raw_fps(gen, seconds: float, seed: int = 0) -> float:
    """Bare batch-1 fp32 forward passes per second on the bench keyframes."""
    import torch

    kfs = _keyframes(gen.num_latents, 8, seed)
    old = gen.dtype
    gen.dtype = torch.float32
    try:
        gen.render(kfs[0].z[None], kfs[0].y[None], 0.7)  # warm-up
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            kf = kfs[n % len(kfs)]
            gen.render(kf.z[None], kf.y[None], 0.7)
            n += 1
        return n / (time.perf_counter() - t0)
    finally:
        gen.dtype = old


def engine_run(gen, seconds: float, display_fps: float = 60.0, cue_every: float = 1.5,
               max_batch: int = 4, seed: int = 0) -> dict[str, Any]:
    """The real worker + director + a display loop presenting to nothing."""
    clock = MonotonicClock()
    kfs = _keyframes(gen.num_latents, 8, seed)
    plan = SongPlan("bench", len(kfs), [1] * len(kfs), [Transition(1.0)] * len(kfs))
    director = Director([plan], lambda s, sec, v: kfs[sec], t0=clock.now())
    worker = RenderWorker(director, gen, clock, fps=display_fps, max_batch=max_batch)
    gen.render(kfs[0].z[None], kfs[0].y[None], 0.7)  # warm-up outside the timing
    worker.start()
    presented, latencies = 0, []
    pending: tuple[int, float] | None = None  # (version, time the cue was handled)
    t0 = clock.now()
    next_cue, next_frame = t0 + cue_every, t0
    frames_at_start = worker.stats.frames
    try:
        while clock.now() - t0 < seconds:
            now = clock.now()
            if now >= next_cue and pending is None:
                cue = Cue("next" if director.position.section < len(kfs) - 1 else "goto", None
                          if director.position.section < len(kfs) - 1 else 1, source="bench")
                director.handle(cue, now)
                pending = (director.version, time.perf_counter())
                next_cue = now + cue_every
            if pending is not None and worker.has_frames_for(pending[0]):
                latencies.append(1000 * (time.perf_counter() - pending[1]))
                pending = None
            if worker.frame_at(now) is not None:
                presented += 1
                worker.prune(now)
            next_frame += 1.0 / display_fps
            clock.sleep(next_frame - clock.now())
        elapsed = clock.now() - t0
    finally:
        worker.stop()
    return {
        "engine_fps": (worker.stats.frames - frames_at_start) / elapsed,
        "display_fps": presented / elapsed,
        "cue_latency_ms_p50": _pct(latencies, 50),
        "cue_latency_ms_p99": _pct(latencies, 99),
        "cues": len(latencies),
        "batch_ms": 1000 * worker.stats.batch_seconds,
        "stale_frames_dropped": worker.stats.dropped_stale,
    }


def bench_model(name: str, *, random_weights: bool, device: str, seconds: float, dtype: str = "auto",
                max_batch: int = 4) -> dict[str, Any]:
    from .models.registry import load_generator, resolve_device
    from .session import auto_dtype

    dev = resolve_device(device)
    dt = auto_dtype(dev) if dtype == "auto" else dtype
    gen = load_generator(name, random_weights=random_weights, device=dev, dtype=dt)
    raw = raw_fps(gen, seconds)
    # Cues every 1.5 s, but never more often than every ~8 raw frames: on a slow
    # generator, cues faster than it renders would measure only restarts.
    eng = engine_run(gen, seconds, max_batch=max_batch, cue_every=max(1.5, 8.0 / raw))
    return {"model": name, "size": gen.size, "device": dev, "engine_dtype": dt, "raw_dtype": "float32",
            "raw_fps": raw, **eng, "ratio": eng["engine_fps"] / raw if raw else None}


def bench(models: list[str], *, random_weights: bool = False, device: str = "auto", seconds: float = 10.0,
          dtype: str = "auto", midi: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"models": [bench_model(m, random_weights=random_weights, device=device,
                                                  seconds=seconds, dtype=dtype) for m in models]}
    if midi:
        from .triggers.midi_latency import measure_midi_latency
        m = measure_midi_latency(500)
        out["midi"] = {"callback_to_queue_ms_p50": m["callback_to_queue_ms_p50"],
                       "callback_to_queue_ms_p99": m["callback_to_queue_ms_p99"],
                       "callback_to_state_ms_p50": m["to_drain_ms_p50"],
                       "callback_to_state_ms_p99": m["to_drain_ms_p99"]}
        from .rig_bench import measure_clock_error, measure_osc_latency
        o = measure_osc_latency(500)
        out["osc"] = {k: o[k] for k in ("datagram_to_queue_ms_p50", "datagram_to_queue_ms_p99",
                                        "datagram_to_state_ms_p50", "datagram_to_state_ms_p99", "received")}
        out["midi_clock"] = measure_clock_error()
    return out
