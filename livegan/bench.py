"""``livegan bench``: what this machine can do, and how close the live engine gets to it.

For each model, in one process, one after the other, on the same inputs:
- ``machine``: CPU model and features (AVX2, AVX512-BF16, AMX), cores, load,
  torch version and default threads;
- ``raw``: the raw fps of every configuration (fp32/bf16, batch 1/2/4,
  threads, eager/compiled; bench_configs.py) and the ``best`` of them;
- ``engine``: frames the real render worker produced while the real path
  maths ran and a 60 Hz display loop presented to a null output (a cue every
  1.5 s, or every ~8 raw frames on slower generators), with the dtype of the
  best configuration and the show's thread policy; ``ratio`` =
  engine_fps / best raw fps; ``cue_latency_ms_p50/p99``: cue handled ->
  first frame on the new path ready;
- ``engine_no_display``: the same with the display loop off, so the cost of
  the show itself is visible;
- ``display``: presented fps and ms per present of a real window (both
  paths: SDL renderer and software) at 1920x1080 and 3840x2160 while the
  generator runs (needs a display: a real one or Xvfb).
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


DISPLAY_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (3840, 2160))


def engine_run(gen, seconds: float, display_fps: float = 60.0, cue_every: float = 1.5,
               max_batch: int = 4, seed: int = 0, output: Any = None, overlay: bool = True,
               interruptible: bool = True) -> dict[str, Any]:
    """The real worker + director + a display loop presenting to ``output`` (None: to nothing).

    ``display_fps`` 0 turns the display loop off: the main thread only gives
    cues and watches for their first frame (every 5 ms).
    """
    clock = MonotonicClock()
    kfs = _keyframes(gen.num_latents, 8, seed)
    plan = SongPlan("bench", len(kfs), [1] * len(kfs), [Transition(1.0)] * len(kfs))
    director = Director([plan], lambda s, sec, v: kfs[sec], t0=clock.now())
    worker = RenderWorker(director, gen, clock, fps=display_fps or 60.0, max_batch=max_batch)
    gen.render(kfs[0].z[None], kfs[0].y[None], 0.7)  # warm-up outside the timing
    unhook = lambda: None  # noqa: E731
    if interruptible and hasattr(gen, "model"):  # as in a show (session.py)
        from .models.interrupt import make_interruptible
        unhook = make_interruptible(gen, worker.should_stop)
    worker.start()
    presented, latencies, present_ms, present_cpu_ms = 0, [], [], []
    pending: tuple[int, float] | None = None  # (version, time the cue was handled)
    t0 = clock.now()
    period = 1.0 / display_fps if display_fps else 0.005
    next_cue, next_frame = t0 + cue_every, t0
    frames_at_start = worker.stats.frames
    ov = {"song": "bench  (song 1/1)", "section": "section 1/8", "lyric": "a goldfish sleeping in a teapot",
          "next_lyric": "a weasel in the snow", "cue": "next (bench)"} if overlay else None
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
            if display_fps:
                frame = worker.frame_at(now)
                if frame is not None:
                    if output is not None:
                        a, ca = time.perf_counter(), time.thread_time()
                        if ov is not None:
                            ov["fps"] = presented / max(1e-9, now - t0)
                            ov["gen_ms"] = 1000 * worker.stats.frame_seconds
                        output.present(frame, ov)
                        output.poll_events()
                        present_ms.append(1000 * (time.perf_counter() - a))
                        present_cpu_ms.append(1000 * (time.thread_time() - ca))
                    presented += 1
                    worker.prune(now)
            next_frame = max(next_frame + period, clock.now() - period)  # as Show.run: no backlog chase
            clock.sleep(next_frame - clock.now())
        elapsed = clock.now() - t0
    finally:
        worker.stop()
        unhook()
    out = {
        "engine_fps": round((worker.stats.frames - frames_at_start) / elapsed, 3),
        "display_fps": round(presented / elapsed, 2) if display_fps else None,
        "cue_latency_ms_p50": _r(_pct(latencies, 50)),
        "cue_latency_ms_p99": _r(_pct(latencies, 99)),
        "cues": len(latencies),
        "batch_ms": round(1000 * worker.stats.batch_seconds, 1),
        "batches_by_size": dict(sorted(worker.stats.batch_sizes.items())),
        "stale_frames_dropped": worker.stats.dropped_stale,
        "frames_interrupted": worker.stats.interrupted,
    }
    if output is not None:
        out["present_ms_mean"] = _r(sum(present_ms) / len(present_ms) if present_ms else None)
        out["present_ms_p99"] = _r(_pct(present_ms, 99))
        # CPU time of this thread per present: what the path itself costs, apart from waiting for
        # the X server or for a core on a busy machine (the X server's own work is not in it).
        out["present_cpu_ms_mean"] = _r(sum(present_cpu_ms) / len(present_cpu_ms) if present_cpu_ms else None, 2)
    return out


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def bench_model(name: str, *, random_weights: bool, device: str, seconds: float, dtype: str = "auto",
                max_batch: int = 4, compile_mode: str = "auto", display: bool = True,
                display_sizes: tuple[tuple[int, int], ...] = DISPLAY_SIZES, log: Any = None) -> dict[str, Any]:
    import torch

    from .bench_configs import raw_configs
    from .models.registry import load_generator, resolve_device
    from .threads import apply_thread_policy

    dev = resolve_device(device)
    gen = load_generator(name, random_weights=random_weights, device=dev, dtype="float32")
    # Each configuration for a quarter of the time: there are up to 14 of them.
    raw = raw_configs(gen, max(0.5, seconds / 4), device=dev, compile_mode=compile_mode, log=log)
    best = raw["best"]
    dt = best["dtype"] if dtype == "auto" else dtype  # the engine runs what measured fastest
    gen.dtype = getattr(torch, dt)
    threads = apply_thread_policy("show")
    compiled = False
    if best["compiled"]:
        from .models.compiled import compile_generator
        compiled = compile_generator(gen, "on", batches=(1,) if dev == "cpu" else (1, 2, 4), warn=log or print)
    # Cues every 1.5 s, but never more often than every ~8 raw frames: on a slow
    # generator, cues faster than it renders would measure only restarts.
    cue_every = max(1.5, 8.0 / best["fps"])
    eng = engine_run(gen, seconds, max_batch=max_batch, cue_every=cue_every)
    off = engine_run(gen, seconds, max_batch=max_batch, cue_every=cue_every, display_fps=0)
    out = {"model": name, "size": gen.size, "device": dev, "raw": raw,
           "engine": {"dtype": dt, "threads": threads.threads, "thread_policy": threads.reason,
                      "compiled": compiled, **eng, "ratio": round(eng["engine_fps"] / best["fps"], 3),
                      "raw_frame_ms": round(1000 / best["fps"], 1)},
           "engine_no_display": {**off, "ratio": round(off["engine_fps"] / best["fps"], 3)}}
    if display:
        from .bench_display import display_figures
        out["display"] = display_figures(gen, seconds, sizes=display_sizes, cue_every=cue_every,
                                         max_batch=max_batch, log=log)
    return out


def bench(models: list[str], *, random_weights: bool = False, device: str = "auto", seconds: float = 10.0,
          dtype: str = "auto", midi: bool = True, compile_mode: str = "auto", display: bool = True,
          log: Any = None) -> dict[str, Any]:
    from .bench_configs import cpu_info

    out: dict[str, Any] = {"machine": cpu_info()}
    out["models"] = [bench_model(m, random_weights=random_weights, device=device, seconds=seconds, dtype=dtype,
                                 compile_mode=compile_mode, display=display, log=log) for m in models]
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
