"""Keyframe banks: the only contract between offline prep and the live show.

One file per song: safetensors arrays (no pickle, safe to load from anyone)
plus JSON metadata naming the generator the latents were made for. Written
atomically (temporary file in the same folder, fsync, rename), so a crash at
any moment leaves either the old bank or the new one, never half of one.
Loading validates format version, shapes, dtypes, finiteness, a checksum
of the arrays (stored in the metadata: flipped bytes are refused), value
ranges (y a probability vector, z inside the truncated prior's bounds), the
generator metadata's form, and that the generator matches. Banks written
before checksums existed still load, marked ``verified = False``.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BankError
from .fsio import atomic_write_bytes

FORMAT_VERSION = 1
Z_DIM = 128
NUM_CLASSES = 1000
MAX_BANK_BYTES = 512 << 20
# BigGAN's truncated prior samples z in [-2, 2] (times the truncation); a search may
# push a little past that, never to twice it. Beyond this a "latent" is damage.
Z_LIMIT = 4.0
PROB_TOL = 1e-3  # |sum(y) - 1| allowed for a soft class vector
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_WEIGHTS_RE = re.compile(r"random:[0-9]{1,9}|download(:[0-9a-f]{8,64})?|sha256:[0-9a-f]{8,64}")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


@dataclass
class SectionKeys:
    """One section's keyframes: z (V, L, 128), y (V, 1000), score (V,)."""

    text: str
    z: np.ndarray
    y: np.ndarray
    score: np.ndarray
    cache_key: str = ""
    classes: list[int] = field(default_factory=list)


@dataclass
class Bank:
    song: str
    generator: dict           # {"name": "biggan-deep-256", "weights": "random:0" | "download:…" | "sha256:…"}
    clip: str
    sections: list[SectionKeys]
    settings: dict = field(default_factory=dict)   # what changes the picture, e.g. {"truncation": 0.7}
    verified: bool = True                          # False: an older bank without a checksum

    @property
    def num_latents(self) -> int:
        return int(self.sections[0].z.shape[1])


def song_slug(title: str) -> str:
    """A safe file stem for a song title: ASCII, no path parts, never a reserved name.

    A short hash of the exact title keeps two titles that slug alike apart, and
    ``../../x`` or ``/etc/passwd`` can't escape the bank folder.
    """
    ascii_ = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:48].strip("-") or "song"
    if stem in _RESERVED:
        stem = f"song-{stem}"
    return f"{stem}-{hashlib.sha256(title.encode()).hexdigest()[:8]}"


def default_banks(setlist: str | Path) -> Path:
    """Banks live beside the setlist: setlists/demo.yaml -> setlists/demo-banks/."""
    p = Path(setlist)
    return p.parent / f"{p.stem}-banks"


def bank_path(folder: str | Path, title: str) -> Path:
    return Path(folder) / f"{song_slug(title)}.safetensors"


def _pack(sections: list[SectionKeys]) -> dict[str, np.ndarray]:
    return {
        "z": np.concatenate([s.z for s in sections]).astype(np.float32),          # (K, L, 128)
        "y": np.concatenate([s.y for s in sections]).astype(np.float32),          # (K, 1000)
        "score": np.concatenate([s.score for s in sections]).astype(np.float32),  # (K,)
        "section": np.concatenate([np.full(len(s.score), i, np.int32) for i, s in enumerate(sections)]),
    }


def bank_checksum(arrays: dict[str, np.ndarray], meta: dict) -> str:
    """sha256 over the metadata (canonical JSON, less the checksum itself) and every array's
    name, dtype, shape and bytes, in name order: any flipped byte that changes the content shows."""
    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in meta.items() if k != "checksum"}, sort_keys=True).encode())
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return "sha256:" + h.hexdigest()


def generator_problem(gen: Any) -> str | None:
    """What is wrong with a bank's generator metadata (untrusted), or None when it is well formed."""
    if not isinstance(gen, dict):
        return "generator metadata is not a mapping"
    name, weights, extra = gen.get("name"), gen.get("weights"), gen.get("extra", {})
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        return f"generator name {str(name)[:40]!r} is not a model name"
    if not isinstance(weights, str) or not _WEIGHTS_RE.fullmatch(weights):
        return f"generator weights {str(weights)[:40]!r} are not random:SEED, download:HASH or sha256:HASH"
    if not isinstance(extra, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        return "generator 'extra' is not a mapping of strings"
    return None


def dumps_bank(bank: Bank) -> bytes:
    from safetensors.numpy import save

    if not bank.sections:
        raise ValueError("a bank needs at least one section")
    arrays = _pack(bank.sections)
    meta = {
        "format": FORMAT_VERSION,
        "song": bank.song,
        "generator": bank.generator,
        "clip": bank.clip,
        "settings": bank.settings,
        "sections": [{"text": s.text, "cache_key": s.cache_key, "classes": s.classes,
                      "variants": int(len(s.score))} for s in bank.sections],
    }
    meta["checksum"] = bank_checksum(arrays, meta)
    return save(arrays, metadata={"livegan": json.dumps(meta)})


def save_bank(bank: Bank, path: str | Path) -> Path:
    p = Path(path)
    atomic_write_bytes(p, dumps_bank(bank))
    return p


def _fail(path: Path, what: str) -> BankError:
    return BankError(f"{path}: {what}; re-run `livegan prep` to rebuild it")


def load_bank(path: str | Path, expect_generator: dict | None = None) -> Bank:
    """Load and validate a bank; any problem is a one-line BankError."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise BankError(f"{p}: bank not found; run `livegan prep` first")
    if p.stat().st_size > MAX_BANK_BYTES:
        raise _fail(p, f"bank file too large ({p.stat().st_size} bytes)")
    try:
        with safe_open(str(p), framework="numpy") as f:
            raw_meta = (f.metadata() or {}).get("livegan")
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # noqa: BLE001 - truncated/corrupt files raise many types
        raise _fail(p, f"corrupt or truncated bank ({type(e).__name__})") from None
    try:
        meta = json.loads(raw_meta or "")
    except json.JSONDecodeError:
        raise _fail(p, "bank metadata missing or not JSON") from None
    if not isinstance(meta, dict) or isinstance(meta.get("format"), bool) or meta.get("format") != FORMAT_VERSION:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise _fail(p, f"bank format {got!r} is not supported (this livegan reads format {FORMAT_VERSION})")
    for key, dtype in (("z", np.float32), ("y", np.float32), ("score", np.float32), ("section", np.int32)):
        if key not in arrays:
            raise _fail(p, f"array {key!r} missing")
        if arrays[key].dtype != dtype:
            raise _fail(p, f"array {key!r} has dtype {arrays[key].dtype}, expected {np.dtype(dtype)}")
    z, y, score, sec = arrays["z"], arrays["y"], arrays["score"], arrays["section"]
    k = len(score)
    if z.ndim != 3 or z.shape[0] != k or z.shape[2] != Z_DIM or y.shape != (k, NUM_CLASSES) or sec.shape != (k,):
        raise _fail(p, f"arrays have inconsistent shapes z{z.shape} y{y.shape} score{score.shape}")
    checksum = meta.get("checksum")
    if checksum is not None and checksum != bank_checksum(arrays, meta):
        raise _fail(p, "its content doesn't match its checksum (damaged or edited bytes)")
    for key in ("z", "y", "score"):
        if not np.isfinite(arrays[key]).all():
            raise _fail(p, f"array {key!r} holds NaN or infinite values")
    problem = _range_problem(z, y, score)
    if problem:
        raise _fail(p, problem)
    try:
        secs_meta = list(meta["sections"])
        gen = dict(meta["generator"])
        song = str(meta["song"])
        settings = dict(meta.get("settings") or {})
        if not all(isinstance(sm, dict) for sm in secs_meta):
            raise TypeError("a section's metadata is not a mapping")
    except (KeyError, TypeError, ValueError):
        raise _fail(p, "bank metadata is incomplete") from None
    problem = generator_problem(meta["generator"])
    if problem:
        raise _fail(p, problem)
    if not secs_meta:
        raise _fail(p, "bank has no sections")
    sections = []
    for i, sm in enumerate(secs_meta):
        idx = np.flatnonzero(sec == i)
        try:  # metadata is untrusted too: a bad value is a BankError, not a TypeError
            variants = int(sm.get("variants", -1))
            classes = [int(c) for c in sm.get("classes", [])]
        except (TypeError, ValueError):
            raise _fail(p, f"section {i + 1} metadata is invalid") from None
        if len(idx) == 0 or len(idx) != variants:
            raise _fail(p, f"section {i + 1} has {len(idx)} keyframes, metadata says {sm.get('variants')}")
        sections.append(SectionKeys(str(sm.get("text", "")), z[idx], y[idx], score[idx],
                                    str(sm.get("cache_key", "")), classes))
    if len(np.unique(sec)) != len(secs_meta) or sec.min(initial=0) < 0:
        raise _fail(p, "keyframes point at sections the metadata doesn't list")
    bank = Bank(song, gen, str(meta.get("clip", "")), sections, settings, verified=checksum is not None)
    if expect_generator is not None and not same_generator(gen, expect_generator):
        raise BankError(f"{p}: made for generator {gen.get('name')} ({gen.get('weights')}), "
                        f"not {expect_generator.get('name')} ({expect_generator.get('weights')})")
    return bank


def _range_problem(z: np.ndarray, y: np.ndarray, score: np.ndarray) -> str | None:
    """Finite but absurd values play as black or frozen pictures: refuse them too."""
    if z.size and float(np.abs(z).max()) > Z_LIMIT:
        return f"z holds values beyond +-{Z_LIMIT:g} (latents lie within the truncated prior's +-2)"
    if y.size and (float(y.min()) < -1e-6 or float(np.abs(y.sum(axis=1) - 1).max()) > PROB_TOL):
        return "y is not a probability vector (entries >= 0 summing to 1)"
    if score.size and float(np.abs(score).max()) > 1.0 + 1e-3:
        return "score holds values outside [-1, 1] (CLIP cosine similarities)"
    return None


def same_generator(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("name") == b.get("name") and a.get("weights") == b.get("weights")
