"""The window's two display paths: software scaling (integer steps, reused surfaces) and the SDL renderer.

Both run under SDL's dummy video driver: the software path draws into the
window surface; the renderer path uses SDL's software renderer there (the
same code that drives OpenGL/Direct3D on a real machine) and is read back.
"""

import os

import numpy as np
import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"

from livegan.outputs.presenters import integer_step  # noqa: E402
from livegan.outputs.window import WindowOutput  # noqa: E402

pygame = pytest.importorskip("pygame")


def gradient(w, h):
    """A frame whose left half is red and right half blue, with a green top row."""
    f = np.zeros((h, w, 3), np.uint8)
    f[:, : w // 2] = (220, 10, 10)
    f[:, w // 2:] = (10, 10, 220)
    f[0] = (0, 255, 0)
    return f


def test_integer_step():
    assert integer_step((720, 720), (128, 128)) == 1
    assert integer_step((1080, 1080), (128, 128)) == 2     # 1080p: smooth to 540, then x2
    assert integer_step((2160, 2160), (128, 128)) == 4     # 2160p: smooth to 540, then x4
    assert integer_step((2160, 2160), (512, 512)) == 4     # 540 >= 512: no detail lost
    assert integer_step((2160, 2160), (1024, 1024)) == 2   # never smaller than the frame
    assert integer_step((100, 100), (128, 128)) == 1


def test_software_path_at_1080p_reuses_its_surfaces_and_keeps_the_picture():
    with WindowOutput(windowed=True, size=(1920, 1080), accel="auto") as win:
        assert win.path == "software"  # SDL's dummy driver: no renderer is worth it
        p = win._presenter
        frame = gradient(128, 128)
        win.present(frame)
        assert p.step == 2
        mid, src, dst = p._mid, p._src, p._dst
        screen = pygame.display.get_surface()
        assert tuple(screen.get_at((420 + 200, 540)))[:3] == (220, 10, 10)
        assert tuple(screen.get_at((420 + 900, 540)))[:3] == (10, 10, 220)
        assert tuple(screen.get_at((10, 540)))[:3] == (0, 0, 0)      # pillarbox bar
        assert tuple(screen.get_at((1910, 540)))[:3] == (0, 0, 0)
        for _ in range(3):
            win.present(frame)
        assert (p._mid, p._src, p._dst) == (mid, src, dst), "no per-frame allocation"


def test_software_overlay_comes_and_goes_and_bars_stay_black():
    with WindowOutput(windowed=True, size=(1280, 720), accel="off") as win:
        frame = gradient(64, 64)
        win.present(frame, {"message": "press Esc again to quit", "song": "1/2 Test", "lyric": "x" * 200})
        screen = pygame.display.get_surface()
        with_ov = pygame.surfarray.array3d(screen).copy()
        win.present(frame, None)
        without = pygame.surfarray.array3d(screen).copy()
        assert (with_ov != without).any()
        win.present(frame, None)
        assert (pygame.surfarray.array3d(screen) == without).all()
        assert (without[:280] == 0).all(), "the overlay drawn over a bar was painted over"


def test_accel_on_without_an_accelerated_renderer_warns_and_uses_software():
    with WindowOutput(windowed=True, size=(320, 240), accel="on") as win:
        assert win.path == "software"
        assert win.warnings and "software display path" in win.warnings[-1]
        win.present(gradient(32, 32))


def test_bad_accel_is_refused():
    with pytest.raises(ValueError, match="accel must be one of"):
        WindowOutput(accel="gpu")


def test_renderer_path_scales_the_texture_and_draws_the_overlay(tmp_path, open_renderer):
    p = open_renderer((1280, 720))
    try:
        frame = gradient(64, 64)
        p.present(frame, None)
        shot = tmp_path / "a.png"
        p.screenshot(str(shot))
        img = pygame.image.load(str(shot))
        assert img.get_size() == (1280, 720)
        assert tuple(img.get_at((280 + 100, 360)))[:3] == (220, 10, 10)
        assert tuple(img.get_at((280 + 600, 360)))[:3] == (10, 10, 220)
        assert tuple(img.get_at((5, 360)))[:3] == (0, 0, 0)
        tex = p._tex
        ov = {"message": "hello", "fps": 59.0}
        p.present(frame, ov)
        p.screenshot(str(shot))
        with_ov = pygame.surfarray.array3d(pygame.image.load(str(shot)))
        p.present(frame, dict(ov, fps=60.0))  # changed: only the touched rectangles are uploaded
        ov_tex = p._ov_tex
        p.present(frame, None)
        p.screenshot(str(shot))
        without = pygame.surfarray.array3d(pygame.image.load(str(shot)))
        assert (with_ov != without).any() and (without[:5] == 0).all()
        p.present(frame, ov)
        assert p._tex is tex and p._ov_tex is ov_tex, "textures are reused"
    finally:
        p.close()
        pygame.display.quit()


def test_overlay_key_changes_only_with_what_is_shown():
    from livegan.outputs.presenters import overlay_key
    a = overlay_key({"fps": 59.7, "gen_ms": 12.34, "lyric": "x"})
    assert a == overlay_key({"lyric": "x", "gen_ms": 12.31, "fps": 60.2})
    assert a != overlay_key({"fps": 58.4, "gen_ms": 12.34, "lyric": "x"})
    assert a != overlay_key({"fps": 59.7, "gen_ms": 12.34, "lyric": "y"})


def test_software_gl_renderers_are_recognised():
    from livegan.outputs.presenters import is_software_gl
    assert is_software_gl("llvmpipe (LLVM 15.0.6, 256 bits)")
    assert is_software_gl("Mesa X11 Software Rasterizer") and is_software_gl("softpipe")
    assert not is_software_gl("NVIDIA GeForce RTX 4090/PCIe/SSE2")
    assert not is_software_gl("AMD Radeon Graphics (radeonsi, renoir, LLVM 15.0.7)")
    assert not is_software_gl(None)


def test_auto_leaves_a_cpu_renderer_for_the_software_path(monkeypatch):
    import livegan.outputs.presenters as presenters
    monkeypatch.setattr(presenters, "gl_renderer_name", lambda: "llvmpipe (LLVM 15.0.6, 256 bits)")
    real_open = presenters.RendererPresenter.open.__func__

    def open_any(cls, *a, **k):  # the dummy driver's software renderer stands in for Mesa's GL
        k["accelerated_only"] = False
        p = real_open(cls, *a, **k)
        p.gl_renderer, p.on_cpu = "llvmpipe (LLVM 15.0.6, 256 bits)", True
        return p

    monkeypatch.setattr(presenters.RendererPresenter, "open", classmethod(open_any))
    import livegan.outputs.window as window
    monkeypatch.setattr(window.RendererPresenter, "open", classmethod(open_any))
    monkeypatch.setattr(pygame.display, "get_driver", lambda: "x11")  # as on a desktop without a GPU
    with WindowOutput(windowed=True, size=(320, 240), accel="auto") as win:
        assert win.path == "software"
        assert not win.warnings
        win.present(gradient(32, 32))
    with WindowOutput(windowed=True, size=(320, 240), accel="on") as win:
        assert win.path == "renderer:software"  # 'on' keeps it: the user asked for the renderer
        # ... but hears once that it costs the generator its CPU
        assert len(win.warnings) == 1 and "llvmpipe" in win.warnings[0] and "runs on the CPU" in win.warnings[0]
        win.present(gradient(32, 32))


def test_both_paths_draw_the_overlay_in_the_same_place(tmp_path, open_renderer):
    """On a black frame the screen is only the overlay: renderer and software must agree pixel for pixel."""
    ov = {"song": "1/2 Test", "section": "section 1/3", "lyric": "a weasel in the snow", "fps": 60.0,
          "message": "press Esc again to quit"}
    black = np.zeros((64, 64, 3), np.uint8)
    with WindowOutput(windowed=True, size=(960, 540), accel="off") as win:
        win.present(black, ov)
        soft = pygame.surfarray.array3d(pygame.display.get_surface()).astype(int)
    p = open_renderer((960, 540))
    try:
        p.present(black, dict(ov, fps=59.0))
        p.present(black, ov)  # a change: only the touched rectangles are uploaded again
        p.screenshot(str(tmp_path / "r.png"))
        rend = pygame.surfarray.array3d(pygame.image.load(str(tmp_path / "r.png"))).astype(int)
    finally:
        p.close()
        pygame.display.quit()
    assert (soft > 0).sum() > 1000, "the overlay drew something"
    diff = np.abs(soft - rend)
    assert diff.mean() < 0.5 and np.percentile(diff, 99.9) <= 8, (diff.mean(), diff.max())


def test_software_path_skips_a_held_frame_but_not_an_overlay_an_exposure_or_a_resize(monkeypatch):
    with WindowOutput(windowed=True, size=(640, 360), accel="off") as win:
        p = win._presenter
        sent = []
        real = p._send
        monkeypatch.setattr(p, "_send", lambda rect: sent.append(rect) or real(rect))
        a, b = gradient(64, 64), gradient(64, 64)
        win.present(a)
        win.present(a)  # the worker held its newest frame: the same array again
        assert (len(sent), p.repeats, win.repeats) == (1, 1, 1)
        win.present(b)  # equal pixels, another frame: sent (only the array tells a repeat)
        assert (len(sent), p.repeats) == (2, 1)
        win.present(b, {"lyric": "a goldfish"})  # an overlay is always drawn
        win.present(b)  # and taken away again
        win.present(b)
        assert (len(sent), p.repeats) == (4, 2)
        pygame.event.post(pygame.event.Event(pygame.WINDOWEXPOSED))
        win.poll_events()  # uncovered: the picture must be drawn again
        win.present(b)
        assert (len(sent), p.repeats) == (5, 2)
        screen = pygame.display.get_surface()
        assert tuple(screen.get_at((140 + 100, 180)))[:3] == (220, 10, 10)
        p.resized(screen)  # a new size or surface: sent whole
        win.present(b)
        assert (len(sent), p.repeats) == (6, 2) and sent[-1] is None
