"""The operator console under SDL's dummy driver: layout, what it draws, keys, no overlay on the projector."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from banktools import SETLIST, write_banks

from livegan.clock import ManualClock
from livegan.outputs.console import ConsoleOutput, plan_layout
from livegan.outputs.fanout import FanOut
from livegan.outputs.null import NullOutput
from livegan.show.session import ShowConfig, build_show, run_show

pytestmark = pytest.mark.usefixtures("one_thread")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def test_layout_projector_and_laptop_or_tiled() -> None:
    two = plan_layout([(1440, 900), (1920, 1080)], None)
    assert (two.window_display, two.window_windowed, two.window_rect) == (1, False, None)
    assert two.console_display == 0 and two.console_rect == (80, 90, 1280, 720)
    one = plan_layout([(1920, 1080)], None)
    assert one.window_windowed and one.window_rect == (0, 40, 960, 540)
    assert one.console_rect[0] == 960 and one.console_rect[2] == 960  # side by side, no overlap
    same = plan_layout([(1440, 900), (1920, 1080)], 0)  # --display 0 with a console: tile on the laptop
    assert same.window_windowed


class Keeping(NullOutput):
    def __init__(self) -> None:
        super().__init__()
        self.overlays: list = []

    def _present(self, frame, overlay) -> None:
        super()._present(frame, overlay)
        self.overlays.append(overlay)


@pytest.fixture
def show(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    sl = tmp_path / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, tmp_path / "banks")
    cues = tmp_path / "cues.txt"
    cues.write_text("0.1 tap\n0.6 tap\n1.1 tap\n")
    window, console = Keeping(), ConsoleOutput(rect=(0, 0, 960, 600), poll_keys=True)
    fan = FanOut([window, console], [], overlays=[False, True])
    cfg = ShowConfig(setlist=sl, banks=tmp_path / "banks", headless=True, device="cpu", dtype="float32", drift=0.0,
                     cues=cues, fps=30.0, overlay=True)
    return build_show(cfg, clock=ManualClock(0.0), output=fan), window, console


def test_console_shows_the_output_and_the_projector_gets_no_overlay(show) -> None:
    sh, window, console = show
    import pygame

    shots: list[np.ndarray] = []

    def key_and_shot(t: float) -> None:
        if sh.summary.frames == 40:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))  # typed in the console
        if sh.summary.frames == 50:
            shots.append(pygame.surfarray.array3d(console._win.get_surface()).swapaxes(0, 1).copy())

    def first_frame(t: float) -> None:  # show time starts once the generator has a picture
        end = time.monotonic() + 30
        while sh.worker.frame_at(t) is None and time.monotonic() < end:
            time.sleep(0.005)

    sh.on_tick.append(first_frame)
    sh.on_tick.append(key_and_shot)
    summary = run_show(sh, 2.0)
    assert summary.frames > 50 and len(window.overlays) == summary.frames
    assert all(o is None for o in window.overlays)  # the projector: pictures only, ever
    assert summary.cues == 4  # three taps from the cue file + Space pressed in the console
    assert sh.director.position.section == 1
    assert sh.director.state.tempo is not None
    img = shots[0]  # (H, W, 3)
    H, W = img.shape[:2]
    assert (W, H) == (960, 600)
    pw = W // 2
    ph = pw * 9 // 16
    preview = img[10:10 + ph, 10:10 + pw]
    frame = window.last_frame
    # the live preview holds the picture (pillarboxed): its centre is the frame's centre colour, roughly
    c = preview[ph // 2, pw // 2].astype(int)
    fc = frame[frame.shape[0] // 2, frame.shape[1] // 2].astype(int)
    assert np.abs(c - fc).max() < 60
    text_area = img[ph + 20:, :]
    assert (text_area.max(axis=2) > 200).sum() > 500, "lyrics, setlist and status are drawn"


def test_console_draws_on_any_surface_without_a_show() -> None:
    import pygame

    pygame.display.init()
    surf = pygame.Surface((640, 400))
    ConsoleOutput().draw(surf, np.full((64, 64, 3), 200, np.uint8), None)
    arr = pygame.surfarray.array3d(surf).swapaxes(0, 1)  # (H, W, 3)
    pw = 320
    assert arr[10 + pw * 9 // 32, 10 + pw // 2].tolist() == [200, 200, 200]  # the preview's centre
    assert arr[5, 5].tolist() == [18, 18, 22]  # the console's background around it


def test_bench_outputs_reports_each_output_and_the_display_rate(monkeypatch) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    from livegan.outputs.bench import bench_outputs

    r = bench_outputs(["window", "console"], size=(320, 180), src=(64, 64), seconds=0.2)
    assert set(r["ms_per_frame"]) == {"scale_once", "window", "console"}
    assert all(v > 0 for v in r["ms_per_frame"].values())
    assert set(r["display_fps"]) == {"window", "window+console"} and all(v > 0 for v in r["display_fps"].values())
