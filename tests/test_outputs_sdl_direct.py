"""SDL's presenting calls through ctypes (GIL released): finding pygame's libSDL2, routing, falling back.

Under SDL's dummy driver: the calls are real (the same libSDL2 pygame
loaded), only the screen is missing. What releasing the GIL buys is measured
by ``benchmarks/bench_present_gil.py`` under Xvfb, not here.
"""

import os

import numpy as np
import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"

from livegan.outputs import sdl_direct  # noqa: E402
from livegan.outputs.console import ConsoleOutput  # noqa: E402
from livegan.outputs.sdl_direct import DirectSDL, direct, loaded_sdl_paths, window_id  # noqa: E402
from livegan.outputs.window import WindowOutput  # noqa: E402

pygame = pytest.importorskip("pygame")

MAPS = """\
7f00-7f01 r--p 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libSDL2-2.0.so.0.2800.5
7f01-7f02 r-xp 00001000 08:01 1 /usr/lib/x86_64-linux-gnu/libSDL2-2.0.so.0.2800.5
7f02-7f03 r--p 00000000 08:01 2 /venv/site-packages/pygame_ce.libs/libSDL2-2-50d19f93.0.so.0.3200.10
7f03-7f04 r--p 00000000 08:01 3 /venv/site-packages/pygame_ce.libs/libSDL2_ttf-2-e69aa315.0.so.0.2400.0
7f04-7f05 r--p 00000000 08:01 4 /usr/lib/libSDL2_image-2.0.so.0
7f05-7f06 rw-p 00000000 00:00 0
7f06-7f07 r--p 00000000 08:01 5 /opt/my libs/libSDL2-2.0.so.0
7f07-7f08 r--p 00000000 00:00 0 [heap]
"""


def test_the_mapped_libsdl2_files_are_found_and_its_companions_are_not():
    assert loaded_sdl_paths(MAPS) == [
        "/usr/lib/x86_64-linux-gnu/libSDL2-2.0.so.0.2800.5",
        "/venv/site-packages/pygame_ce.libs/libSDL2-2-50d19f93.0.so.0.3200.10",
        "/opt/my libs/libSDL2-2.0.so.0",  # a path with a space
    ]
    assert loaded_sdl_paths("") == []


class FakeLib:
    """Stands in for the C library: records the calls, knows window ``known`` (a renderer on it) only."""

    def __init__(self, known=7):
        self.known = known
        self.calls = []
        for name in ("SDL_GetWindowFromID", "SDL_GetRenderer", "SDL_UpdateWindowSurfaceRects",
                     "SDL_UpdateWindowSurface", "SDL_RenderPresent"):
            setattr(self, name, self._fn(name))

    def _fn(self, name):
        lib = self

        class Fn:
            def __call__(self, *args):
                lib.calls.append((name, args))
                if name == "SDL_GetWindowFromID":
                    return 0x1000 if args[0] == lib.known else None
                if name == "SDL_GetRenderer":
                    return 0x2000
                return None if name == "SDL_RenderPresent" else 0

        return Fn()


def test_rectangles_go_to_sdl_as_sdl_rects_and_unknown_windows_are_refused():
    lib = FakeLib()
    sdl = DirectSDL(lib, "fake")
    assert sdl.update_window(7, [(1, 2, 30, 40), (5, 6, 7, 8)])
    name, (win, rects, n) = lib.calls[-1]
    assert (name, win, n) == ("SDL_UpdateWindowSurfaceRects", 0x1000, 2)
    assert [(r.x, r.y, r.w, r.h) for r in rects] == [(1, 2, 30, 40), (5, 6, 7, 8)]
    assert sdl.update_window(7) and lib.calls[-1] == ("SDL_UpdateWindowSurface", (0x1000,))
    assert sdl.render_present(7) and lib.calls[-1] == ("SDL_RenderPresent", (0x2000,))
    before = len(lib.calls)
    assert not sdl.update_window(8) and not sdl.render_present(8)
    assert [c[0] for c in lib.calls[before:]] == ["SDL_GetWindowFromID"] * 2  # nothing sent for window 8


def test_the_software_window_sends_its_frames_through_pygames_own_libsdl2(monkeypatch):
    with WindowOutput(windowed=True, size=(640, 360), accel="off") as win:
        p = win._presenter
        win.present(np.full((64, 64, 3), 200, np.uint8))
        assert p._sdl is not None, "libSDL2 found and it knows pygame's window"
        assert os.path.realpath(p._sdl.path) in {os.path.realpath(x) for x in loaded_sdl_paths()}
        sent = []
        real = p._sdl.update_window
        monkeypatch.setattr(p._sdl, "update_window", lambda wid, rects=None: sent.append(rects) or real(wid, rects))
        monkeypatch.setattr(pygame.display, "update", lambda *a: pytest.fail("pygame's update (GIL held) was used"))
        monkeypatch.setattr(pygame.display, "flip", lambda *a: pytest.fail("pygame's flip (GIL held) was used"))
        win.present(np.full((64, 64, 3), 100, np.uint8))
        win.present(np.full((64, 64, 3), 50, np.uint8))
        assert sent == [[p._rect], [p._rect]], "no overlay: only the picture's rectangle goes out"
        win.present(np.full((64, 64, 3), 50, np.uint8), {"lyric": "a goldfish"})
        assert sent[-1] is None, "with an overlay the whole screen goes out"
        assert tuple(pygame.display.get_surface().get_at((320, 180)))[:3] == (50, 50, 50)


def test_without_a_usable_libsdl2_the_window_presents_through_pygame(monkeypatch):
    monkeypatch.setattr(sdl_direct, "_cache", {"sdl": []})  # as where no libSDL2 could be found
    used = []
    real_update = pygame.display.update
    monkeypatch.setattr(pygame.display, "update", lambda *a: used.append(a) or real_update(*a))
    with WindowOutput(windowed=True, size=(640, 360), accel="off") as win:
        win.present(np.full((64, 64, 3), 200, np.uint8))
        win.present(np.full((64, 64, 3), 90, np.uint8))
        assert win._presenter._sdl is None
        assert used == [(win._presenter._rect,)]  # the first frame went out whole (flip), then the picture
        assert tuple(pygame.display.get_surface().get_at((320, 180)))[:3] == (90, 90, 90)


def test_a_window_sdl_does_not_know_is_refused_and_no_window_has_no_id():
    with WindowOutput(windowed=True, size=(320, 200), accel="off"):
        wid = window_id(None)
        assert wid is not None and direct(wid) is not None
        assert direct(wid + 1000) is None
    assert window_id(object()) is None and direct(None) is None


def test_of_two_libsdl2_copies_the_one_that_knows_the_window_is_used(monkeypatch):
    with WindowOutput(windowed=True, size=(320, 200), accel="off"):
        wid = window_id(None)
        real = direct(wid)
        stranger = DirectSDL(FakeLib(known=None), "another copy")  # knows no window
        monkeypatch.setattr(sdl_direct, "_cache", {"sdl": [stranger, real]})
        assert direct(wid) is real
        monkeypatch.setattr(sdl_direct, "_cache", {"sdl": [stranger]})
        assert direct(wid) is None


def test_the_renderer_presents_through_it(monkeypatch, tmp_path, open_renderer):
    p = open_renderer((320, 200))
    try:
        assert p._sdl is not None
        presented = []
        real = p._sdl.render_present
        monkeypatch.setattr(p._sdl, "render_present", lambda wid: presented.append(wid) or real(wid))
        p.present(np.full((32, 32, 3), 120, np.uint8), None)
        assert presented == [p._win_id]
        p.screenshot(str(tmp_path / "r.png"))
        assert tuple(pygame.image.load(str(tmp_path / "r.png")).get_at((160, 100)))[:3] == (120, 120, 120)
    finally:
        p.close()


def test_the_console_flips_through_it(monkeypatch):
    con = ConsoleOutput(rect=(0, 0, 320, 200))
    con.open()
    try:
        assert con._sdl is not None and con._sdl.knows(con._win_id)
        flips = []
        real = con._sdl.update_window

        def spy(wid, rects=None):
            ok = real(wid, rects)
            flips.append((wid, ok))
            return ok

        monkeypatch.setattr(con._sdl, "update_window", spy)
        con.present(np.full((32, 32, 3), 120, np.uint8))
        con.present(np.full((32, 32, 3), 60, np.uint8))
        assert flips == [(con._win_id, True)] * 2, "SDL sent both (pygame's flip, GIL held, not needed)"
    finally:
        con.close()
