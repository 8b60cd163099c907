"""A rough prep-time estimate for ``livegan check`` (no model is loaded).

Seconds per optimiser step per candidate, measured with ``livegan bench
--prep`` style runs (see the README); they are estimates, not promises.
"""

from __future__ import annotations

from ..setlist import Setlist, section_variants

# seconds per optimiser step for ONE candidate with 32 cutouts, by generator and device
_STEP_SECONDS = {
    ("tiny", "cpu"): 0.006, ("tiny", "cuda"): 0.002,
    ("biggan-deep-128", "cpu"): 0.9, ("biggan-deep-128", "cuda"): 0.012,
    ("biggan-deep-256", "cpu"): 2.6, ("biggan-deep-256", "cuda"): 0.025,
    ("biggan-deep-512", "cpu"): 8.0, ("biggan-deep-512", "cuda"): 0.06,
}
_CLIP_FACTOR = {"tiny": 0.3}


def estimate_prep_seconds(sl: Setlist, device: str = "cpu", model: str | None = None) -> float:
    model = model or sl.defaults.model
    per = _STEP_SECONDS.get((model, device), _STEP_SECONDS[("biggan-deep-256", device)])
    clip_factor = _CLIP_FACTOR.get(sl.defaults.clip, 1.0)
    total = 0.0
    for song in sl.songs:
        for sec in song.sections:
            v = section_variants(sl, sec)
            cand = sl.defaults.candidates or 2 * v
            total += sl.defaults.steps * cand * per * (sl.defaults.cutouts / 32) ** 0.5 * (0.5 + clip_factor)
    return total
