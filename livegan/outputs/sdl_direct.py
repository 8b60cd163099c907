"""SDL's presenting calls with Python's GIL released, so the render thread works meanwhile.

pygame-ce keeps the GIL through ``pygame.display.update``/``flip``,
``Window.flip`` and ``Renderer.present``. Those calls wait: for the X server
to copy the frame (about 6 ms for a 3840x2160 picture under Xvfb), for a CPU
rasteriser (34 ms for a 4K frame on llvmpipe), or, with vsync, for the
display's next refresh (up to a whole frame). All that time no other Python
thread runs, so the render thread cannot start its next kernel (a compiled
forward is Python calling one kernel after another). Beside a 3840x2160
software window on two cores the generator gave the show 5.4-6.5 fps with
pygame's update and 7.4-10.1 fps with this module; beside llvmpipe's
renderer at 4K it got no frame at all with pygame's present, 5.2-6.1 fps
with this one (biggan-deep-128 compiled bf16, ``benchmarks/bench_present.py``,
alternating).

ctypes releases the GIL around every foreign call, so the same SDL functions
called through ctypes wait without holding it. They must be those of the very
libSDL2 pygame loaded: it is found among the process's mapped files (Linux) or
beside pygame (its wheels for Windows and macOS), and a window pygame made
must be known to it (``SDL_GetWindowFromID``), else :func:`direct` is None and
callers go through pygame as before. Calls stay on the thread that calls
pygame (the show's main thread): only the GIL is given up, not SDL's rule.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any, Sequence

log = logging.getLogger(__name__)

_LINUX_NAME = re.compile(r"^libSDL2-2(\.0)?[-.].*\.so")  # libSDL2-2.0.so.0, auditwheel's libSDL2-2-50d1.0.so...


class _Rect(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("w", ctypes.c_int), ("h", ctypes.c_int)]


def loaded_sdl_paths(maps: str | None = None) -> list[str]:
    """Paths of libSDL2 mapped into this process (Linux: /proc/self/maps; elsewhere none)."""
    if maps is None:
        try:
            maps = Path("/proc/self/maps").read_text()
        except OSError:
            return []
    seen: list[str] = []
    for line in maps.splitlines():
        parts = line.split(None, 5)  # address perms offset device inode [path]
        path = parts[5].strip() if len(parts) == 6 else ""
        if path.startswith("/") and _LINUX_NAME.match(os.path.basename(path)) and path not in seen:
            seen.append(path)
    return seen


def _beside_pygame() -> list[str]:
    import pygame

    root = Path(pygame.__file__).parent
    found = [root / "SDL2.dll"] + sorted((root / ".dylibs").glob("libSDL2-2*.dylib"))
    return [str(p) for p in found if p.exists()]


class DirectSDL:
    """The three presenting calls of one libSDL2, through ctypes."""

    def __init__(self, lib: Any, path: str) -> None:
        self.path = path
        lib.SDL_GetWindowFromID.restype = ctypes.c_void_p
        lib.SDL_GetWindowFromID.argtypes = [ctypes.c_uint32]
        lib.SDL_GetRenderer.restype = ctypes.c_void_p
        lib.SDL_GetRenderer.argtypes = [ctypes.c_void_p]
        lib.SDL_UpdateWindowSurfaceRects.restype = ctypes.c_int
        lib.SDL_UpdateWindowSurfaceRects.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Rect), ctypes.c_int]
        lib.SDL_UpdateWindowSurface.restype = ctypes.c_int
        lib.SDL_UpdateWindowSurface.argtypes = [ctypes.c_void_p]
        lib.SDL_RenderPresent.restype = None
        lib.SDL_RenderPresent.argtypes = [ctypes.c_void_p]
        self.lib = lib

    def knows(self, window_id: int) -> bool:
        return bool(self.lib.SDL_GetWindowFromID(window_id))

    def update_window(self, window_id: int, rects: Sequence[Sequence[int]] | None = None) -> bool:
        """Send the window surface (or those rectangles of it) to the screen; False if SDL could not."""
        win = self.lib.SDL_GetWindowFromID(window_id)
        if not win:
            return False
        if rects is None:
            return self.lib.SDL_UpdateWindowSurface(win) == 0
        arr = (_Rect * len(rects))(*[_Rect(*(int(v) for v in r)) for r in rects])
        return self.lib.SDL_UpdateWindowSurfaceRects(win, arr, len(rects)) == 0

    def render_present(self, window_id: int) -> bool:
        """SDL_RenderPresent of the window's renderer; False if it has none known here."""
        win = self.lib.SDL_GetWindowFromID(window_id)
        ren = self.lib.SDL_GetRenderer(win) if win else None
        if not ren:
            return False
        self.lib.SDL_RenderPresent(ren)
        return True


_cache: dict[str, list[DirectSDL]] = {}


def direct(window_id: int | None) -> DirectSDL | None:
    """pygame's libSDL2 through ctypes: the loaded one that knows ``window_id``; None if none can be found."""
    if window_id is None:
        return None
    if "sdl" not in _cache:
        libs = []
        for path in loaded_sdl_paths() or _beside_pygame():
            try:
                libs.append(DirectSDL(ctypes.CDLL(path), path))
            except (OSError, AttributeError) as e:
                log.info("display: %s not usable through ctypes (%s)", path, e)
        _cache["sdl"] = libs
    for sdl in _cache["sdl"]:  # two copies of SDL in one process: only pygame's knows its windows
        if sdl.knows(window_id):
            return sdl
    log.info("display: presenting through pygame (the GIL is held while a frame goes out)")
    return None


def window_id(window: Any) -> int | None:
    """The SDL id of a pygame window object, or of the display module's window (``None``)."""
    try:
        if window is None:
            import pygame

            with warnings.catch_warnings():
                # pygame-ce 2.5 deprecates it in favour of its Window surfaces; the display module's
                # own window has no other handle. Gone in a later release: pygame presents.
                warnings.simplefilter("ignore", DeprecationWarning)
                window = pygame.Window.from_display_module()
        return int(window.id)
    except Exception:  # noqa: BLE001 - an older pygame-ce, or no window: pygame presents
        return None
