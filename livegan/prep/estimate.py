"""A rough prep-time estimate for ``livegan check`` (no model is loaded).

Per optimiser step, each candidate costs one generator forward+backward and
``cutouts`` CLIP image forward+backward passes. The CPU generator figure for
biggan-deep-128 was measured with ``python benchmarks/bench_prep.py`` on a
2-core CPU (1.31 steps/s with 2 candidates and the tiny CLIP); the other
sizes scale it by their raw forward cost. CLIP and all CUDA figures are
estimates from FLOP counts until measured. Estimates, not promises.
"""

from __future__ import annotations

from ..setlist import Setlist, section_variants

# seconds of generator forward+backward per candidate per step
_GEN_SECONDS = {
    ("tiny", "cpu"): 0.003, ("tiny", "cuda"): 0.001,
    ("biggan-deep-128", "cpu"): 0.38, ("biggan-deep-128", "cuda"): 0.008,
    ("biggan-deep-256", "cpu"): 1.3, ("biggan-deep-256", "cuda"): 0.02,
    ("biggan-deep-512", "cpu"): 4.0, ("biggan-deep-512", "cuda"): 0.05,
}
# seconds of CLIP image forward+backward per cutout, by CLIP architecture
_CLIP_SECONDS = {
    ("tiny", "cpu"): 0.00013, ("tiny", "cuda"): 0.00005,
    ("ViT-B-32", "cpu"): 0.12, ("ViT-B-32", "cuda"): 0.0006,
    ("ViT-B-16", "cpu"): 0.5, ("ViT-B-16", "cuda"): 0.0025,
    ("ViT-L-14", "cpu"): 2.4, ("ViT-L-14", "cuda"): 0.012,
}


def estimate_prep_seconds(sl: Setlist, device: str = "cpu", model: str | None = None,
                          clip: str | None = None) -> float:
    d = sl.defaults
    gen = _GEN_SECONDS.get((model or d.model, device), _GEN_SECONDS[("biggan-deep-256", device)])
    arch = (clip or d.clip).split("/")[0]
    per_cut = _CLIP_SECONDS.get((arch, device), _CLIP_SECONDS[("ViT-B-32", device)])
    total = 0.0
    for song in sl.songs:
        for sec in song.sections:
            candidates = d.candidates or 2 * section_variants(sl, sec)
            total += d.steps * candidates * (gen + d.cutouts * per_cut)
    return total
