"""The render worker: turns the director's path into frames, apart from the show loop.

It runs on its own thread so input and display never wait for the generator.
While the path ahead is known (between cues) it renders a few frames ahead in
batches; when a cue bumps the director's ``version`` it drops the batch in
flight for the old path and renders the cue's frame alone, so a cue waits
for one frame, never for a batch (meanwhile the display plays on along the
old path's frames already rendered). Otherwise the batch size is the smallest
one within a few percent of the best measured time per frame (where the
generator cannot give up a stale batch, a cue waits for the batch in flight,
so a batch that buys nothing costs latency), and
render-ahead is bounded in time and in batches. Where the caller lets it
(``threads`` and ``set_threads``), the worker also measures torch's thread
count in place, with the show running beside it: a display loop that costs
a few percent of a core should not keep the generator off a whole one.
The display asks :meth:`RenderWorker.frame_at` for any time
and gets a blend of the two rendered frames around it, so the picture stays
smooth when the generator is slower than the display.

Faults never stop the show (DESIGN.md rule 5): a generator exception is
logged and retried (an out-of-memory first calls ``on_oom``, which may move
the generator to a smaller size or the CPU); frames with NaN or infinite
pixels are dropped (the last good frame stays on screen); a render that hangs
is noticed by :meth:`watchdog` and the worker restarts on a fresh thread.

Numpy only: the generator is any object with ``render(z, y, truncation) ->
(B, H, W, 3) uint8`` (``livegan.models.biggan.Generator`` in a show). One
whose ``per_frame_truncation`` is True gets a truncation per frame, (B,);
others one number per batch.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

import numpy as np

from ..clock import Clock
from ..errors import NonFiniteFrames, RenderInterrupted
from .director import Director, FrameSpec
from .mix import mix

log = logging.getLogger(__name__)


class Renderer(Protocol):
    def render(self, z: np.ndarray, y: np.ndarray, truncation: float) -> np.ndarray: ...


@dataclass
class RenderedFrame:
    t: float
    version: int
    image: np.ndarray  # (H, W, 3) uint8, brightness not applied


@dataclass
class WorkerStats:
    frames: int = 0           # frames rendered and kept
    batches: int = 0
    dropped_stale: int = 0    # rendered for a path a cue replaced
    interrupted: int = 0      # frames given up mid-render because a cue replaced their path
    bad_frames: int = 0       # NaN/inf output, dropped
    held: int = 0             # batches that came after the display had passed the newest frame (it held it)
    settled: int = 0          # batches of a path past its first REBUILD_BATCHES (render-ahead built up) ...
    held_settled: int = 0     # ... and of those, the ones that came after the display held a picture
    errors: int = 0           # generator exceptions survived
    ooms: int = 0
    restarts: int = 0         # watchdog restarts
    batch_seconds: float = 0.0  # EMA of one batch's render time
    busy_seconds: float = 0.0   # total time inside the generator (finished batches; interrupted ones too)
    frame_seconds: float = 0.0  # EMA of render time per frame (batch time / batch size)
    batch_sizes: dict[int, int] = field(default_factory=dict)  # batch size -> batches rendered
    thread_counts: dict[int, int] = field(default_factory=dict)  # torch threads -> batches rendered (if managed)
    first_frame_latency: list[float] = field(default_factory=list)  # worker saw a new path -> its first frame kept (s)
    first_frame_render: list[float] = field(default_factory=list)   # ... of which rendering that frame's batch (s)
    # (timer, frames, busy_seconds) after each finished batch: rates between two batch ends are exact,
    # where counting frames in a window is off by up to a batch at each end.
    history: deque = field(default_factory=lambda: deque(maxlen=10_000))


# Render-ahead and frame spacing (see _plan): the newest frame is kept this many frames (beyond the
# batch being rendered) ahead of the display; the spacing corrects a gap from that by this share
# per batch, by at most this share of a frame narrower, or SPACING_WIDEN wider while behind (after a
# cue, or a slow spell: at a quarter of a frame, building up the margin below took about 8 batches of
# 4; wider spacing shows fewer new frames for a moment, blended, where a held picture is a stutter).
TARGET_AHEAD = 0.5
SPACING_GAIN = 0.3
SPACING_RANGE = 0.25
SPACING_WIDEN = 1.0
# ... and by a margin for batches that take longer than measured, as a share of a batch's time. It
# follows how often the display runs out of frames: up by MARGIN_STEP each time a batch arrives after
# the display passed the newest frame (it held a picture), down by a little each time not, so that
# happens at about HELD_RATE of batches. The first REBUILD_BATCHES of a path do not count: right after
# a cue there is no render-ahead yet, and a picture held then says nothing about the margin. On a
# shared CPU one batch in ten took 1.28x its average and one in twenty 1.46x (biggan-deep-128,
# compiled batches of 4): with half a frame ahead and no margin, the display held a picture at a
# fifth of all batches. Render-ahead costs a cue nothing (its frame goes first and the old path
# plays on meanwhile), but knobs and audio pulses show that late, so the margin stays within
# max_ahead; a held picture is a stutter the audience sees.
MARGIN = 0.25
MARGIN_STEP = 0.2
MARGIN_MAX = 2.0
HELD_RATE = 0.01
REBUILD_BATCHES = 3
# Each configuration is rendered once to warm it up, then MEASURED times before it is compared, and
# configurations are compared by the least time per frame of their last RECENT batches. On a shared
# CPU the noise is one-sided (other work only slows a batch down, by up to a third seen here): with
# one measured batch and an average, a single hiccup made the worker keep a batch size 24 % slower
# per frame for a hundred batches (biggan-deep-128, compiled, batch 2 for 4). Frame spacing uses the
# average (_per_frame): spaced by the least, the display would run out of frames.
# The machine's speed also drifts, by tens of percent within seconds on a shared virtual machine,
# so a configuration measured a while ago is compared through the one rendered most (the reference,
# measured all along): its time is scaled by how the reference's least time moved between the
# reference's batches within NEAR measured batches of it and the reference's last ones. Compared
# as measured, a neighbour measured in a fast moment took over, and a better one measured in a slow
# one stayed out for 40 batches (benchmarks/sim_batch_choice.py, a drift of 25-50 % in spells of
# 1-40 batches: 1.4-7.5 % of the frames lost at biggan-deep-128's costs, 1.0-2.5 % side by side).
MEASURED = 2
RECENT = 3
NEAR = 3
REFERENCE = 10  # the reference is the configuration of most of the last this many measured batches
HISTORY = 64    # measured batches kept per configuration (the reference's, to pair with older ones)
Config = tuple[int, int]  # (batch size, torch threads; 0 where the worker does not manage threads)


class RenderWorker:
    """Background renderer with render-ahead, stale-frame dropping and a watchdog."""

    def __init__(self, director: Director, generator: Renderer, clock: Clock, *, fps: float = 30.0,
                 max_batch: int = 4, max_ahead: float = 0.5, hang_seconds: float = 1.0,
                 batch_tolerance: float = 0.05, max_batch_seconds: float | None = 0.5, ahead_batches: int = 2,
                 on_oom: Callable[[BaseException], Renderer | None] | None = None,
                 timer: Callable[[], float] = time.monotonic, batches: Sequence[int] | None = None,
                 threads: Sequence[int] = (), set_threads: Callable[[int], None] | None = None,
                 nice: int = 0) -> None:
        self.director = director
        # Show time comes from the injected clock; ``timer`` measures real compute time
        # (render durations, the hang watchdog), which no simulated clock can stand in for.
        self.timer = timer
        self.generator = generator
        self.clock = clock
        self.interval = 1.0 / fps          # spacing of rendered frames in show time
        # The batch sizes it may use (e.g. only those a compiled generator was compiled for).
        self.batches = tuple(sorted(set(batches))) if batches else tuple(range(1, max_batch + 1))
        self.max_batch = max(self.batches)
        # Thread counts to measure, the first one used until the others are known; called on the
        # render thread itself (torch's thread count is per calling thread). Empty: not managed.
        self.thread_options = tuple(dict.fromkeys(threads)) if set_threads is not None else ()
        self.set_threads = set_threads
        # The render thread's priority below the show's (threads.RENDER_NICE where a window is on a
        # real screen): the display and the X server win a core when they wake; 0 leaves it.
        self.nice = nice
        self.max_ahead = max_ahead         # never render further ahead than this (seconds)
        self.ahead_batches = ahead_batches  # ... nor more than this many batches ahead of now
        self.batch_tolerance = batch_tolerance      # a bigger batch must be this much faster per frame
        self.max_batch_seconds = max_batch_seconds  # cue latency budget for one batch
        # Set where the generator gives up a stale batch when asked (should_stop; models/interrupt.py,
        # interrupt_on_cue): a cue then waits for one block or kernel, not for the batch, so the
        # budget above no longer bounds cue latency and would only cost frames (biggan-deep-256 on a
        # 2-core CPU: kept to batch 2 at 4.0 fps where batch 4 gives 5.7).
        self.interruptible = False
        self.hang_seconds = hang_seconds
        # Before any batch has finished there is no measured batch time to judge a hang by, and a first
        # render also warms kernels up: a slow generator (biggan-deep-512 on a CPU: seconds a frame) was
        # restarted every second forever and never showed a picture. So the first batch gets this long,
        # and every restart in a row without a finished batch doubles the limit.
        self.first_hang_seconds = max(hang_seconds, 30.0)
        self._restarts_in_row = 0
        self.on_oom = on_oom
        self.stats = WorkerStats()
        self._frames: deque[RenderedFrame] = deque(maxlen=64)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._generation = 0               # bumps on restart: an abandoned thread's results are ignored
        self._busy_since: float | None = None
        self._last_t: float | None = None  # time of the newest frame queued for rendering
        self._version = -1
        self._version_seen_at = 0.0
        self._latency_pending = False
        self._landed = threading.Event()   # a new path's first frame was kept: the display may show it now
        self._per_frame: dict[Config, float] = {}  # (batch, threads) -> EMA of seconds per frame (for spacing)
        # (batch, threads) -> (number, seconds per frame) of its last HISTORY measured batches, numbered
        # in the order measured (for choosing: see NEAR), and the configurations of the last ones.
        self._measures: dict[Config, deque[tuple[int, float]]] = {}
        self._measured_count = 0
        self._last_measured: deque[Config] = deque(maxlen=REFERENCE)
        self._samples: dict[Config, int] = {}      # (batch, threads) -> batches rendered (the first is warm-up)
        self._attempts: dict[Config, int] = {}     # (batch, threads) -> batches planned with it
        self._since_explore = 0
        self._neighbour = 0
        self._config: Config = (self.batches[0], self.thread_options[0] if self.thread_options else 0)  # planned
        self._failing = 0                  # generator failures in a row (the retry back-off grows with it)
        self._rendering: int | None = None  # path version of the batch in flight
        self._idle = 0.0                   # seconds until a whole batch fits the render-ahead window
        self.margin = MARGIN               # render-ahead beyond a batch's time, as a share of it
        self._path_batches = 0             # batches kept since the path began (or the worker started)

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        # This thread's OpenMP workers (from loading or compiling the generator here) would make two
        # pools, and libgomp's barriers would then sleep at every step of every render: give them back.
        from ..threads import release_openmp_workers

        release_openmp_workers()
        self._stop.clear()
        self._generation += 1
        self._path_batches = 0  # a stopped worker's render-ahead ran out: it is rebuilt, as after a cue
        gen = self._generation
        self._thread = threading.Thread(target=self._run, args=(gen,), name=f"render-{gen}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread; an interruptible generator gives up its batch (should_stop), others finish it."""
        self._stop.set()
        if self._thread is not None:
            # A thread still inside torch when the interpreter exits aborts the process.
            self._thread.join(max(timeout, 2.0 * self.stats.batch_seconds))

    def watchdog(self) -> bool:
        """Called by the show loop each frame: restart a worker stuck in one render. True if restarted."""
        busy = self._busy_since
        if busy is None or self.timer() - busy < self.hang_limit():
            return False
        log.error("render worker stuck for %.1f s in the generator; restarting it (the show goes on)",
                  self.timer() - busy)
        self.stats.restarts += 1
        self._restarts_in_row += 1
        self._busy_since = None
        self._last_t = None
        self.start()  # the old thread is abandoned: its generation no longer matches
        return True

    def hang_limit(self) -> float:
        """Seconds one render may take before the watchdog calls it hung (see ``first_hang_seconds``)."""
        base = max(self.hang_seconds, 4.0 * self.stats.batch_seconds) if self.stats.batches else self.first_hang_seconds
        return base * 2.0 ** min(self._restarts_in_row, 6)

    # -- display side --------------------------------------------------------
    def frame_at(self, t: float) -> np.ndarray | None:
        """The picture for display time t: a blend of the rendered frames around t (None before any).

        Frames of the director's current path; right after a cue, until that
        path has a frame, those of the path before it.
        """
        version = self.director.version
        with self._lock:
            frames = [f for f in self._frames if f.version == version]
            if not frames and self._frames:
                # A cue just came and the new path has no frame yet: the old path plays on (it starts
                # where the new one does) until its frames run out, then holds its last. Jumping to its
                # newest frame, up to a batch ahead, and holding that, showed a hold and a jump back.
                frames = [f for f in self._frames if f.version == self._frames[-1].version]
            if not frames:
                return None
            before = [f for f in frames if f.t <= t]
            after = [f for f in frames if f.t > t]
        if not before:
            return after[0].image
        a = before[-1]
        if not after:
            return a.image
        b = after[0]
        u = (t - a.t) / (b.t - a.t)
        if u < 1e-3:
            return a.image
        return mix(a.image, b.image, u)  # (H, W, 3), rounded: truncating darkens blends and flickers

    def has_frames_for(self, version: int) -> bool:
        """Whether a frame of this path version is ready (cue latency is measured to this)."""
        with self._lock:
            return any(f.version == version for f in self._frames)

    def wait_for_new_path(self, seconds: float) -> bool:
        """Sleep ``seconds`` on the show's clock, or less if a new path's first frame is kept meanwhile: True then.

        The display loop sleeps between its ticks with this, so a cue's first
        frame goes on screen as soon as it is rendered, not at the next tick
        (up to one refresh later, half a refresh on average). Only clocks
        that can wait on an event (:class:`~livegan.clock.MonotonicClock`)
        wake early; others just sleep.
        """
        wait = getattr(self.clock, "wait", None)
        if wait is None:
            self.clock.sleep(seconds)
            return False
        if not wait(self._landed, seconds):
            return False
        self._landed.clear()
        return True

    def prune(self, t: float) -> None:
        """Forget frames the display no longer needs (older than the newest frame at or before t)."""
        with self._lock:
            while len(self._frames) >= 2 and self._frames[1].t <= t and self._frames[0].version == self._frames[1].version:
                self._frames.popleft()

    # -- worker thread -------------------------------------------------------
    def _plan(self, now: float, version: int) -> list[float]:
        """Show times to render next: a batch ahead of the display, the cue's frame first after a cue.

        The display uses up frames at one per ``spacing`` of show time, so the
        spacing *is* the engine's frame rate. It is not fixed: a fixed spacing a
        little wider than a frame takes (to stay ahead) left the generator idle
        for the difference and more, whenever a fast frame met the render-ahead
        limit (5-6 % of a CPU generator's time, measured). Instead the spacing
        follows the render-ahead: it is the measured time per frame, widened
        while the newest frame is less than ``TARGET_AHEAD`` frames (plus this
        batch, plus ``margin`` of it for batches slower than measured) ahead of
        the display and narrowed while it is more. The display then uses frames
        exactly as fast as the generator makes them, and the generator never
        waits unless it is faster than the display needs: where a whole batch
        does not fit the window, its frames are spaced closer (down to one
        display frame) rather than waited for. Render-ahead is bounded in show
        time (``max_ahead``) and in frames (``ahead_batches`` batches) where
        those are wider than that target, so a cue never waits behind a deep
        queue of frames for the old path; ``self._idle`` says how long to wait
        until a batch fits.
        """
        new_path = version != self._version or self._last_t is None
        self._config = self._choose(new_path)
        self._idle = 0.0
        n = self._config[0]
        per = self._per_frame.get(self._config, self.stats.frame_seconds)
        lead = n * per                             # the batch must be ready when its first frame is due
        if new_path:
            # A new path (a cue): its first frame is due as soon as it can be ready,
            # rendered alone (see _choose).
            self._version = version
            self._version_seen_at = now
            self._latency_pending = True
            self._path_batches = 0
            spacing = max(self.interval, per)
            return [now + lead + i * spacing for i in range(n)]
        ahead = self._last_t - now                 # the newest queued frame, beyond the display's now
        # While this batch renders, the display still blends, even if the batch overruns as some do;
        # and the same for the longest batch it may render next at these threads (a batch of 4 after
        # a measurement of 2, with the render-ahead of a batch of 2, held a picture every time). The
        # margin stays within max_ahead: knobs (truncation, drift) and audio pulses change frames not
        # rendered yet, so render-ahead is also how late they show.
        longest = max([lead] + [c[0] * p for c, p in list(self._per_frame.items())
                                if c[1] == self._config[1] and not self._hopeless(c)])
        need = lead + TARGET_AHEAD * per
        target = max(need, min(longest * (1.0 + self.margin) + TARGET_AHEAD * per, self.max_ahead))
        adjust = min(max(SPACING_GAIN * (target - ahead) / n, -SPACING_RANGE * per), SPACING_WIDEN * per)
        spacing = max(self.interval, per + adjust)
        start = max(self._last_t + spacing, now + lead)
        times = [start + i * spacing for i in range(n)]
        # Room for this batch beyond the target, within max_ahead and ahead_batches where those are wider.
        room = max(target + need, min(self.max_ahead, self.ahead_batches * n * spacing))
        if times[-1] > now + room and self._last_t > now + lead:
            # Ahead of the display (the last batches came faster than measured): space this batch
            # closer, down to one display frame, so it fits now. Waiting until it fit left the
            # generator idle 4-8 % of a show (biggan-deep-128, compiled batches of 4, shared CPU).
            squeeze = (now + room - self._last_t) / n
            if squeeze >= self.interval:
                return [self._last_t + (i + 1) * squeeze for i in range(n)]
            self._idle = times[-1] - room - now    # the frames queued last until a whole batch fits
            return []
        # Otherwise the whole batch, even where it reaches past the room (behind the display, the
        # spacing widens): a batch cut short is one the generator may not have fast. A compiled
        # generator runs other sizes eager: a batch of 3 took 3x as long per frame as one of 4
        # (biggan-deep-128 compiled for 1, 2 and 4, after the worker had stopped for a while).
        return times

    def _choose(self, new_path: bool) -> Config:
        """(batch, threads) for the next batch.

        - After a cue (``new_path``): one frame (the smallest batch the
          generator has), at the best thread count: the cue's frame never
          waits for the rest of a batch.
        - While some configurations are unmeasured: those, in turns (each is
          rendered ``1 + MEASURED`` times, the first only warms it up). Batch
          sizes that could not fit the latency budget even at twice the best
          speed seen are skipped.
        - Otherwise the smallest batch within ``batch_tolerance`` of the best
          time per frame (:func:`pick_config`; the best itself where a cue
          gives the batch in flight up), and every 40 batches one of its
          neighbours (batch +-1, the next or previous thread count) measured
          afresh, ``MEASURED`` batches: which is best depends on the machine's
          load, which changes.
        """
        best = self._best()
        if new_path:
            return (min(self.batches), best[1])
        todo = [c for c in self._grid() if self._attempts.get(c, 0) < 1 + MEASURED and not self._hopeless(c)]
        if todo:  # in turns, so they are measured side by side while the machine's speed drifts
            return min(todo, key=lambda c: self._attempts.get(c, 0))
        if self._since_explore >= 40:
            self._since_explore = 0
            near = self._neighbours(best)
            if near:
                cfg = near[self._neighbour % len(near)]
                self._neighbour += 1
                # Measured again, MEASURED batches in a row: its last ones were measured under another
                # load. They still count, each through the reference's batches near it (NEAR): with only
                # the fresh ones, the least of two against the reference's least of three favoured the
                # reference (1.2-4 % more frames lost in the simulated drift).
                self._attempts[cfg] = 1
                return cfg
        return best

    @property
    def explored(self) -> bool:
        """Whether every batch size and thread count it may use has been measured (a show's first seconds)."""
        return all(self._attempts.get(c, 0) >= 1 + MEASURED or self._hopeless(c) for c in self._grid())

    @property
    def best_config(self) -> Config:
        """(batch, threads) it renders with between cues, as measured so far."""
        return self._best()

    def _grid(self) -> list[Config]:
        return [(b, t) for t in (self.thread_options or (0,)) for b in self.batches]

    def _best(self) -> Config:
        known = self._estimates()
        if not known:
            return (self.batches[0], self.thread_options[0] if self.thread_options else 0)
        return pick_config(known, self._tolerance(), self._budget())

    def _estimates(self) -> dict[Config, float]:
        """Each measured configuration's seconds per frame at the machine's speed now (see NEAR).

        The reference (the configuration of most of the last REFERENCE
        measured batches) counts the least of its last RECENT batches; every
        other one the least of its last RECENT, times the reference's least
        now over its least within NEAR measured batches of those (as
        measured, where the reference has none that near).
        """
        # Copies, the last ones first (each was in _measures before it was in them): the display
        # thread asks while the worker measures.
        last = list(self._last_measured)
        measures = {c: list(m) for c, m in list(self._measures.items())}
        if not last:
            return {}
        counts = Counter(last)
        most = max(counts.values())
        ref = next(c for c in reversed(last) if counts[c] == most)  # a tie: the latest
        ref_now = min(p for _, p in measures[ref][-RECENT:])
        out = {}
        for c, m in measures.items():
            recent = m[-RECENT:]
            least = min(p for _, p in recent)
            lo, hi = recent[0][0] - NEAR, recent[-1][0] + NEAR
            near = min((p for k, p in measures[ref] if lo <= k <= hi), default=0.0)
            out[c] = least * ref_now / near if c != ref and near > 0 else least  # (a coarse timer gives 0)
        return out

    def _tolerance(self) -> float:
        """How much faster per frame a bigger batch must be: none where a cue gives the batch up.

        The tolerance buys cue latency where a cue waits for the batch in flight. Given up
        between kernels, a bigger batch costs a cue nothing, and the tolerance only cost
        frames: at biggan-deep-256 (compiled, 2-core CPU) batch 1 measured within 5 % of batch
        2 and was kept for a third of all batches, while the raw sweep gave it 9 % fewer frames.
        """
        return 0.0 if self.interruptible else self.batch_tolerance

    def _hopeless(self, cfg: Config) -> bool:
        """A batch that takes over the latency budget even at twice the best time per frame measured."""
        known = list(self._per_frame.values())
        budget = self._budget()
        return cfg[0] > 1 and budget is not None and bool(known) and cfg[0] * min(known) / 2 > budget

    def _budget(self) -> float | None:
        """Seconds one batch may take (None: any): a cue waits for the batch in flight, unless it is given up."""
        return None if self.interruptible else self.max_batch_seconds

    def _neighbours(self, cfg: Config) -> list[Config]:
        b, t = cfg
        near = []
        i = self.batches.index(b) if b in self.batches else 0
        near += [(self.batches[k], t) for k in (i + 1, i - 1) if 0 <= k < len(self.batches)]
        if self.thread_options:
            ts = sorted(self.thread_options)
            j = ts.index(t)
            near += [(b, ts[k]) for k in (j + 1, j - 1) if 0 <= k < len(ts)]
        return [c for c in near if not self._hopeless(c)]

    def _measured(self, cfg: Config, seconds: float) -> None:
        n = self._samples.get(cfg, 0) + 1
        self._samples[cfg] = n
        if cfg == self._best():
            self._since_explore += 1
        if n == 1 or cfg[0] not in self.batches:
            return  # a first batch of a new size or thread count warms it up (kernels, thread pool)
        per = seconds / cfg[0]
        old = self._per_frame.get(cfg)
        self._per_frame[cfg] = per if old is None else 0.7 * old + 0.3 * per
        self._measured_count += 1
        self._measures.setdefault(cfg, deque(maxlen=HISTORY)).append((self._measured_count, per))
        self._last_measured.append(cfg)

    def _run(self, generation: int) -> None:
        if self.nice:
            from ..threads import lower_thread_priority

            lower_thread_priority(self.nice)  # before torch starts this thread's OpenMP team: it inherits it
        threads_set = None  # torch's thread count is per calling thread: set it on this one
        while not self._stop.is_set() and generation == self._generation:
            now = self.clock.now()
            version = self.director.version
            times = self._plan(now, version)
            if not times:  # ahead of the display: wait until a batch fits, looking at least twice a frame
                self._stop.wait(min(self.interval / 2, max(self._idle, 0.001)))
                continue
            threads = self._config[1]
            if threads and threads != threads_set and self.set_threads is not None:
                self.set_threads(threads)
                threads_set = threads
            gen = self.generator
            specs = [s for s in (self.director.frame_at(t) for t in times) if s.version == version]
            if not specs:
                continue
            n, trunc = render_call(gen, specs, self.batches)  # the rest goes in the next batch
            specs = specs[:n]
            z = np.stack([s.z for s in specs])                   # (B, L, 128)
            y = np.stack([s.y for s in specs])                   # (B, 1000)
            t0 = self.timer()
            self._busy_since = t0
            self._rendering = version
            bad = None
            try:
                images = gen.render(z, y, trunc)                  # (B, H, W, 3)
            except NonFiniteFrames as e:
                images, bad = e.images, e.bad
            except RenderInterrupted:
                # A cue made this batch stale mid-render (see should_stop): start the new path now.
                self._busy_since = self._rendering = None
                self.stats.busy_seconds += self.timer() - t0
                if self._stop.is_set():
                    return
                self.stats.interrupted += len(specs)
                self._last_t = None
                continue
            except Exception as e:  # noqa: BLE001 - the show never stops for the generator
                if generation != self._generation:
                    return  # abandoned: the busy marker belongs to the replacement thread now
                self._busy_since = None
                self._generator_failed(e)
                continue
            if generation != self._generation:
                return  # abandoned by the watchdog while we were stuck
            self._busy_since = None
            self._rendering = None
            self._failing = 0
            self._restarts_in_row = 0
            dt = self.timer() - t0
            s = self.stats
            s.busy_seconds += dt
            s.batch_seconds = dt if s.batches == 0 else 0.8 * s.batch_seconds + 0.2 * dt
            per = dt / len(specs)
            s.frame_seconds = per if s.batches == 0 else 0.8 * s.frame_seconds + 0.2 * per
            self._attempts[self._config] = self._attempts.get(self._config, 0) + 1
            self._measured((len(specs), threads), dt)
            s.batches += 1
            s.batch_sizes[len(specs)] = s.batch_sizes.get(len(specs), 0) + 1
            if threads:
                s.thread_counts[threads] = s.thread_counts.get(threads, 0) + 1
            if self.director.version != version:
                s.dropped_stale += len(specs)  # a cue arrived while rendering
                self._last_t = None
            else:
                self._keep(specs, images, version, bad, dt)
            s.history.append((t0 + dt, s.frames, s.busy_seconds))

    def should_stop(self) -> bool:
        """True while the batch being rendered is for a path a cue has replaced (or the worker stops).

        An interruptible generator (models/interrupt.py) asks this between
        its blocks (compiled: between its kernels, models/compiled.py) and
        gives up with :class:`RenderInterrupted`, so a cue waits for one
        block of the batch in flight instead of all of it.
        """
        return self._rendering is not None and (self._stop.is_set() or self.director.version != self._rendering)

    def _keep(self, specs: list, images: np.ndarray, version: int, bad: np.ndarray | None = None,
              seconds: float = 0.0) -> None:
        s = self.stats
        kept = 0
        with self._lock:
            newest = self._frames[-1] if self._frames else None
            if not self._latency_pending and newest is not None and newest.version == version:
                # Along a path: did the display pass its newest frame before this batch came?
                held = newest.t <= self.clock.now()
                s.held += held
                self._path_batches += 1
                if self._path_batches > REBUILD_BATCHES:
                    s.settled += 1
                    s.held_settled += held
                    step = MARGIN_STEP if held else -MARGIN_STEP * HELD_RATE / (1.0 - HELD_RATE)
                    self.margin = min(MARGIN_MAX, max(0.0, self.margin + step))
            for i, (spec, img) in enumerate(zip(specs, images)):
                if (bad is not None and bad[i]) or not _finite_image(img):
                    s.bad_frames += 1  # the last good frame stays on screen
                    continue
                if self._frames and self._frames[-1].version == version and spec.t <= self._frames[-1].t:
                    continue
                self._frames.append(RenderedFrame(spec.t, version, np.asarray(img)))
                kept += 1
        if kept and self._latency_pending:
            self._latency_pending = False
            if len(s.first_frame_latency) < 100_000:
                s.first_frame_latency.append(self.clock.now() - self._version_seen_at)
                s.first_frame_render.append(seconds)
            self._landed.set()
        s.frames += kept
        self._last_t = specs[-1].t

    def _generator_failed(self, e: BaseException) -> None:
        s = self.stats
        s.errors += 1
        self._failing += 1
        oom = "out of memory" in str(e).lower() or type(e).__name__ == "OutOfMemoryError"
        if oom:
            s.ooms += 1
            log.error("generator ran out of memory; falling back (%s)", e)
            if self.on_oom is not None:
                try:
                    new = self.on_oom(e)
                    if new is not None:
                        self.generator = new
                except Exception:  # noqa: BLE001
                    log.exception("fallback after out-of-memory failed")
        elif s.errors <= 3 or s.errors % 100 == 0:
            log.error("generator failed (%s: %s); keeping the last picture and retrying", type(e).__name__, e)
        self._last_t = None
        self._stop.wait(min(0.5, 0.02 * self._failing))


def render_call(gen: Renderer, specs: Sequence[FrameSpec],
                sizes: Sequence[int] = ()) -> tuple[int, float | np.ndarray]:
    """How many of ``specs``, from the first, one ``gen.render`` call takes, and its truncation argument.

    All of them, with a truncation per frame, where the generator takes that
    (``per_frame_truncation``: a BigGAN Generator); otherwise the run that
    has the first one's truncation (a truncation glide splits the batch).
    Then the largest of ``sizes`` (the batch sizes the generator has) that
    fits, where one does: a compiled generator runs other sizes eager, 3x
    slower.
    """
    per_frame = getattr(gen, "per_frame_truncation", False) is True
    n = 1
    while n < len(specs) and (per_frame or math.isclose(specs[n].truncation, specs[0].truncation, abs_tol=1e-6)):
        n += 1
    n = max((b for b in sizes if b <= n), default=n)
    return n, np.array([s.truncation for s in specs[:n]], np.float32) if per_frame else specs[0].truncation


def pick_config(per_frame: dict[Config, float], tolerance: float = 0.05,
                max_batch_seconds: float | None = None) -> Config:
    """The smallest batch whose seconds per frame is within ``tolerance`` of the best, at its fastest threads.

    ``per_frame`` maps (batch, threads) -> measured seconds per frame.
    Batches that take longer than ``max_batch_seconds`` as a whole are
    skipped (the smallest measured never is: a generator that only runs
    batches of 4 still renders).
    """
    smallest = min(c[0] for c in per_frame)
    ok = {c: p for c, p in per_frame.items()
          if c[0] == smallest or max_batch_seconds is None or c[0] * p <= max_batch_seconds}
    best = min(ok.values())
    close = [c for c, p in ok.items() if p <= best * (1.0 + tolerance)]
    batch = min(c[0] for c in close)
    return min((c for c in ok if c[0] == batch), key=lambda c: ok[c])


def pick_batch(per_frame: dict[int, float], tolerance: float = 0.05, max_batch_seconds: float | None = None) -> int:
    """:func:`pick_config` for batch sizes alone (one thread count)."""
    return pick_config({(b, 0): p for b, p in per_frame.items()}, tolerance, max_batch_seconds)[0]


def _finite_image(img: np.ndarray) -> bool:
    """uint8 frames are always finite; float frames (a custom generator) must be checked."""
    return img.dtype == np.uint8 or bool(np.isfinite(img).all())
