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
_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's image normalisation: only the fallback;
_STD = (0.26862954, 0.26130258, 0.27577711)   # each model's own preprocess config decides (SigLIP: 0.5)


@dataclass
class Preprocess:
    """How a CLIP model wants its images: open_clip's PreprocessCfg, the parts that apply to tensors."""

    size: int = 224
    mean: tuple[float, ...] = _MEAN
    std: tuple[float, ...] = _STD
    interpolation: str = "bicubic"   # bicubic, bilinear or nearest
    resize_mode: str = "shortest"    # shortest (then centre crop), longest (then pad) or squash


def preprocess_config(model: torch.nn.Module, name: str | None = None, tag: str | None = None) -> Preprocess:
    """The model's own preprocessing: what open_clip set on ``model.visual.preprocess_cfg`` (from the
    model config), overlaid with the pretrained tag's config (mean/std differ per tag)."""
    cfg: dict = dict(getattr(model.visual, "preprocess_cfg", None) or {})
    if name and tag:
        try:
            import open_clip
            cfg.update({k: v for k, v in (open_clip.get_pretrained_cfg(name, tag) or {}).items()
                        if k in ("mean", "std", "interpolation", "resize_mode") and v is not None})
        except Exception:  # noqa: BLE001 - an unknown tag keeps the model's own config
            pass
    size = cfg.get("size") or model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    return Preprocess(size=int(size), mean=tuple(cfg.get("mean") or _MEAN), std=tuple(cfg.get("std") or _STD),
                      interpolation=str(cfg.get("interpolation") or "bicubic"),
                      resize_mode=str(cfg.get("resize_mode") or "shortest"))


def resize_for(img: torch.Tensor, pp: Preprocess) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 3, size, size) as ``pp.resize_mode`` says; differentiable."""
    h, w = img.shape[-2:]
    n = pp.size
    if (h, w) == (n, n):
        return img
    mode = pp.interpolation if pp.interpolation in ("bicubic", "bilinear", "nearest") else "bilinear"
    kw = {} if mode == "nearest" else {"align_corners": False}
    if pp.resize_mode == "squash" or h == w:
        return F.interpolate(img, size=(n, n), mode=mode, **kw)
    scale = n / (min(h, w) if pp.resize_mode == "shortest" else max(h, w))
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    img = F.interpolate(img, size=(nh, nw), mode=mode, **kw)
    if pp.resize_mode == "shortest":                      # centre crop
        top, left = (nh - n) // 2, (nw - n) // 2
        return img[..., top:top + n, left:left + n]
    return F.pad(img, (0, n - nw, 0, n - nh))            # longest: pad (black after normalising is close enough)


@dataclass
class ClipId:
    spec: str      # "tiny", "ViT-B-32/openai", "ViT-B-32/random:0", "ViT-B-32/file:sha256:…"

    def __str__(self) -> str:
        return self.spec


class Clip:
    """Text and image embeddings, unit-normalised; images go in as [-1, 1] tensors of any size."""

    def __init__(self, model: torch.nn.Module, tokenizer, cid: ClipId, device: str,
                 preprocess: Preprocess | None = None) -> None:
        self.model = model.eval().to(device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.tokenizer = tokenizer
        self.id = cid
        self.device = torch.device(device)
        self.preprocess = preprocess or preprocess_config(model)
        self.image_size: int = self.preprocess.size
        self._mean = torch.tensor(self.preprocess.mean, device=device).view(1, 3, 1, 1)
        self._std = torch.tensor(self.preprocess.std, device=device).view(1, 3, 1, 1)

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
        img = resize_for(img, self.preprocess)                 # (B, 3, s, s)
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
        return Clip(model, open_clip.get_tokenizer(name), ClipId(f"{name}/file:{fingerprint(p)}"), dev,
                    preprocess_config(model, name, tag))
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
    return Clip(model, open_clip.get_tokenizer(name), ClipId(f"{name}/{tag}"), dev, preprocess_config(model, name, tag))


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
