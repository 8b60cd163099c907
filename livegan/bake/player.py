"""Plays a show from baked clips: the same director, cues and outputs, frames from video instead of the GPU.

:class:`BakedPlayer` has the interface the show loop uses from the render
worker (``start``, ``stop``, ``watchdog``, ``frame_at``, ``prune``, ``stats``),
so :class:`livegan.show.loop.Show` runs it unchanged. It follows the director's
state, leg by leg:

- a ``next`` within a song plays the baked transition from the current
  keyframe to the new one, **time-stretched** to the leg's real length (a
  tapped tempo or a transition override changes it), then the target's idle
  loop from its first frame (where the transition clip ends: no seam);
- the first part of every leg crossfades from the picture on screen when the
  cue came, so a cue mid-transition or mid-loop never jumps;
- a jump nobody baked (goto, prev, another song, unfreeze) crossfades from
  the picture on screen into the target's idle loop over the leg's length;
- freeze holds the picture; blackout and the master fade are applied by the
  show as live (the director's brightness).

Clips are decoded ahead on the :class:`~livegan.bake.decoder.ClipCache`
thread; ``frame_at`` never waits for a decode (it holds the current picture), and a
clip that cannot be decoded turns its leg into a crossfade.
Drift modulation by audio and knobs is not in the clips: they move at the
drift they were baked with.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..engine.director import EASING, Director
from ..engine.mix import mix as _mix  # fixed point, as the live worker blends
from ..engine.path import ease
from ..engine.state import Position
from ..engine.worker import WorkerStats
from .decoder import ClipCache
from .index import ClipEntry
from .library import BakedClips

log = logging.getLogger(__name__)

XFADE_FRACTION = 0.3   # a baked transition crossfades from the screen over this part of its length...
XFADE_MAX = 0.5        # ...but never longer than this (s)
TAKEOVER_FADE = 0.25   # live -> baked when the generator fails (s)
START_WAIT = 10.0      # start(): longest wait for the first clip (real s, before the loop runs)


@dataclass
class _Leg:
    start: float
    seconds: float
    target: Position
    trans: ClipEntry | None        # the baked transition this leg plays, if any
    from_img: np.ndarray | None    # the picture on screen when the leg began
    fade_start: float
    fade: float                    # seconds of crossfade from from_img


class BakedPlayer:
    """Frames from baked clips for whatever the director says (see the module docstring)."""

    badges = ("BAKED",)

    def __init__(self, director: Director, clips: BakedClips, cache: ClipCache | None = None) -> None:
        self.director = director
        self.clips = clips
        self.cache = cache or ClipCache(clips.folder)
        self.stats = WorkerStats()
        self._seg_id: int | None = None
        self._leg: _Leg | None = None
        self._last: np.ndarray | None = None

    # -- the worker interface -------------------------------------------------
    def start(self) -> None:
        self.cache.start()
        self.sync(self.director.state.segment.start)
        idle = self.clips.idle(*self.director.position)
        if idle is not None and self.cache.wait_for(idle.file, START_WAIT) is None:
            log.warning("the first baked clip is not decoded yet; the show starts on a held picture")

    def stop(self, timeout: float = 2.0) -> None:
        self.cache.stop(timeout)

    def watchdog(self) -> bool:
        return False  # decoding never blocks the show: nothing to restart

    def prune(self, t: float) -> None:
        pass

    def has_frames_for(self, version: int) -> bool:
        return self._last is not None

    def frame_at(self, t: float) -> np.ndarray | None:
        """The picture for show time t (None only before the first clip is decoded)."""
        self.sync(t)
        self.prefetch()
        if self.director.state.frozen and self._last is not None:
            return self._last
        img = self._leg_frame(self._leg, t) if self._leg is not None else None
        if img is None:
            return self._last
        if img is not self._last:
            self.stats.frames += 1  # distinct pictures (a held or repeated clip frame is not a new one)
        self._last = img
        return img

    # -- following the director -------------------------------------------------
    def sync(self, t: float) -> None:
        """Start a new leg when the director started one; its from-picture is what is on screen now."""
        st = self.director.state
        seg = st.segment
        if seg.id == self._seg_id:
            return
        prev = self._leg.target if self._leg is not None else None
        self._seg_id = seg.id
        trans = None
        if prev is not None and seg.seconds > 0 and prev.song == seg.target.song \
                and seg.target.section == prev.section + 1:
            trans = self.clips.trans(prev.song, prev.section, prev.variant, seg.target.variant)
        if trans is not None:
            fade = min(XFADE_MAX, XFADE_FRACTION * seg.seconds)
        else:
            fade = seg.seconds  # not baked: crossfade over the whole leg, eased like the live path
        self._leg = _Leg(seg.start, seg.seconds, seg.target, trans, self._last, seg.start, fade)
        if prev is not None:
            self.stats.batches += 1  # legs followed (the summary's counters stay meaningful)

    def take_over(self, t: float, image: np.ndarray | None) -> None:
        """Become the picture source at t (the live generator failed): fade in from ``image``."""
        self.sync(t)
        if self._leg is not None and image is not None:
            self._leg.from_img, self._leg.fade_start, self._leg.fade = image, t, TAKEOVER_FADE
        if image is not None:
            self._last = image

    def prefetch(self) -> None:
        """Tell the decoder what comes next: this leg, the target's loop, and the legs a ``next`` starts."""
        leg = self._leg
        if leg is None:
            return
        files: list[ClipEntry | None] = [leg.trans, self.clips.idle(*leg.target)]
        s, i, v = leg.target
        plans = self.director.state.plans
        if i + 1 < plans[s].sections:
            for v2 in range(plans[s].variants[i + 1]):
                files += [self.clips.trans(s, i, v, v2), self.clips.idle(s, i + 1, v2)]
        elif s + 1 < len(plans):
            files += [self.clips.idle(s + 1, 0, v2) for v2 in range(plans[s + 1].variants[0])]
        self.cache.want([f.file for f in files if f is not None])

    # -- pictures ------------------------------------------------------------------
    def _leg_frame(self, leg: _Leg, t: float) -> np.ndarray | None:
        dt = max(0.0, t - leg.start)
        base = None
        if leg.trans is not None and self.cache.failed(leg.trans.file):
            # A broken transition clip: play the leg as an unbaked jump (crossfade into the target's loop).
            leg.trans, leg.fade_start, leg.fade = None, leg.start, leg.seconds
        if leg.trans is not None and dt < leg.seconds:
            clip = self.cache.get(leg.trans.file)
            if clip is not None:  # stretched: the clip's length becomes the leg's real length
                base = _sample(clip, dt / leg.seconds * (len(clip) - 1), wrap=False)
        else:
            idle = self.clips.idle(*leg.target)
            clip = self.cache.get(idle.file) if idle is not None else None
            if clip is not None:
                anchor = leg.start + (leg.seconds if leg.trans is not None else 0.0)
                base = _sample(clip, ((t - anchor) * self.clips.fps) % len(clip), wrap=True)
        if base is not None and self._last is not None and base.ctypes.data == self._last.ctypes.data:
            base = self._last  # the very clip frame shown last time (the display is faster than the clip)
        src = _fit(leg.from_img, base)
        w = 1.0 if src is None or leg.fade <= 0 else ease((t - leg.fade_start) / leg.fade, EASING)
        if base is None:
            return src  # not decoded yet (or never baked): hold the picture the leg left from
        if w >= 1.0:
            return base
        return _mix(src, base, w)


def _sample(clip: np.ndarray, x: float, wrap: bool) -> np.ndarray:
    """Frame at fractional index x of (N, H, W, 3): a blend of the two frames around it."""
    n = len(clip)
    i = int(math.floor(x))
    f = x - i
    i = i % n if wrap else min(max(i, 0), n - 1)
    if f < 1e-3:
        return clip[i]
    j = (i + 1) % n if wrap else min(i + 1, n - 1)
    if f > 1 - 1e-3:
        return clip[j]
    return _mix(clip[i], clip[j], f)


def _fit(img: np.ndarray | None, like: np.ndarray | None) -> np.ndarray | None:
    """``img`` resized to ``like``'s size when they differ (a live frame from another generator size)."""
    if img is None or like is None or img.shape == like.shape:
        return img
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((like.shape[1], like.shape[0]), Image.Resampling.BILINEAR))
