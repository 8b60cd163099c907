"""Contact sheet: one PNG per song to look at before the show.

A row per section: its lyric text, its keyframe thumbnails and their CLIP
scores. Drawn with Pillow's bundled font, so it works on a bare machine.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..bank import Bank
from ..fsio import atomic_write_bytes

THUMB = 128
TEXT_W = 360
PAD = 8


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    lines, cur = [], ""
    for word in text.split():
        trial = f"{cur} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not cur:
            cur = trial
        else:
            lines.append(cur)
            cur = word
    return lines + ([cur] if cur else [])


def contact_sheet(bank: Bank, thumbs: list[np.ndarray], title: str) -> Image.Image:
    """thumbs[i]: (V_i, S, S, 3) uint8 frames of section i's keyframes."""
    cols = max(t.shape[0] for t in thumbs)
    row_h = THUMB + 2 * PAD + 16
    w = TEXT_W + cols * (THUMB + PAD) + 2 * PAD
    h = 48 + row_h * len(thumbs)
    sheet = Image.new("RGB", (w, h), (18, 18, 22))
    d = ImageDraw.Draw(sheet)
    d.text((PAD, 12), title, fill=(240, 240, 240), font=_font(22))
    f, fs = _font(15), _font(12)
    for i, (sec, frames) in enumerate(zip(bank.sections, thumbs)):
        y0 = 48 + i * row_h
        d.line([(0, y0), (w, y0)], fill=(60, 60, 70))
        d.text((PAD, y0 + PAD), f"{i + 1}.", fill=(150, 150, 160), font=f)
        for k, line in enumerate(_wrap(d, sec.text, f, TEXT_W - 40)[:6]):
            d.text((PAD + 28, y0 + PAD + k * 19), line, fill=(235, 235, 235), font=f)
        for v, fr in enumerate(frames):
            x0 = TEXT_W + v * (THUMB + PAD)
            img = Image.fromarray(fr).resize((THUMB, THUMB), Image.Resampling.LANCZOS)
            sheet.paste(img, (x0, y0 + PAD))
            d.text((x0, y0 + PAD + THUMB + 2), f"CLIP {float(sec.score[v]):.3f}", fill=(170, 200, 170), font=fs)
    return sheet


def save_contact_sheet(bank: Bank, thumbs: list[np.ndarray], path: str | Path, title: str) -> Path:
    buf = io.BytesIO()
    contact_sheet(bank, thumbs, title).save(buf, format="PNG")
    p = Path(path)
    atomic_write_bytes(p, buf.getvalue())
    return p
