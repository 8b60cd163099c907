"""Choosing and building the show's picture source when baked clips exist (used by livegan.show.session).

- ``--baked`` (or ``--rehearse`` on a machine without CUDA/MPS when a bake
  exists): no generator is loaded at all; a :class:`BakedPlayer` plays the
  clips. The keyframes come from the banks, checked against the generator
  the bake names.
- a live show whose banks have a bake for its generator gets a
  :class:`FallbackWorker`: live frames, baked clips standing by.
- otherwise the live worker, unchanged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

from ..engine.director import Director
from ..engine.state import SongPlan
from ..errors import BankError
from ..setlist import Setlist
from .clips import DriftSettings
from .index import index_path, load_index

log = logging.getLogger(__name__)


def gpu_present() -> bool:
    """CUDA or Apple MPS available (imports torch: call only when a show is being built)."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(torch.cuda.is_available() or (mps is not None and mps.is_available()))


def wants_baked(baked: bool, rehearse: bool, banks: Path) -> bool:
    """``--baked``, or a rehearsal without a GPU when a bake exists next to the banks."""
    if baked:
        return True
    return rehearse and index_path(banks).is_file() and not gpu_present()


def baked_generator(banks: Path) -> tuple[dict, int]:
    """(generator id, latents per keyframe) the bake was made with; BankError without a usable bake."""
    index = load_index(index_path(banks))
    return index.generator, index.layers


def picture_source(live, director: Director, sl: Setlist, banks: Path, keyframes, plans: Sequence[SongPlan],
                   drift: DriftSettings, clock, notice: Callable[[str], None]):
    """The worker the show loop drives: a BakedPlayer (live is None), a FallbackWorker, or ``live`` itself."""
    from .library import open_baked
    from .player import BakedPlayer

    gid = None if live is None else {"name": live.generator.id.name, "weights": live.generator.id.weights}
    try:
        clips = open_baked(sl, banks, keyframes, plans, drift, generator=gid)
    except BankError as e:
        if live is None:
            raise
        if index_path(banks).is_file():
            notice(f"baked clips not usable as a fallback: {e}")
        return live
    if live is None:
        notice(f"BAKED: playing {clips.summary()}")
        return BakedPlayer(director, clips)
    if len(clips) == 0:
        return live
    from .fallback import FallbackWorker

    log.info("fallback ready: %s", clips.summary())
    return FallbackWorker(live, BakedPlayer(director, clips), clock)
