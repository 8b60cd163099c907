"""``livegan bench``: what this machine can do, and how close the live engine gets to it.

For each model, in one process, one after the other, on the same inputs:
- ``machine``: CPU model and features (AVX2, AVX512-BF16, AMX), cores, load,
  torch version and default threads; ``steal_during_models``, the share of
  CPU time the host of a virtual machine took while the models ran;
- ``raw``: the raw fps of every configuration (fp32/bf16, batch 1/2/4,
  threads, eager/compiled; bench_configs.py) and the ``best`` of them;
- ``engine``: frames the real render worker produced while the real path
  maths ran and a 60 Hz display loop presented to a null output, with the
  dtype of the best configuration and the show's thread options and batch
  sizes (the worker measures them in place first: ``settle_seconds``,
  ``chosen``). ``engine_fps`` is the steady state without cues; ``ratio`` =
  engine_fps / best raw fps of the sweep; ``ratio_interleaved`` = the same
  against the best configuration re-measured between pieces of the
  engine's run (the fair one on a machine whose speed drifts): the batch
  sizes the sweep put within ``CANDIDATE_SHARE`` of its best, each
  measured in every raw piece (``raw_fps_interleaved_by``), and the best of
  them by its mean; and
  ``ratio_low_steal`` the same over only the pieces in which the host stole
  at most 2 % of the CPU (``steady_pieces`` lists each with its share: on a
  shared virtual machine that share swings from 0 to 30 % within seconds,
  and with it the fps);
  ``generator_busy`` and ``frame_ms_in_show`` say where a gap goes (idle
  waiting vs slower frames); ``held_share`` is the share of batches that came
  after the display had run out of frames (it held a picture), past the few
  that rebuild the render-ahead after a (re)start, with the worker's
  ``render_ahead_margin`` against that at the end. Then at least 12 cues
  (at ``--seconds 20``), every 1.5 s (or every ~8 raw frames on slower
  generators): ``cue_latency_ms_p50/p99`` (cue handled -> first frame on
  the new path ready; compare with ``raw_batch1_frame_ms``, the
  least one frame can take; ``..._low_steal``: both over the quiet pieces
  only, ``cue_pieces``) and ``engine_fps_with_cues`` (stale frames are
  thrown away, so lower by design);
- ``engine_no_display``: the same with the display loop off (the main thread
  asleep but for giving cues and timing them), so the cost of the show
  itself is visible; ``main_loop_cpu`` is the main thread's CPU time in the
  steady phase as a share of a core, in both;
- ``display``: presented fps and ms per present of a real window (both
  paths: SDL renderer and software) at 1920x1080 and 3840x2160 while the
  generator runs, no overlay, as a fullscreen show (needs a display: a
  real one or Xvfb).
Ratios measured in one run are what to compare; absolute times on a shared
machine are noisy.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import numpy as np

from .clock import MonotonicClock
from .engine.director import Director
from .engine.path import Keyframe
from .engine.state import SongPlan
from .engine.worker import RenderWorker
from .setlist import Transition
from .threads import cpu_ticks, steal_share
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


ROUNDS = 4  # pieces of the engine's steady and cue phases, each after a raw piece
# Cues in the engine's cue phase, at least, at --seconds 20 (in proportion to it: the knob of precision):
# their p99 is then not just the worst of three.
MIN_CUES_PER_20_SECONDS = 12
# Raw configurations re-measured between the engine's pieces: those the sweep put within this share of the best.
CANDIDATE_SHARE = 0.8
LOW_STEAL = 0.02  # a piece of a run counts as quiet where the host took at most this share of the CPU


def engine_run(gen, seconds: float, display_fps: float = 60.0, cue_every: float = 1.5,
               max_batch: int = 4, seed: int = 0, output: Any = None, overlay: bool = True,
               interruptible: bool = True, worker_options: dict | None = None,
               settle_seconds: float | None = None, raw: Any = None, raw_frame: Any = None,
               rounds: int = 3, min_cues: int = 0) -> dict[str, Any]:
    """The real worker + director + a display loop presenting to ``output`` (None: to nothing).

    Three phases, all with the display loop running:
    - settle: until the worker has measured every batch size and thread count
      it may use (a show does the same in its first seconds), at most
      ``settle_seconds`` (default 3 x ``seconds``); not counted;
    - steady, ``seconds / 2`` without cues: ``engine_fps``, what the
      generator gives the show. With ``raw`` (a function that renders the
      best raw configuration for some seconds and returns its fps, or the
      candidates for best, each for that long, and a dict of their fps) the
      steady phase is cut into ``rounds`` pieces, each after a raw piece
      with the worker stopped: ``raw_fps_interleaved``, the fps of the
      candidate whose mean over the pieces was highest
      (``raw_fps_interleaved_by``: each one's). On a shared machine the
      speed drifts by tens of percent within a minute, so only a comparison
      interleaved like this is fair; and a sweep's best is often only the
      configuration measured in a fast moment;
    - cues, ``seconds / 2``, a cue every ``cue_every``: cue latencies and
      ``engine_fps_with_cues`` (frames a cue made stale are thrown away, so
      this is lower by design). Each latency is split into the cue frame's
      own render (``cue_frame_ms``) and the rest (``cue_wait_ms``: the work
      in flight when the cue came, and the display noticing the frame). With
      ``raw_frame`` (renders single frames for some seconds, returns each
      one's seconds) the cue phase is cut into ``rounds`` pieces too, each
      after a raw piece: ``raw_batch1_frame_ms_p50/p99_interleaved``, the
      least a cue's frame could take meanwhile. With ``min_cues`` the cue
      pieces are long enough for that many cues in all (a p99 of three cues
      is their maximum, and says little).

    Each piece records the share of CPU time the host stole during it
    (``steady_pieces``, ``cue_pieces``), and the comparisons are made again
    over the quiet pieces alone (:func:`low_steal_ratio`, :func:`low_steal_cues`).

    ``display_fps`` 0 turns the display loop off: the main thread only gives
    cues and watches for their first frame (every 5 ms in the cue phase; in
    the others it wakes every 100 ms, so the worker runs as alone).
    """
    clock = MonotonicClock()
    kfs = _keyframes(gen.num_latents, 8, seed)
    plan = SongPlan("bench", len(kfs), [1] * len(kfs), [Transition(1.0)] * len(kfs))
    director = Director([plan], lambda s, sec, v: kfs[sec], t0=clock.now())
    worker = RenderWorker(director, gen, clock, fps=display_fps or 60.0, max_batch=max_batch,
                          **(worker_options or {}))
    gen.render(kfs[0].z[None], kfs[0].y[None], 0.7)  # warm-up outside the timing
    unhook = lambda: None  # noqa: E731
    if interruptible and hasattr(gen, "model"):  # as in a show (session.py)
        from .models.interrupt import interrupt_on_cue
        unhook = interrupt_on_cue(gen, worker)
    worker.start()
    loop = _DisplayLoop(clock, worker, director, output, display_fps, len(kfs), overlay)
    try:
        settle = loop.run(3 * seconds if settle_seconds is None else settle_seconds, until=lambda: worker.explored)
        n = rounds if raw is not None else 1
        steady = {"elapsed": 0.0, "presented": 0, "present_ms": [], "present_cpu_ms": [], "cpu": 0.0}
        kept = busy = span = 0.0
        held = settled = 0
        pieces: list[dict[str, Any]] = []  # each raw piece and the engine's piece after it, with stolen time
        for _ in range(n):
            piece: dict[str, Any] = {}
            if raw is not None:
                fps, piece["raw_steal"] = loop.aside(lambda: _stolen(lambda: raw(seconds / 2 / n)), seconds)
                piece["raw_fps_by"] = {k: round(v, 3) for k, v in (fps if isinstance(fps, dict) else {"": fps}).items()}
            a, h0, s0 = worker.timer(), worker.stats.held_settled, worker.stats.settled
            part, piece["engine_steal"] = _stolen(lambda: loop.run(seconds / 2 / n))
            b = worker.timer()
            held, settled = held + worker.stats.held_settled - h0, settled + worker.stats.settled - s0
            # From the first to the last batch end in the piece: whole batches only, none cut at an end.
            ends = [h for h in list(worker.stats.history) if a <= h[0] <= b]
            if len(ends) >= 2:
                span += ends[-1][0] - ends[0][0]
                kept += ends[-1][1] - ends[0][1]
                busy += ends[-1][2] - ends[0][2]
                piece["engine_fps"] = round((ends[-1][1] - ends[0][1]) / (ends[-1][0] - ends[0][0]), 3)
            pieces.append(piece)
            for key in steady:
                steady[key] += part[key]
        n = rounds if raw_frame is not None else 1
        cues = {"elapsed": 0.0, "latencies": [], "present_ms": [], "present_cpu_ms": []}
        cue_frames: list[float] = []
        raw_frames: list[float] = []
        kept_with_cues = 0
        cue_pieces: list[dict[str, Any]] = []
        # Each cue needs cue_every; the last one also time for its first frame before the piece ends.
        cue_piece = max(seconds / 2 / n, math.ceil(min_cues / n) * cue_every + cue_every / 2 if min_cues else 0.0)
        for _ in range(n):
            piece = {}
            if raw_frame is not None:
                times, piece["raw_steal"] = loop.aside(lambda: _stolen(lambda: raw_frame(seconds / 2 / n)), seconds)
                raw_frames += times
                piece["raw_batch1_frame_ms"] = [round(1000 * x, 1) for x in times]
            f0, r0 = worker.stats.frames, len(worker.stats.first_frame_render)
            part, piece["engine_steal"] = _stolen(lambda: loop.run(cue_piece, cue_every=cue_every))
            piece.update(seconds=round(part["elapsed"], 2), cue_latency_ms=[round(x, 1) for x in part["latencies"]])
            cue_pieces.append(piece)
            kept_with_cues += worker.stats.frames - f0
            for key in cues:
                cues[key] += part[key]
            # The cue frames of this piece's cues (the worker notes each just after the display sees it).
            loop.run(0.2, until=lambda: len(worker.stats.first_frame_render) >= r0 + len(part["latencies"]))
            cue_frames += worker.stats.first_frame_render[r0:r0 + len(part["latencies"])]
    finally:
        worker.stop()
        unhook()
    st = worker.stats
    out = {
        "settle_seconds": round(settle["elapsed"], 1),
        "engine_fps": round(kept / span, 3) if span else 0.0,
        "engine_fps_with_cues": round(kept_with_cues / cues["elapsed"], 3),
        # Where a gap to the raw fps goes: the share of the steady phase the generator was rendering
        # (idle: the worker waited for the display), and its time per frame meanwhile.
        "generator_busy": round(busy / span, 3) if span else None,
        "frame_ms_in_show": round(1000 * busy / max(1, kept), 1),
        # Batches that came after the display had passed the newest frame (it held a picture: a
        # stutter), of those past the first few after the worker (re)started (render-ahead built up).
        "held_share": round(held / settled, 3) if settled else None,
        "render_ahead_margin": round(worker.margin, 2),
        "display_fps": round(steady["presented"] / steady["elapsed"], 2) if display_fps else None,
        # The share of the machine's CPU the host took in the steady phase (a VM's neighbours).
        "steal_steady": _mean([p["engine_steal"] for p in pieces]),
        # The main thread's CPU time in the steady phase, as a share of one core: what the show loop
        # takes from the generator's cores (on two, a share of a core taken from one OpenMP thread
        # stalls the other at its next barrier too).
        "main_loop_cpu": round(steady["cpu"] / steady["elapsed"], 3),
        "cue_latency_ms_p50": _r(_pct(cues["latencies"], 50)),
        "cue_latency_ms_p99": _r(_pct(cues["latencies"], 99)),
        "cues": len(cues["latencies"]),
        # The cue's own frame, and everything else a cue waited for (the work in flight, the display's look).
        "cue_frame_ms_p50": _r(_pct([1000 * x for x in cue_frames], 50)),
        "cue_frame_ms_p99": _r(_pct([1000 * x for x in cue_frames], 99)),
        "cue_wait_ms_p99": _r(_pct([a - 1000 * b for a, b in zip(cues["latencies"], cue_frames)], 99))
        if len(cue_frames) == len(cues["latencies"]) else None,
        "batch_ms": round(1000 * st.batch_seconds, 1),
        "batches_by_size": dict(sorted(st.batch_sizes.items())),
        "batches_by_threads": dict(sorted(st.thread_counts.items())),
        "chosen": {"batch": worker.best_config[0], "threads": worker.best_config[1] or None},
        "stale_frames_dropped": st.dropped_stale,
        "frames_interrupted": st.interrupted,
    }
    if raw is not None:
        by = interleaved_best(pieces)
        out["raw_fps_interleaved"] = max(by.values())
        if len(by) > 1:
            out["raw_fps_interleaved_by"] = by
        out["ratio_interleaved"] = round(out["engine_fps"] / out["raw_fps_interleaved"], 3)
        out["steady_pieces"] = pieces
        out.update(low_steal_ratio(pieces))
    if raw_frames:
        out["raw_batch1_frame_ms_p50_interleaved"] = _r(1000 * _pct(raw_frames, 50))
        out["raw_batch1_frame_ms_p99_interleaved"] = _r(1000 * _pct(raw_frames, 99))
        out["cue_pieces"] = cue_pieces
        out.update(low_steal_cues(cue_pieces))
    if output is not None:
        ms, cpu = steady["present_ms"] + cues["present_ms"], steady["present_cpu_ms"] + cues["present_cpu_ms"]
        out["present_ms_mean"] = _r(sum(ms) / len(ms) if ms else None)
        out["present_ms_p99"] = _r(_pct(ms, 99))
        # CPU time of this thread per present: what the path itself costs, apart from waiting for
        # the X server or for a core on a busy machine (the X server's own work is not in it).
        out["present_cpu_ms_mean"] = _r(sum(cpu) / len(cpu) if cpu else None, 2)
    return out


def interleaved_best(pieces: list[dict[str, Any]]) -> dict[str, float]:
    """Each raw candidate's mean fps over the pieces; sets each piece's ``raw_fps`` to the best one's.

    The candidates are measured side by side, piece after piece, so their
    means compare under the same drift; the best of them is the one to hold
    the engine against, in each piece too (pairs, the quiet pieces).
    """
    by = {k: round(sum(p["raw_fps_by"][k] for p in pieces) / len(pieces), 3) for k in pieces[0]["raw_fps_by"]}
    best = max(by, key=by.__getitem__)
    for p in pieces:
        p["raw_fps"] = p["raw_fps_by"][best]
        if len(by) == 1:
            del p["raw_fps_by"]
    return by


def low_steal_ratio(pieces: list[dict[str, Any]], most: float = LOW_STEAL) -> dict[str, Any]:
    """Engine fps against raw fps over only the pieces the host stole at most ``most`` of the CPU in.

    On a shared virtual machine the stolen share swings from 0 to 30 % within
    seconds, and a piece with a fifth of the CPU gone renders a third fewer
    frames (two OpenMP threads wait at each barrier for the one whose CPU was
    taken), whichever side of the comparison it falls on. This compares the
    two under the same, quiet, conditions; None where either had no such piece.
    """
    raw = [p["raw_fps"] for p in _quiet(pieces, "raw_steal", most) if "raw_fps" in p]
    eng = [p["engine_fps"] for p in _quiet(pieces, "engine_steal", most) if "engine_fps" in p]
    ratio = round((sum(eng) / len(eng)) / (sum(raw) / len(raw)), 3) if raw and eng else None
    # Each engine piece against the raw piece just before it: their spread is how far one run's ratio
    # can be trusted (with no time stolen at all, raw pieces a few seconds apart still differed by 70 %).
    pairs = sorted(round(p["engine_fps"] / p["raw_fps"], 3) for p in pieces if p.get("engine_fps") and p.get("raw_fps"))
    return {"ratio_low_steal": ratio, "low_steal_pieces": {"raw": len(raw), "engine": len(eng)},
            "pair_ratios": pairs}


def low_steal_cues(pieces: list[dict[str, Any]], most: float = LOW_STEAL) -> dict[str, Any]:
    """Cue latency p99 against a raw single frame's p99, over only the quiet pieces (see :func:`low_steal_ratio`)."""
    cues = [x for p in _quiet(pieces, "engine_steal", most) for x in p.get("cue_latency_ms", ())]
    raw = [x for p in _quiet(pieces, "raw_steal", most) for x in p.get("raw_batch1_frame_ms", ())]
    return {"cue_latency_ms_p99_low_steal": _r(_pct(cues, 99)), "cues_low_steal": len(cues),
            "raw_batch1_frame_ms_p99_low_steal": _r(_pct(raw, 99))}


def _quiet(pieces: list[dict[str, Any]], key: str, most: float) -> list[dict[str, Any]]:
    """The pieces whose stolen share ``key`` is known and at most ``most``."""
    return [p for p in pieces if p.get(key) is not None and p[key] <= most]


def _mean(xs: list[float | None]) -> float | None:
    return None if not xs or None in xs else round(sum(xs) / len(xs), 3)


def _stolen(measure: Any) -> tuple[Any, float | None]:
    """``measure()`` and the share of the machine's CPU the host stole meanwhile."""
    before = cpu_ticks()
    result = measure()
    return result, steal_share(before, cpu_ticks())


class _DisplayLoop:
    """The show's 60 Hz loop for the bench: frame_at, present, prune; cues on a timer if asked."""

    def __init__(self, clock: MonotonicClock, worker: RenderWorker, director: Director, output: Any,
                 display_fps: float, sections: int, overlay: bool) -> None:
        self.clock, self.worker, self.director, self.output = clock, worker, director, output
        self.display_fps = display_fps
        self.period = 1.0 / display_fps if display_fps else 0.005
        self.sections = sections
        self.t_start = clock.now()
        self.presented_total = 0
        self.ov = {"song": "bench  (song 1/1)", "section": "section 1/8", "lyric": "a goldfish sleeping in a teapot",
                   "next_lyric": "a weasel in the snow", "cue": "next (bench)"} if overlay else None

    def aside(self, measure: Any, seconds: float) -> Any:
        """``measure()`` with the worker stopped; then the worker again, back in its stride (one batch
        kept, not counted; at most ``seconds``)."""
        worker = self.worker
        worker.stop()
        result = measure()
        worker.start()
        k = worker.stats.frames
        self.run(seconds, until=lambda: worker.stats.frames > k)
        return result

    def run(self, seconds: float, cue_every: float | None = None, until: Any = None) -> dict[str, Any]:
        clock, worker, director, output = self.clock, self.worker, self.director, self.output
        presented, wakeups, early_wakes, latencies, present_ms, present_cpu_ms = 0, 0, 0, [], [], []
        pending: tuple[int, float] | None = None  # (version, time the cue was handled)
        t0, cpu0 = clock.now(), time.thread_time()
        next_cue = t0 + (cue_every or 0.0)
        next_frame = t0
        while clock.now() - t0 < seconds and not (until is not None and until()):
            now = clock.now()
            wakeups += 1
            if cue_every is not None and now >= next_cue and pending is None:
                last = director.position.section >= self.sections - 1
                director.handle(Cue("goto" if last else "next", 1 if last else None, source="bench"), now)
                pending = (director.version, time.perf_counter())
                next_cue = now + cue_every
            early = False
            while True:
                if pending is not None and worker.has_frames_for(pending[0]):
                    latencies.append(1000 * (time.perf_counter() - pending[1]))
                    pending = None
                if self.display_fps:
                    frame = worker.frame_at(now)
                    if frame is not None:
                        if output is not None:
                            a, ca = time.perf_counter(), time.thread_time()
                            if self.ov is not None:
                                self.ov["fps"] = self.presented_total / max(1e-9, now - self.t_start)
                                self.ov["gen_ms"] = 1000 * worker.stats.frame_seconds
                            output.present(frame, self.ov)
                            output.poll_events()
                            present_ms.append(1000 * (time.perf_counter() - a))
                            present_cpu_ms.append(1000 * (time.thread_time() - ca))
                        presented += 1
                        self.presented_total += 1
                        worker.prune(now)
                if not early:
                    # With the display off: every 5 ms while cues are given (to time their first frames),
                    # else every 100 ms, the worker as alone as a process that gives cues gets.
                    period = self.period if self.display_fps or cue_every is not None else 0.1
                    next_frame = max(next_frame + period, clock.now() - period)  # as Show.run: no backlog chase
                # As Show.run: a new path's first frame landing before the tick is seen (and shown) at once.
                left = next_frame - clock.now()
                early = left > 0 and worker.wait_for_new_path(left)
                if not early:
                    break
                early_wakes += 1
                now = clock.now()
        return {"elapsed": clock.now() - t0, "presented": presented, "latencies": latencies,
                "present_ms": present_ms, "present_cpu_ms": present_cpu_ms, "cpu": time.thread_time() - cpu0,
                "wakeups": wakeups, "early_wakes": early_wakes}


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def raw_candidates(raw: dict[str, Any], max_batch: int) -> list[int]:
    """The batch sizes to measure again beside the engine: those at the sweep best's dtype, threads and
    compilation (the engine has them) that the sweep put within ``CANDIDATE_SHARE`` of the best.

    A sweep measures each configuration once, for a few seconds: at biggan-deep-256 it put batch 1
    first, at 5.6 fps, which then gave 3.4 between the engine's pieces, where the engine rendered
    4.4 in batches of 4.
    """
    best = raw["best"]
    key = (best["dtype"], best["threads"], best["compiled"])
    return [r["batch"] for r in raw["configs"] if (r["dtype"], r["threads"], r["compiled"]) == key
            and r["batch"] <= max_batch and r["fps"] >= CANDIDATE_SHARE * best["fps"]] or [best["batch"]]


def bench_model(name: str, *, random_weights: bool, device: str, seconds: float, dtype: str = "auto",
                max_batch: int = 4, compile_mode: str = "auto", display: bool = True,
                display_sizes: tuple[tuple[int, int], ...] = DISPLAY_SIZES, log: Any = None) -> dict[str, Any]:
    import torch

    from .bench_configs import raw_configs, raw_fps, raw_times
    from .models.registry import load_generator, resolve_device
    from .threads import apply_thread_policy, live_worker_options

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
        # At every batch size (the worker picks in place; a cue's frame needs batch 1) and the thread
        # count it measured best at.
        compiled = compile_generator(gen, "on", batches=[b for b in (1, 2, 4) if b <= max_batch],
                                     warn=log or print, threads=best["threads"] if dev == "cpu" else None)
    # As a show runs it (session.py): the thread counts the worker measures in place, compiled batches.
    options = live_worker_options(gen, threads, max_batch)
    # Cues every 1.5 s, but never more often than every ~8 raw frames: on a slow
    # generator, cues faster than it renders would measure only restarts.
    cue_every = max(1.5, 8.0 / best["fps"])
    # The candidates for the best raw configuration, again between pieces of the engine's run, each for
    # the piece's length, in turns.
    candidates = raw_candidates(raw, max_batch)
    turns = itertools.count()

    def raw_best(sec: float) -> dict[str, float]:
        k = next(turns) % len(candidates)  # each piece starts with another one: none always comes first
        order = candidates[k:] + candidates[:k]  # after the engine stopped
        return {f"batch {b}": raw_fps(gen, sec, batch=b, dtype=getattr(torch, best["dtype"]), threads=best["threads"])
                for b in order}

    # A cue's frame is rendered alone: the fastest single frame the engine's generator can make, again
    # between pieces of the cue phase (compiled where the engine is, at its compiled thread count).
    singles = [r for r in raw["configs"] if r["batch"] == 1]
    usable = [r for r in singles if r["dtype"] == dt and r["compiled"] == compiled] or singles
    b1 = max(usable, key=lambda r: r["fps"], default=best)

    def raw_single(sec: float) -> list[float]:
        return raw_times(gen, sec, batch=1, dtype=getattr(torch, b1["dtype"]), threads=b1["threads"])

    min_cues = int(MIN_CUES_PER_20_SECONDS * seconds / 20)
    # Four pieces each: more chances of quiet ones on a machine whose host takes its CPUs now and then.
    eng = engine_run(gen, seconds, max_batch=max_batch, cue_every=cue_every, worker_options=options, raw=raw_best,
                     raw_frame=raw_single, rounds=ROUNDS, min_cues=min_cues)
    off = engine_run(gen, seconds, max_batch=max_batch, cue_every=cue_every, display_fps=0, worker_options=options,
                     raw=raw_best, raw_frame=raw_single, rounds=ROUNDS, min_cues=min_cues)
    batch1 = max((r["fps"] for r in singles), default=best["fps"])
    out = {"model": name, "size": gen.size, "device": dev, "raw": raw,
           "engine": {"dtype": dt, "thread_options": list(options.get("threads", ())),
                      "thread_policy": threads.reason, "compiled": compiled, **eng,
                      "ratio": round(eng["engine_fps"] / best["fps"], 3),
                      "ratio_with_cues": round(eng["engine_fps_with_cues"] / best["fps"], 3),
                      "raw_frame_ms": round(1000 / best["fps"], 1),
                      # A cue's frame is rendered alone: one frame at batch 1 is the least it can take.
                      "raw_batch1_frame_ms": round(1000 / batch1, 1)},
           "engine_no_display": {**off, "ratio": round(off["engine_fps"] / best["fps"], 3)}}
    if display:
        from .bench_display import display_figures
        out["display"] = display_figures(gen, seconds, sizes=display_sizes, cue_every=cue_every,
                                         max_batch=max_batch, log=log, worker_options=options)
    return out


def bench(models: list[str], *, random_weights: bool = False, device: str = "auto", seconds: float = 10.0,
          dtype: str = "auto", midi: bool = True, compile_mode: str = "auto", display: bool = True,
          log: Any = None) -> dict[str, Any]:
    from .bench_configs import cpu_info

    out: dict[str, Any] = {"machine": cpu_info()}
    out["models"], out["machine"]["steal_during_models"] = _stolen(lambda: [
        bench_model(m, random_weights=random_weights, device=device, seconds=seconds, dtype=dtype,
                    compile_mode=compile_mode, display=display, log=log) for m in models])
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
