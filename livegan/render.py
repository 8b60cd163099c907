"""``livegan render``: an offline music video from a cue list or an audio file.

The same director and latent path as the live show, driven by a simulated
clock: frame k is the picture at t = k / fps, cues apply at their exact
times, and frames between cues are rendered in batches (no live deadline),
so a render is deterministic and faster than the live engine. The video is
written to a temporary file and renamed at the end; interrupted, nothing
broken is left behind.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .engine.director import Director, FrameSpec
from .engine.state import Position, plans_from_setlist
from .engine.worker import render_call
from .errors import ConfigError, LiveganError, NonFiniteFrames, Where
from .setlist import Setlist
from .show.banks import ShowKeyframes
from .triggers.events import Cue

log = logging.getLogger(__name__)
# A few NaN frames (held over by the last good one) go unnoticed in a video; more are
# reported loudly, and a render that is mostly bad frames writes no video at all.
BAD_FRAMES_WARN = 5


@dataclass
class RenderJob:
    song: int
    seconds: float
    fps: float = 30.0
    size: int | None = None          # output side in pixels (frames are square); None: max(512, generator)
    captions: bool = False
    batch: int = 8
    drift: float = 0.15
    drift_speed: float = 0.25


def audio_cues(path: str | Path, song_onsets: dict | None, preset: str | None = None) -> tuple[list[tuple[float, Cue]], float]:
    """Cues from an audio file's onsets, gated by the song's onset settings; and its length in seconds.

    ``advance`` is taken as on (asking for --audio means "move with the music");
    ``every``, ``min_level`` and ``min_interval`` apply as in the live show.
    """
    from .audio.gate import OnsetGate
    from .audio.io import read_audio
    from .audio.onset import detect_signal
    from .audio.settings import SongOnsets, load_onset_settings

    samples, sr = read_audio(path)
    if len(samples) == 0:
        raise ConfigError(f"{path}: the audio file is empty")
    onsets = detect_signal(samples, sr, load_onset_settings(preset))
    gate = OnsetGate(SongOnsets.model_validate({**(song_onsets or {}), "advance": True}))
    cues = [(o.time, Cue("next", source="audio", t=o.time)) for o in onsets if gate.feed(o, o.level)]
    return cues, len(samples) / sr


class _Captioner:
    """Lyric text drawn on the lower third, with a dark outline so it reads on any picture."""

    def __init__(self, size: int) -> None:
        px = max(12, size // 22)
        try:
            self.font = ImageFont.load_default(size=px)
        except TypeError:
            self.font = ImageFont.load_default()
        self.size = size

    def draw(self, frame: np.ndarray, text: str) -> np.ndarray:
        img = Image.fromarray(frame)
        d = ImageDraw.Draw(img)
        w = d.textlength(text, font=self.font)
        while w > self.size * 0.92 and len(text) > 4:
            text = text[:-4] + "…"
            w = d.textlength(text, font=self.font)
        x, y = (self.size - w) / 2, self.size * 0.86
        d.text((x, y), text, font=self.font, fill=(255, 255, 255), stroke_width=max(1, self.size // 256),
               stroke_fill=(0, 0, 0))
        return np.asarray(img)


def plan_batches(n_frames: int, fps: float, cue_times: list[float], batch: int) -> list[list[int]]:
    """Frame indices grouped so no batch spans a cue (frames after a cue depend on it)."""
    out: list[list[int]] = []
    cur: list[int] = []
    ci = 0
    for k in range(n_frames):
        t = k / fps
        crossed = False
        while ci < len(cue_times) and cue_times[ci] <= t:
            ci += 1
            crossed = True
        if cur and (crossed or len(cur) >= batch):
            out.append(cur)
            cur = []
        cur.append(k)
    if cur:
        out.append(cur)
    return out


def render_frames(sl: Setlist, gen, banks: str | Path, job: RenderJob, cues: list[tuple[float, Cue]],
                  sink, progress=None, report: dict | None = None) -> int:
    """Render ``job`` into ``sink`` (an Output: VideoRecorder/FramesRecorder/NullOutput); returns frames written.

    ``report`` (if given) gets ``bad_frames`` and ``warnings``. More than half the
    frames bad is a LiveganError raised inside the sink's ``with`` (nothing is written).
    """
    report = report if report is not None else {}
    report.setdefault("bad_frames", 0)
    gid = {"name": gen.id.name, "weights": gen.id.weights}
    keyframes = ShowKeyframes(sl, banks, gid, gen.num_latents)
    for w in keyframes.warnings:
        log.warning("%s", w)
    report["warnings"] = list(keyframes.warnings)
    plans = [dataclasses.replace(p, variants=keyframes.variants(i)) for i, p in enumerate(plans_from_setlist(sl))]
    director = Director(plans, keyframes, drift_amount=job.drift, drift_speed=job.drift_speed,
                        truncation=sl.defaults.truncation, start=Position(job.song, 0, 0), t0=0.0)
    n = int(round(job.seconds * job.fps))
    size = job.size or max(512, gen.size)
    cues = sorted(cues, key=lambda c: c[0])
    captions = _Captioner(size) if job.captions else None
    lyrics = [[s.text for s in song.sections] for song in sl.songs]
    ci = 0
    written = 0
    last_good: np.ndarray | None = None
    for idx in plan_batches(n, job.fps, [c[0] for c in cues], job.batch):
        t_first = idx[0] / job.fps
        while ci < len(cues) and cues[ci][0] <= t_first:
            director.handle(cues[ci][1], cues[ci][0])  # at the cue's own time, as live
            ci += 1
        specs = [director.frame_at(k / job.fps) for k in idx]
        images = _render(gen, specs)
        info = director.info(t_first)
        text = lyrics[info["song_index"]][info["section"]]
        for spec, img in zip(specs, images):
            if img is None:  # NaN frame: hold the last good one
                report["bad_frames"] += 1
                img = last_good if last_good is not None else np.zeros((gen.size, gen.size, 3), np.uint8)
            last_good = img
            frame = img if img.shape[0] == size else np.asarray(
                Image.fromarray(img).resize((size, size), Image.Resampling.LANCZOS))
            if spec.brightness < 0.999:
                frame = (frame.astype(np.float32) * spec.brightness).astype(np.uint8)
            if captions is not None:
                frame = captions.draw(frame, text)
            sink.present(frame)
            written += 1
        if progress is not None:
            progress(len(idx))
    bad = report["bad_frames"]
    if bad > BAD_FRAMES_WARN and 2 * bad > written:
        raise LiveganError(f"{bad} of {written} frames came out NaN (bad generator weights or keyframes?); "
                           "no video written")
    if bad > BAD_FRAMES_WARN:
        log.warning("%d of %d frames came out NaN and were replaced by the frame before", bad, written)
    return written


def _render(gen, specs: list[FrameSpec]) -> list[np.ndarray | None]:
    """Render specs in one batch, or in runs of equal truncation where the generator takes one
    truncation per batch (a truncation glide would split the batch); NaN frames come back as None."""
    out: list[np.ndarray | None] = []
    i = 0
    while i < len(specs):
        n, trunc = render_call(gen, specs[i:])
        j = i + n
        z = np.stack([s.z for s in specs[i:j]])  # (B, L, 128)
        y = np.stack([s.y for s in specs[i:j]])  # (B, 1000)
        try:
            out.extend(list(gen.render(z, y, trunc)))
        except NonFiniteFrames as e:
            out.extend(None if bad else img for img, bad in zip(e.images, e.bad))
        i = j
    return out


def check_output(output: Path, inputs: list[Path], force: bool) -> None:
    """Refuse, before any rendering, to write the video over one of the render's own inputs (even
    with --force), over a folder, or over an existing file livegan didn't make without ``force``."""
    out = Path(output)
    if out.is_dir():
        raise ConfigError("is a folder; give a video file name", Where(str(out)))
    if not out.exists() and not out.is_symlink():
        return
    real = out.resolve()
    for p in inputs:
        if p is not None and Path(p).exists() and Path(p).resolve() == real:
            raise ConfigError(f"is one of this render's inputs ({p}); choose another output name", Where(str(out)))
    from .outputs.recorder import made_by_livegan

    if not force and not made_by_livegan(out):  # an earlier render of ours may be replaced
        raise ConfigError("already exists and was not made by livegan render; pass --force to replace it",
                          Where(str(out)))
