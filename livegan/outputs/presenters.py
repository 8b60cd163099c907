"""The two ways the window puts a frame on screen: an SDL renderer (GPU), or software blits.

The generator's frame is small (128-512 px) and the projector is big
(1920x1080 or 3840x2160): scaling is the whole cost of the display.

- :class:`RendererPresenter` (pygame-ce's SDL2 video API): the frame is
  uploaded as a small texture each frame and the renderer (OpenGL/Direct3D/
  Metal) scales it to the screen with linear filtering. The overlay is drawn
  into a window-sized transparent surface, and only the rectangles that
  changed are uploaded, so a 4K overlay costs a few small uploads.
- :class:`SoftwarePresenter` (``pygame.display`` surface): smooth-scale once to
  an intermediate picture 1/k of the on-screen size, then a nearest-neighbour
  k-times step straight into the screen (k is 1 up to ~540 px of picture
  height, 2 at 1080p, 4 at 2160p: at those sizes the doubled pixels look
  the same as a full smooth scale, at a fraction of the cost). All surfaces
  are made once per size and reused; without an overlay only the picture's
  rectangle is sent to the screen, and not at all when it is the very frame
  sent last (a held picture: the generator is behind, and the 11-13 ms of
  CPU a 4K present costs here and in the X server go back to it).

Both take ``(H, W, 3)`` uint8 RGB frames and an overlay dict (overlay.py).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .base import Size, fit_rect
from .sdl_direct import direct, window_id

log = logging.getLogger(__name__)

SMOOTH_HEIGHT = 540  # the software path smooth-scales to about this picture height, then steps up


def integer_step(picture: Size, frame: Size, smooth_height: int = SMOOTH_HEIGHT) -> int:
    """The nearest-neighbour factor k after a smooth scale to ``picture / k``.

    The intermediate keeps at least ``smooth_height`` lines and is never
    smaller than the frame itself (no detail is thrown away): 1 up to ~1079
    lines, 2 at 1080p, 4 at 2160p for a 128-512 px frame.
    """
    pw, ph = picture
    fw, fh = frame
    k = max(1, ph // max(1, smooth_height))
    while k > 1 and (pw // k < fw or ph // k < fh):
        k -= 1
    return k


def bars(dst: Size, pic: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """The (up to two) black rectangles around a centred picture."""
    W, H = dst
    x, y, w, h = pic
    if w < W:
        return [(0, 0, x, H), (x + w, 0, W - x - w, H)]
    if h < H:
        return [(0, 0, W, y), (0, y + h, W, H - y - h)]
    return []


SOFTWARE_GL = ("llvmpipe", "softpipe", "swrast", "software rasterizer", "lavapipe")


def gl_renderer_name() -> str | None:
    """GL_RENDERER of the current OpenGL context (e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)'), None if unknown."""
    import ctypes
    import ctypes.util

    lib = ctypes.util.find_library("GL")
    if not lib:
        return None
    try:
        gl = ctypes.CDLL(lib)
        gl.glGetString.restype = ctypes.c_char_p
        name = gl.glGetString(0x1F01)  # GL_RENDERER
    except (OSError, AttributeError):
        return None
    return name.decode(errors="replace") if name else None


def is_software_gl(name: str | None) -> bool:
    """Whether a GL_RENDERER string names a CPU rasteriser (no GPU behind the 'accelerated' renderer)."""
    return bool(name) and any(s in name.lower() for s in SOFTWARE_GL)


def overlay_key(overlay: dict) -> str:
    """What the overlay shows, as a string: equal keys draw the same pixels.

    Numbers are rounded as the overlay prints them (fps whole, gen_ms to 0.1),
    so a frame rate wobbling between 59.7 and 60.2 does not redraw anything.
    """
    shown = dict(overlay)
    if shown.get("fps") is not None:
        shown["fps"] = round(float(shown["fps"]))
    if shown.get("gen_ms") is not None:
        shown["gen_ms"] = round(float(shown["gen_ms"]), 1)
    return repr(sorted(shown.items(), key=lambda kv: kv[0]))


class _RecordingSurface:
    """Stands in for a surface while the overlay draws: blits go through, their rectangles are kept."""

    def __init__(self, surface: Any) -> None:
        self.surface = surface
        self.rects: list[Any] = []

    def get_size(self) -> tuple[int, int]:
        return self.surface.get_size()

    def blit(self, src: Any, pos: Any, *args: Any, **kw: Any) -> Any:
        r = self.surface.blit(src, pos, *args, **kw)
        self.rects.append(r)
        return r


def _overlay_renderer() -> Any:
    from .overlay import OverlayRenderer
    return OverlayRenderer()


class SoftwarePresenter:
    """Frames onto ``pygame.display``'s surface with CPU scaling (see the module docstring)."""

    kind = "software"

    def __init__(self, pg: Any, screen: Any) -> None:
        self.pg = pg
        self.screen = screen
        self._key: tuple | None = None  # (screen size, frame size): what the surfaces below were made for
        self._src: Any = None           # the frame in the screen's pixel format
        self._mid: Any = None           # smooth-scaled picture, 1/k of the on-screen size
        self._dst: Any = None           # the picture's rectangle of the screen (a subsurface)
        self._rect: tuple[int, int, int, int] = (0, 0, 0, 0)
        self._overlaid = True           # the last frame had an overlay (bars must be repainted)
        self._overlay: Any = None
        self._win_id: int | None = None
        self._sdl: Any = None           # SDL through ctypes: the GIL free while the X server copies
        self._last: Any = None          # the frame on screen, if sent without an overlay
        self.repeats = 0                # presents skipped: the frame on screen already
        self.step = 1

    def resized(self, screen: Any) -> None:
        self.screen, self._key, self._last = screen, None, None

    def refresh(self) -> None:
        """Send the next frame even if it is the one on screen (the window was exposed: redraw it)."""
        self._last = None

    def _prepare(self, w: int, h: int, src: Any) -> None:
        pg, dst = self.pg, self.screen.get_size()
        x, y, pw, ph = self._rect = fit_rect((w, h), dst)
        self.step = k = integer_step((pw, ph), (w, h))
        self._dst = self.screen.subsurface((x, y, pw, ph))
        mid = (max(1, -(-pw // k)), max(1, -(-ph // k)))
        # Everything in the screen's own pixel format: the scales need matching formats and
        # the last step is then a plain copy. Only the small frame is converted (one blit).
        self._src = pg.Surface((w, h), 0, self.screen)
        self._mid = None if mid == (w, h) else pg.Surface(mid, 0, self.screen)
        self.screen.fill((0, 0, 0))
        self._overlaid = True  # the first frame is sent whole
        self._key = (dst, (w, h))
        self._win_id = window_id(None)
        self._sdl = direct(self._win_id)
        log.info("software display: %dx%d frame -> %dx%d picture (smooth to %dx%d, then x%d)",
                 w, h, pw, ph, mid[0], mid[1], k)

    def present(self, frame: np.ndarray, overlay: dict | None) -> None:
        pg = self.pg
        h, w = frame.shape[:2]
        key = (self.screen.get_size(), (w, h))
        if frame is self._last and not overlay and self._key == key:
            # The worker held its newest frame (frame_at returns the same array): the screen shows it.
            # The worker's frames are never written to after they are kept.
            self.repeats += 1
            return
        # frombuffer wraps the array without a copy; it must stay alive until blitted.
        buf = frame if frame.flags.c_contiguous else np.ascontiguousarray(frame)
        src = pg.image.frombuffer(buf, (w, h), "RGB")
        if self._key != key:
            self._prepare(w, h, src)
        x, y, pw, ph = self._rect
        self._src.blit(src, (0, 0))
        pic = self._src
        if self._mid is not None:
            pg.transform.smoothscale(pic, self._mid.get_size(), self._mid)
            pic = self._mid
        if pic.get_size() == (pw, ph):
            self._dst.blit(pic, (0, 0))
        else:
            pg.transform.scale(pic, (pw, ph), self._dst)
        if overlay or self._overlaid:
            for bar in bars(self.screen.get_size(), self._rect):
                self.screen.fill((0, 0, 0), bar)
        if overlay:
            if self._overlay is None:
                self._overlay = _overlay_renderer()
            self._overlay.draw(self.screen, overlay)
        # Bars unchanged: send only the picture.
        self._send(None if overlay or self._overlaid else self._rect)
        self._overlaid = bool(overlay)
        self._last = None if overlay else frame

    def _send(self, rect: tuple[int, int, int, int] | None) -> None:
        """The screen (or ``rect`` of it) out, without the GIL where SDL can be called directly."""
        if self._sdl is not None and self._sdl.update_window(self._win_id, None if rect is None else [rect]):
            return
        if rect is None:
            self.pg.display.flip()
        else:
            self.pg.display.update(rect)

    def screenshot(self, path: str) -> None:
        self.pg.image.save(self.screen, str(path))

    @property
    def size(self) -> Size:
        return tuple(self.screen.get_size())  # type: ignore[return-value]

    def close(self) -> None:
        self._src = self._mid = self._dst = self.screen = None


class RendererPresenter:
    """Frames through an SDL renderer: small texture up, the GPU scales (see the module docstring)."""

    kind = "renderer"

    def __init__(self, pg: Any, window: Any, renderer: Any, driver: str) -> None:
        self.pg = pg
        self.window = window
        self.renderer = renderer
        self.driver = driver
        # Mesa's llvmpipe calls itself accelerated, but rasterises the whole screen on the CPU.
        self.gl_renderer = gl_renderer_name() if driver.startswith("opengl") else None
        self.on_cpu = driver == "software" or is_software_gl(self.gl_renderer)
        self._tex: Any = None
        self._ov_surf: Any = None   # window-sized, transparent; the overlay is drawn here
        self._ov_tex: Any = None
        self._ov_rects: list[Any] = []  # what the overlay covered last time (cleared before redrawing)
        self._ov_key: Any = None
        self._overlay: Any = None
        self._win_id = window_id(window)
        self._sdl = direct(self._win_id)  # SDL through ctypes: the GIL free while present waits

    @classmethod
    def open(cls, pg: Any, title: str, size: Size, *, fullscreen: bool, display: int, vsync: bool,
             accelerated_only: bool) -> "RendererPresenter":
        """A window with the first renderer SDL can make (accelerated ones first). Raises pygame.error."""
        from pygame._sdl2 import video

        pos = 0x2FFF0000 | display  # SDL_WINDOWPOS_CENTERED_DISPLAY(display)
        window = video.Window(title, size=size, position=(pos, pos), fullscreen_desktop=fullscreen,
                              resizable=not fullscreen)
        drivers = list(video.get_drivers())
        order = sorted(range(len(drivers)), key=lambda i: drivers[i].name == "software")
        errors = []
        for i in order:
            name = drivers[i].name
            if accelerated_only and name == "software":
                continue
            for vs in ((True, False) if vsync else (False,)):
                try:
                    renderer = video.Renderer(window, index=i, accelerated=-1, vsync=vs)
                    p = cls(pg, window, renderer, name)
                    log.info("display: SDL renderer %r%s (vsync %s)", name,
                             f" on {p.gl_renderer!r}" if p.gl_renderer else "", "on" if vs else "off")
                    return p
                except Exception as e:  # noqa: BLE001 - pygame.error, or a driver's own failure
                    errors.append(f"{name}: {e}")
        window.destroy()
        raise pg.error("no SDL renderer: " + "; ".join(errors) if errors else "no SDL renderer")

    def resized(self, screen: Any = None) -> None:
        self._ov_surf = self._ov_tex = None
        self._ov_key = None

    def present(self, frame: np.ndarray, overlay: dict | None) -> None:
        from pygame._sdl2 import video

        pg, r = self.pg, self.renderer
        h, w = frame.shape[:2]
        buf = frame if frame.flags.c_contiguous else np.ascontiguousarray(frame)
        src = pg.image.frombuffer(buf, (w, h), "RGB")
        if self._tex is None or (self._tex.width, self._tex.height) != (w, h):
            self._tex = video.Texture(r, (w, h), streaming=True, scale_quality=1)  # linear filtering
        self._tex.update(src)
        W, H = self.size
        r.draw_color = (0, 0, 0, 255)
        r.clear()
        self._tex.draw(dstrect=fit_rect((w, h), (W, H)))
        if overlay:
            self._draw_overlay(overlay, (W, H))
            self._ov_tex.draw()
        else:
            self._ov_key = None  # the screenshot must not show an overlay that is off
        if self._sdl is None or not self._sdl.render_present(self._win_id):
            r.present()

    def _draw_overlay(self, overlay: dict, size: Size) -> None:
        from pygame._sdl2 import video

        pg = self.pg
        if self._ov_surf is None or self._ov_surf.get_size() != size:
            self._ov_surf = pg.Surface(size, pg.SRCALPHA)
            self._ov_tex = video.Texture.from_surface(self.renderer, self._ov_surf)
            self._ov_tex.blend_mode = 1  # SDL_BLENDMODE_BLEND
            self._ov_rects, self._ov_key = [], None
        key = overlay_key(overlay)
        if key == self._ov_key:
            return  # unchanged: the texture already holds it
        self._ov_key = key
        old = self._ov_rects
        for rect in old:
            self._ov_surf.fill((0, 0, 0, 0), rect)
        rec = _RecordingSurface(self._ov_surf)
        if self._overlay is None:
            self._overlay = _overlay_renderer()
        self._overlay.draw(rec, overlay)
        self._ov_rects = [x for x in rec.rects if x.w and x.h]
        dirty = [x for x in old + self._ov_rects]
        if dirty:
            area = dirty[0].unionall(dirty[1:]).clip(self._ov_surf.get_rect())
            if area.w and area.h:
                # The whole surface and the area: pygame-ce reads the area's pixels from it
                # (a subsurface there lands at the texture's origin instead).
                self._ov_tex.update(self._ov_surf, area)

    def screenshot(self, path: str) -> None:
        """What the renderer shows now, drawn again and read back (slow: for tests and the bench)."""
        r = self.renderer
        r.draw_color = (0, 0, 0, 255)
        r.clear()
        if self._tex is not None:
            self._tex.draw(dstrect=fit_rect((self._tex.width, self._tex.height), self.size))
        if self._ov_tex is not None and self._ov_key is not None:
            self._ov_tex.draw()
        self.pg.image.save(r.to_surface(), str(path))

    @property
    def size(self) -> Size:
        return tuple(self.window.size)  # type: ignore[return-value]

    def close(self) -> None:
        self._tex = self._ov_tex = self._ov_surf = None
        self.renderer = None
        if self.window is not None:
            self.window.destroy()
            self.window = None
