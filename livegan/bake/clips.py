"""What a baked clip shows: the latents of every frame of a transition or an idle loop.

Numpy only, on the engine's own path maths (:func:`~livegan.engine.path.blend`,
:func:`~livegan.engine.path.ease`, :class:`~livegan.engine.path.Drift` and the
director's easing), so a baked transition is the live one:

- a **transition** from keyframe A to the next section's keyframe B over S
  seconds starts at ``A + o(0)`` and eases onto ``B + o(0)``, with the drift
  around the target fading in as it goes (``blend(A+o(0), B, e) + e*o(...)``);
- an **idle loop** of T seconds around a keyframe K starts at ``K + o(0)``
  (where every transition into K ends) and wanders with the show's drift.
  The drift itself never repeats, so the loop cross-fades the offset at τ with
  the offset at τ−T through a smoothstep weight: the offset and its velocity
  are continuous where the last frame flows into the first.

``o(p)`` is the show's drift offset at phase p (amount x directions of the
director's ``Drift`` with the same seed). A clip's content hash covers
everything that changes its pixels, so a changed bank, drift or transition
invalidates exactly the clips it touches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..engine.director import EASING
from ..engine.path import Drift, Keyframe, blend, ease

BAKE_FORMAT = 1
LOOP_SECONDS = 8.0  # idle loop length: long enough not to read as a loop at the default drift speed


@dataclass(frozen=True)
class DriftSettings:
    """The show's drift as baked: amount, speed (phase units per second) and the director's seed."""

    amount: float = 0.15
    speed: float = 0.25
    seed: int = 0

    def as_dict(self) -> dict:
        return {"amount": self.amount, "speed": self.speed, "seed": self.seed}


@dataclass(frozen=True)
class ClipSpec:
    """One clip to bake: an idle loop of (song, section, variant) or its transition to the next section."""

    kind: Literal["idle", "trans"]
    song: int
    section: int
    variant: int
    to_variant: int | None  # trans: the variant of section + 1
    seconds: float          # idle: loop length; trans: the transition at the song's tempo
    frames: int
    key: str                # content hash (see clip_key)

    @property
    def name(self) -> str:
        """Index key within a song: ``idle/SECTION/VARIANT`` or ``trans/SECTION/VARIANT/TO``."""
        base = f"{self.kind}/{self.section}/{self.variant}"
        return base if self.to_variant is None else f"{base}/{self.to_variant}"

    def file_name(self) -> str:
        return f"{self.name.replace('/', '-')}-{self.key[:16]}.mp4"


def transition_frames(seconds: float, fps: float) -> int:
    """Frames of a transition clip: both ends included, so a stretched clip lands exactly on its last frame."""
    return max(1, round(seconds * fps)) + 1


def loop_frames(seconds: float, fps: float) -> int:
    return max(2, round(seconds * fps))


def clip_key(kind: str, keyframes: list[Keyframe], seconds: float, fps: float, drift: DriftSettings,
             truncation: float, generator: dict, size: int) -> str:
    """Content hash of everything that changes a clip's pixels (format, codec settings included)."""
    h = hashlib.sha256(json.dumps({
        "format": BAKE_FORMAT, "kind": kind, "seconds": round(seconds, 6), "fps": fps,
        "drift": drift.as_dict(), "truncation": round(truncation, 6),
        "generator": {"name": generator.get("name"), "weights": generator.get("weights")}, "size": size,
    }, sort_keys=True).encode())
    for kf in keyframes:
        h.update(np.ascontiguousarray(kf.z, np.float32).tobytes())
        h.update(np.ascontiguousarray(kf.y, np.float32).tobytes())
    return h.hexdigest()[:32]


def _offset(drift: Drift, d: DriftSettings, phase: float) -> np.ndarray:
    return drift.at_phase(phase, d.amount)  # (L, 128)


def transition_latents(a: Keyframe, b: Keyframe, seconds: float, fps: float, drift: Drift,
                       d: DriftSettings) -> tuple[np.ndarray, np.ndarray]:
    """z (N, L, 128), y (N, 1000) of a transition clip: frame 0 is A's loop start, frame N-1 B's."""
    n = transition_frames(seconds, fps) - 1
    start = Keyframe((a.z + _offset(drift, d, 0.0)).astype(np.float32), a.y)
    zs, ys = [], []
    for k in range(n + 1):
        u = ease(k / n, EASING)
        kf = blend(start, b, u)
        t = k / n * seconds
        # The drift around the target fades in as the director's does; its phase reaches 0 on landing.
        z = kf.z + np.float32(u) * _offset(drift, d, d.speed * (t - seconds))  # (L, 128)
        zs.append(z.astype(np.float32))
        ys.append(kf.y)
    return np.stack(zs), np.stack(ys)


def idle_latents(k: Keyframe, seconds: float, fps: float, drift: Drift,
                 d: DriftSettings) -> tuple[np.ndarray, np.ndarray]:
    """z (M, L, 128), y (M, 1000) of a seamless idle loop around ``k`` (frame M would be frame 0)."""
    m = loop_frames(seconds, fps)
    zs = []
    for i in range(m):
        tau = i / m * seconds
        w = ease(tau / seconds, "smooth")  # zero slope at both ends: offset and velocity meet at the wrap
        off = (1.0 - w) * _offset(drift, d, d.speed * tau) + w * _offset(drift, d, d.speed * (tau - seconds))
        zs.append((k.z + off).astype(np.float32))  # (L, 128)
    return np.stack(zs), np.repeat(k.y[None, :], m, axis=0)
