"""The operator console: a second window on the laptop while the projector shows only pictures.

``livegan show --console`` opens it with pygame-ce's multi-window API
(``pygame.Window``) beside the show window, which then never draws the
overlay. It shows a live preview of what goes out, the next keyframe's
picture, the current and next lyric, the setlist with the current position,
tempo and beat, per-source and per-output health, fps, generator time and
dropped frames. Keys pressed in either window reach the show: SDL has one
event queue, which the show window drains (or the console, without one).

With two displays or more the show window goes fullscreen on the projector
and the console sits on display 0; with one, :func:`plan_layout` tiles them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import KeyEvent, Output, Size, fit_rect
from .sdl_direct import direct, window_id
from .window import _pygame, choose_display, key_name

log = logging.getLogger(__name__)

BG, FG, DIM, ACCENT, BAD, GOOD = (18, 18, 22), (235, 235, 235), (140, 140, 150), (255, 200, 60), (255, 90, 80), (90, 220, 120)


@dataclass
class Layout:
    window_display: int | None   # where the show window goes (None: keep the window's own choice)
    window_windowed: bool
    window_rect: tuple[int, int, int, int] | None  # x, y, w, h when tiled
    console_display: int
    console_rect: tuple[int, int, int, int]


def plan_layout(sizes: list[Size], requested: int | None) -> Layout:
    """Projector fullscreen + console on display 0 with two displays; side by side with one (pure)."""
    idx, _ = choose_display(requested, len(sizes))
    if len(sizes) >= 2 and idx != 0:
        w, h = sizes[0]
        cw, ch = min(1280, w), min(720, h)
        return Layout(idx, False, None, 0, ((w - cw) // 2, (h - ch) // 2, cw, ch))
    w, h = sizes[0] if sizes else (1280, 720)
    half = w // 2
    th = min(h - 60, round(half * 9 / 16))  # a 16:9 show window in the left half, under a title bar
    return Layout(0, True, (0, 40, half, th), 0, (half, 40, w - half, min(h - 60, max(th, 720))))


class ConsoleOutput(Output):
    """The console window; call :meth:`attach` with the show before presenting."""

    name = "console"

    def __init__(self, rect: tuple[int, int, int, int] = (0, 0, 960, 600), display: int = 0,
                 poll_keys: bool = False, title: str = "livegan console") -> None:
        super().__init__()
        self.rect, self.display, self.poll_keys, self.title = rect, display, poll_keys, title
        self.show: Any = None
        self.setlist: Any = None
        self.keyframes: Any = None
        self._pg: Any = None
        self._win: Any = None
        self._win_id: int | None = None
        self._sdl: Any = None
        self._fonts: dict[int, Any] = {}
        self._next_pic: dict[tuple[int, int], np.ndarray | None] = {}
        self._rendering = threading.Lock()
        self._last_by_source: dict[str, tuple[str, float]] = {}
        self._last_cue = ""

    def attach(self, show: Any, setlist: Any = None, keyframes: Any = None) -> None:
        self.show, self.setlist, self.keyframes = show, setlist, keyframes

    # -- window ----------------------------------------------------------------
    def _open(self) -> None:
        pg = self._pg = _pygame()
        pg.display.init()
        x, y, w, h = self.rect
        self._win = pg.Window(self.title, size=(w, h), position=(x, y), resizable=True)
        self._win_id = window_id(self._win)
        self._sdl = direct(self._win_id)  # flips without the GIL (sdl_direct.py)
        if self.poll_keys:
            pg.key.set_repeat()

    def _close(self) -> None:
        if self._win is not None:
            try:
                self._win.destroy()
            except Exception:  # noqa: BLE001 - SDL may already be down (the show window quit the display)
                pass
        self._win = None

    def _poll_events(self) -> list[KeyEvent]:
        if not self.poll_keys:
            return []  # the show window drains SDL's one queue: keys typed here arrive there
        pg = self._pg
        keys: list[KeyEvent] = []
        for ev in pg.event.get():
            if ev.type in (pg.QUIT, getattr(pg, "WINDOWCLOSE", -1)):
                keys.append("quit")
            elif ev.type == pg.KEYDOWN and key_name(pg.key.name(ev.key)):
                keys.append(key_name(pg.key.name(ev.key)))
        return keys

    def _present(self, frame: np.ndarray, overlay: dict | None) -> None:
        surf = self._win.get_surface()
        self.draw(surf, frame, overlay)
        if self._sdl is None or not self._sdl.update_window(self._win_id):
            self._win.flip()

    def screenshot(self, path: str) -> None:
        self._pg.image.save(self._win.get_surface(), str(path))

    @property
    def size(self) -> Size | None:
        return None if self._win is None else tuple(self._win.size)  # type: ignore[return-value]

    # -- drawing -----------------------------------------------------------------
    def _font(self, size: int) -> Any:
        if size not in self._fonts:
            import pygame.freetype

            if not pygame.freetype.get_init():
                pygame.freetype.init()
            f = pygame.freetype.Font(None, size)
            f.pad = True
            self._fonts[size] = f
        return self._fonts[size]

    def _text(self, surf: Any, xy: tuple[int, int], text: str, size: int = 18, color=FG, width: int = 0) -> int:
        font = self._font(size)
        if width:  # cut to fit, with an ellipsis
            while text and font.get_rect(text).width > width:
                text = text[:-2] + "\u2026" if len(text) > 2 else ""
        rect = font.render_to(surf, xy, text, color)
        return xy[1] + max(rect.height, font.get_sized_height()) + 4

    def _picture(self, surf: Any, frame: np.ndarray | None, box: tuple[int, int, int, int], label: str) -> None:
        pg = self._pg
        x, y, w, h = box
        pg.draw.rect(surf, (0, 0, 0), box)
        if frame is not None:
            fh, fw = frame.shape[:2]
            px, py, pw, ph = fit_rect((fw, fh), (w, h))
            src = pg.image.frombuffer(np.ascontiguousarray(frame), (fw, fh), "RGB")
            surf.blit(pg.transform.smoothscale(src, (pw, ph)), (x + px, y + py))
        pg.draw.rect(surf, DIM, box, 1)
        self._text(surf, (x + 6, y + 4), label, 14, ACCENT)

    def draw(self, surf: Any, frame: np.ndarray, overlay: dict | None) -> None:
        """The whole console onto ``surf`` (also used by tests on a plain Surface)."""
        show = self.show
        self._pg = self._pg or _pygame()
        W, H = surf.get_size()
        surf.fill(BG)
        pw = W * 5 // 10
        ph = pw * 9 // 16
        self._picture(surf, frame, (10, 10, pw, ph), "OUT (live)")
        if show is None:
            return
        t = show.clock.now()
        info = show.director.info(t)
        ov = overlay or show.overlay(t) or {}
        nxt = self._next_keyframe_picture(info)
        nw = W - pw - 30
        self._picture(surf, nxt, (pw + 20, 10, nw, min(ph, nw)), "NEXT keyframe")
        y = ph + 20
        lyrics = show.opt.lyrics[info["song_index"]] if show.opt.lyrics else []
        sec = info["section"]
        y = self._text(surf, (10, y), f"{info['song']}  -  section {sec + 1}/{info['sections']}", 18, DIM, W - 20)
        y = self._text(surf, (10, y), lyrics[sec] if sec < len(lyrics) else "", 28, FG, W - 20)
        y = self._text(surf, (10, y), "next: " + show._next_lyric(info), 20, ACCENT, W - 20)
        col2 = W // 2
        y0 = y + 6
        y = self._setlist(surf, (10, y0), info, col2 - 20, H)
        self._status(surf, (col2, y0), info, ov, t, W - col2 - 10)

    def _setlist(self, surf: Any, xy: tuple[int, int], info: dict, width: int, H: int) -> int:
        x, y = xy
        y = self._text(surf, (x, y), "SETLIST", 14, ACCENT)
        songs = [p.title for p in self.show.director.state.plans]
        cur = info["song_index"]
        for i, title in enumerate(songs):
            if y > H - 24:
                break
            here = i == cur
            mark = f"> {i + 1}. {title}  [{info['section'] + 1}/{info['sections']}]" if here else f"  {i + 1}. {title}"
            y = self._text(surf, (x, y), mark, 18 if here else 16, FG if here else DIM, width)
        return y

    def _status(self, surf: Any, xy: tuple[int, int], info: dict, ov: dict, t: float, width: int) -> None:
        show = self.show
        x, y = xy
        tempo = info.get("tempo")
        if tempo:
            beat = int(t * tempo / 60.0) % 4
            y = self._text(surf, (x, y), f"TEMPO {tempo:.1f} bpm  beat " + " ".join(
                "*" if i == beat else "." for i in range(4)), 18, ACCENT)
        else:
            y = self._text(surf, (x, y), "TEMPO -  (tap T)", 18, DIM)
        flags = [s for s, on in (("BLACKOUT", info["blackout"]), ("FROZEN", info["frozen"])) if on]
        if flags:
            y = self._text(surf, (x, y), "  ".join(flags), 18, BAD)
        st = show.worker.stats
        fps = ov.get("fps")
        out_drops = sum(v.get("dropped", 0) for v in show.output.stats().values()) if hasattr(show.output, "stats") else 0
        y = self._text(surf, (x, y), f"fps {fps:.1f}" if fps else "fps -", 16)
        y = self._text(surf, (x, y), f"generator {1000 * st.frame_seconds:.1f} ms/frame, {st.frames} rendered", 16)
        y = self._text(surf, (x, y), f"dropped: {st.dropped_stale} stale, {out_drops} output frames, "
                                     f"{show.events.dropped_cues} cues", 16, width=width)
        y = self._text(surf, (x, y + 4), "HEALTH", 14, ACCENT)
        cue = show._last_cue
        if cue != self._last_cue and cue != "-":
            self._last_cue = cue
            src = cue.rsplit("(", 1)[-1].rstrip(")")
            self._last_by_source[src] = (cue, t)
        for src in show.sources:
            ok = src.is_open
            last = next((f"{c} {t - at:.0f}s ago" for s, (c, at) in self._last_by_source.items() if s in src.name), "")
            line = f"{src.name}: {'ok' if ok else 'DOWN'} {last}" + (f" - {src.last_error}" if src.last_error else "")
            y = self._text(surf, (x, y), line, 15, GOOD if ok else BAD, width)
        keys = self._last_by_source.get("key")
        if keys:
            y = self._text(surf, (x, y), f"keys: {keys[0]} {t - keys[1]:.0f}s ago", 15, GOOD, width)
        if hasattr(show.output, "stats"):
            for name, s in show.output.stats().items():
                if name.startswith("_"):
                    continue
                line = f"{name}: {'ok' if s['up'] else 'DOWN'} sent {s['sent']} dropped {s['dropped']}"
                y = self._text(surf, (x, y), line + (f" - {s['last_error']}" if s["last_error"] else ""), 15,
                               GOOD if s["up"] else BAD, width)
        for w in (ov.get("warnings") or show.warnings)[-3:]:
            y = self._text(surf, (x, y), "! " + w, 15, BAD, width)

    def _next_keyframe_picture(self, info: dict) -> np.ndarray | None:
        """The next section's keyframe, rendered once on a helper thread (None until it is ready)."""
        nxt = info.get("next_section")
        if nxt is None or self.keyframes is None:
            return None
        song = info["song_index"] + (1 if info.get("next_song") != info["song"] else 0)
        key = (song, nxt)
        if key not in self._next_pic and self._rendering.acquire(blocking=False):
            self._next_pic[key] = None
            threading.Thread(target=self._render_keyframe, args=(key,), daemon=True,
                             name="livegan-console-keyframe").start()
        return self._next_pic.get(key)

    def _render_keyframe(self, key: tuple[int, int]) -> None:
        try:
            kf = self.show.director.keyframe(key[0], key[1], 0)
            gen = getattr(self.show, "generator", None) or self.show.worker.generator
            img = gen.render(np.asarray(kf.z, np.float32)[None], np.asarray(kf.y, np.float32)[None], 0.7)[0]
            self._next_pic[key] = np.asarray(img, np.uint8)
        except Exception:  # noqa: BLE001 - a missing picture never stops the show
            log.debug("console: next keyframe picture failed", exc_info=True)
        finally:
            self._rendering.release()


def make_console(cfg: Any) -> ConsoleOutput:
    """The console for ``--console``; also moves the show window to where the layout puts it."""
    pg = _pygame()
    pg.display.init()
    sizes = [tuple(s) for s in pg.display.get_desktop_sizes()]
    lay = plan_layout(sizes, cfg.display)
    if lay.window_rect is not None:  # one display: tile
        import os

        x, y, w, h = lay.window_rect
        os.environ["SDL_VIDEO_WINDOW_POS"] = f"{x},{y}"
        cfg.windowed, cfg.window_size = True, (w, h)
    else:
        cfg.display, cfg.windowed = lay.window_display, False
    return ConsoleOutput(rect=lay.console_rect, display=lay.console_display)
