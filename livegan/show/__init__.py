"""Wires a live show together: the loop (loop.py), building a show from options (session.py), the
banks' keyframes and fallback walks (banks.py), and MIDI learn inside the show (learn.py).

Never imports prep, CLIP or an optimiser (DESIGN.md rule 1); importing it has no side effects.
"""
