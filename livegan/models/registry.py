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
from .biggan import CONFIGS, Generator, GeneratorId, bake_spectral_norm, build_random, init_random_

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
    """A cheap stable id of a weights file: sha256 of its size and first 16 MiB."""
    h = hashlib.sha256(str(path.stat().st_size).encode())
    with open(path, "rb") as f:
        h.update(f.read(16 << 20))
    return "sha256:" + h.hexdigest()[:16]


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
        model = BigGAN(config)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OSError) as e:
        raise ModelError(f"{cfg_path}: not a BigGAN config ({e})") from None
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

    dest.parent.mkdir(parents=True, exist_ok=True)
    with requests.get(url, stream=True, timeout=(10, 60)) as r:
        r.raise_for_status()
        total = int(r.headers.get("content-length", 0)) or None
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
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
    """Build the generator a user asked for, on the chosen device, spectral norm baked."""
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
    return Generator(model, gid, device=dev, dtype=dt)


def generator_from_id(gid: dict, *, device: str = "auto", dtype: str = "float32",
                      weights: str | None = None) -> Generator:
    """The generator a bank's metadata names (``{"name":…, "weights":…}``)."""
    w = str(gid.get("weights", ""))
    if w.startswith("random:"):
        return load_generator(gid["name"], random_weights=True, seed=int(w.split(":")[1]), device=device, dtype=dtype)
    folder = weights or gid.get("extra", {}).get("folder")
    if folder:
        return load_generator(gid["name"], weights=folder, device=device, dtype=dtype)
    return load_generator(gid["name"], device=device, dtype=dtype)
