"""Small text helpers shared by messages and progress lines."""

from __future__ import annotations


def shorten(text: str, width: int) -> str:
    """Fit ``text`` in ``width`` characters, cut at a word boundary with an ellipsis (never mid-word
    when a boundary is in the second half)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"
