"""CLIP-guided search of BigGAN latents for one lyric line.

A batch of candidates (per-layer z and 1000-way class logits) is optimised
with Adam so that CLIP's embedding of augmented crops ("cutouts") of each
generated image matches the embedding of the lyric. z is regularised toward
its prior and the class vector toward a few classes (an entropy penalty).
The best ``variants`` candidates are kept by the CLIP score of the whole,
un-augmented image, tracked at every step (so a late bad step can't lose a
good picture). Deterministic for a seed on CPU.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..models.biggan import Generator
from ..models.clip import Clip
from ..models.imagenet import imagenet_names, words_to_classes

SEARCH_VERSION = 2  # bump when the algorithm changes, to invalidate caches


@dataclass
class SearchSettings:
    """Defaults follow published CLIP+BigGAN settings (Adam, lr 0.05-0.1, 100-400 steps, 32-128 cutouts)."""

    steps: int = 200
    lr: float = 0.07
    cutouts: int = 32
    candidates: int = 4
    variants: int = 2
    seed: int = 0
    truncation: float = 0.7
    z_weight: float = 0.05        # pull of z toward its N(0, 1) prior
    class_entropy: float = 0.02   # pull of the class vector toward few classes
    classes_per_candidate: int = 3

    def cache_dict(self) -> dict:
        return {**asdict(self), "search_version": SEARCH_VERSION}


@dataclass
class SearchResult:
    z: np.ndarray           # (V, L, 128)
    y: np.ndarray           # (V, 1000) soft class vectors
    score: np.ndarray       # (V,) CLIP cosine similarity of the whole image
    classes: list[int]      # the classes the search started from
    history: list[float] = field(default_factory=list)  # best score after each step


def class_prompts() -> list[str]:
    names = imagenet_names()
    return [f"a photo of a {names.label(i)}" for i in range(1000)]


def start_classes(text: str, hints: list[int], text_emb: torch.Tensor,
                  class_emb: torch.Tensor | None, k: int = 6) -> list[int]:
    """Hints first, then class names found in the lyric, then CLIP's nearest class prompts."""
    out: list[int] = []
    for c in [*hints, *words_to_classes(text)]:
        if c not in out:
            out.append(c)
    if class_emb is not None and len(out) < k:
        sims = (class_emb @ text_emb).flatten()             # (1000,)
        for c in sims.argsort(descending=True).tolist():
            if c not in out:
                out.append(c)
            if len(out) >= k:
                break
    return out[:k] or [0]


def truncated_normal(shape: tuple[int, ...], g: torch.Generator, bound: float = 2.0) -> torch.Tensor:
    """N(0, 1) resampled inside [-bound, bound], as BigGAN's truncation trick samples z."""
    x = torch.randn(shape, generator=g)
    bad = x.abs() > bound
    while bad.any():
        x[bad] = torch.randn(int(bad.sum()), generator=g)
        bad = x.abs() > bound
    return x


def initial_latents(gen: Generator, classes: list[int], s: SearchSettings, g: torch.Generator,
                    n: int, hints: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """n candidates: z (n, L, 128) from the truncated prior; logits (n, 1000) on a few start classes.

    With ``hints`` (the section's ``classes:``), every candidate leads with one of
    them (in turn): the user asked for those classes, so no candidate ignores them.
    """
    z = truncated_normal((n, gen.num_latents, 128), g) * s.truncation       # (n, L, 128)
    logits = torch.full((n, 1000), -12.0)                                   # (n, 1000): ~0 mass off-class
    m = max(1, min(s.classes_per_candidate, len(classes)))
    hints = [c for c in (hints or []) if 0 <= c < 1000]
    for i in range(n):
        # Candidates start on different subsets of the start classes, for variety.
        picks = [hints[i % len(hints)]] if hints else []
        for j in range(len(classes)):
            c = classes[(i + j) % len(classes)]
            if len(picks) >= m:
                break
            if c not in picks:
                picks.append(c)
        for j, c in enumerate(picks):
            logits[i, c] = 1.0 if j == 0 else 0.0
        logits[i] += 0.01 * torch.randn(1000, generator=g)
    return z, logits


def z_prior(z: torch.Tensor, truncation: float) -> torch.Tensor:
    """(n, L, 128) -> (n,): pull toward 0, and a steep penalty outside the truncated prior.

    z starts inside +-2 * truncation (truncated normal times truncation), so the
    penalty starts there too, not at +-2: at truncation 0.4 a z of 1.5 is far outside.
    """
    bound = 2.0 * float(truncation)
    return (z ** 2).mean(dim=(1, 2)) + 10 * F.relu(z.abs() - bound).pow(2).mean(dim=(1, 2))


def make_cutouts(img: torch.Tensor, n: int, size: int, g: torch.Generator) -> torch.Tensor:
    """(C, 3, S, S) -> (C*n, 3, size, size): random square crops (50-100% of the side), flips, noise."""
    c, _, s, _ = img.shape
    out = []
    for _ in range(n):
        side = int(s * (0.5 + 0.5 * torch.rand((), generator=g).item()))
        ox = int(torch.randint(0, s - side + 1, (), generator=g))
        oy = int(torch.randint(0, s - side + 1, (), generator=g))
        crop = img[:, :, oy:oy + side, ox:ox + side]
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)
        if torch.rand((), generator=g).item() < 0.5:
            crop = crop.flip(-1)
        out.append(crop)
    cut = torch.stack(out, dim=1).reshape(c * n, 3, size, size)             # (C*n, 3, s, s)
    return cut + 0.02 * torch.randn(cut.shape, generator=g).to(cut.device)


def score_images(clip: Clip, img: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S) -> (B,) cosine similarity of each whole image with the text."""
    return clip.encode_image(img) @ text_emb                                 # (B,)


def search_section(gen: Generator, clip: Clip, text: str, hints: list[int], s: SearchSettings, *,
                   class_emb: torch.Tensor | None = None,
                   progress: Callable[[int, float], None] | None = None) -> SearchResult:
    """Find ``s.variants`` keyframes for one lyric line."""
    g = torch.Generator().manual_seed(s.seed)
    dev = gen.device
    text_emb = clip.encode_text([text])[0]                                  # (D,)
    classes = start_classes(text, hints, text_emb.cpu(), class_emb)
    n = max(s.candidates, s.variants)
    z, logits = initial_latents(gen, classes, s, g, n, hints)
    z = z.to(dev).requires_grad_(True)
    logits = logits.to(dev).requires_grad_(True)
    opt = torch.optim.Adam([z, logits], lr=s.lr)
    best = torch.full((n,), -math.inf)
    best_z = z.detach().clone()
    best_y = torch.softmax(logits.detach(), -1)
    history: list[float] = []
    for step in range(s.steps + 1):
        y = torch.softmax(logits, dim=-1)                                   # (n, 1000)
        img = gen(z, y, s.truncation)                                       # (n, 3, S, S)
        with torch.no_grad():  # the whole image's score, from the same forward pass
            whole = score_images(clip, img.detach(), text_emb).cpu()        # (n,)
            improved = whole > best
            best = torch.where(improved, whole, best)
            best_z[improved.to(dev)] = z.detach()[improved.to(dev)]
            best_y[improved.to(dev)] = y.detach()[improved.to(dev)]
        history.append(float(best.max()))
        if progress:
            progress(step, history[-1])
        if step == s.steps:
            break  # the last iteration only scores the final update
        cuts = make_cutouts(img, s.cutouts, clip.image_size, g)             # (n*K, 3, s, s)
        sim = (clip.encode_image(cuts) @ text_emb).view(n, s.cutouts)       # (n, K)
        entropy = -(y * torch.log(y + 1e-12)).sum(-1)                       # (n,)
        prior = z_prior(z, s.truncation)                                    # (n,)
        loss = (-sim.mean(1) + s.z_weight * prior + s.class_entropy * entropy).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    order = best.argsort(descending=True)[: s.variants]
    return SearchResult(best_z[order.to(dev)].cpu().numpy().astype(np.float32),
                        best_y[order.to(dev)].cpu().numpy().astype(np.float32),
                        best[order].numpy().astype(np.float32), classes, history)


@torch.no_grad()
def random_search(gen: Generator, clip: Clip, text: str, hints: list[int], s: SearchSettings,
                  evaluations: int, class_emb: torch.Tensor | None = None, batch: int = 16) -> float:
    """Best-of-N sampling from the same start distribution: the baseline the search must beat."""
    g = torch.Generator().manual_seed(s.seed + 1)
    text_emb = clip.encode_text([text])[0]
    classes = start_classes(text, hints, text_emb.cpu(), class_emb)
    best = -math.inf
    done = 0
    while done < evaluations:
        k = min(batch, evaluations - done)
        z, logits = initial_latents(gen, classes, s, g, k, hints)
        img = gen(z.to(gen.device), torch.softmax(logits, -1).to(gen.device), s.truncation)
        best = max(best, float(score_images(clip, img, text_emb).max()))
        done += k
    return best
