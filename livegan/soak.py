"""Soak test: a long headless show under random cues and random faults, reported as JSON.

``python -m livegan.soak --minutes 10 --speed 30`` plays ten minutes of show
time in twenty seconds of real time: the clock runs ``speed`` times faster
than real time, while the render worker, the watchdog and the show loop
really run (and display stalls are measured in real milliseconds). A random
cue arrives every 50-500 ms of show time; faults are drawn at random:
generator exceptions, simulated CUDA out-of-memory, NaN frames, a trigger
source that raises, a flood of 10 000 params a second, and (rarely) a render
that hangs. The report says how many frames were shown, whether every cue
was handled in order, the faults survived, the longest display stall and the
memory growth after warm-up.

The fault-injection pieces (:class:`SpeedClock`, :class:`FaultyGenerator`,
:class:`FloodSource`, :class:`FlakyCueSource`) are shared with the fault tests.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .clock import Clock
from .engine.cuefile import ScriptedCueSource
from .errors import NonFiniteFrames
from .triggers.base import TriggerSource
from .triggers.events import Cue, Event, EventQueue, Param

log = logging.getLogger(__name__)


class SpeedClock:
    """Show time running ``speed`` times faster than real time (sleep shrinks to match)."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = float(speed)
        self._t0 = time.monotonic()

    def now(self) -> float:
        return self.speed * (time.monotonic() - self._t0)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)


class FaultyGenerator:
    """Wraps a generator; :meth:`arm` makes its next render calls fail in a chosen way.

    Kinds: ``error`` (RuntimeError), ``oom`` (a CUDA out-of-memory RuntimeError),
    ``nan`` (NaN injected into the torch output of the real generator, so its own
    check raises NonFiniteFrames), ``nonfinite`` (NonFiniteFrames raised directly),
    ``hang`` (sleeps ``hang_seconds`` of real time, then renders).
    """

    KINDS = ("error", "oom", "nan", "nonfinite", "hang")

    def __init__(self, gen: Any, hang_seconds: float = 5.0, presented: Callable[[], int] | None = None) -> None:
        self.gen = gen
        self.hang_seconds = hang_seconds
        # ``presented`` counts the display's frames: sampled around each hang, it shows whether the
        # display went on while the generator was stuck (an event count, true on any machine).
        self.presented = presented
        self.frames_during_hangs: list[int] = []
        self.injected: Counter[str] = Counter()
        self.calls = 0
        self._armed: list[str] = []
        self._lock = threading.Lock()
        self._nan_gen = None
        if hasattr(gen, "forward"):  # a shallow copy whose forward poisons the first image
            import copy

            self._nan_gen = copy.copy(gen)
            self._nan_gen.forward = self._nan_forward

    def __getattr__(self, name: str) -> Any:  # device, id, num_latents, size, to ...
        return getattr(self.gen, name)

    def arm(self, kind: str, n: int = 1) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault {kind!r} (one of {', '.join(self.KINDS)})")
        with self._lock:
            self._armed.extend([kind] * n)

    @property
    def pending(self) -> int:
        return len(self._armed)

    def _nan_forward(self, z, y, truncation):
        img = self.gen.forward(z, y, truncation)  # (B, 3, S, S)
        img = img.clone()
        img[0, :, 0, 0] = float("nan")
        return img

    def render(self, z: np.ndarray, y: np.ndarray, truncation: float) -> np.ndarray:
        with self._lock:
            self.calls += 1
            kind = self._armed.pop(0) if self._armed else None
            if kind:
                self.injected[kind] += 1
        if kind == "error":
            raise RuntimeError("injected generator failure")
        if kind == "oom":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        if kind == "nan" and self._nan_gen is not None:
            return self._nan_gen.render(z, y, truncation)
        if kind in ("nan", "nonfinite"):
            images = self.gen.render(z, y, truncation)
            bad = np.zeros(len(images), bool)
            bad[0] = True
            raise NonFiniteFrames(images, bad)
        if kind == "hang":
            before = self.presented() if self.presented else 0
            time.sleep(self.hang_seconds)
            if self.presented:
                self.frames_during_hangs.append(self.presented() - before)
        return self.gen.render(z, y, truncation)


class FloodSource(TriggerSource):
    """Floods the queue from its own thread: ``rate`` params a second for ``seconds`` (real time)."""

    name = "flood"

    def __init__(self, events: EventQueue, clock: Clock) -> None:
        super().__init__(events, clock)
        self.sent = 0
        self._threads: list[threading.Thread] = []

    def flood(self, seconds: float, rate: float = 10_000.0, cues: list[Cue] | None = None) -> threading.Thread:
        """Start a flood; ``cues`` are mixed in (evenly) and emitted like any device would."""
        th = threading.Thread(target=self._flood, args=(seconds, rate, list(cues or [])), daemon=True,
                              name="livegan-flood")
        self._threads.append(th)
        th.start()
        return th

    def _flood(self, seconds: float, rate: float, cues: list[Cue]) -> None:
        tick = 0.005
        per_tick = max(1, int(rate * tick))
        ticks = max(1, int(seconds / tick))
        every = max(1, ticks // (len(cues) + 1)) if cues else 0
        t0 = time.monotonic()
        for k in range(ticks):
            for i in range(per_tick):
                self.emit(Param("drift_amount", (k * per_tick + i) % 100 / 100.0, source="flood"))
                self.sent += 1
            if cues and every and k % every == every - 1:
                self.emit(cues.pop(0))
            delay = t0 + (k + 1) * tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        for c in cues:  # whatever did not fit in the time
            self.emit(c)

    def join(self, timeout: float = 10.0) -> None:
        for th in self._threads:
            th.join(timeout)


class FlakyCueSource(ScriptedCueSource):
    """Scripted cues from a source that can be told to raise on its next poll (it is then retried)."""

    name = "flaky cues"

    def __init__(self, events: EventQueue, clock: Clock, cues: list[tuple[float, Cue]], start: float = 0.0,
                 retry_seconds: float = 0.5) -> None:
        super().__init__(events, clock, cues, start)
        self.retry_seconds = retry_seconds
        self.raised = 0
        self._fail_next = False

    def arm(self) -> None:
        self._fail_next = True

    def _poll(self) -> list[Event]:
        if self._fail_next:
            self._fail_next = False
            self.raised += 1
            raise RuntimeError(f"injected trigger failure #{self.raised}")
        return super()._poll()


def random_cues(rng: random.Random, seconds: float, sections: int,
                gap: tuple[float, float] = (0.05, 0.5)) -> list[tuple[float, Cue]]:
    """A cue every 50-500 ms: mostly moves, some toggles and taps (toggles come in pairs)."""
    out: list[tuple[float, Cue]] = []
    t = 0.5
    kinds = ["next"] * 5 + ["prev"] * 2 + ["goto"] * 3 + ["song-next", "song-prev", "tap", "blackout", "freeze"]
    while t < seconds:
        kind = rng.choice(kinds)
        arg = rng.randint(1, sections) if kind == "goto" else None
        out.append((t, Cue(kind, arg, source="soak", t=t)))
        t += rng.uniform(*gap)
    return out


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


SOAK_SETLIST = """\
defaults:
  model: tiny
  clip: tiny
  variants: 2
  transition: 0.3
songs:
  - title: Soak One
    sections:
      - {text: a weasel in the snow, classes: [weasel]}
      - {text: a goldfish in a teapot, classes: [goldfish, teapot]}
      - {text: a lighthouse, classes: [beacon]}
      - {text: a volcano at night, classes: [volcano]}
  - title: Soak Two
    sections:
      - {text: a tabby cat, classes: [tabby]}
      - {text: a killer whale, classes: [killer whale]}
      - {text: monarch butterflies, classes: [monarch]}
      - {text: a golden retriever, classes: [golden retriever]}
"""


def run_soak(minutes: float = 10.0, speed: float = 30.0, seed: int = 0, *, fps: float = 60.0,
             fault_every: float = 4.0, hangs: bool = True, workdir: str | Path | None = None,
             progress: Callable[[str], None] | None = None, at_least: dict[str, int] | None = None,
             max_real_seconds: float = 600.0) -> dict[str, Any]:
    """Play ``minutes`` of show time at ``speed`` x real time with random cues and faults; returns a report.

    ``fault_every``: mean show seconds between two injected faults. ``hangs``: also
    inject (rarely) a render that hangs for 1.5 real seconds (the watchdog restarts
    the worker). ``workdir``: where the setlist and state file go (a temp folder if None).
    ``at_least``: keep playing past ``minutes`` until these counts are reached
    (``frames`` presented, ``generated``, ``faults`` armed), at most
    ``max_real_seconds`` of real time: how much a machine does in a fixed real
    time depends on its speed and load, the counts a test needs do not.
    """
    from .outputs.null import NullOutput
    from .show.session import ShowConfig, build_show

    rng = random.Random(seed)
    seconds = 60.0 * minutes
    with tempfile.TemporaryDirectory(prefix="livegan-soak-") as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        setlist = folder / "soak.yaml"
        setlist.write_text(SOAK_SETLIST, encoding="utf-8")
        clock = SpeedClock(speed)
        cfg = ShowConfig(setlist=setlist, banks=folder / "banks", headless=True, model="tiny", device="cpu",
                         dtype="float32", fps=fps)
        notes: list[str] = []
        show = build_show(cfg, clock=clock, output=NullOutput(), notice=notes.append)
        gen = FaultyGenerator(show.worker.generator, hang_seconds=1.5, presented=lambda: show.summary.frames)
        show.worker.generator = gen
        on_oom = show.worker.on_oom
        show.worker.on_oom = lambda e: (on_oom(e) if on_oom else None, gen)[1]  # keep the wrapper in place
        handled: list[Cue] = []
        director_handle = show.director.handle

        def handle(ev: Cue | Param, t: float) -> bool:
            if isinstance(ev, Cue):
                handled.append(ev)
            return director_handle(ev, t)

        show.director.handle = handle  # type: ignore[method-assign]
        script = random_cues(rng, seconds, sections=4)
        cues = FlakyCueSource(show.events, clock, script, start=clock.now(), retry_seconds=0.5 * speed / 30)
        flood = FloodSource(show.events, clock)
        for src in (cues, flood):
            src.on_warning = show.warn
            show.sources.append(src)
        faults: Counter[str] = Counter()
        rss: list[tuple[float, int]] = []
        stop = threading.Event()

        def chaos() -> None:
            """Arms faults at random show times once the first frame is on screen; samples memory.

            (A fault before the first frame tests start-up, not the show: a hang then leaves
            nothing on screen to keep presenting, on a slow machine more often than on a fast one.)
            """
            while show.summary.frames == 0 and not stop.wait(0.005):
                pass
            next_fault = clock.now() + rng.expovariate(1.0 / fault_every)
            next_sample = 0.0
            while not stop.wait(0.02):
                t = clock.now()
                if t >= next_sample:
                    rss.append((t, rss_bytes()))
                    next_sample = t + seconds / 50
                if t < next_fault:
                    continue
                next_fault = t + rng.expovariate(1.0 / fault_every)
                kind = rng.choice(["error", "oom", "nan", "nonfinite", "source", "flood", "flood"]
                                  + (["hang"] if hangs and faults["hang"] < max(1, minutes // 5) else []))
                faults[kind] += 1
                if kind == "source":
                    cues.arm()
                elif kind == "flood":
                    flood.flood(rng.uniform(0.1, 0.4))
                else:
                    gen.arm(kind)
                if progress:
                    progress(f"t={t:7.1f}s fault {kind}")

        th = threading.Thread(target=chaos, name="livegan-soak-chaos", daemon=True)
        from .show.session import run_show

        t_real = time.monotonic()
        need = {"frames": 1, **(at_least or {})}  # a soak that showed nothing proves nothing
        counts = {"frames": lambda: show.summary.frames, "generated": lambda: show.worker.stats.frames,
                  "faults": lambda: sum(faults.values())}
        unknown = set(need) - set(counts)
        if unknown:
            raise ValueError(f"at_least: unknown counts {sorted(unknown)} (known: {', '.join(counts)})")
        started: list[float] = []  # show time of the loop's first frame (the summary counts from there)

        def enough(t: float) -> None:  # on_tick: the loop itself stays as it is
            started[:] = started or [t]
            done = t - started[0] >= seconds and all(counts[k]() >= n for k, n in need.items())
            if done or time.monotonic() - t_real > max_real_seconds:
                show.quit = True

        show.on_tick.append(enough)
        th.start()
        try:
            summary = run_show(show, None)
        finally:
            stop.set()
            th.join(5)
            flood.join()
        real = time.monotonic() - t_real
    sent = [Cue(c.kind, c.arg, source=c.source, t=cues.start + t) for t, c in script[: len(script) - cues.remaining]]
    warm = [b for t, b in rss if t >= 0.2 * seconds]
    growth = (warm[-1] - warm[0]) / warm[0] if len(warm) >= 2 and warm[0] else 0.0
    s = summary.as_dict()
    st = show.worker.stats
    return {
        "minutes": minutes, "speed": speed, "seed": seed, "real_seconds": round(real, 2),
        "frames": s["frames"], "generated": s["generated"], "fps_show_time": round(s["fps"], 2),
        "cues_sent": len(sent), "cues_handled": s["cues"], "dropped_cues": s["dropped_cues"],
        "cues_in_order": [(c.kind, c.arg, c.t) for c in handled] == [(c.kind, c.arg, c.t) for c in sent],
        "params_flooded": flood.sent, "dropped_params": show.events.dropped_params,
        "faults_injected": dict(faults), "faults_survived": s["faults"],
        "generator_faults_fired": dict(gen.injected), "source_raises": cues.raised,
        "longest_stall_ms": round(s["longest_stall_ms"], 1),
        "frames_during_hangs": gen.frames_during_hangs, "show_seconds": round(s["seconds"], 2),
        "first_frame_latency_ms_p95": round(1000 * float(np.percentile(st.first_frame_latency, 95)) / speed, 1)
        if st.first_frame_latency else None,
        "rss_mb_after_warmup": round(warm[0] / 2**20, 1) if warm else None,
        "rss_mb_end": round(warm[-1] / 2**20, 1) if warm else None,
        "memory_growth_pct": round(100 * growth, 2),
        "warnings": len(s["warnings"]), "notices": notes,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m livegan.soak", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="show time to play (simulated minutes)")
    ap.add_argument("--speed", type=float, default=30.0, help="show seconds per real second")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fault-every", type=float, default=4.0, help="mean show seconds between faults")
    ap.add_argument("--no-hangs", action="store_true", help="don't inject hanging renders")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if a.verbose else logging.CRITICAL)
    report = run_soak(a.minutes, a.speed, a.seed, fault_every=a.fault_every, hangs=not a.no_hangs,
                      progress=print if a.verbose else None)
    print(json.dumps(report, indent=1))
    ok = report["dropped_cues"] == 0 and report["cues_in_order"] and report["cues_handled"] == report["cues_sent"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
