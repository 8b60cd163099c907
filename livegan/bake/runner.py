"""``livegan bake``: render every song's idle loops and section transitions into clip files.

Per song, for every section keyframe (each variant): a seamless idle loop,
and the transition to each keyframe of the next section over that section's
transition (seconds, or beats/bars at the song's bpm). One file per clip,
named by its content hash (see :mod:`livegan.bake.clips`), under
``BANKS/baked/<song>/``. Like prep, it resumes: a clip whose file exists is
done (files appear atomically), so a killed bake loses at most the clip in
progress, and a changed bank, drift or transition re-bakes exactly the clips
whose hash changed. Files nobody names any more are removed at the end of a
whole-setlist bake.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bank import song_slug
from ..engine.path import Drift, Keyframe
from ..engine.state import SongPlan, plans_from_setlist
from ..errors import BankError, NonFiniteFrames
from ..setlist import Setlist
from ..show.banks import ShowKeyframes
from .clips import (BAKE_FORMAT, LOOP_SECONDS, ClipSpec, DriftSettings, clip_key, idle_latents, loop_frames,
                    transition_frames, transition_latents)
from .codec import ClipWriter
from .index import BakeIndex, ClipEntry, SongEntry, bake_dir, index_path, load_index, save_index

log = logging.getLogger(__name__)


@dataclass
class BakeSummary:
    done: int = 0             # clips rendered now
    cached: int = 0           # clips already on disk with the right hash
    frames: int = 0           # frames rendered now
    generator_seconds: float = 0.0  # time inside the generator (the raw cost of those frames)
    seconds: float = 0.0      # wall time of the whole bake
    bytes: int = 0            # size of all clips in the index
    clip_seconds: float = 0.0  # length of all clips in the index
    removed: int = 0          # stale clip files deleted
    index: Path | None = None

    @property
    def mb_per_minute(self) -> float:
        return self.bytes / 1e6 / (self.clip_seconds / 60.0) if self.clip_seconds > 0 else 0.0


def song_clips(song: int, plan: SongPlan, kf: ShowKeyframes, fps: float, drift: DriftSettings,
               loop_seconds: float, truncation: float, gid: dict, size: int) -> list[ClipSpec]:
    """Every clip of one song: an idle loop per keyframe, a transition per (keyframe, next keyframe)."""
    out: list[ClipSpec] = []
    for i in range(plan.sections):
        for v in range(plan.variants[i]):
            a = kf(song, i, v)
            out.append(ClipSpec("idle", song, i, v, None, loop_seconds, loop_frames(loop_seconds, fps),
                                clip_key("idle", [a], loop_seconds, fps, drift, truncation, gid, size)))
            if i + 1 >= plan.sections:
                continue
            seconds = plan.transitions[i + 1].seconds(plan.bpm, plan.beats_per_bar)
            if seconds <= 0:
                continue  # a cut: nothing to bake
            for v2 in range(plan.variants[i + 1]):
                b = kf(song, i + 1, v2)
                out.append(ClipSpec("trans", song, i, v, v2, seconds, transition_frames(seconds, fps),
                                    clip_key("trans", [a, b], seconds, fps, drift, truncation, gid, size)))
    return out


def clip_latents(spec: ClipSpec, kf, fps: float, drift: Drift, d: DriftSettings) -> tuple[np.ndarray, np.ndarray]:
    a: Keyframe = kf(spec.song, spec.section, spec.variant)
    if spec.kind == "idle":
        return idle_latents(a, spec.seconds, fps, drift, d)
    return transition_latents(a, kf(spec.song, spec.section + 1, spec.to_variant), spec.seconds, fps, drift, d)


class _Progress:
    """A rich bar with ETA on a terminal; plain lines (one per clip) when stderr is not one."""

    def __init__(self, enabled: bool, total_frames: int, total_clips: int) -> None:
        self.enabled, self.total, self.clips = enabled and total_frames > 0, total_frames, total_clips
        self.bar = None
        self.done_frames = self.done_clips = 0
        self.t0 = time.monotonic()
        if self.enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("frames"), TimeElapsedColumn(), TimeRemainingColumn(),
                                console=Console(stderr=True))
            self.task = self.bar.add_task("bake", total=total_frames)
            self.bar.start()

    def clip(self, label: str) -> None:
        if self.bar:
            self.bar.update(self.task, description=label[:40])

    def frames(self, n: int) -> None:
        self.done_frames += n
        if self.bar:
            self.bar.update(self.task, advance=n)

    def clip_done(self, label: str) -> None:
        self.done_clips += 1
        if self.enabled and self.bar is None:
            el = time.monotonic() - self.t0
            eta = el / self.done_frames * (self.total - self.done_frames) if self.done_frames else 0.0
            print(f"bake {self.done_clips}/{self.clips} clips, {self.done_frames}/{self.total} frames, "
                  f"{el:.0f} s, ETA {eta:.0f} s  {label}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar:
            self.bar.stop()


def _fresh_index(old: BakeIndex | None, new: BakeIndex) -> BakeIndex:
    """Keep the old index's songs only if it was baked with the same settings (else every key differs)."""
    if old is None:
        return new
    same = old.model_dump(exclude={"songs"}) == new.model_dump(exclude={"songs"})
    return old if same else new


def bake_setlist(sl: Setlist, banks: str | Path, gen, *, fps: float = 30.0, drift: float = 0.15,
                 drift_speed: float = 0.25, loop_seconds: float = LOOP_SECONDS, songs: list[int] | None = None,
                 batch: int | None = None, progress: bool = True) -> BakeSummary:
    """Bake the chosen songs (default: all) next to their banks; returns what was done."""
    banks = Path(banks)
    t_start = time.monotonic()
    gid = {"name": gen.id.name, "weights": gen.id.weights}
    kf = ShowKeyframes(sl, banks, gid, gen.num_latents)
    plans = [dataclasses.replace(p, variants=kf.variants(i)) for i, p in enumerate(plans_from_setlist(sl))]
    d = DriftSettings(drift, drift_speed, 0)
    trunc = sl.defaults.truncation
    size = int(gen.size)
    folder = bake_dir(banks)
    ipath = index_path(banks)
    try:
        old = load_index(ipath)
    except BankError:
        old = None
    index = _fresh_index(old, BakeIndex(format=BAKE_FORMAT, fps=fps, size=size, layers=gen.num_latents,
                                        truncation=trunc, generator=gid, drift=d.as_dict(),
                                        loop_seconds=loop_seconds))
    chosen = songs if songs is not None else list(range(len(sl.songs)))
    work: list[tuple[int, ClipSpec, Path]] = []
    for i in chosen:
        title = sl.songs[i].title
        entry = SongEntry(bpm=plans[i].bpm)
        old_song = index.songs.get(title)
        for spec in song_clips(i, plans[i], kf, fps, d, loop_seconds, trunc, gid, size):
            rel = f"{song_slug(title)}/{spec.file_name()}"
            path = folder / rel
            if path.is_file():
                prev = old_song.clips.get(spec.name) if old_song else None
                nbytes = path.stat().st_size
                frames = prev.frames if prev is not None and prev.key == spec.key else spec.frames
                entry.clips[spec.name] = ClipEntry(file=rel, key=spec.key, frames=frames, seconds=spec.seconds,
                                                   bytes=nbytes)
            else:
                work.append((i, spec, path))
        index.songs[title] = entry
    summary = BakeSummary(cached=sum(len(index.songs[sl.songs[i].title].clips) for i in chosen), index=ipath)
    save_index(index, ipath)
    drift_obj = Drift(gen.num_latents, seed=d.seed)
    batch = batch or (2 if getattr(getattr(gen, "device", None), "type", "cpu") == "cpu" else 8)
    bar = _Progress(progress, sum(s.frames for _, s, _ in work), len(work))
    try:
        for i, spec, path in work:
            title = sl.songs[i].title
            label = f"{title[:16]} {spec.name}"
            bar.clip(label)
            z, y = clip_latents(spec, kf, fps, drift_obj, d)  # (N, L, 128), (N, 1000)
            writer = ClipWriter(path, size, fps)
            try:
                last = None
                for b0 in range(0, len(z), batch):
                    t0 = time.perf_counter()
                    frames = _render(gen, z[b0:b0 + batch], y[b0:b0 + batch], trunc, last)
                    summary.generator_seconds += time.perf_counter() - t0
                    writer.write(frames)
                    last = frames[-1]
                    bar.frames(len(frames))
                nbytes = writer.close()
            except BaseException:
                writer.abort()
                raise
            summary.done += 1
            summary.frames += len(z)
            index.songs[title].clips[spec.name] = ClipEntry(file=f"{song_slug(title)}/{spec.file_name()}",
                                                            key=spec.key, frames=len(z), seconds=spec.seconds,
                                                            bytes=nbytes)
            save_index(index, ipath)
            bar.clip_done(label)
    finally:
        bar.close()
    if songs is None:
        summary.removed = _remove_stale(folder, index, {sl.songs[i].title for i in chosen})
        save_index(index, ipath)
    summary.bytes = index.total_bytes()
    summary.clip_seconds = index.total_seconds()
    summary.seconds = time.monotonic() - t_start
    return summary


def _render(gen, z: np.ndarray, y: np.ndarray, truncation: float, last: np.ndarray | None) -> np.ndarray:
    """(B, S, S, 3) uint8; a NaN frame is replaced by the frame before it (a clip never shows garbage)."""
    try:
        return gen.render(z, y, truncation)
    except NonFiniteFrames as e:
        out = np.array(e.images)
        for k, bad in enumerate(e.bad):
            if bad:
                out[k] = out[k - 1] if k else (last if last is not None else 0)
        log.warning("%d NaN frame(s) replaced while baking", int(np.sum(e.bad)))
        return out


def _remove_stale(folder: Path, index: BakeIndex, titles: set[str]) -> int:
    """Delete clip files and leftovers no song of the setlist names any more; drop songs not in it."""
    for t in [t for t in index.songs if t not in titles]:
        del index.songs[t]
    keep = {c.file for s in index.songs.values() for c in s.clips.values()}
    removed = 0
    for p in folder.glob("*/*.mp4"):
        if f"{p.parent.name}/{p.name}" not in keep:
            p.unlink(missing_ok=True)
            removed += 1
    return removed
