"""Many outputs at once: the hand-off, retries, scaling, and a slow or broken output beside the window.

Counts only: frames presented per second of *show* time (the injected clock),
cues handled, frames sent and dropped. The blocking output really blocks for
2 s of real time; nothing asserts how long anything took.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from banktools import SETLIST, write_banks

from livegan.clock import ManualClock
from livegan.outputs.base import Output
from livegan.outputs.fanout import FanOut, LatestFrame, OutputThread, fit_frame
from livegan.outputs.null import NullOutput
from livegan.show.session import ShowConfig, build_show, make_output, run_show


def wait_for(cond, limit: float = 120.0) -> bool:
    """Poll ``cond`` (a generous real-time limit only so a broken test ends; never an assertion of speed)."""
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.002)
    return True


class Blocking(Output):
    name = "blocking"

    def __init__(self, seconds: float = 2.0) -> None:
        super().__init__()
        self.seconds, self.calls = seconds, 0

    def _present(self, frame, overlay) -> None:
        self.calls += 1
        time.sleep(self.seconds)


class Raising(Output):
    name = "raising"

    def __init__(self) -> None:
        super().__init__()
        self.calls = self.opens = 0

    def _open(self) -> None:
        self.opens += 1

    def _present(self, frame, overlay) -> None:
        self.calls += 1
        raise OSError("cable pulled")


class Keeping(NullOutput):
    def __init__(self) -> None:
        super().__init__()
        self.got: list[np.ndarray] = []

    def _present(self, frame, overlay) -> None:
        super()._present(frame, overlay)
        self.got.append(frame)


# -- pieces -----------------------------------------------------------------------
def test_latest_frame_wins_and_counts_drops() -> None:
    slot = LatestFrame()
    a, b, c = (np.full((2, 2, 3), v, np.uint8) for v in (1, 2, 3))
    slot.put(a)
    slot.put(b)  # a was never taken: dropped
    assert slot.take(0.0) is b and slot.dropped == 1
    assert slot.take(0.0) is None
    slot.put(c)
    assert slot.take(0.0) is c and slot.dropped == 1


def test_a_failing_output_is_retried_with_back_off_and_warned_once() -> None:
    now = [0.0]
    warned: list[str] = []
    out = Raising()
    th = OutputThread(out, warned.append, backoff=(1.0, 4.0), timer=lambda: now[0])
    frame = np.zeros((4, 4, 3), np.uint8)
    for t in [0.0, 0.5, 1.0, 1.5, 3.0, 6.9, 7.0, 20.0]:
        now[0] = t
        th._one(frame)  # the thread's step, driven here with a fake timer
    # tries at 0 (then wait 1), 1.0 (wait 2), 3.0 (wait 4), 7.0 (wait 4), 20.0; the rest are skipped as drops
    assert out.calls == 5 and out.opens == 5
    assert th.stats.failures == 5 and th.stats.dropped == 3
    assert warned == ["raising: OSError: cable pulled (retrying)"]
    assert not out.is_open


def test_recovery_is_said_and_the_next_failure_warns_again() -> None:
    warned: list[str] = []

    class Flaky(Output):
        name = "flaky"
        fail = True

        def _present(self, frame, overlay) -> None:
            if self.fail:
                raise RuntimeError("gone")

    out = Flaky()
    now = [0.0]
    th = OutputThread(out, warned.append, backoff=(1.0, 8.0), timer=lambda: now[0])
    f = np.zeros((2, 2, 3), np.uint8)
    th._one(f)
    out.fail = False
    now[0] = 5.0
    th._one(f)
    out.fail = True
    now[0] = 6.0
    th._one(f)
    assert warned == ["flaky: RuntimeError: gone (retrying)", "flaky: working again", "flaky: RuntimeError: gone (retrying)"]
    assert th.stats.sent == 1


def test_fit_frame_scales_once_into_the_output_size_letterboxed() -> None:
    sq = np.full((64, 64, 3), 200, np.uint8)
    out = fit_frame(sq, (160, 90))
    assert out.shape == (90, 160, 3)
    assert out[:, :30].max() == 0 and out[:, -30:].max() == 0  # pillarbox bars
    assert abs(int(out[45, 80, 0]) - 200) <= 1
    assert fit_frame(sq, None) is sq and fit_frame(sq, (64, 64)) is sq


def test_fanout_scales_once_per_frame_for_every_sink() -> None:
    window, a, b = Keeping(), Keeping(), Keeping()
    fan = FanOut([window], [a, b], size=(32, 18))
    calls = []
    import livegan.outputs.fanout as fo

    real = fo.fit_frame
    fo_fit = lambda f, s: (calls.append(s), real(f, s))[1]  # noqa: E731
    fo.fit_frame, saved = fo_fit, real
    try:
        fan.open()
        frame = np.full((16, 16, 3), 9, np.uint8)
        fan.present(frame, {"panel": True})
        assert wait_for(lambda: a.got and b.got)
        fan.close()
    finally:
        fo.fit_frame = saved
    assert window.got[0] is frame and window.last_overlay == {"panel": True}  # the window: as generated
    assert a.got[0].shape == (18, 32, 3) and a.got[0] is b.got[0]  # one scaled frame shared by the sinks
    assert calls == [(32, 18)]
    assert fan.stats()["null"]["sent"] >= 1


def test_the_window_gets_no_overlay_when_a_console_shows_it() -> None:
    window, console = Keeping(), Keeping()
    fan = FanOut([window, console], [], overlays=[False, True])
    fan.open()
    console.press("space")
    window.press("b")
    fan.present(np.zeros((4, 4, 3), np.uint8), {"panel": True})
    assert window.last_overlay is None and console.last_overlay == {"panel": True}
    assert sorted(fan.poll_events()) == ["b", "space"]  # keys work in either window
    fan.close()


# -- the show with a slow and a broken output ----------------------------------------------
@pytest.fixture(scope="module")
def show_files(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("fan")
    sl = d / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, d / "banks")
    return sl, d / "banks"


class TickingClock(ManualClock):
    """Show time moves only by the loop's sleeps; each sleep also yields a little real time to the threads."""

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        time.sleep(0.003)


@pytest.mark.faults
@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("bad", ["blocking", "raising"])
def test_a_slow_or_broken_output_leaves_the_window_at_full_rate_and_no_cue_lost(show_files, tmp_path, bad) -> None:
    sl, banks = show_files
    cues = tmp_path / "cues.txt"
    cues.write_text("0.2 next\n0.6 next\n1.0 prev\n1.4 song-next\n1.8 next\n")
    clock = TickingClock(0.0)
    window = Keeping()
    sink = Blocking(2.0) if bad == "blocking" else Raising()
    fan = FanOut([window], [sink])
    cfg = ShowConfig(setlist=sl, banks=banks, headless=True, drift=0.0, dtype="float32", device="cpu", cues=cues,
                     fps=60.0)
    show = build_show(cfg, clock=clock, output=fan)
    first: list[float] = []

    def first_frame(t: float) -> None:  # show time starts once the generator has a picture
        if not first:
            assert wait_for(lambda: show.worker.frame_at(t) is not None)
            first.append(t)

    show.on_tick.append(first_frame)
    summary = run_show(show, 2.5)
    # every tick of show time presented a frame: 60 per second, the slow output notwithstanding
    assert summary.frames == len(window.got) and abs(summary.frames - 150) <= 1  # 2.5 s x 60 (float steps: +-1)
    assert summary.cues == 5 and summary.dropped_cues == 0
    st = summary.faults["outputs"][bad]
    if bad == "blocking":
        assert sink.calls >= 1 and st["sent"] <= sink.calls
        # frames it was too slow for were replaced in a slot (its own or the scaler's), not queued
        assert st["dropped"] + summary.faults["outputs"]["_scaler_dropped"]["dropped"] >= 1
    else:
        assert sink.calls >= 1 and st["failures"] == sink.calls and st["sent"] == 0
        said = [w for w in summary.warnings if w.startswith("raising:")]
        assert said == ["raising: OSError: cable pulled (retrying)"]  # once, on screen


def test_make_output_builds_the_fanout_only_when_asked(show_files, tmp_path) -> None:
    sl, banks = show_files
    plain = make_output(ShowConfig(setlist=sl, headless=True))
    assert isinstance(plain, NullOutput)
    fan = make_output(ShowConfig(setlist=sl, headless=True, outputs=["window", f"record:{tmp_path / 'o.mp4'}"],
                                 output_size=(64, 36)))
    assert isinstance(fan, FanOut) and len(fan.direct) == 1 and fan.threads[0].output.name.startswith("record:")
    no_window = make_output(ShowConfig(setlist=sl, headless=True, outputs=["ndi:Stage"]))
    assert no_window.direct == [] and no_window.threads[0].output.name == "ndi:Stage"


@pytest.mark.usefixtures("one_thread")
def test_record_output_gets_the_scaled_frames_and_counts_what_it_missed(show_files, tmp_path) -> None:
    import imageio_ffmpeg

    from livegan.outputs import read_video_frames

    sl, banks = show_files
    mp4 = tmp_path / "out.mp4"
    cfg = ShowConfig(setlist=sl, banks=banks, headless=True, drift=0.0, dtype="float32", device="cpu", fps=30.0,
                     outputs=[f"record:{mp4}"], output_size=(64, 36))
    show = build_show(cfg, clock=TickingClock(0.0))
    assert isinstance(show.output, FanOut) and show.output.direct == []  # no window asked for
    show.on_tick.append(lambda t: wait_for(lambda: show.worker.frame_at(t) is not None))
    summary = run_show(show, 1.0)
    st = summary.faults["outputs"][f"record:{mp4}"]
    frames, fps, _ = read_video_frames(mp4)
    assert frames == st["sent"] >= 1 and fps == 30.0 and st["failures"] == 0
    assert next(imageio_ffmpeg.read_frames(str(mp4)))["size"] == (64, 36)
    # every presented frame was either recorded or counted as dropped (by the scaler or the recorder's slot)
    # (up to 3 may still sit in the two slots or be in hand when the show stops)
    accounted = st["sent"] + st["dropped"] + summary.faults["outputs"]["_scaler_dropped"]["dropped"]
    assert summary.frames - 3 <= accounted <= summary.frames
