"""The show's pygame window: fullscreen on the projector, or a resizable window.

Frames are scaled to fill the screen with their aspect ratio kept (black
letterbox/pillarbox bars), the overlay is drawn on top, and native pygame
events are converted into common key names for the KeyMapper. pygame is
imported only when a window opens, so importing livegan.outputs never starts
SDL. Display choice and key-name conversion are pure functions, tested
without hardware.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import numpy as np

from ..errors import DeviceError
from .base import KeyEvent, Output, Size, fit_rect

log = logging.getLogger(__name__)


def _pygame() -> Any:
    # pygame-ce prints a banner on import unless told not to (rule 3: no prints).
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return pygame


def choose_display(requested: int | None, n_displays: int) -> tuple[int, str | None]:
    """The display index to use and a warning if the request can't be met.

    With no request a projector setup is assumed: the second display when
    there are two or more, else the first. A missing index falls back to the
    first display rather than failing the show.
    """
    n = max(1, n_displays)
    if requested is None:
        return (1 if n >= 2 else 0), None
    if 0 <= requested < n:
        return requested, None
    return 0, (f"display {requested} not found (displays 0..{n - 1}); using display 0")


def key_name(raw: str) -> str:
    """pygame.key.name() text -> our key name: 'page down' -> 'pagedown', '[1]' -> '1'."""
    name = raw.strip().lower()
    if name.startswith("[") and name.endswith("]"):  # keypad keys: number pad digits act as digits
        name = name[1:-1]
    return name.replace(" ", "")


def _bars(dst: Size, pic: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """The (up to two) black rectangles around a centred picture."""
    W, H = dst
    x, y, w, h = pic
    if w < W:
        return [(0, 0, x, H), (x + w, 0, W - x - w, H)]
    if h < H:
        return [(0, 0, W, y), (0, y + h, W, H - y - h)]
    return []


class WindowOutput(Output):
    """A pygame-ce window. ``display`` None: the projector (second display) if present.

    ``windowed`` opens a resizable window of ``size``; otherwise the window is
    fullscreen at the chosen display's desktop resolution, cursor hidden.
    """

    name = "window"

    def __init__(
        self,
        display: int | None = None,
        windowed: bool = False,
        size: Size = (1280, 720),
        vsync: bool = True,
        title: str = "livegan",
    ) -> None:
        super().__init__()
        if size[0] < 1 or size[1] < 1:
            raise ValueError(f"window size must be positive, got {size}")
        self.display = display
        self.windowed = windowed
        self.requested_size = (int(size[0]), int(size[1]))
        self.vsync = vsync
        self.title = title
        self.display_index: int | None = None  # the display actually used
        self.vsync_active = False
        self.show_overlay = True  # the app may also just pass overlay=None
        self._pg: Any = None
        self._screen: Any = None
        self._scaled: Any = None  # reused smoothscale target
        self._overlay: Any = None

    def _open(self) -> None:
        pg = self._pg = _pygame()
        # Only the video subsystem: pygame.init() would also open the audio
        # mixer, which may hold the sound card the audio trigger needs.
        try:
            pg.display.init()
        except pg.error as e:
            raise DeviceError(f"cannot start the display ({e}); is a screen attached? try --rehearse") from None
        idx, warning = choose_display(self.display, pg.display.get_num_displays())
        if warning:
            self.warn(warning)
        self.display_index = idx
        if self.windowed:
            flags, size = pg.RESIZABLE, self.requested_size
        else:
            # The desktop resolution of that display: no video mode switch on the projector.
            flags, size = pg.FULLSCREEN, tuple(pg.display.get_desktop_sizes()[idx])
        pg.display.set_caption(self.title)
        self._screen = self._set_mode(size, flags, idx)
        pg.mouse.set_visible(self.windowed)
        pg.key.set_repeat()  # a held Space is one cue, not a burst
        # Mouse motion would flood the queue we drain once per frame.
        pg.event.set_blocked([pg.MOUSEMOTION, pg.MOUSEBUTTONDOWN, pg.MOUSEBUTTONUP, pg.MOUSEWHEEL])
        log.info("window %dx%d on display %d (%s, vsync %s)", *self._screen.get_size(), idx,
                 "windowed" if self.windowed else "fullscreen", "on" if self.vsync_active else "off")

    def _set_mode(self, size: Size, flags: int, idx: int) -> Any:
        pg = self._pg
        if self.vsync:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    screen = pg.display.set_mode(size, flags, display=idx, vsync=1)
                for w in caught:  # e.g. "no fast renderer available": vsync may not hold
                    log.info("vsync: %s", w.message)
                self.vsync_active = True
                return screen
            except pg.error as e:
                log.info("vsync not available here (%s); continuing without it", e)
        try:
            return pg.display.set_mode(size, flags, display=idx)
        except pg.error as e:
            raise DeviceError(f"cannot open a {size[0]}x{size[1]} window on display {idx}: {e}") from None

    def _present(self, frame: np.ndarray, overlay: dict | None) -> None:
        pg = self._pg
        screen = self._screen
        h, w = frame.shape[:2]
        dst = screen.get_size()
        # frombuffer wraps the array without a copy; it must stay alive until blitted.
        buf = np.ascontiguousarray(frame)
        src = pg.image.frombuffer(buf, (w, h), "RGB")
        x, y, pw, ph = fit_rect((w, h), dst)
        for bar in _bars(dst, (x, y, pw, ph)):
            screen.fill((0, 0, 0), bar)
        if (pw, ph) == (w, h):
            screen.blit(src, (x, y))
        else:
            if self._scaled is None or self._scaled.get_size() != (pw, ph):
                self._scaled = pg.Surface((pw, ph), 0, src)
            pg.transform.smoothscale(src, (pw, ph), self._scaled)
            screen.blit(self._scaled, (x, y))
        if overlay and self.show_overlay:
            if self._overlay is None:
                from .overlay import OverlayRenderer
                self._overlay = OverlayRenderer()
            self._overlay.draw(screen, overlay)
        pg.display.flip()

    def _poll_events(self) -> list[KeyEvent]:
        pg = self._pg
        keys: list[KeyEvent] = []
        for ev in pg.event.get():
            if ev.type == pg.QUIT:
                keys.append("quit")
            elif ev.type == pg.KEYDOWN:
                name = key_name(pg.key.name(ev.key))
                if name:
                    keys.append(name)
            elif ev.type in (pg.VIDEORESIZE, pg.WINDOWSIZECHANGED):
                # A resized window has a new surface; the next frame is fitted to it.
                self._screen = pg.display.get_surface()
        return keys

    def _close(self) -> None:
        pg = self._pg
        self._screen = self._scaled = None
        if pg is not None:
            pg.mouse.set_visible(True)
            pg.display.quit()

    def screenshot(self, path: str) -> None:
        """Save what the window shows now (picture and overlay) as an image file."""
        if not self.is_open:
            raise RuntimeError("window: screenshot() before open()")
        self._pg.image.save(self._screen, str(path))

    @property
    def size(self) -> Size | None:
        if self._screen is None:
            return None
        return tuple(self._screen.get_size())  # type: ignore[return-value]
