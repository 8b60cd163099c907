"""Baked clips: transitions and idle loops rendered ahead (``livegan bake``), and their player.

``clips`` (the latents of each clip, on the engine's path maths), ``codec``
(mp4 files), ``index`` (the validated JSON index), ``runner`` (the bake),
``library`` (clips checked against today's banks), ``decoder`` (decode-ahead
thread), ``player`` (a show from clips) and ``fallback`` (live with the clips
standing by). Nothing is imported here: each caller imports what it uses.
"""
