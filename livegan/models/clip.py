"""The CLIP wrapper used by prep (never by the live show).

Specs are ``MODEL/PRETRAINED`` as open_clip names them (``ViT-B-32/openai``,
``ViT-B-32/laion2b_s34b_b79k``), a local checkpoint file (``--clip-weights``),
random weights of a named architecture, or ``tiny``: a two-layer CLIP of the
same class with deterministic random weights for tests and offline demos.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ModelError
from .registry import cache_dir, resolve_device

log = logging.getLogger(__name__)

DEFAULT_CLIP = "ViT-B-32/openai"
_TINY = dict(embed_dim=64,
             vision_cfg=dict(image_size=32, layers=2, width=64, patch_size=8, head_width=32),
             text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=2))
_MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's image normalisation
_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class ClipId:
    spec: str      # "tiny", "ViT-B-32/openai", "ViT-B-32/random:0", "ViT-B-32/file:sha256:…"

    def __str__(self) -> str:
        return self.spec


class Clip:
    """Text and image embeddings, unit-normalised; images go in as [-1, 1] tensors of any size."""

    def __init__(self, model: torch.nn.Module, tokenizer, cid: ClipId, device: str) -> None:
        self.model = model.eval().to(device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.tokenizer = tokenizer
        self.id = cid
        self.device = torch.device(device)
        size = model.visual.image_size
        self.image_size: int = size[0] if isinstance(size, (tuple, list)) else int(size)
        self._mean = torch.tensor(_MEAN, device=device).view(1, 3, 1, 1)
        self._std = torch.tensor(_STD, device=device).view(1, 3, 1, 1)

    @torch.no_grad()
    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """(N,) texts -> (N, D) unit vectors."""
        out = []
        for i in range(0, len(texts), 256):
            tokens = self.tokenizer(texts[i:i + 256]).to(self.device)
            out.append(F.normalize(self.model.encode_text(tokens).float(), dim=-1))
        return torch.cat(out)

    def encode_image(self, img: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, D) unit vectors; differentiable w.r.t. img."""
        if img.shape[-1] != self.image_size or img.shape[-2] != self.image_size:
            img = F.interpolate(img, size=(self.image_size, self.image_size), mode="bilinear",
                                align_corners=False, antialias=False)
        x = ((img + 1) * 0.5 - self._mean) / self._std       # (B, 3, s, s)
        return F.normalize(self.model.encode_image(x).float(), dim=-1)


def _split(spec: str) -> tuple[str, str | None]:
    name, _, tag = spec.partition("/")
    return name, (tag or None)


def load_clip(spec: str = DEFAULT_CLIP, *, checkpoint: str | None = None, random_weights: bool = False,
              seed: int = 0, device: str = "auto") -> Clip:
    import open_clip

    dev = resolve_device(device)
    tokenizer = open_clip.tokenize  # the BPE vocabulary ships inside open_clip: no download
    if spec == "tiny":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = open_clip.model.CLIP(**_TINY)
        return Clip(model, tokenizer, ClipId(f"tiny/random:{seed}"), dev)
    name, tag = _split(spec)
    if name not in open_clip.list_models():
        near = [m for m in open_clip.list_models() if name.lower()[:5] in m.lower()][:5]
        raise ModelError(f"unknown CLIP model {name!r}" + (f" (did you mean {', '.join(near)}?)" if near else "")
                         + "; use MODEL/PRETRAINED as open_clip names them, e.g. ViT-B-32/openai, or tiny")
    if random_weights:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = open_clip.create_model(name, pretrained=None, device="cpu")
        return Clip(model, open_clip.get_tokenizer(name), ClipId(f"{name}/random:{seed}"), dev)
    if checkpoint:
        from .registry import fingerprint
        from pathlib import Path
        p = Path(checkpoint)
        if not p.is_file():
            raise ModelError(f"{checkpoint}: CLIP checkpoint file not found")
        try:
            model = open_clip.create_model(name, pretrained=None, device="cpu")
            open_clip.load_checkpoint(model, str(p), strict=True)
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"{checkpoint}: cannot load as {name} ({type(e).__name__}: {str(e).splitlines()[0][:160]})") from None
        return Clip(model, open_clip.get_tokenizer(name), ClipId(f"{name}/file:{fingerprint(p)}"), dev)
    tags = open_clip.list_pretrained_tags_by_model(name)
    if tag is None or tag not in tags:
        raise ModelError(f"CLIP {name} needs a pretrained tag: {name}/TAG with TAG one of {', '.join(tags[:8])}"
                         + (" …" if len(tags) > 8 else ""))
    cached = _cached_pretrained(open_clip, name, tag)
    if cached is None and not _reachable("huggingface.co"):
        raise ModelError(f"cannot download CLIP {name}/{tag} (no network); offline, pass --clip-weights FILE "
                         f"(a checkpoint of {name}), or use --clip tiny")
    try:
        model = open_clip.create_model(name, pretrained=cached or tag, device="cpu",
                                       cache_dir=str(cache_dir() / "open_clip"), require_pretrained=True)
    except Exception as e:  # noqa: BLE001 - offline is the common case
        raise ModelError(f"cannot download CLIP {name}/{tag} ({type(e).__name__}); offline, pass "
                         f"--clip-weights FILE (a checkpoint of {name}), or use --clip tiny") from None
    return Clip(model, open_clip.get_tokenizer(name), ClipId(f"{name}/{tag}"), dev)


def _cached_pretrained(open_clip, name: str, tag: str) -> str | None:
    """A pretrained file already in the hub cache, so offline machines need no network call."""
    try:
        from huggingface_hub import try_to_load_from_cache
        hub = (open_clip.get_pretrained_cfg(name, tag) or {}).get("hf_hub", "").rstrip("/")
    except Exception:  # noqa: BLE001
        return None
    if not hub:
        return None
    for fname in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        for cdir in (str(cache_dir() / "open_clip"), None):
            try:
                p = try_to_load_from_cache(hub, fname, cache_dir=cdir)
            except Exception:  # noqa: BLE001
                p = None
            if isinstance(p, str):
                return p
    return None


def _reachable(host: str, timeout: float = 3.0) -> bool:
    """Fail fast offline instead of waiting through the hub client's retries (~45 s)."""
    import socket
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False
