"""The BigGAN generator wrapper: per-layer latents + a soft class vector -> images.

Architectures are data (``CONFIGS``) so the real ones can be built offline
with random weights for benchmarks, and a ``tiny`` one of the same classes
builds in a second for tests and the offline demo. Weights loading lives in
``livegan.models.registry``; this file never downloads anything.

Per-layer latents: as in the published CLIP+BigGAN music-video and big-sleep
code, every generator block gets its own z (one for the first linear layer
plus one per block), which makes the search far more expressive than one z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_pretrained_biggan import BigGAN, BigGANConfig
from pytorch_pretrained_biggan.model import GenBlock

from ..errors import NonFiniteFrames, RenderInterrupted

Z_DIM = 128
NUM_CLASSES = 1000

_DEEP_512_LAYERS = [
    [False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8],
    [False, 8, 8], [True, 8, 8], [False, 8, 8], [True, 8, 4],
    [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1],
    [False, 1, 1], [True, 1, 1],
]

# The published BigGAN-deep configurations (config.json of each named model),
# plus `tiny`: the same classes at 32x32 with 8 channels, for tests and demos.
CONFIGS: dict[str, dict] = {
    "biggan-deep-128": dict(output_dim=128, layers=[
        [False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8], [False, 8, 8],
        [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1]]),
    "biggan-deep-256": dict(output_dim=256, layers=_DEEP_512_LAYERS[:12]),
    "biggan-deep-512": dict(output_dim=512, layers=_DEEP_512_LAYERS),
    "tiny": dict(output_dim=32, channel_width=8, attention_layer_position=2,
                 layers=[[True, 16, 8], [True, 8, 4], [False, 4, 2], [True, 2, 1]]),
}


def make_config(name: str) -> BigGANConfig:
    base = dict(z_dim=Z_DIM, class_embed_dim=128, channel_width=128, num_classes=NUM_CLASSES,
                attention_layer_position=8, eps=1e-4, n_stats=51)
    base.update(CONFIGS[name])
    return BigGANConfig.from_dict(base)


@torch.no_grad()
def init_random_(model: BigGAN, seed: int) -> None:
    """Deterministically initialise EVERY parameter and buffer.

    pytorch-pretrained-biggan allocates some tensors with ``torch.Tensor(n)``
    (uninitialised memory), so nothing may be left to the constructor. The
    spectral-norm vectors u, v are set by power iteration so that sigma is the
    true top singular value and the network's activations stay bounded.
    """
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if name.endswith("gamma"):          # self-attention gate: small but non-zero
            p.fill_(0.1)
        elif p.ndim == 1:                   # unconditional BN weight/bias, conv biases
            # A gain of 3 on the last BN gives random pictures visible contrast
            # (with 1 they are a flat grey: std ~0.12 in [-1, 1]).
            p.fill_(3.0 if name.endswith("generator.bn.weight") else 0.0)
        else:
            p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(max(1, p[0].numel())))
    # BatchNorm statistics: one row per truncation 0, 0.02, ..., 1. Real BigGANs have
    # distinct rows (so truncation changes the picture); give random ones smooth,
    # distinct rows too, from their own generator so every other value stays as it was.
    gs = torch.Generator().manual_seed(seed + 1)
    for name, b in model.named_buffers():
        if name.endswith("running_means"):
            t = torch.linspace(0, 1, b.shape[0])[:, None]                  # (n_stats, 1)
            b.copy_(0.3 * t * torch.randn(b.shape[1], generator=gs))       # (n_stats, C)
        elif name.endswith("running_vars"):
            t = torch.linspace(0, 1, b.shape[0])[:, None]
            b.copy_(1.0 + 1.5 * t * torch.rand(b.shape[1], generator=gs))  # (n_stats, C), > 0
        elif name.endswith("weight_u") or name.endswith("weight_v"):
            b.copy_(F.normalize(torch.randn(b.shape, generator=g), dim=0))
    for mod in model.modules():
        if hasattr(mod, "weight_orig") and hasattr(mod, "weight_u"):
            w = mod.weight_orig.reshape(mod.weight_orig.shape[0], -1)  # (out, in*k*k)
            u, v = mod.weight_u, mod.weight_v
            for _ in range(30):
                v.copy_(F.normalize(w.t() @ u, dim=0))
                u.copy_(F.normalize(w @ v, dim=0))
    for b in model.buffers():
        if not torch.isfinite(b).all():
            raise RuntimeError("random init left a non-finite buffer")


def bake_spectral_norm(model: torch.nn.Module) -> None:
    """Replace spectral-normalised weights by their fixed value (eval only).

    In eval mode spectral norm still divides by sigma on every forward; the
    weights never change during a show or a latent search, so bake it once.
    """
    for mod in model.modules():
        if hasattr(mod, "weight_orig"):
            torch.nn.utils.remove_spectral_norm(mod)


def trim_rgb_conv(model: torch.nn.Module) -> bool:
    """Keep only the 3 output channels of the last convolution that the picture uses; True if trimmed.

    pytorch-pretrained-biggan's ``conv_to_rgb`` computes ``channel_width``
    (128) channels at full resolution and its forward keeps the first 3:
    a fifth of biggan-deep-128's FLOPs, a quarter of 256's and half of
    512's went into 125 channels that were thrown away, in one kernel
    (the longest one a cue waits for). Each output channel of a convolution
    depends only on its own filter, so the picture is the same. Call it on
    a baked model (after :func:`bake_spectral_norm`): sigma is a property
    of the whole weight.
    """
    gen = getattr(model, "generator", model)
    conv = gen.conv_to_rgb
    if hasattr(conv, "weight_orig"):
        raise ValueError("bake spectral norm before trimming conv_to_rgb (sigma needs the whole weight)")
    if conv.out_channels <= 3:
        return False
    # In place: the module keeps its padding, stride and the rest; only its filters are cut.
    for name in ("weight", "bias"):
        p = getattr(conv, name)
        if p is not None:
            setattr(conv, name, torch.nn.Parameter(p.detach()[:3].clone(), requires_grad=p.requires_grad))
    conv.out_channels = 3
    return True


@dataclass
class GeneratorId:
    """What the bank's metadata records about the generator it was made for."""

    name: str                     # architecture: biggan-deep-128/256/512 or tiny
    weights: str                  # "download", "random:SEED", or "sha256:..." of a local file
    extra: dict = field(default_factory=dict)

    def key(self) -> str:
        return f"{self.name}@{self.weights}"


class Generator:
    """BigGAN with per-layer latents. Not an nn.Module: it owns one and its device."""

    def __init__(self, model: BigGAN, gid: GeneratorId, device: str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        self.model = model.eval().to(device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.id = gid
        self.device = torch.device(device)
        self.dtype = dtype
        cfg = model.config
        self.size: int = cfg.output_dim
        self.num_latents: int = len(cfg.layers) + 1
        self._blocks = list(model.generator.layers)
        # Asked before every block (and the final conv): True gives the render up (RenderInterrupted),
        # so a cue need not wait for a stale batch to finish (models/interrupt.py sets it). Checked in
        # this forward because its BigGAN blocks run through gen_block(), not the modules' __call__,
        # where forward hooks would fire.
        self.should_stop = None

    @property
    def name(self) -> str:
        return self.id.name

    def to(self, device: str) -> "Generator":
        """Move to another device (e.g. the CPU after a GPU out-of-memory)."""
        self.model.to(device)
        self.device = torch.device(device)
        if self.device.type == "cpu" and self.dtype == torch.float16:
            self.dtype = torch.bfloat16
        return self

    def _cond(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        embed = self.model.embeddings(y)                     # (B, 128)
        if z.ndim == 2:                                      # one z for every layer
            z = z[:, None, :].expand(-1, self.num_latents, -1)  # (B, L, 128)
        return torch.cat([z, embed[:, None, :].expand(-1, z.shape[1], -1)], dim=2)  # (B, L, 256)

    def forward(self, z: torch.Tensor, y: torch.Tensor, truncation: float | torch.Tensor) -> torch.Tensor:
        """z (B, L, 128) or (B, 128); y (B, 1000) soft class vector -> images (B, 3, S, S) in [-1, 1].

        ``truncation``: one number, or a tensor (B,) of one per frame. A
        tensor is a graph input to ``torch.compile`` (a number would be a
        constant: every other value a recompile, or eager). It is not checked
        here (that would sync a GPU): :meth:`render` checks it.
        """
        truncation = per_frame(truncation, z)
        gen = self.model.generator
        cond = self._cond(z, y)                              # (B, L, 256)
        x = gen.gen_z(cond[:, 0])                            # (B, 4*4*16ch)
        x = x.view(-1, 4, 4, 16 * gen.config.channel_width).permute(0, 3, 1, 2).contiguous()
        k = 1
        for layer in self._blocks:
            self._check_stop()
            if isinstance(layer, GenBlock):
                x = gen_block(layer, x, cond[:, k], truncation, self._check_stop)
                k += 1
            else:
                x = layer(x)
        x = gen.relu(batch_norm(gen.bn, x, truncation))
        self._check_stop()
        x = gen.conv_to_rgb(x)[:, :3]
        return torch.tanh(x)                                 # (B, 3, S, S)

    __call__ = forward

    def _check_stop(self) -> None:
        # is_compiling() first: torch.compile then never reads should_stop, so setting it after a
        # compile (a show makes the generator interruptible) is no guard failure and no recompile.
        if not torch.compiler.is_compiling() and self.should_stop is not None and self.should_stop():
            raise RenderInterrupted()

    # The render worker may give a batch one truncation per frame (a knob's glide need not split it).
    per_frame_truncation = True

    @torch.no_grad()
    def render(self, z: np.ndarray, y: np.ndarray, truncation: float | np.ndarray) -> np.ndarray:
        """Numpy in, uint8 frames out: z (B, L, 128), y (B, 1000), truncation () or (B,) -> (B, S, S, 3)."""
        trunc = np.broadcast_to(np.asarray(truncation, np.float32), (len(z),))
        check_truncation(trunc)
        zt = torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)).to(self.device)
        yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).to(self.device)
        tt = torch.from_numpy(np.array(trunc)).to(self.device)
        use_autocast = self.dtype != torch.float32
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=use_autocast):
            img = self.forward(zt, yt, tt)
        bad = ~torch.isfinite(img).flatten(1).all(dim=1)                   # (B,)
        frames = to_uint8(img)
        if bool(bad.any()):
            raise NonFiniteFrames(frames, bad.cpu().numpy())
        return frames


def check_truncation(truncation: float | np.ndarray) -> None:
    t = np.asarray(truncation)
    if not (np.all(t > 0.0) and np.all(t <= 1.0)):  # NaN fails too
        raise ValueError(f"truncation must be in range (0, 1], got {truncation}")


def per_frame(truncation: float | torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Truncation as the generator's graph takes it: (B,) float32 on z's device (a number is checked)."""
    if not isinstance(truncation, torch.Tensor):
        check_truncation(truncation)
        return torch.full((z.shape[0],), float(truncation), device=z.device)
    return truncation.to(device=z.device, dtype=torch.float32).reshape(-1).expand(z.shape[0])


def bn_stats(bn: torch.nn.Module, truncation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance (B, C) for ``truncation`` (B,): rows are stored for 0, 1/(n-1), ..., 1.

    Linear between the two nearest rows, weighted the right way round (the
    library weights the lower row by the fraction *above* it, so between rows
    its statistics run backwards and a truncation glide jumps at every row).
    Tensor operations only, so that a compiled graph takes any truncation.
    """
    n = bn.running_means.shape[0]
    pos = truncation.float().clamp(0.0, 1.0) * (n - 1)        # (B,)
    lo = pos.floor().clamp(max=n - 1)
    frac = (pos - lo)[:, None]                                # (B, 1)
    lo = lo.long()
    hi = (lo + 1).clamp(max=n - 1)
    mean = torch.lerp(bn.running_means[lo], bn.running_means[hi], frac)  # (B, C)
    var = torch.lerp(bn.running_vars[lo], bn.running_vars[hi], frac)     # (B, C)
    return mean, var


def batch_norm(bn: torch.nn.Module, x: torch.Tensor, truncation: torch.Tensor,
               cond: torch.Tensor | None = None) -> torch.Tensor:
    """BigGANBatchNorm's forward with correctly interpolated statistics; x (B, C, H, W), truncation (B,).

    As one scale and shift per frame and channel: (x - mean) / sqrt(var + eps) * weight + bias.
    """
    mean, var = bn_stats(bn, truncation)                                   # (B, C)
    if bn.conditional:
        weight, bias = 1 + bn.scale(cond), bn.offset(cond)                 # (B, C)
    else:
        weight, bias = bn.weight[None], bn.bias[None]                      # (1, C)
    scale = weight * torch.rsqrt(var + bn.eps)
    shift = bias - mean * scale
    return x * scale[:, :, None, None] + shift[:, :, None, None]


def gen_block(block: GenBlock, x: torch.Tensor, cond: torch.Tensor, truncation: torch.Tensor,
              check: Callable[[], None] = lambda: None) -> torch.Tensor:
    """GenBlock's forward (pytorch-pretrained-biggan) with :func:`batch_norm`; x (B, C, H, W).

    ``check`` runs between its convolutions (a cue's interrupt: the last blocks
    of a frame are its most expensive, up to a fifth of it each, too long to wait).
    """
    x0 = x
    x = block.conv_0(block.relu(batch_norm(block.bn_0, x, truncation, cond)))
    check()
    x = block.relu(batch_norm(block.bn_1, x, truncation, cond))
    if block.up_sample:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
    x = block.conv_1(x)
    check()
    x = block.conv_2(block.relu(batch_norm(block.bn_2, x, truncation, cond)))
    check()
    x = block.conv_3(block.relu(batch_norm(block.bn_3, x, truncation, cond)))
    if block.drop_channels:
        x0 = x0[:, : x0.shape[1] // 2]
    if block.up_sample:
        x0 = F.interpolate(x0, scale_factor=2, mode="nearest")
    return x + x0


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) in [-1, 1] -> (B, S, S, 3) uint8; NaN becomes black (checked by the caller)."""
    img = torch.nan_to_num(img.float(), nan=-1.0, posinf=1.0, neginf=-1.0)
    out = ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return out.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def build_random(name: str, seed: int = 0) -> BigGAN:
    """The named architecture with deterministic random weights (spectral norm not yet baked)."""
    model = BigGAN(make_config(name))
    init_random_(model, seed)
    return model
