"""Offline prep: CLIP-guided search for each lyric line, and the whole-setlist runner."""
