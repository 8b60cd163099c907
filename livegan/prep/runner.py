"""Whole-setlist prep: search every section, cache per section, write banks and contact sheets.

Each finished section is cached at once as its own tiny bank file under
``OUT/.cache/`` (atomic), keyed by everything that affects its result. A
song's bank is written (atomically) once all its sections are available. So
killing prep at any moment loses at most the section in progress, and
re-running redoes only sections whose key changed.

A full disk or a read-only folder never throws a finished search away: a
cache entry that can't be written is kept in memory, and a song bank that
can't be written goes to a rescue folder (the livegan cache's ``rescued/``, else ``$TMPDIR/livegan-rescued``), named
in :attr:`PrepSummary.unsaved` so the CLI can say where it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..bank import FORMAT_VERSION, Bank, SectionKeys, bank_path, load_bank, save_bank
from ..errors import BankError
from ..models.biggan import Generator
from ..models.clip import Clip
from ..models.registry import cache_dir
from ..setlist import Setlist, section_seed, section_variants
from .contact import save_contact_sheet
from .progress import PrepProgress
from .search import SEARCH_VERSION, SearchSettings, class_prompts, search_section

log = logging.getLogger(__name__)


@dataclass
class PrepSummary:
    done: int = 0
    cached: int = 0
    seconds: float = 0.0
    scores: list[float] = field(default_factory=list)
    banks: list[Path] = field(default_factory=list)
    sheets: list[Path] = field(default_factory=list)
    unsaved: list[str] = field(default_factory=list)  # one line each: what could not be written, and where it went

    @property
    def mean_score(self) -> float:
        return float(np.mean(self.scores)) if self.scores else float("nan")


def section_settings(sl: Setlist, song_i: int, sec_i: int, steps: int | None = None) -> SearchSettings:
    d = sl.defaults
    sec = sl.songs[song_i].sections[sec_i]
    v = section_variants(sl, sec)
    return SearchSettings(steps=steps or d.steps, lr=d.lr, cutouts=d.cutouts, candidates=d.candidates or 2 * v,
                          variants=v, seed=section_seed(sl, song_i, sec_i), truncation=d.truncation)


def cache_key(text: str, hints: list[int], gen_id: dict, clip_id: str, s: SearchSettings) -> str:
    """Everything that changes a section's result; any change means a new search."""
    blob = json.dumps({"format": FORMAT_VERSION, "text": text, "hints": hints, "generator": gen_id,
                       "clip": clip_id, "settings": s.cache_dict()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def class_embeddings(clip: Clip) -> torch.Tensor:
    """CLIP text embeddings of "a photo of a {class}" for all 1000 classes, cached on disk per CLIP."""
    from ..fsio import atomic_write_bytes
    import io

    path = cache_dir() / "class_text" / f"{hashlib.sha256(str(clip.id).encode()).hexdigest()[:16]}.npy"
    if path.is_file():
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.shape[0] == 1000 and np.isfinite(arr).all():
                return torch.from_numpy(arr)
        except (OSError, ValueError):
            pass
    emb = clip.encode_text(class_prompts()).cpu()                            # (1000, D)
    buf = io.BytesIO()
    np.save(buf, emb.numpy(), allow_pickle=False)
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as e:
        log.warning("could not cache class embeddings in %s: %s", path, e)
    return emb


def _load_cached(path: Path, key: str, gid: dict) -> SectionKeys | None:
    if not path.is_file():
        return None
    try:
        b = load_bank(path, expect_generator=gid)
    except BankError as e:
        log.warning("ignoring a bad cache entry (%s); searching again", e)
        return None
    if len(b.sections) != 1 or b.sections[0].cache_key != key:
        return None
    return b.sections[0]


def prep_setlist(sl: Setlist, out: str | Path, gen: Generator, clip: Clip, *, steps: int | None = None,
                 songs: list[int] | None = None, progress: bool = True, sheets: bool = True) -> PrepSummary:
    """Prep every section of the chosen songs into ``out``; returns what was done."""
    out = Path(out)
    cache = out / ".cache"
    gid = {"name": gen.id.name, "weights": gen.id.weights, "extra": gen.id.extra}
    t0 = time.monotonic()
    summary = PrepSummary()
    song_ids = songs if songs is not None else list(range(len(sl.songs)))
    plan = []  # (song, section, settings, key, cache path, cached keys or None)
    for i in song_ids:
        for j, sec in enumerate(sl.songs[i].sections):
            s = section_settings(sl, i, j, steps)
            key = cache_key(sec.text, sec.class_ids, gid, str(clip.id), s)
            path = cache / f"{key}.safetensors"
            plan.append((i, j, s, key, path, _load_cached(path, key, gid)))
    todo_steps = sum(s.steps + 1 for _, _, s, _, _, hit in plan if hit is None)
    class_emb = class_embeddings(clip) if todo_steps else None
    bar = PrepProgress(progress, todo_steps, sum(1 for *_, hit in plan if hit is None))
    try:
        results: dict[tuple[int, int], SectionKeys] = {}
        for i, j, s, key, path, hit in plan:
            sec = sl.songs[i].sections[j]
            if hit is not None:
                results[(i, j)] = hit
                summary.cached += 1
            else:
                bar.section(sl.songs[i].title, j + 1, len(sl.songs[i].sections), sec.text)
                r = search_section(gen, clip, sec.text, sec.class_ids, s, class_emb=class_emb,
                                   progress=lambda step, score: bar.step(score))
                bar.done(float(np.max(r.score)))
                keys = SectionKeys(sec.text, r.z, r.y, r.score, key, r.classes)
                results[(i, j)] = keys  # kept in memory whether or not the cache entry can be written
                try:
                    save_bank(Bank(sl.songs[i].title, gid, str(clip.id), [keys], s.cache_dict()), path)
                except OSError as e:
                    log.warning("cannot cache section %d of %r in %s (%s); kept in memory", j + 1,
                                sl.songs[i].title, path.parent, _oserror(e))
                summary.done += 1
            summary.scores.extend(float(x) for x in results[(i, j)].score)
            if j == len(sl.songs[i].sections) - 1:  # song complete: write its bank
                _write_song(sl, i, out, gen, gid, str(clip.id), results, summary, sheets)
    finally:
        bar.close()
    summary.seconds = time.monotonic() - t0
    return summary


def _write_song(sl: Setlist, i: int, out: Path, gen: Generator, gid: dict, clip_id: str,
                results: dict, summary: PrepSummary, sheets: bool) -> None:
    song = sl.songs[i]
    sections = [results[(i, j)] for j in range(len(song.sections))]
    bpath = bank_path(out, song.title)
    sheet = bpath.with_suffix(".png")
    try:
        old = load_bank(bpath, expect_generator=gid)
        unchanged = [s.cache_key for s in old.sections] == [s.cache_key for s in sections]
    except BankError:
        unchanged = False
    # Everything that changes the picture the show will play, so the show can compare.
    bank = Bank(song.title, gid, clip_id, sections, {"setlist": sl.path, "truncation": sl.defaults.truncation,
                                                     "search_version": SEARCH_VERSION})
    if not unchanged:
        try:
            save_bank(bank, bpath)
        except OSError as e:
            summary.unsaved.append(_rescue(bank, bpath, e))
            log.warning("%s", summary.unsaved[-1])
            return
    summary.banks.append(bpath)
    if sheets and (not unchanged or not sheet.is_file()):
        thumbs = [gen.render(s.z, s.y, sl.defaults.truncation) for s in bank.sections]
        try:
            save_contact_sheet(bank, thumbs, sheet, song.title)
        except OSError as e:
            log.warning("cannot write contact sheet %s (%s)", sheet, _oserror(e))
    if sheet.is_file():
        summary.sheets.append(sheet)


def _oserror(e: OSError) -> str:
    return e.strerror or str(e)


def _rescue(bank: Bank, target: Path, err: OSError) -> str:
    """The song's bank could not be written where it belongs: put it somewhere it can be, and say where."""
    tried = []
    for folder in (cache_dir() / "rescued", Path(tempfile.gettempdir()) / "livegan-rescued"):
        rescue = folder / target.name
        try:
            save_bank(bank, rescue)
        except OSError as e2:
            tried.append(f"{folder}: {_oserror(e2)}")
            continue
        return (f"cannot write bank {target} ({_oserror(err)}); the search is saved in {rescue}: "
                f"move it to {target.parent} when there is room")
    return (f"cannot write bank {target} ({_oserror(err)}) nor a rescue copy ({'; '.join(tried)}); "
            "free some space and re-run prep")
