"""Registry of named weights: where generators and CLIP models come from.

Sources, in the order a user meets them:
- a named BigGAN-deep (``biggan-deep-128/256/512``), downloaded once into
  the livegan cache (``$LIVEGAN_CACHE`` or ``~/.cache/livegan``);
- a local folder with ``config.json`` + ``pytorch_model.bin`` (``--weights DIR``),
  for machines without network;
- ``--random-weights``: the real architecture with deterministic random
  weights (benchmarks cost the same FLOPs; offline smoke runs);
- ``tiny``: a small configuration of the same classes, for tests and demos.

Real weights load strictly: a missing or unexpected key is an error, never a
silent partial load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import torch

from ..errors import ModelError
from ..fsio import user_mode
from .biggan import CONFIGS, Generator, GeneratorId, bake_spectral_norm, build_random, init_random_, trim_rgb_conv

log = logging.getLogger(__name__)

GENERATOR_NAMES: tuple[str, ...] = tuple(CONFIGS)
_BIGGAN_URL = "https://s3.amazonaws.com/models.huggingface.co/biggan/{name}-{file}"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def cache_dir() -> Path:
    return Path(os.environ.get("LIVEGAN_CACHE") or Path.home() / ".cache" / "livegan")


def mps_available() -> bool:
    """Apple Silicon's GPU (Metal Performance Shaders) usable by this torch build."""
    mps = getattr(torch.backends, "mps", None)
    try:
        return bool(mps is not None and mps.is_available())
    except (AttributeError, RuntimeError):
        return False


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> cuda, else mps (Apple Silicon), else cpu; an unavailable cuda or mps is an error."""
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if mps_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("--device cuda asked for, but no CUDA GPU is available (use --device cpu or auto)")
    if device == "mps" and not mps_available():
        raise ModelError("--device mps asked for, but Apple's MPS is not available here (use --device cpu or auto)")
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise ModelError(f"unknown device {device!r} (auto, cpu, cuda, cuda:N, mps)")
    return device


def resolve_dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r} ({', '.join(DTYPES)})")
    return DTYPES[dtype]


def check_generator_name(name: str) -> None:
    if name not in CONFIGS:
        raise ModelError(f"unknown generator {name!r} (one of: {', '.join(GENERATOR_NAMES)}; "
                         "or --weights DIR for a local folder)")


def fingerprint(path: Path) -> str:
    """sha256 of the whole weights file (two files that differ anywhere get different ids).

    Hashing a 1 GB file takes seconds, so the result is cached in the livegan
    cache, keyed by the file's absolute path, size and mtime: touched or
    replaced files are hashed again.
    """
    from ..fsio import atomic_write_bytes

    path = Path(path)
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    index = cache_dir() / "fingerprints.json"
    try:
        known = json.loads(index.read_text(encoding="utf-8"))
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    hit = known.get(key)
    if isinstance(hit, str) and hit.startswith("sha256:"):
        return hit
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(8 << 20), b""):
            h.update(chunk)
    fp = "sha256:" + h.hexdigest()[:32]
    known = {k: v for k, v in known.items() if not k.startswith(f"{path.resolve()}|")}  # one entry per path
    known[key] = fp
    try:
        atomic_write_bytes(index, json.dumps(known, indent=0).encode())
    except OSError as e:  # a read-only cache costs time, not correctness
        log.info("cannot cache the fingerprint of %s (%s)", path, e)
    return fp


def _weights_file(folder: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    raise ModelError(f"{folder}: no pytorch_model.bin or model.safetensors in this folder")


def load_biggan_folder(folder: str | Path, name: str | None = None) -> tuple[torch.nn.Module, GeneratorId]:
    """Strictly load a BigGAN from ``config.json`` + weights in a folder."""
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"{folder}: weights folder not found (expected config.json + pytorch_model.bin)")
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise ModelError(f"{cfg_path}: missing (a BigGAN folder needs config.json + pytorch_model.bin)")
    try:
        raw = json.loads(cfg_path.read_text())
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object")
        config = BigGANConfig.from_dict(raw)
        check_config_size(config, str(cfg_path))
        model = BigGAN(config)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OSError, RuntimeError) as e:
        raise ModelError(f"{cfg_path}: not a BigGAN config ({str(e).splitlines()[0][:200]})") from None
    init_random_(model, 0)  # nothing uninitialised, whatever the file holds
    wfile = _weights_file(folder)
    try:
        if wfile.suffix == ".safetensors":
            from safetensors.torch import load_file
            state = load_file(str(wfile))
        else:
            state = torch.load(wfile, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is one user-facing line
        raise ModelError(f"{wfile}: cannot read weights ({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None
    if not isinstance(state, dict):
        raise ModelError(f"{wfile}: not a state dict of tensors")
    own = model.state_dict()
    wrong = [k for k, v in state.items() if k in own and (not isinstance(v, torch.Tensor) or v.shape != own[k].shape)]
    if wrong:  # e.g. config.json for biggan-deep-128, weights of -256
        k = wrong[0]
        got = tuple(state[k].shape) if isinstance(state[k], torch.Tensor) else type(state[k]).__name__
        raise ModelError(f"{wfile}: weights don't match the BigGAN in config.json: {len(wrong)} tensors have "
                         f"other shapes (e.g. {k}: {got}, config wants {tuple(own[k].shape)})")
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        parts = []
        if result.missing_keys:
            parts.append(f"missing {len(result.missing_keys)} keys (e.g. {', '.join(result.missing_keys[:3])})")
        if result.unexpected_keys:
            parts.append(f"unexpected {len(result.unexpected_keys)} keys (e.g. {', '.join(result.unexpected_keys[:3])})")
        raise ModelError(f"{wfile}: weights don't match the BigGAN in config.json: {'; '.join(parts)}")
    for k, v in model.state_dict().items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ModelError(f"{wfile}: tensor {k} holds NaN or infinite values")
    arch = name or next((n for n, c in CONFIGS.items() if c["output_dim"] == config.output_dim
                         and [list(x) for x in c["layers"]] == [list(x) for x in config.layers]), "custom")
    return model, GeneratorId(arch, fingerprint(wfile), {"folder": str(folder)})


MAX_PARAMS = 400_000_000  # biggan-deep-512 has 56 M; 400 M float32 is 1.6 GB


def estimate_params(config) -> int:
    """Parameters a BigGAN config would allocate, counted from its shapes (nothing allocated)."""
    ch, zd, ce, nc = int(config.channel_width), int(config.z_dim), int(config.class_embed_dim), int(config.num_classes)
    n_stats = int(config.n_stats)
    cond = zd + ce
    total = nc * ce + cond * 4 * 4 * 16 * ch                        # embeddings + gen_z
    for i, layer in enumerate(config.layers):
        _, cin, cout = (int(x) for x in layer)
        cin, cout = cin * ch, cout * ch
        mid = cin // 4
        total += 2 * cond * (cin + 3 * mid) + 2 * n_stats * (cin + 3 * mid)  # BN scale/offset + stats
        total += cin * mid + 2 * mid * mid * 9 + mid * cout               # conv_0..conv_3
        if i == int(config.attention_layer_position):
            total += cout * cout                                       # self-attention (about)
    return total


def check_config_size(config, where: str) -> None:
    """Refuse absurd configs (a channel width that would allocate tens of GB) before allocating."""
    try:
        dims = [int(config.channel_width), int(config.z_dim), int(config.class_embed_dim),
                int(config.num_classes), int(config.n_stats), int(config.output_dim)]
        layers = [tuple(int(x) for x in layer) for layer in config.layers]
    except (TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"malformed sizes ({e})") from None
    if min(dims) < 1 or not layers or any(len(layer) != 3 or min(layer[1:]) < 1 for layer in layers):
        raise ValueError("sizes must be positive and layers [[upsample, in, out], ...]")
    if config.n_stats < 2:
        raise ValueError("n_stats must be at least 2")
    n = estimate_params(config)
    if n > MAX_PARAMS:
        raise ValueError(f"it would allocate about {n * 4 / 1e9:.0f} GB of weights "
                         f"({n / 1e6:.0f} M parameters; the largest BigGAN-deep has 56 M); refused")


def save_biggan_folder(model: torch.nn.Module, folder: str | Path) -> None:
    """Write config.json + pytorch_model.bin (spectral norm not baked), the layout load reads."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.config.to_dict(), indent=2))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")


def _download(url: str, dest: Path) -> None:
    """Download to a temporary file next to ``dest`` and rename: never a half file in the cache."""
    import requests
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from ..fsio import remove_stale, temp_prefix

    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(dest.parent)  # half downloads of a killed run
    with requests.get(url, stream=True, timeout=(10, 60)) as r:
        r.raise_for_status()
        total = int(r.headers.get("content-length", 0)) or None
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=temp_prefix(dest.name), suffix=".tmp")
        user_mode(fd)
        try:
            with os.fdopen(fd, "wb") as f, Progress("[progress.description]{task.description}", BarColumn(),
                                                    DownloadColumn(), TransferSpeedColumn(), transient=True) as bar:
                task = bar.add_task(f"downloading {dest.name}", total=total)
                for chunk in r.iter_content(1 << 20):
                    f.write(chunk)
                    bar.advance(task, len(chunk))
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def fetch_named_biggan(name: str) -> Path:
    """The cache folder of a named BigGAN-deep, downloading it on first use."""
    folder = cache_dir() / "biggan" / name
    for file in ("config.json", "pytorch_model.bin"):
        if not (folder / file).is_file():
            try:
                _download(_BIGGAN_URL.format(name=name, file=file), folder / file)
            except Exception as e:  # noqa: BLE001 - offline is the common case here
                raise ModelError(
                    f"cannot download {name} weights ({type(e).__name__}); offline, put config.json + "
                    f"pytorch_model.bin in {folder} or pass --weights DIR, or use --random-weights"
                ) from None
    return folder


def load_generator(name: str = "biggan-deep-256", *, weights: str | None = None, random_weights: bool = False,
                   seed: int = 0, device: str = "auto", dtype: str = "float32") -> Generator:
    """Build the generator a user asked for, on the chosen device, spectral norm baked, the RGB conv trimmed."""
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    if weights:
        model, gid = load_biggan_folder(weights)  # architecture named by its config.json
    else:
        check_generator_name(name)
        if name == "tiny" or random_weights:
            model, gid = build_random(name, seed), GeneratorId(name, f"random:{seed}")
        else:
            model, gid = load_biggan_folder(fetch_named_biggan(name), name)
            gid = GeneratorId(name, "download:" + gid.weights.split(":", 1)[1])
    bake_spectral_norm(model)
    trim_rgb_conv(model)
    return Generator(model, gid, device=dev, dtype=dt)


def generator_from_id(gid: dict, *, device: str = "auto", dtype: str = "float32",
                      weights: str | None = None) -> Generator:
    """The generator a bank's metadata names (``{"name":…, "weights":…}``); metadata is untrusted:
    anything malformed (``random:NaN``, a 20-digit seed, ``extra`` not a mapping) is a ModelError."""
    from ..bank import generator_problem

    problem = generator_problem(gid)
    if problem:
        raise ModelError(f"bank names an unusable generator: {problem}")
    check_generator_name(gid["name"])
    w = gid["weights"]
    if w.startswith("random:"):
        return load_generator(gid["name"], random_weights=True, seed=int(w.split(":")[1]), device=device, dtype=dtype)
    folder = weights or gid.get("extra", {}).get("folder")
    if folder:
        return load_generator(gid["name"], weights=folder, device=device, dtype=dtype)
    return load_generator(gid["name"], device=device, dtype=dtype)
