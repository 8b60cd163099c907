"""End to end: the real show loop (build_show + run_show), headless, with the tiny generator.

Banks are written directly (as prep would, without the CLIP search) so the
module starts fast; each show runs for a second or two of real time.
Frames are compared with the generator's own render of the keyframes, in
float32 so the comparison can be exact.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from banktools import SETLIST, write_banks

from livegan.bank import bank_path
from livegan.clock import ManualClock
from livegan.engine.state import Position
from livegan.outputs.null import NullOutput
from livegan.show.session import STATE_FILE, ShowConfig, build_show, run_show
from livegan.setlist import load_setlist
from livegan.show.banks import fallback_keyframe
from livegan.triggers.events import Cue
from showclock import FollowClock, PacedClock, warm_up

pytestmark = pytest.mark.usefixtures("one_thread")  # torch on one thread: see conftest



@pytest.fixture(scope="module")
def show_files(tmp_path_factory) -> tuple[Path, Path]:
    """(setlist, pristine banks folder); tests copy the banks if the show may write state there."""
    d = tmp_path_factory.mktemp("show")
    sl = d / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, d / "banks")
    return sl, d / "banks"


@pytest.fixture
def files(show_files, tmp_path: Path) -> tuple[Path, Path]:
    sl, banks = show_files
    mine = tmp_path / "banks"
    shutil.copytree(banks, mine)
    return sl, mine


class Recorder(NullOutput):
    """A null output that keeps every presented frame with its show time and overlay; plays scripted keys."""

    def __init__(self, clock, keys: list[tuple[float, str]] = (), open_delay: float = 0.0) -> None:
        super().__init__()
        self.clock = clock
        self.open_delay = open_delay  # like a fullscreen window taking its time to appear
        self.keys = sorted(keys)
        self.seen: list[tuple[float, np.ndarray, dict | None]] = []  # (seconds since open, frame, overlay)
        self.t0 = 0.0

    def _open(self) -> None:
        self.clock.sleep(self.open_delay)  # show time passes while it opens, as on a real clock
        self.t0 = self.clock.now()  # run_show opens the output just before the loop starts

    def _present(self, frame, overlay) -> None:
        super()._present(frame, overlay)
        self.seen.append((self.clock.now() - self.t0, frame.copy(), overlay))

    def _poll_events(self):
        now = self.clock.now() - self.t0
        due = [k for t, k in self.keys if t <= now]
        self.keys = [(t, k) for t, k in self.keys if t > now]
        return due + super()._poll_events()


def config(sl: Path, banks: Path, **kw) -> ShowConfig:
    kw = {"headless": True, "drift": 0.0, "dtype": "float32", "device": "cpu", **kw}
    return ShowConfig(setlist=sl, banks=banks, **kw)


def render_kf(show, kf) -> np.ndarray:
    return show.generator.render(kf.z[None], kf.y[None], 0.7)[0]  # (H, W, 3)


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_a_cue_walks_smoothly_to_the_next_keyframe(files, tmp_path: Path):
    sl, banks = files
    cues = tmp_path / "cues.txt"
    cues.write_text("0.5 next\n9 next  # after the end: never sent\n")
    # A frame of show time per loop iteration, and never past the rendered frames: on a loaded machine
    # the generator fell behind and the display held, then jumped (5.6 against 4.9 allowed), which
    # is how a show copes but not what this test is about.
    clock = FollowClock()
    out = Recorder(clock, open_delay=0.6)  # cue times count from the start of the show, not from building it
    show = build_show(config(sl, banks, cues=cues), clock=clock, output=out)
    warm_up(show)
    clock.worker = show.worker
    summary = run_show(show, 2.5)

    start, target = render_kf(show, show.director.keyframe(0, 0, 0)), render_kf(show, show.director.keyframe(0, 1, 0))
    gap = mad(start, target)
    assert gap > 10, "the two keyframes look different"
    before = [f for t, f, _ in out.seen if t < 0.45]
    after = [f for t, f, _ in out.seen if t > 1.7]  # the cue at 0.5 + a 1 s transition (+ slack)
    assert before and after
    assert mad(before[-1], start) < 2, "before the cue: the first keyframe"
    assert mad(after[-1], target) < 2, "after the transition: exactly the target keyframe"
    steps = [mad(a, b) for (_, a, _), (_, b, _) in zip(out.seen, out.seen[1:])]
    assert max(steps) < 0.25 * gap, f"a jump of {max(steps):.1f} (keyframes differ by {gap:.1f})"
    assert sum(s > 0 for s in steps) > 20, "the picture moved over many frames, not in one step"
    assert summary.cues == 1 and summary.dropped_cues == 0
    assert summary.frames == len(out.seen)  # (rates depend on the machine's load: counts only)
    assert summary.generated >= 10 and summary.faults["generator_errors"] == 0
    assert show.director.position == Position(0, 1, 0)


def test_keys_next_blackout_and_esc_twice_quits(files):
    sl, banks = files
    clock = PacedClock()  # a frame of show time per loop iteration: counts hold on a loaded machine
    out = Recorder(clock, keys=[(0.2, "space"), (0.5, "b"), (1.6, "escape"), (1.8, "escape")])
    show = build_show(config(sl, banks), clock=clock, output=out)
    warm_up(show)
    summary = run_show(show, 8.0)
    assert summary.seconds < 6.0, "Esc twice quit the show (long before its 8 s)"
    assert show.director.position == Position(0, 1, 0), "space: next section"
    assert summary.cues == 2  # space and b
    assert show.director.state.blackout
    lit = [f.mean() for t, f, _ in out.seen if t < 0.45]
    dark = [f.mean() for t, f, _ in out.seen if t > 1.3]  # blackout fades over 0.7 s
    assert min(lit) > 20 and max(dark) < 1.0
    fading = [f.mean() for t, f, _ in out.seen if 0.55 < t < 1.15]
    assert any(1.0 < m < min(lit) for m in fading), "blackout fades, it doesn't cut"
    msgs = [o.get("message") for t, _, o in out.seen if o and 1.6 < t < 1.8]
    assert "press Esc again to quit" in msgs


def test_one_escape_does_not_quit(files):
    sl, banks = files
    clock = PacedClock()  # a frame of show time per loop iteration: counts hold on a loaded machine
    out = Recorder(clock, keys=[(0.1, "escape"), (1.3, "escape")])  # too far apart
    summary = run_show(build_show(config(sl, banks), clock=clock, output=out), 1.6)
    assert summary.seconds >= 1.55


def test_resume_starts_where_the_last_show_stopped(files, tmp_path: Path):
    sl, banks = files
    cues = tmp_path / "cues.txt"
    cues.write_text("0.1 next\n0.2 next\n0.3 song-next\n0.4 next\n")
    clock = PacedClock()  # a frame of show time per loop iteration: counts hold on a loaded machine
    run_show(build_show(config(sl, banks, cues=cues), clock=clock, output=NullOutput()), 0.8)
    assert (banks / STATE_FILE).is_file()

    said: list[str] = []
    again = build_show(config(sl, banks, resume=True), output=NullOutput(), notice=said.append)
    assert again.director.position == Position(1, 1, 0)
    assert any("resuming at song 2, section 2" in s for s in said)
    info = again.overlay(0.0) if again.overlay_on else None
    assert info is None  # headless: overlay off by default
    fresh = build_show(config(sl, banks), output=NullOutput())
    assert fresh.director.position == Position(0, 0, 0), "without --resume: from the top"


def test_songs_without_a_usable_bank_warn_and_play_a_walk(files, tmp_path: Path):
    sl, banks = files
    bank_path(banks, "Beta").write_bytes(b"\x00garbage")         # corrupt
    write_banks(sl, tmp_path / "other", gid={"name": "tiny", "weights": "random:9"})
    shutil.copy(bank_path(tmp_path / "other", "Alpha"), bank_path(banks, "Alpha"))  # made for another generator
    clock = PacedClock()  # a frame of show time per loop iteration: counts hold on a loaded machine
    out = Recorder(clock)
    show = build_show(config(sl, banks, model="tiny"), clock=clock, output=out)
    warm_up(show)
    summary = run_show(show, 0.8)
    assert any("'Alpha'" in w and "random:9" in w for w in summary.warnings), summary.warnings
    assert any("'Beta'" in w and "corrupt" in w for w in summary.warnings), summary.warnings
    assert out.seen and out.seen[-1][2] and out.seen[-1][2]["warnings"], "warnings are on screen"
    fallback = render_kf(show, fallback_keyframe(load_setlist(sl), 0, 0, 0, show.generator.num_latents))
    assert mad(out.seen[-1][1], fallback) < 2, "song 1 plays its class-hint walk"
    assert summary.frames > 10  # (frames, not fps: the rate depends on the machine's load)


def test_overlay_says_where_the_show_is(files):
    sl, banks = files
    clock = ManualClock(0.0)
    show = build_show(config(sl, banks, overlay=True), clock=clock, output=NullOutput())
    ov = show.overlay(0.0)
    assert ov["song"] == "Alpha  (song 1/2)"
    assert ov["section"] == "section 1/3"
    assert ov["lyric"] == "a weasel in the snow"
    assert ov["next_lyric"] == "a goldfish in a teapot"
    for kind in ("next", "next"):
        show.dispatch(Cue(kind, source="key"), 0.1)
    ov = show.overlay(0.2)
    assert ov["section"] == "section 3/3" and ov["lyric"] == "a lighthouse at night"
    assert ov["next_lyric"] == "Beta - a red wine glass", "last section: the next song and its first line"
    assert ov["cue"].startswith("next")
    show.dispatch(Cue("song-next", source="key"), 0.3)
    ov = show.overlay(0.4)
    assert ov["song"] == "Beta  (song 2/2)" and ov["section"] == "section 1/2" and ov["lyric"] == "a red wine glass"
    assert ov["next_lyric"] == "a grand piano on the seashore"
    show.dispatch(Cue("next", source="key"), 0.5)
    assert show.overlay(0.6)["next_lyric"] == "end of setlist"
    show.dispatch(Cue("goto", 9, source="key"), 0.7)  # the 9 key in a two-section song: said, not silent
    ov = show.overlay(0.8)
    assert ov["message"] == "goto 9: song 'Beta' has 2 sections (1..2)" and ov["section"] == "section 2/2"


def test_window_opens_under_sdl_dummy_and_a_missing_display_falls_back(files, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    from livegan.outputs.window import WindowOutput
    sl, banks = files
    show = build_show(config(sl, banks, headless=False, windowed=True, display=5), clock=PacedClock())
    warm_up(show)
    assert isinstance(show.output, WindowOutput)
    assert show.overlay_on, "windowed: overlay on by default"
    summary = run_show(show, 1.0)
    assert any("display 5 not found" in w for w in summary.warnings), summary.warnings
    assert summary.frames > 10
    assert show.output.display_index == 0
    assert not show.output.is_open, "run_show closes the window"


def test_the_summary_says_how_much_cpu_a_virtual_machines_host_took(files, monkeypatch):
    from livegan.cli.show import steal_note
    from livegan.show import loop

    sl, banks = files
    ticks = iter([(100, 10_000), (180, 10_800)])  # 80 of 800 ticks stolen during the show
    monkeypatch.setattr(loop, "cpu_ticks", lambda: next(ticks))
    clock = PacedClock()
    summary = run_show(build_show(config(sl, banks), clock=clock, output=Recorder(clock)), 0.3)
    assert summary.host_steal == 0.1 and summary.as_dict()["host_steal"] == 0.1
    assert "the host took 10% of this machine's CPU time" in steal_note(summary.host_steal)
    assert steal_note(0.01) == "" and steal_note(None) == ""  # a quiet host, or no /proc/stat: nothing said


class _WakingWorker:
    """A stand-in render worker whose ``wait_for_new_path`` wakes the loop once, at its ``wake_on``-th sleep."""

    def __init__(self, clock, wake_on: int) -> None:
        from livegan.engine.worker import WorkerStats
        self.clock, self.wake_on, self.sleeps = clock, wake_on, 0
        self.stats = WorkerStats()
        self.asked: list[float] = []  # show times frame_at was asked for

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def watchdog(self) -> bool: return False
    def prune(self, t: float) -> None: ...

    def frame_at(self, t: float):
        self.asked.append(t)
        return np.full((8, 8, 3), len(self.asked), np.uint8)

    def wait_for_new_path(self, seconds: float) -> bool:
        self.sleeps += 1
        if self.sleeps == self.wake_on:
            return True  # a frame landed: no show time passed
        self.clock.sleep(seconds)
        return False


def test_the_show_presents_a_new_path_s_first_frame_at_once_and_keeps_its_cadence():
    from livegan.engine.director import Director
    from livegan.engine.state import SongPlan, Transition
    from livegan.engine.path import Keyframe
    from livegan.show.loop import Show, ShowOptions
    from livegan.triggers.events import EventQueue

    clock = ManualClock(0.0)
    kf = Keyframe(np.zeros((2, 128), np.float32), np.zeros(1000, np.float32))
    director = Director([SongPlan("s", 2, [1, 1], [Transition(1.0)] * 2)], lambda *a: kf, t0=0.0)
    worker = _WakingWorker(clock, wake_on=3)
    out = Recorder(clock)
    show = Show(director, worker, out, clock, EventQueue(), [], ShowOptions(fps=50.0))
    with out:
        summary = show.run(0.09)  # ticks at 0, 20, 40, 60, 80 ms
    ticks = [pytest.approx(k * 0.02) for k in range(5)]
    assert worker.asked == ticks[:3] + [ticks[2]] + ticks[3:], "the woken frame came between two ticks, at once"
    assert len(out.seen) == summary.frames == 6, "every frame asked for was presented, the extra one too"
    assert [t for t, _, _ in out.seen] == worker.asked
