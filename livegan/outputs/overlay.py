"""The VJ's on-screen overlay: what is playing, what comes next, how fast, keys.

Drawn by the window on top of the picture (never into recordings). The app
passes a plain dict each frame; every key is optional:

    song        str         "2/5  Song title"
    section     str         "3/12"
    lyric       str         the current line
    next_lyric  str         the line the next cue goes to
    fps         float       frames shown per second
    gen_ms      float       generator milliseconds per frame
    cue         str         the last cue and its source, e.g. "next (midi)"
    status      list[str]   states worth a glance: "FROZEN", "BLACKOUT", "124 bpm · link",
                            "PENDING next in 0.8 s" (a quantised cue waiting for its beat)
    warnings    list[str]   device/output problems (the newest few are shown)
    help        bool        the key card (default: shown with the panel)
    panel       bool        the info panel (default True; False for only message/notice)
    message     str         a short centred line ("press Esc again to quit")
    notice      str         a banner on top ("OFFLINE: stand-in models")

Text sits on translucent dark panels with a drop shadow so it stays readable
on bright frames. pygame is imported lazily (no SDL at import time).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

OVERLAY_KEYS: tuple[str, ...] = (
    "song", "section", "lyric", "next_lyric", "fps", "gen_ms", "cue", "status",
    "warnings", "help", "panel", "message", "notice",
)

WHITE = (255, 255, 255)
GREY = (185, 185, 195)
ACCENT = (120, 200, 255)
AMBER = (255, 190, 60)
RED = (255, 110, 100)
PANEL_RGBA = (8, 8, 14, 215)  # dark enough for white text on a white frame
NOTICE_RGBA = (120, 70, 0, 215)
MAX_WARNINGS = 3


class OverlayRenderer:
    """Draws an overlay dict onto a pygame surface; caches fonts and text."""

    def __init__(self, key_help: list[tuple[str, str]] | None = None) -> None:
        if key_help is None:
            from ..triggers.keyboard import KEY_HELP
            key_help = KEY_HELP
        self.key_help = key_help
        self._fonts: dict[int, Any] = {}
        self._text: dict[tuple[str, int, tuple[int, int, int]], Any] = {}
        self._panels: dict[tuple, Any] = {}
        self._unknown_logged: set[str] = set()

    # -- text helpers ------------------------------------------------------
    def _font(self, size: int) -> Any:
        """The bundled font at ``size`` pixels (pygame.font's scale: 18 ~ 13 pt)."""
        import pygame.freetype

        if size not in self._fonts:
            if not pygame.freetype.get_init():
                pygame.freetype.init()
            # freetype rather than pygame.font: pygame.font's hinting garbles
            # small text ("Righ1", "previou s") and has no kerning switch.
            # The bundled font is already bold, so roles differ by size and colour.
            f = pygame.freetype.Font(None, max(6, round(size * 0.6875)))
            f.kerning = True
            f.pad = True  # every line as tall as the font: even line spacing
            self._fonts[size] = f
        return self._fonts[size]

    def _render(self, text: str, size: int, color: tuple[int, int, int]) -> Any:
        """Antialiased text with a 1-2 px dark shadow baked in (cached)."""
        import pygame

        key = (text, size, color)
        surf = self._text.get(key)
        if surf is None:
            if len(self._text) > 512:  # fps text changes every frame; keep the cache bounded
                self._text.clear()
            # Rendered at twice the size and scaled down: the bundled font's
            # hinting at small sizes turns "t" into "1" and splits words ("Lef t").
            font = self._font(2 * size)
            fg, _ = font.render(text or " ", color)
            shadow, _ = font.render(text or " ", (0, 0, 0))
            off = 2 * max(1, size // 16)
            big = pygame.Surface((fg.get_width() + off, fg.get_height() + off), pygame.SRCALPHA)
            big.blit(shadow, (off, off))
            big.blit(fg, (0, 0))
            w, h = big.get_size()
            surf = pygame.transform.smoothscale(big, (max(1, w // 2), max(1, h // 2)))
            self._text[key] = surf
        return surf

    def _fit(self, text: str, size: int, max_w: int) -> str:
        """Shorten ``text`` with an ellipsis until it fits ``max_w`` pixels."""
        font = self._font(2 * size)  # measured as _render draws it
        max_w *= 2
        if font.get_rect(text).width <= max_w:
            return text
        lo, hi = 0, len(text)
        while lo < hi:  # longest prefix that fits with the ellipsis
            mid = (lo + hi + 1) // 2
            if font.get_rect(text[:mid].rstrip() + "...").width <= max_w:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo].rstrip() + "..."

    def _panel(self, surface: Any, rect: tuple[int, int, int, int], rgba: tuple[int, int, int, int], radius: int) -> None:
        """A translucent rounded box; cached, since most frames reuse the same boxes."""
        import pygame

        x, y, w, h = rect
        key = (w, h, rgba, radius)
        panel = self._panels.get(key)
        if panel is None:
            if len(self._panels) > 64:
                self._panels.clear()
            panel = pygame.Surface((w, h), pygame.SRCALPHA)
            pygame.draw.rect(panel, rgba, panel.get_rect(), border_radius=radius)
            self._panels[key] = panel
        surface.blit(panel, (x, y))

    # -- drawing -----------------------------------------------------------
    def draw(self, surface: Any, overlay: dict) -> None:
        """Draw every part of ``overlay`` that is present onto ``surface``."""
        for k in overlay:
            if k not in OVERLAY_KEYS and k not in self._unknown_logged:
                self._unknown_logged.add(k)
                log.debug("overlay: ignoring unknown key %r", k)
        W, H = surface.get_size()
        base = max(14, min(44, H // 28))  # text size follows the window height
        pad = base // 2
        if overlay.get("panel", True):
            self._draw_panel(surface, overlay, base, pad)
            if overlay.get("help", True):
                self._draw_help(surface, base, pad)
        if overlay.get("notice"):
            self._draw_notice(surface, str(overlay["notice"]), base, pad)
        if overlay.get("message"):
            self._draw_message(surface, str(overlay["message"]), base, pad)

    def _draw_panel(self, surface: Any, ov: dict, base: int, pad: int) -> None:
        W, H = surface.get_size()
        max_w = int(W * 0.62) - 2 * pad
        small = max(12, base * 3 // 4)
        lines: list[tuple[str, int, tuple[int, int, int]]] = []
        head = "  ".join(str(ov[k]) for k in ("song", "section") if ov.get(k))
        if head:
            lines.append((head, base, ACCENT))
        if ov.get("lyric"):
            lines.append((str(ov["lyric"]), int(base * 1.25), WHITE))
        if ov.get("next_lyric"):
            lines.append(("next: " + str(ov["next_lyric"]), base, GREY))
        stats = []
        if ov.get("fps") is not None:
            stats.append(f"{float(ov['fps']):.0f} fps")
        if ov.get("gen_ms") is not None:
            stats.append(f"gen {float(ov['gen_ms']):.1f} ms")
        if ov.get("cue"):
            stats.append(f"cue: {ov['cue']}")
        stats.extend(str(s) for s in ov.get("status") or [])
        if stats:
            lines.append(("   ".join(stats), small, GREY))
        for w in list(ov.get("warnings") or [])[-MAX_WARNINGS:]:
            lines.append(("! " + str(w), small, AMBER))
        if not lines:
            return
        rendered = [self._render(self._fit(t, s, max_w), s, c) for t, s, c in lines]
        gap = max(2, base // 6)
        w = max(r.get_width() for r in rendered) + 2 * pad
        h = sum(r.get_height() for r in rendered) + gap * (len(rendered) - 1) + 2 * pad
        x, y = pad, H - h - pad
        self._panel(surface, (x, y, w, h), PANEL_RGBA, pad)
        ty = y + pad
        for r in rendered:
            surface.blit(r, (x + pad, ty))
            ty += r.get_height() + gap

    def _draw_help(self, surface: Any, base: int, pad: int) -> None:
        W, H = surface.get_size()
        size = max(12, base * 3 // 4)
        title = self._render("Keys", size, ACCENT)
        keys = [self._render(k, size, WHITE) for k, _ in self.key_help]
        whats = [self._render(v, size, GREY) for _, v in self.key_help]
        col = max(k.get_width() for k in keys) + pad * 2
        row = max(k.get_height() for k in keys) + max(2, size // 6)
        w = col + max(v.get_width() for v in whats) + 2 * pad
        h = title.get_height() + pad // 2 + row * len(keys) + 2 * pad
        x, y = W - w - pad, pad
        self._panel(surface, (x, y, w, h), PANEL_RGBA, pad)
        surface.blit(title, (x + pad, y + pad))
        ty = y + pad + title.get_height() + pad // 2
        for k, v in zip(keys, whats):
            surface.blit(k, (x + pad, ty))
            surface.blit(v, (x + pad + col, ty))
            ty += row

    def _draw_notice(self, surface: Any, text: str, base: int, pad: int) -> None:
        W, _ = surface.get_size()
        r = self._render(self._fit(text, base, W - 4 * pad), base, WHITE)
        w, h = r.get_width() + 2 * pad, r.get_height() + pad
        x = (W - w) // 2
        self._panel(surface, (x, pad, w, h), NOTICE_RGBA, pad // 2)
        surface.blit(r, (x + pad, pad + pad // 2))

    def _draw_message(self, surface: Any, text: str, base: int, pad: int) -> None:
        W, H = surface.get_size()
        size = int(base * 1.5)
        r = self._render(self._fit(text, size, W - 4 * pad), size, WHITE)
        w, h = r.get_width() + 3 * pad, r.get_height() + 2 * pad
        x, y = (W - w) // 2, (H - h) // 3
        self._panel(surface, (x, y, w, h), PANEL_RGBA, pad)
        surface.blit(r, (x + 3 * pad // 2, y + pad))
