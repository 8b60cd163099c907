"""The baked clips a show may play: the bake index checked against today's banks and drift.

Every index entry is compared with the content hash the clip *would* have if
it were baked now from the show's own keyframes, transitions and drift; only
matching clips are offered. So a bank re-prepped after the bake, a changed
transition or another ``--drift`` never plays a stale picture: those clips
count as missing (the player crossfades between idle loops where it can) and
the show says how many to re-bake.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from ..bank import same_generator
from ..engine.state import SongPlan
from ..errors import BankError, Where
from ..setlist import Setlist
from .clips import DriftSettings
from .index import BakeIndex, ClipEntry, bake_dir, index_path, load_index
from .runner import song_clips

log = logging.getLogger(__name__)


class BakedClips:
    """``idle(song, section, variant)`` and ``trans(song, section, variant, to)`` -> a usable clip or None."""

    def __init__(self, index: BakeIndex, folder: Path, usable: dict[tuple, ClipEntry], stale: int,
                 missing: int) -> None:
        self.index, self.folder, self._usable = index, Path(folder), usable
        self.stale, self.missing = stale, missing

    @property
    def fps(self) -> float:
        return self.index.fps

    @property
    def size(self) -> int:
        return self.index.size

    def idle(self, song: int, section: int, variant: int) -> ClipEntry | None:
        return self._usable.get((song, f"idle/{section}/{variant}"))

    def trans(self, song: int, section: int, variant: int, to: int) -> ClipEntry | None:
        return self._usable.get((song, f"trans/{section}/{variant}/{to}"))

    def __len__(self) -> int:
        return len(self._usable)

    def summary(self) -> str:
        s = f"{len(self)} baked clips"
        if self.stale or self.missing:
            s += f" ({self.stale} stale, {self.missing} missing: run `livegan bake` again)"
        return s


def open_baked(sl: Setlist, banks: str | Path, keyframes, plans: Sequence[SongPlan], drift: DriftSettings,
               generator: dict | None = None) -> BakedClips:
    """The usable clips of a bake; BankError when there is no index, it is bad, or made for another generator."""
    ipath = index_path(banks)
    index = load_index(ipath)
    if generator is not None and not same_generator(index.generator, generator):
        raise BankError(f"baked for {index.generator.get('name')} ({index.generator.get('weights')}), the show "
                        f"runs {generator.get('name')} ({generator.get('weights')})", Where(str(ipath)))
    usable: dict[tuple, ClipEntry] = {}
    stale = missing = 0
    folder = bake_dir(banks)
    for i, song in enumerate(sl.songs):
        entry = index.songs.get(song.title)
        for spec in song_clips(i, plans[i], keyframes, index.fps, drift, index.loop_seconds,
                               sl.defaults.truncation, index.generator, index.size):
            have = entry.clips.get(spec.name) if entry else None
            if have is None or not (folder / have.file).is_file():
                missing += 1
            elif have.key != spec.key:
                stale += 1
            else:
                usable[(i, spec.name)] = have
    if stale or missing:
        log.warning("bake %s: %d clips stale, %d missing (re-run `livegan bake`)", ipath, stale, missing)
    return BakedClips(index, folder, usable, stale, missing)
