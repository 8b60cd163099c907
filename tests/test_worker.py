"""RenderWorker: render-ahead batches, stale drop on cue, blending, and surviving generator faults.

A fake numpy renderer stands in for BigGAN: every pixel of a frame is the
mean of its z mapped to grey (deterministic, so a frame's value says which
latent it was rendered from). Most tests use a ManualClock: show time stands
still, the worker fills its render-ahead window and then idles, so batch
sizes are exact. The watchdog test uses real time (hangs are real time).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from livegan.clock import ManualClock, MonotonicClock
from livegan.engine.director import Director
from livegan.engine.path import Keyframe
from livegan.engine.state import SongPlan, Transition
from livegan.engine.worker import RenderWorker
from livegan.errors import NonFiniteFrames
from livegan.triggers.events import Cue

L = 2  # latents per keyframe


def keyframe(song: int, section: int, variant: int) -> Keyframe:
    """Section s is z == s everywhere (so the fake's grey level is 40 + 50 * s)."""
    y = np.zeros(1000, np.float32)
    y[section] = 1.0
    return Keyframe(np.full((L, 128), float(section), np.float32), y)


def grey(z: np.ndarray) -> int:
    return int(np.clip(40 + 50 * float(np.mean(z)), 0, 255))


class FakeRenderer:
    """render(z, y, trunc) -> (B, 8, 8, 3) uint8 with every pixel grey(z[b]); records batch sizes."""

    def __init__(self, director: Director | None = None) -> None:
        self.director = director
        self.calls: list[int] = []          # batch size of each call
        self.versions: list[int] = []       # director.version when each call began
        self.hook = None                    # hook(call_index) may raise or act before rendering
        self.lock = threading.Lock()
        self.timer: CostTimer | None = None  # when set, a batch "takes" timer.cost(B) seconds


    def render(self, z: np.ndarray, y: np.ndarray, truncation: float) -> np.ndarray:
        with self.lock:
            n = len(self.calls)
            self.calls.append(len(z))
            self.versions.append(self.director.version if self.director else -1)
        if self.hook is not None:
            self.hook(n)
        if self.timer is not None:
            self.timer.t += self.timer.cost(len(z))
        out = np.zeros((len(z), 8, 8, 3), np.uint8)  # (B, H, W, 3)
        for b in range(len(z)):
            out[b] = grey(z[b])
        return out


class CostTimer:
    """The worker's compute timer, advanced only by the fake renderer: batch B takes cost(B) seconds.

    So batch choice is decided by a cost model, never by how busy the test machine is.
    """

    def __init__(self, cost) -> None:
        self.t = 0.0
        self.cost = cost

    def __call__(self) -> float:
        return self.t


GPU_COST = lambda b: 0.02 + 0.002 * b   # noqa: E731 - batches pay: 22 ms alone, 7 ms per frame in 4
CPU_COST = lambda b: 0.1 * b * (1 - 0.01 * (b - 1))  # noqa: E731 - batches buy ~1-3 % per frame


def make_director(t0: float = 0.0) -> Director:
    plans = [SongPlan("Song", 3, [1, 1, 1], [Transition(1.0)] * 3)]
    return Director(plans, keyframe, drift_amount=0.0, t0=t0)


def wait_for(cond, timeout: float = 60.0) -> bool:  # returns as soon as cond holds: the cap only stops a hang
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


@pytest.fixture
def rig():
    """(director, renderer, worker, clock) on a ManualClock; the worker is stopped afterwards."""
    clock = ManualClock(0.0)
    director = make_director()
    fake = FakeRenderer(director)
    fake.timer = CostTimer(GPU_COST)
    worker = RenderWorker(director, fake, clock, fps=30.0, max_batch=4, max_ahead=0.5, ahead_batches=4,
                          timer=fake.timer)
    yield director, fake, worker, clock
    worker.stop()


def test_renders_ahead_in_batches_until_the_window_is_full(rig):
    director, fake, worker, clock = rig
    worker.start()
    assert wait_for(lambda: worker.stats.frames >= 10)
    time.sleep(0.1)  # show time stands still: the worker must stop at its render-ahead window
    calls = list(fake.calls)
    assert calls[0] == 1, "the first frame of a path is rendered alone"
    # Each size a warm-up and twice measured: 1, 1, 1, 2, 2, 2, 3, 3 fill the 15 frames of max_ahead.
    assert max(calls) >= 3 and sum(c > 1 for c in calls) >= 2 and sum(calls) <= 15, calls
    assert all(c <= 4 for c in calls)
    with worker._lock:
        times = [f.t for f in worker._frames]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[-1] <= 0.5 + 1e-9, "never further ahead than max_ahead"
    idle = len(fake.calls)
    time.sleep(0.1)
    assert len(fake.calls) == idle, "nothing more to render while show time stands still"


def test_a_cue_drops_stale_frames_and_the_next_batch_starts_with_the_cue_frame(rig):
    director, fake, worker, clock = rig
    cue_at_call = 3

    def hook(n: int) -> None:
        if n == cue_at_call:  # a cue arrives while this batch renders: the batch is stale
            director.handle(Cue("next", source="test"), clock.now())

    fake.hook = hook
    worker.start()
    assert wait_for(lambda: len(fake.calls) >= cue_at_call + 3)
    assert fake.calls[cue_at_call] > 1, "the cue interrupted a render-ahead batch"
    assert fake.versions[cue_at_call + 1] == director.version, "the very next batch is on the new path"
    assert max(fake.calls[cue_at_call + 1:]) > 1, "batches resume once the new path is known"
    assert worker.stats.dropped_stale >= fake.calls[cue_at_call]
    assert wait_for(lambda: worker.has_frames_for(director.version))
    # Display side: only frames of the current path version are shown now.
    clock.advance(1.5)  # past the 1 s transition: section 2 is on screen
    assert wait_for(lambda: worker.stats.frames > 0 and _newest_t(worker) >= 1.5)
    img = worker.frame_at(_newest_t(worker))  # a frame past the transition (t > 1.5)
    assert int(img[0, 0, 0]) == grey(np.full((L, 128), 1.0))
    assert worker.stats.first_frame_latency, "cue latency measured"


def _newest_t(worker: RenderWorker) -> float:
    with worker._lock:
        return worker._frames[-1].t if worker._frames else -1.0


def test_frame_at_before_the_new_path_holds_the_old_picture(rig):
    director, fake, worker, clock = rig
    gate = threading.Event()
    fake.hook = lambda n: None if n < 2 or gate.is_set() else gate.wait(3)
    worker.start()
    assert wait_for(lambda: worker.stats.frames >= 1)
    old = worker.frame_at(0.0).copy()
    director.handle(Cue("goto", 3, source="test"), 0.0)
    # No frame of the new version yet: the newest old picture stays (never None, never black).
    img = worker.frame_at(0.0)
    assert img is not None and np.array_equal(img, old)
    gate.set()


def test_after_a_cue_the_old_path_plays_on_until_the_new_one_has_a_frame(rig):
    director, fake, worker, clock = rig
    director.handle(Cue("next", source="test"), 0.0)  # a 1 s transition from z=0 to z=1: frames differ
    worker.start()
    assert wait_for(lambda: _newest_t(worker) >= 0.3)
    worker.stop()  # the new path below gets no frame
    with worker._lock:
        old = list(worker._frames)
    assert len({f.version for f in old}) == 1 and old[0].image[0, 0, 0] < old[-1].image[0, 0, 0]
    director.handle(Cue("goto", 3, source="test"), 0.0)
    # Each old frame at its own time, blends between them, and past the newest: hold it.
    for f in (old[0], old[len(old) // 2], old[-1]):
        assert np.array_equal(worker.frame_at(f.t), f.image), f.t
    a, b = old[-2], old[-1]
    v = int(worker.frame_at((a.t + b.t) / 2)[0, 0, 0])
    assert int(a.image[0, 0, 0]) <= v <= int(b.image[0, 0, 0])
    assert np.array_equal(worker.frame_at(old[-1].t + 10), old[-1].image)


def test_frame_at_blends_the_two_frames_around_t(rig):
    director, fake, worker, clock = rig
    director.handle(Cue("next", source="test"), 0.0)  # a 1 s transition from z=0 to z=1: frames differ
    worker.start()
    assert wait_for(lambda: _newest_t(worker) >= 0.3)
    with worker._lock:
        frames = [f for f in worker._frames if f.version == director.version]
    a, b = frames[3], frames[4]
    va, vb = int(a.image[0, 0, 0]), int(b.image[0, 0, 0])
    assert vb > va, "the transition moves the picture"
    for u in (0.25, 0.5, 0.75):
        v = int(worker.frame_at(a.t + u * (b.t - a.t))[0, 0, 0])
        assert va <= v <= vb
        assert abs(v - (va + u * (vb - va))) <= 1.0, (u, va, vb, v)
    assert np.array_equal(worker.frame_at(a.t), a.image)
    assert np.array_equal(worker.frame_at(frames[-1].t + 10), frames[-1].image), "past the newest: hold it"


def test_prune_keeps_the_frame_at_or_before_t(rig):
    director, fake, worker, clock = rig
    worker.start()
    assert wait_for(lambda: _newest_t(worker) >= 0.3)
    worker.prune(0.2)
    with worker._lock:
        times = [f.t for f in worker._frames]
    assert times[0] <= 0.2 < times[1]


def test_nan_frames_are_dropped_and_the_last_good_frame_stays(rig):
    director, fake, worker, clock = rig
    director.handle(Cue("next", source="test"), 0.0)
    real = fake.render

    class NaNRenderer:
        calls = 0

        def render(self, z, y, trunc):
            NaNRenderer.calls += 1
            images = real(z, y, trunc)
            bad = np.zeros(len(z), bool)
            if NaNRenderer.calls >= 3:  # from the third batch on, every frame is bad
                bad[:] = True
                images[:] = (255, 0, 255)  # what a broken frame would show
            raise NonFiniteFrames(images, bad)

    worker.generator = NaNRenderer()
    worker.start()
    assert wait_for(lambda: worker.stats.bad_frames >= 5)  # two bad batches at least
    good = worker.stats.frames
    assert good >= 2
    with worker._lock:
        kept = [f.image for f in worker._frames]
    assert not any((img == (255, 0, 255)).all() for img in kept), "no bad frame kept"
    shown = worker.frame_at(0.9)
    assert shown is not None and not (shown == (255, 0, 255)).all()
    assert np.array_equal(shown, kept[-1]), "the last good frame stays on screen"


def test_generator_exceptions_are_survived(rig, caplog):
    director, fake, worker, clock = rig

    def hook(n: int) -> None:
        if n in (1, 2, 3):
            raise RuntimeError("driver hiccup")

    fake.hook = hook
    worker.start()
    assert wait_for(lambda: len(fake.calls) >= 6 and worker.stats.frames >= 3)
    assert worker.stats.errors == 3
    assert worker.stats.ooms == 0
    assert worker._thread.is_alive()
    assert "driver hiccup" in caplog.text


def test_out_of_memory_calls_on_oom_and_uses_the_generator_it_returns():
    clock = ManualClock(0.0)
    director = make_director()
    big = FakeRenderer(director)
    small = FakeRenderer(director)

    def oom(n: int) -> None:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    big.hook = oom
    seen: list[BaseException] = []

    def on_oom(e: BaseException):
        seen.append(e)
        return small

    worker = RenderWorker(director, big, clock, on_oom=on_oom)
    try:
        worker.start()
        assert wait_for(lambda: worker.stats.frames >= 3)
    finally:
        worker.stop()
    assert len(seen) == 1 and "out of memory" in str(seen[0])
    assert worker.stats.ooms == 1 and worker.stats.errors == 1
    assert len(big.calls) == 1 and len(small.calls) >= 1
    assert worker.generator is small


def test_a_failing_on_oom_is_survived_too():
    clock = ManualClock(0.0)
    director = make_director()
    fake = FakeRenderer(director)
    fake.hook = lambda n: (_ for _ in ()).throw(RuntimeError("out of memory")) if n == 0 else None

    def on_oom(e):
        raise RuntimeError("no CPU either")

    worker = RenderWorker(director, fake, clock, on_oom=on_oom)
    try:
        worker.start()
        assert wait_for(lambda: worker.stats.frames >= 2)
    finally:
        worker.stop()
    assert worker.stats.ooms == 1


def test_a_hung_generator_is_restarted_by_the_watchdog_within_a_second():
    clock = MonotonicClock()
    director = make_director()
    fake = FakeRenderer(director)
    release = threading.Event()
    hung = threading.Event()
    timer = ManualClock(100.0)  # the watchdog's real-time measure, stepped by the test: no stopwatch

    def hook(n: int) -> None:
        if n == 3:
            hung.set()
            release.wait(30)  # stuck in the driver

    fake.hook = hook
    worker = RenderWorker(director, fake, clock, hang_seconds=1.0, timer=timer.now)
    try:
        worker.start()
        assert wait_for(hung.is_set, timeout=60)
        frames_before = worker.stats.frames
        assert not worker.watchdog()  # the show loop calls it every frame
        timer.advance(0.95)
        assert not worker.watchdog(), "restarted before the hang limit"
        timer.advance(0.1)
        assert worker.watchdog(), "watchdog did not restart a render stuck past its limit"
        assert worker.stats.restarts == 1
        assert wait_for(lambda: worker.stats.frames > frames_before + 2, timeout=60), "a fresh thread renders on"
        assert worker.frame_at(clock.now()) is not None
    finally:
        release.set()  # the abandoned thread finishes; its results are ignored
        worker.stop()
    assert worker.stats.restarts == 1


def test_a_slow_first_render_is_not_taken_for_a_hang():
    """Before any batch finished there is no batch time to judge by: a generator slower than the hang
    limit (biggan-deep-512 on a CPU) was restarted every second and never showed a picture."""
    director = make_director()
    fake = FakeRenderer(director)
    release = threading.Event()
    started = [threading.Event(), threading.Event()]  # the first call, and the restarted thread's first

    def hook(n: int) -> None:
        if n < 2:
            started[n].set()
            release.wait(30)
    fake.hook = hook
    timer = ManualClock(0.0)
    worker = RenderWorker(director, fake, ManualClock(0.0), hang_seconds=1.0, timer=timer.now)
    try:
        worker.start()
        assert wait_for(started[0].is_set)
        timer.advance(5.0)                      # a slow first frame, not a hang
        assert not worker.watchdog() and worker.hang_limit() == 30.0
        timer.advance(26.0)                     # past the first-render limit: restarted ...
        assert worker.watchdog() and worker.stats.restarts == 1
        assert wait_for(started[1].is_set)      # (the new thread is in its first render too)
        assert worker.hang_limit() == 60.0      # ... and the next try gets twice as long
        release.set()
        assert wait_for(lambda: worker.stats.batches >= 1)
        assert worker.hang_limit() == 1.0       # a batch finished: back to the measured limit
    finally:
        release.set()
        worker.stop()


def _thread_nice(tid: int) -> int:
    import os

    return os.getpriority(os.PRIO_PROCESS, tid)  # Linux: a thread id names that thread alone


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="nice is per thread on Linux only")
def test_the_render_thread_runs_a_step_below_the_show_and_the_show_thread_stays():
    import os
    import threading as th

    director = make_director()
    fake = FakeRenderer(director)
    seen = {}
    real_render = fake.render

    def render(*a, **k):  # what the render thread and a thread it starts (torch's OpenMP team) run at
        seen["render"] = os.getpriority(os.PRIO_PROCESS, 0)
        child = th.Thread(target=lambda: seen.setdefault("child", os.getpriority(os.PRIO_PROCESS, 0)))
        child.start()
        child.join()
        return real_render(*a, **k)

    fake.render = render
    base = os.getpriority(os.PRIO_PROCESS, 0)
    worker = RenderWorker(director, fake, ManualClock(0.0), nice=5)
    worker.start()
    try:
        assert wait_for(lambda: "child" in seen)
        assert seen == {"render": min(19, base + 5), "child": min(19, base + 5)}
        assert _thread_nice(worker._thread.native_id) == min(19, base + 5)
    finally:
        worker.stop()
    assert os.getpriority(os.PRIO_PROCESS, 0) == base, "the show's own thread keeps its priority"
    plain = RenderWorker(director, FakeRenderer(director), ManualClock(0.0))
    plain.start()
    try:
        assert wait_for(lambda: plain.stats.frames > 0)
        assert _thread_nice(plain._thread.native_id) == base, "nice=0 (headless, tests) leaves it"
    finally:
        plain.stop()


def test_the_display_is_woken_the_moment_a_cue_s_first_frame_is_kept():
    """wait_for_new_path: the show loop's sleep between ticks, cut short by a new path's first frame."""
    clock = MonotonicClock()
    director = make_director()
    fake = FakeRenderer(director)
    go = threading.Event()
    cued: list[int] = []

    def hold_the_cue_frame(n: int) -> None:  # the new path's renders wait until the test lets them go
        if cued and director.version == cued[0]:
            assert go.wait(60), "never let go"

    fake.hook = hold_the_cue_frame
    worker = RenderWorker(director, fake, clock, fps=30.0, max_batch=4, max_ahead=0.5, ahead_batches=4)
    worker.start()
    try:
        assert wait_for(lambda: worker.has_frames_for(director.version))
        assert worker.wait_for_new_path(0.0), "the first path's first frame counts too (the show's start)"
        assert not worker.wait_for_new_path(0.01), "nothing new: a plain sleep"
        director.handle(Cue("next", source="test"), clock.now())
        cued.append(director.version)
        assert not worker.wait_for_new_path(0.05) and not worker.has_frames_for(cued[0]), "not rendered yet"
        threading.Timer(0.05, go.set).start()
        # Without the wake this sleeps all 60 s and says False.
        assert worker.wait_for_new_path(60.0), "woken by the cue's frame"
        assert worker.has_frames_for(cued[0])
        assert not worker.wait_for_new_path(0.01), "one wake per new path"
    finally:
        go.set()
        worker.stop()


def test_on_a_manual_clock_waiting_for_a_new_path_is_a_plain_sleep(rig):
    """Tests' clocks move only when told: no early wake, time moves by the whole sleep."""
    director, fake, worker, clock = rig
    worker.start()
    assert wait_for(lambda: worker.has_frames_for(director.version))
    t = clock.now()
    assert not worker.wait_for_new_path(0.25) and clock.now() == pytest.approx(t + 0.25)
