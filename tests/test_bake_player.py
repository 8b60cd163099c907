"""Playing baked clips: frames at settled times are the keyframe pictures (PSNR), transitions are
stretched to the live leg (tap tempo) and land on time, unbaked jumps crossfade, freeze holds;
and the fallback from a failing or hung live generator to the clips and back, in show time."""

from __future__ import annotations

import dataclasses
import textwrap
import time

import numpy as np
import pytest

from banktools import write_banks

from livegan.bake.clips import DriftSettings, idle_latents
from livegan.bake.fallback import FallbackWorker
from livegan.bake.library import open_baked
from livegan.bake.player import BakedPlayer
from livegan.bake.runner import bake_setlist
from livegan.bank import bank_path, load_bank
from livegan.clock import ManualClock
from livegan.engine.director import Director
from livegan.engine.path import Drift, Keyframe
from livegan.engine.state import plans_from_setlist
from livegan.engine.worker import RenderWorker
from livegan.setlist import load_setlist
from livegan.show.banks import ShowKeyframes
from livegan.soak import FaultyGenerator
from livegan.triggers.events import Cue

pytestmark = pytest.mark.usefixtures("one_thread")

FPS = 20.0
SETLIST = """
defaults: {model: tiny, clip: tiny, steps: 3, variants: 1, truncation: 0.7, transition: 2 beats}
songs:
  - title: Alpha
    bpm: 60
    sections:
      - {text: a weasel in the snow, classes: [weasel]}
      - {text: a goldfish in a teapot, classes: [goldfish]}
      - {text: a lighthouse at night, classes: [beacon]}
  - title: Beta
    bpm: 60
    sections:
      - {text: a red wine glass, classes: [red wine]}
"""
GID = {"name": "tiny", "weights": "random:0"}


def psnr(a, b) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_gen):
    import torch
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("play")
    sl = d / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, d / "banks")
    bake_setlist(load_setlist(sl), d / "banks", tiny_gen, fps=FPS, loop_seconds=2.0, progress=False)
    return sl, d / "banks"


def make(files, t0: float = 0.0):
    sl_path, banks = files
    sl = load_setlist(sl_path)
    kf = ShowKeyframes(sl, banks, GID, 5)
    plans = [dataclasses.replace(p, variants=kf.variants(i)) for i, p in enumerate(plans_from_setlist(sl))]
    director = Director(plans, kf, drift_amount=0.15, drift_speed=0.25, truncation=0.7, t0=t0)
    clips = open_baked(sl, banks, kf, plans, DriftSettings())
    return director, BakedPlayer(director, clips), kf


def at(player: BakedPlayer, t: float) -> np.ndarray:
    """The player's frame at t once the clips it wants are decoded (decoding runs on its own thread)."""
    player.frame_at(t)
    leg = player._leg
    for e in (leg.trans, player.clips.idle(*leg.target)):
        if e is not None:
            assert player.cache.wait_for(e.file, 20.0) is not None
    return player.frame_at(t)


def keyframe_picture(gen, kf: Keyframe) -> np.ndarray:
    """What the show should settle on: the keyframe plus the drift at the loop's start (phase 0)."""
    z, y = idle_latents(kf, 2.0, FPS, Drift(5, seed=0), DriftSettings())
    return gen.render(z[:1], y[:1], 0.7)[0]


def test_settled_frames_are_the_keyframes_and_a_tapped_transition_lands_on_time(files, tiny_gen):
    director, player, kf = make(files)
    player.start()
    try:
        first = at(player, 0.0)
        assert psnr(first, keyframe_picture(tiny_gen, kf(0, 0, 0))) > 30
        # Tap 120 bpm: "2 beats" becomes 1 s instead of the 2 s the clip was baked at.
        for t in (1.0, 1.5, 2.0, 2.5):
            director.handle(Cue("tap", source="test"), t)
        director.handle(Cue("next", source="test"), 3.0)
        assert director.state.segment.seconds == pytest.approx(1.0)
        target = keyframe_picture(tiny_gen, kf(0, 1, 0))
        mid, landed = at(player, 3.5), at(player, 4.0)
        assert player._leg.trans is not None  # a baked transition, stretched to the leg
        assert psnr(landed, target) > 30       # on the keyframe exactly when the tapped leg ends
        assert psnr(mid, target) < psnr(landed, target) - 6
        # Settled later: the idle loop drifts around the keyframe.
        assert psnr(at(player, 4.0 + 2.0), target) > 30  # one whole loop later: its first frame again
    finally:
        player.stop()


def test_a_cue_mid_transition_starts_from_the_picture_on_screen(files, tiny_gen):
    director, player, kf = make(files)
    player.start()
    try:
        at(player, 0.0)
        director.handle(Cue("next", source="test"), 1.0)   # 2 s baked transition into section 2
        mid = at(player, 2.0)
        director.handle(Cue("next", source="test"), 2.0)   # on to section 3 while still under way
        assert player.frame_at(2.0) is mid or np.array_equal(at(player, 2.0), mid)  # no jump at the cue
        leg = player._leg
        assert leg.trans is not None and leg.trans.file == player.clips.trans(0, 1, 0, 0).file
        soon = at(player, 2.0 + 0.05)
        clip = player.cache.get(leg.trans.file)
        assert psnr(soon, mid) > psnr(clip[0], mid)  # still mostly the old picture just after the cue
        assert np.array_equal(at(player, 4.0), player.cache.get(player.clips.idle(0, 2, 0).file)[0])
    finally:
        player.stop()


def test_unbaked_jump_crossfades_between_idle_loops_and_freeze_holds(files, tiny_gen):
    director, player, kf = make(files)
    player.start()
    try:
        before = at(player, 1.0)
        director.handle(Cue("song-next", source="test"), 1.0)  # Beta: not baked as a transition
        np.testing.assert_array_equal(at(player, 1.0), before)  # the leg starts from the picture on screen
        assert player._leg.trans is None
        mid = at(player, 2.0)   # half-way through the 2 s leg: a mix of both pictures
        end = at(player, 3.0)
        loop = player.cache.get(player.clips.idle(1, 0, 0).file)
        np.testing.assert_array_equal(end, loop[int(round(2.0 * FPS)) % len(loop)])
        assert psnr(mid, before) < 60 and psnr(mid, end) < 60
        director.handle(Cue("freeze", source="test"), 3.5)
        held = at(player, 3.5)
        np.testing.assert_array_equal(at(player, 5.0), held)
    finally:
        player.stop()


def test_stale_clips_are_not_played(files, tmp_path):
    """A bank changed after the bake: its clips count as stale and are never offered."""
    import shutil
    from livegan.bank import save_bank
    sl_path, banks0 = files
    banks = tmp_path / "banks"
    shutil.copytree(banks0, banks)
    b = load_bank(bank_path(banks, "Beta"))
    b.sections[0].z = b.sections[0].z * np.float32(0.5)
    save_bank(b, bank_path(banks, "Beta"))
    director, player, kf = make((sl_path, banks))
    assert player.clips.stale == 1 and player.clips.idle(1, 0, 0) is None and player.clips.idle(0, 0, 0) is not None


def _step_until(clock, fw, cond, dt=1 / 30, limit=2000, wait=None):
    """Advance show time frame by frame (as the loop does) until cond(); returns the show time."""
    for _ in range(limit):
        if wait is not None:
            wait()
        clock.advance(dt)
        fw.watchdog()
        fw.frame_at(clock.now())
        if cond():
            return clock.now()
    raise AssertionError("condition never met")


def _wait_calls(gen, n0):
    """Let the live worker make one more generator call (real time, generous; nothing is asserted on it)."""
    def wait():
        deadline = time.monotonic() + 5.0
        while gen.calls <= n0[0] and time.monotonic() < deadline:
            time.sleep(0.002)
        n0[0] = gen.calls
    return wait


@pytest.mark.faults
@pytest.mark.parametrize("kind", ["error", "oom", "hang"])
def test_failing_generator_switches_to_baked_within_a_second_and_back(files, tiny_gen, kind):
    clock = ManualClock(0.0)
    director, player, kf = make(files)
    gen = FaultyGenerator(tiny_gen, hang_seconds=3.0)
    live = RenderWorker(director, gen, clock, fps=30, max_batch=1, hang_seconds=60.0)
    said: list[str] = []
    fw = FallbackWorker(live, player, clock, on_switch=said.append)
    fw.start()
    try:
        n0 = [gen.calls]
        _step_until(clock, fw, lambda: live.stats.frames >= 3, wait=_wait_calls(gen, n0))
        assert not fw.active and fw.frame_at(clock.now()) is not None
        gen.arm(kind, 10 if kind != "hang" else 1)
        n0 = [gen.calls]
        t_fault = _step_until(clock, fw, lambda: gen.injected[kind] >= 1, wait=_wait_calls(gen, n0))
        t_switch = _step_until(clock, fw, lambda: fw.active,
                               wait=None if kind == "hang" else _wait_calls(gen, n0))
        assert t_switch - t_fault < 1.0, (t_fault, t_switch)
        assert fw.badges == ("BAKED",) and "BAKED" in said[-1]
        # Cues keep working on the clips: none is lost, the picture follows.
        for k in ("next", "next"):
            director.handle(Cue(k, source="test"), clock.now())
            _step_until(clock, fw, lambda: True)
        assert director.state.cues_handled == 2 and player._leg.target == director.position
        assert fw.frame_at(clock.now()) is not None
        # The generator works again (the armed faults are used up): back to live.
        _step_until(clock, fw, lambda: not fw.active, wait=lambda: time.sleep(0.01), limit=3000)
        assert fw.switches[-1][1] == "live" and "back to live" in said[-1]
    finally:
        fw.stop()


def test_a_broken_clip_is_played_around_not_fatal(files, tmp_path):
    import shutil
    sl_path, banks0 = files
    banks = tmp_path / "banks"
    shutil.copytree(banks0, banks)
    director, player, kf = make((sl_path, banks))
    broken = player.clips.trans(0, 0, 0, 0)
    (banks / "baked" / broken.file).write_bytes(b"\x00not a video")
    player.start()
    try:
        first = at(player, 0.0)
        director.handle(Cue("next", source="test"), 1.0)
        player.frame_at(1.0)
        assert player.cache.wait_for(broken.file, 20.0) is None and player.cache.errors == 1
        loop = player.cache.wait_for(player.clips.idle(0, 1, 0).file, 20.0)
        assert loop is not None
        half = player.frame_at(2.0)  # played as an unbaked jump: a crossfade into the target's loop
        assert player._leg.trans is None
        assert not np.array_equal(half, first) and psnr(half, first) < 60
        np.testing.assert_array_equal(player.frame_at(3.0), loop[int(round(2.0 * FPS)) % len(loop)])
    finally:
        player.stop()
