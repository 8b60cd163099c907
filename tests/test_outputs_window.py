"""WindowOutput under SDL's dummy video driver, plus its pure helpers."""

import os

import numpy as np
import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame initialises video
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"

from livegan.outputs.base import check_frame, fit_rect  # noqa: E402
from livegan.outputs.window import WindowOutput, choose_display, key_name  # noqa: E402

pygame = pytest.importorskip("pygame")


def solid(w, h, rgb):
    f = np.zeros((h, w, 3), np.uint8)
    f[:] = rgb
    return f


def pixel(win, x, y):
    return tuple(pygame.display.get_surface().get_at((x, y)))[:3]


def test_fit_rect_letterbox_and_pillarbox():
    assert fit_rect((512, 512), (1280, 720)) == (280, 0, 720, 720)  # pillarbox
    assert fit_rect((1600, 400), (800, 600)) == (0, 200, 800, 200)  # letterbox
    assert fit_rect((640, 360), (1280, 720)) == (0, 0, 1280, 720)
    with pytest.raises(ValueError):
        fit_rect((0, 10), (10, 10))


def test_check_frame_rejects_bad_frames():
    check_frame(np.zeros((2, 3, 3), np.uint8))
    for bad in (np.zeros((2, 3, 3), np.float32), np.zeros((2, 3), np.uint8), np.zeros((2, 3, 4), np.uint8), [1]):
        with pytest.raises(ValueError):
            check_frame(bad)


def test_choose_display():
    assert choose_display(None, 1) == (0, None)
    assert choose_display(None, 2) == (1, None)  # the projector
    assert choose_display(1, 3) == (1, None)
    idx, warning = choose_display(5, 1)
    assert idx == 0 and "display 5 not found" in warning


def test_key_name():
    assert key_name("page down") == "pagedown"
    assert key_name("[7]") == "7"
    assert key_name("Escape") == "escape"


def test_windowed_letterbox_keeps_aspect():
    with WindowOutput(windowed=True, size=(640, 360)) as win:
        assert win.size == (640, 360)
        win.present(solid(100, 100, (200, 30, 40)))  # square: pillarbox
        assert pixel(win, 320, 180) == (200, 30, 40)
        assert pixel(win, 10, 180) == (0, 0, 0) and pixel(win, 630, 180) == (0, 0, 0)
        win.present(solid(400, 100, (10, 220, 90)))  # 4:1: letterbox, old bars repainted
        assert pixel(win, 320, 180) == (10, 220, 90)
        assert pixel(win, 320, 5) == (0, 0, 0) and pixel(win, 320, 355) == (0, 0, 0)
        assert pixel(win, 10, 180) == (10, 220, 90)
        win.present(solid(640, 360, (1, 2, 3)))  # same size: no scaling
        assert pixel(win, 0, 0) == (1, 2, 3)
        assert win.frames == 3
    assert not win.is_open and win.size is None


def test_fullscreen_display_fallback_warns():
    with WindowOutput(display=5) as win:
        assert win.display_index == 0
        assert win.warnings and "display 5" in win.warnings[0]
        assert win.size == tuple(pygame.display.get_desktop_sizes()[0])
        assert not pygame.mouse.get_visible()
        win.present(solid(64, 48, (255, 255, 255)))


def test_poll_events_converts_keys_and_quit():
    with WindowOutput(windowed=True, size=(320, 240)) as win:
        win.poll_events()  # drop start-up events
        for k in (pygame.K_SPACE, pygame.K_PAGEDOWN, pygame.K_KP3, pygame.K_ESCAPE, pygame.K_h):
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="", scancode=0))
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        assert win.poll_events() == ["space", "pagedown", "3", "escape", "h", "quit"]
        assert win.poll_events() == []
    assert win.poll_events() == []  # closed: nothing, no error


def test_overlay_draws_without_error_and_changes_pixels():
    ov = {
        "song": "1/3  Goldfish Bowl", "section": "2/8", "lyric": "a goldfish in a bowl " * 8,
        "next_lyric": "the tabby cat", "fps": 59.7, "gen_ms": 12.34, "cue": "next (midi)",
        "status": ["FROZEN"], "warnings": ["midi: port gone"], "message": "press Esc again to quit",
        "notice": "OFFLINE: stand-in models", "mystery": 1,
    }
    with WindowOutput(windowed=True, size=(800, 450)) as win:
        frame = solid(800, 450, (255, 255, 255))
        win.present(frame, ov)
        shot = pygame.surfarray.array3d(pygame.display.get_surface())
        assert (shot != 255).any()  # something was drawn on the white frame
        win.present(frame, None)
        shot = pygame.surfarray.array3d(pygame.display.get_surface())
        assert (shot == 255).all()  # and is gone without an overlay
        win.present(frame, {"panel": False, "message": "hi"})


def test_present_before_open_is_an_error():
    with pytest.raises(RuntimeError, match="before open"):
        WindowOutput(windowed=True).present(solid(4, 4, (0, 0, 0)))
