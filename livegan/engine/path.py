"""Latent path maths: slerp/lerp between keyframes, easing, and the idle drift.

Numpy only (the live path never imports torch here): the director computes
one (z, y) per frame with these functions and the renderer turns it into a
picture. A :class:`Keyframe` holds ``L`` per-layer noise vectors (one per
generator layer plus one) and a soft ImageNet class vector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z_DIM = 128
N_CLASSES = 1000
# Below this sin(angle) two rows are treated as parallel and lerped: the slerp
# weights divide by sin(angle) and would blow up.
_PARALLEL_EPS = 1e-6
EASE_KINDS: tuple[str, ...] = ("linear", "smooth", "cosine", "smoother")


@dataclass(frozen=True)
class Keyframe:
    """One picture's latents: z (L, 128) float32 and a soft class vector y (1000,)."""

    z: np.ndarray  # (L, 128) float32
    y: np.ndarray  # (1000,) float32, non-negative, sums to 1

    def __post_init__(self) -> None:
        if self.z.ndim != 2 or self.z.shape[1] != Z_DIM:
            raise ValueError(f"keyframe z must have shape (L, {Z_DIM}), got {self.z.shape}")
        if self.y.shape != (N_CLASSES,):
            raise ValueError(f"keyframe y must have shape ({N_CLASSES},), got {self.y.shape}")

    @property
    def layers(self) -> int:
        return int(self.z.shape[0])


def lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Linear interpolation; exact at t=0 and t=1 (returns copies of a and b)."""
    if t <= 0.0:
        return a.copy()
    if t >= 1.0:
        return b.copy()
    return (a + (b - a) * t).astype(a.dtype, copy=False)  # same shape as a


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation of each row of a and b separately.

    a, b: (L, D) (or (D,)). Rows that are nearly parallel (or antiparallel, or
    zero) fall back to lerp. The endpoints are exact copies. When a row of a and
    the matching row of b have equal norms, the result keeps that norm.
    """
    if t <= 0.0:
        return a.copy()
    if t >= 1.0:
        return b.copy()
    a64 = np.atleast_2d(a).astype(np.float64)  # (L, D)
    b64 = np.atleast_2d(b).astype(np.float64)  # (L, D)
    na = np.linalg.norm(a64, axis=-1, keepdims=True)  # (L, 1)
    nb = np.linalg.norm(b64, axis=-1, keepdims=True)  # (L, 1)
    safe = np.maximum(na * nb, 1e-30)
    cos = np.clip(np.sum(a64 * b64, axis=-1, keepdims=True) / safe, -1.0, 1.0)  # (L, 1)
    omega = np.arccos(cos)  # (L, 1)
    so = np.sin(omega)  # (L, 1)
    near = (so < _PARALLEL_EPS) | (na * nb < 1e-30)  # (L, 1)
    so_safe = np.where(near, 1.0, so)
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * omega) / so_safe)  # (L, 1)
    wb = np.where(near, t, np.sin(t * omega) / so_safe)  # (L, 1)
    out = wa * a64 + wb * b64  # (L, D)
    return out.reshape(a.shape).astype(a.dtype, copy=False)


def ease(t: float, kind: str = "smooth") -> float:
    """Map progress t to eased progress: monotonic, ease(0)=0, ease(1)=1, clamped outside.

    'linear'; 'smooth' = smoothstep (zero speed at both ends, so a transition
    starts and lands gently); 'cosine' = half-cosine; 'smoother' = smootherstep.
    """
    if t <= 0.0:
        return 0.0
    if t >= 1.0:
        return 1.0
    if kind == "linear":
        return t
    if kind == "smooth":
        return t * t * (3.0 - 2.0 * t)
    if kind == "cosine":
        return 0.5 - 0.5 * math.cos(math.pi * t)
    if kind == "smoother":
        return t * t * t * (t * (6.0 * t - 15.0) + 10.0)
    raise ValueError(f"unknown easing {kind!r} (one of {', '.join(EASE_KINDS)})")


def blend(frm: Keyframe, to: Keyframe, u: float) -> Keyframe:
    """The picture a fraction u of the way from ``frm`` to ``to``: slerp z, lerp y.

    Lerping two class distributions gives a distribution again, so y stays
    non-negative and sums to 1.
    """
    return Keyframe(slerp(frm.z, to.z, u), lerp(frm.y, to.y, u))


class Drift:
    """A smooth, bounded, seeded wander around a keyframe in latent space.

    Each layer gets ``directions`` orthonormal random directions; each moves by
    a sum of slow sines with incommensurate frequencies, so the motion never
    visibly loops. The offset is a pure function of the phase (time x speed):
    continuous, deterministic for a seed, and exactly zero at amount 0.

    Scale: at amount 1 a row moves at most about one typical z-row norm
    (sqrt(128) ~ 11.3, the norm of a standard normal vector), so the default
    0.15 wanders by up to ~1.7 -- around the keyframe, not away from it.
    """

    def __init__(self, layers: int, seed: int = 0, directions: int = 3, sines: int = 3) -> None:
        rng = np.random.default_rng(seed)
        g = rng.standard_normal((layers, Z_DIM, directions))  # (L, 128, K)
        q, _ = np.linalg.qr(g)  # (L, 128, K): orthonormal columns per layer
        self.dirs = np.ascontiguousarray(np.swapaxes(q, 1, 2))  # (L, K, 128)
        # Frequencies in cycles per phase unit (phase = seconds at speed 1):
        # periods between ~5 s and ~25 s read as "slow breathing", not shaking.
        self.freq = rng.uniform(0.04, 0.2, (layers, directions, sines))  # (L, K, J)
        self.phase0 = rng.uniform(0.0, 2 * math.pi, (layers, directions, sines))  # (L, K, J)
        w = rng.uniform(0.5, 1.0, (layers, directions, sines))  # (L, K, J)
        self.weight = w / w.sum(axis=-1, keepdims=True)  # each coefficient stays in [-1, 1]
        # sqrt(K) directions each |c|<=1: divide so a row's offset norm <= 1 * scale.
        self.scale = math.sqrt(Z_DIM) / math.sqrt(directions)
        self.layers = layers

    def at_phase(self, phase: float, amount: float) -> np.ndarray:
        """Offset (L, 128) float32 at a given phase; the director integrates the phase."""
        if amount == 0.0:
            return np.zeros((self.layers, Z_DIM), np.float32)
        arg = 2 * math.pi * self.freq * phase + self.phase0  # (L, K, J)
        coef = np.sum(self.weight * np.sin(arg), axis=-1)  # (L, K), each in [-1, 1]
        off = np.einsum("lk,lkd->ld", coef, self.dirs)  # (L, 128)
        return (off * (amount * self.scale)).astype(np.float32)  # (L, 128)

    def offset(self, t: float, amount: float, speed: float = 1.0) -> np.ndarray:
        """Offset (L, 128) at time t for a constant speed; norm per row <= amount*sqrt(128)."""
        return self.at_phase(t * speed, amount)

    def bound(self, amount: float) -> float:
        """The largest norm any row of the offset can reach at this amount."""
        return abs(amount) * self.scale * math.sqrt(self.dirs.shape[1])
