"""Cue latency of the render worker: batch choice, bounded render-ahead, the cue's frame first.

Show time is a ManualClock that stands still; the worker's compute timer is a
CostTimer that only the fake renderer advances, by a cost model per batch
size. So every count below is decided by the model, never by the machine's
load (no wall-clock asserts).
"""

from __future__ import annotations

import numpy as np
import pytest

from livegan.clock import ManualClock
from livegan.engine.worker import RenderWorker, pick_batch
from livegan.triggers.events import Cue
from test_worker import CPU_COST, GPU_COST, CostTimer, FakeRenderer, make_director, wait_for


def test_pick_batch_prefers_the_smallest_within_tolerance():
    assert pick_batch({1: 0.100, 2: 0.099, 3: 0.098, 4: 0.097}) == 1  # 3 % is not worth a batch of latency
    assert pick_batch({1: 0.100, 2: 0.060, 4: 0.050}) == 4
    assert pick_batch({1: 0.100, 2: 0.051, 4: 0.050}) == 2             # within 5 % of the best
    assert pick_batch({1: 0.100, 2: 0.051, 4: 0.050}, tolerance=0.0) == 4
    # A batch longer than the latency budget is not used, however fast per frame.
    assert pick_batch({1: 0.100, 4: 0.050}, max_batch_seconds=0.15) == 1
    assert pick_batch({1: 0.100, 2: 0.070, 4: 0.050}, max_batch_seconds=0.15) == 2
    assert pick_batch({1: 0.9}, max_batch_seconds=0.1) == 1            # batch 1 is always allowed


class TickingClock(ManualClock):
    def now(self) -> float:
        self.t += 0.01
        return self.t


def _run(cost, *, frames: int, fps: float = 30.0, max_ahead: float = 100.0, **kw) -> tuple[FakeRenderer, RenderWorker]:
    """Run a worker under a cost model until it kept ``frames`` frames.

    Show time moves with the compute time of each batch, and by 10 ms each
    time the worker looks at it (so a worker that is ahead and idles sees
    time move on): batch sizes depend only on the cost model.
    """
    clock = TickingClock()
    director = make_director()
    fake = FakeRenderer(director)
    fake.timer = CostTimer(cost)
    fake.hook = lambda n: clock.advance(cost(fake.calls[n]))
    worker = RenderWorker(director, fake, clock, fps=fps, max_batch=4, max_ahead=max_ahead,
                          timer=fake.timer, **kw)
    worker.start()
    try:
        assert wait_for(lambda: worker.stats.frames >= frames, timeout=10)
    finally:
        worker.stop()
    return fake, worker


def test_a_cpu_that_gains_nothing_from_batches_renders_one_frame_at_a_time():
    fake, worker = _run(CPU_COST, frames=60)
    calls = fake.calls[4:]  # after each size was measured once
    explored = sum(c > 1 for c in calls)
    # Only the periodic re-measurement of a neighbour (every 40 batches) uses a bigger batch.
    assert calls.count(1) >= len(calls) - 2 and explored <= 2, fake.calls


def test_a_gpu_that_gains_from_batches_uses_them():
    fake, worker = _run(GPU_COST, frames=60, max_batch_seconds=None)
    calls = fake.calls[4:]
    assert calls.count(4) >= len(calls) * 3 // 4, fake.calls


def test_the_latency_budget_caps_the_batch():
    # 4 frames take 28 ms, over a 20 ms budget; 2 take 24 ms, over it too: batch 1 despite the speed-up.
    fake, worker = _run(GPU_COST, frames=40, max_batch_seconds=0.02)
    assert max(fake.calls[4:]) == 1, fake.calls


def test_render_ahead_is_bounded_in_batches():
    # Show time stands still: the worker fills its window and idles. With one frame
    # per batch (CPU costs) and 2 batches ahead, that is 2-3 frames, not max_ahead's 5 s worth.
    clock = ManualClock(0.0)
    director = make_director()
    fake = FakeRenderer(director)
    fake.timer = CostTimer(lambda b: 0.1 * b)
    worker = RenderWorker(director, fake, clock, fps=30.0, max_batch=1, max_ahead=5.0, timer=fake.timer,
                          ahead_batches=2)
    worker.start()
    try:
        assert wait_for(lambda: worker.stats.frames >= 2)
        n = len(fake.calls)
        assert not wait_for(lambda: len(fake.calls) > 3, timeout=0.3)
    finally:
        worker.stop()
    assert 2 <= worker.stats.frames <= 3 and n <= 3, fake.calls


@pytest.mark.parametrize("cost,expect_batch", [(GPU_COST, 4), (CPU_COST, 1)])
def test_a_cue_during_a_batch_puts_its_frame_first_in_the_next_batch(cost, expect_batch):
    clock = TickingClock()
    director = make_director()
    fake = FakeRenderer(director)
    fake.timer = CostTimer(cost)
    cue_at, cue_time, snapshot = 12, [], []

    def hook(n: int) -> None:
        clock.advance(cost(fake.calls[n]))
        if n == cue_at:  # the cue arrives while batch `cue_at` is in flight
            cue_time.append(clock.now())
            director.handle(Cue("next", source="test"), cue_time[0])
        if n == cue_at + 2:  # the frames kept from the batch right after the cue
            with worker._lock:
                snapshot.extend(f for f in worker._frames if f.version == director.version)

    fake.hook = hook
    worker = RenderWorker(director, fake, clock, fps=60.0, max_batch=4, max_ahead=1.0, timer=fake.timer,
                          max_batch_seconds=None)
    worker.start()
    try:
        assert wait_for(lambda: len(fake.calls) > cue_at + 2 and worker.has_frames_for(director.version))
    finally:
        worker.stop()
    new = director.version
    # The in-flight batch was for the old path; the very next one is the new path's.
    assert fake.versions[cue_at] != new and fake.versions[cue_at + 1] == new
    assert fake.calls[cue_at + 1] == expect_batch, fake.calls
    kept = snapshot
    # The cue's own frame is the first of that batch: due one batch after the cue (+ the clock's
    # 10 ms ticks while the worker looked at it), no later.
    wait = kept[0].t - cue_time[0]
    assert cost(expect_batch) <= wait <= cost(expect_batch) + 0.0201, (wait, fake.calls)
    assert worker.stats.first_frame_latency, "cue latency measured"


def test_first_frame_latency_counts_one_batch_on_a_cpu():
    # Cue after cue on a CPU cost model: each new path's first frame comes from the first batch after it.
    clock = TickingClock()
    director = make_director()
    fake = FakeRenderer(director)
    fake.timer = CostTimer(CPU_COST)
    cues = {8, 16, 24, 32}

    def hook(n: int) -> None:
        clock.advance(CPU_COST(fake.calls[n]))
        if n in cues:
            director.handle(Cue("next" if n % 16 else "prev", source="test"), clock.now())

    fake.hook = hook
    worker = RenderWorker(director, fake, clock, fps=60.0, max_batch=4, max_ahead=1.0, timer=fake.timer)
    worker.start()
    try:
        assert wait_for(lambda: len(fake.calls) > 36)
    finally:
        worker.stop()
    for n in sorted(cues):
        assert fake.calls[n + 1] == 1 and fake.versions[n + 1] != fake.versions[n], (n, fake.calls)
    assert np.all(np.asarray(fake.calls[4:]) <= 2)


def test_a_cue_interrupts_the_batch_in_flight():
    # The fake renders in 4 "blocks" and asks should_stop() between them, as models/interrupt.py's hooks do.
    from livegan.errors import RenderInterrupted

    clock = TickingClock()
    director = make_director()
    fake = FakeRenderer(director)
    fake.timer = CostTimer(CPU_COST)
    cue_at = 6
    blocks_run: list[int] = []
    worker = RenderWorker(director, fake, clock, fps=60.0, max_batch=1, max_ahead=1.0, timer=fake.timer)

    def hook(n: int) -> None:
        for block in range(4):
            if n == cue_at and block == 1:
                director.handle(Cue("next", source="test"), clock.now())
            if worker.should_stop():
                blocks_run.append(block)
                raise RenderInterrupted()
        clock.advance(CPU_COST(fake.calls[n]))

    fake.hook = hook
    worker.start()
    try:
        assert wait_for(lambda: len(fake.calls) > cue_at + 2 and worker.has_frames_for(director.version))
        assert blocks_run[0] == 1, "the stale batch stopped at the first block after the cue"
        assert worker.stats.interrupted >= 1 and worker.stats.errors == 0
        assert fake.versions[cue_at + 1] == director.version
    finally:
        worker.stop()


def test_interrupt_hooks_on_the_tiny_generator(tiny_gen, one_thread):
    from livegan.errors import RenderInterrupted
    from livegan.models.interrupt import make_interruptible

    z = np.zeros((1, tiny_gen.num_latents, 128), np.float32)
    y = np.zeros((1, 1000), np.float32)
    before = tiny_gen.render(z, y, 0.7)
    asked: list[int] = []
    stop = [False]
    remove = make_interruptible(tiny_gen, lambda: asked.append(1) or stop[0])
    try:
        assert np.array_equal(tiny_gen.render(z, y, 0.7), before)
        n = len(asked)
        blocks = len(tiny_gen.model.generator.layers)
        from pytorch_pretrained_biggan.model import GenBlock
        convs = sum(isinstance(layer, GenBlock) for layer in tiny_gen.model.generator.layers)
        assert n == blocks + 1 + 3 * convs, "asked before every block, and between a block's convolutions"
        stop[0] = True
        with pytest.raises(RenderInterrupted):
            tiny_gen.render(z, y, 0.7)
        assert len(asked) == n + 1, "gave up at the first block"
    finally:
        remove()
    assert np.array_equal(tiny_gen.render(z, y, 0.7), before)
    assert len(asked) == n + 1, "hooks removed"
