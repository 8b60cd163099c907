"""Read an audio file as float32 mono samples plus its sample rate.

Two readers, chosen by what the file is:

- plain PCM ``.wav`` goes through the stdlib :mod:`wave` module: exact
  samples at the file's own rate, no subprocess, no codec, so tests and
  rehearsal WAVs are read bit-for-bit the same everywhere;
- everything else (mp3, flac, ogg, m4a, float or extensible WAV, ...) is
  decoded by the ffmpeg binary bundled with imageio-ffmpeg, run as a
  subprocess that writes raw float32 mono at :data:`DECODE_RATE` to stdout.
  No system ffmpeg or Python codec package is needed.

Anything unreadable (missing, a folder, not audio, empty) is a one-line
:class:`~livegan.errors.ConfigError`.
"""

from __future__ import annotations

import logging
import subprocess
import wave
from pathlib import Path

import numpy as np

from ..errors import ConfigError, Where

log = logging.getLogger(__name__)

DECODE_RATE = 48000  # rate ffmpeg decodes to: the detector's design rate
MAX_SECONDS = 4 * 3600  # refuse absurdly long inputs rather than exhaust memory


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Return ``(samples, sample_rate)``: float32 mono in -1..1, shape (N,)."""
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise ConfigError("audio file not found", Where(name))
    if p.is_dir():
        raise ConfigError("is a directory, expected an audio file", Where(name))
    if p.suffix.lower() == ".wav":
        try:
            x, sr = _read_wav(p)
        except (wave.Error, EOFError, ValueError) as e:
            # e.g. float or WAVE_FORMAT_EXTENSIBLE files, which the stdlib refuses
            log.debug("%s: stdlib wave can't read it (%s); trying ffmpeg", name, e)
            x, sr = _read_ffmpeg(p)
        except OSError as e:
            raise ConfigError(f"cannot read audio file ({e.strerror or e})", Where(name)) from None
    else:
        x, sr = _read_ffmpeg(p)
    if x.size == 0:
        raise ConfigError("audio file has no samples", Where(name))
    return x, sr


def _read_wav(p: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(p), "rb") as w:
        ch, width, sr, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
        if n > MAX_SECONDS * sr:
            raise ConfigError(f"audio file is too long (over {MAX_SECONDS // 3600} hours)", Where(str(p)))
        raw = w.readframes(n)
    x = pcm_to_float(raw, width)  # (N * ch,)
    frames = x.size // ch
    x = x[: frames * ch].reshape(frames, ch).mean(axis=1, dtype=np.float32)  # (N,)
    return x.astype(np.float32, copy=False), sr


def pcm_to_float(raw: bytes, width: int) -> np.ndarray:
    """Little-endian integer PCM bytes (8/16/24/32-bit) -> float32 in -1..1."""
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    if width == 3:
        b = np.frombuffer(raw[: len(raw) // 3 * 3], np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)  # sign-extend 24 -> 32 bits
        return v.astype(np.float32) / float(1 << 23)
    if width == 4:
        return (np.frombuffer(raw, "<i4").astype(np.float64) / 2.0**31).astype(np.float32)
    raise ValueError(f"unsupported sample width {width} bytes")


def _read_ffmpeg(p: Path) -> tuple[np.ndarray, int]:
    name = str(p)
    try:
        import imageio_ffmpeg  # lazy: only needed for non-WAV files

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as e:
        raise ConfigError(f"cannot decode this audio format: ffmpeg unavailable ({e})", Where(name)) from None
    cmd = [exe, "-v", "error", "-nostdin", "-i", name, "-vn", "-ac", "1", "-ar", str(DECODE_RATE),
           "-t", str(MAX_SECONDS), "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError(f"cannot decode audio file ({e})", Where(name)) from None
    if r.returncode != 0 or not r.stdout:
        lines = [ln.strip() for ln in r.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        why = lines[-1] if lines else "no audio stream found"
        # ffmpeg prefixes messages with the path; keep the message short and one line
        why = why.replace(name + ": ", "")
        raise ConfigError(f"not a readable audio file ({why})", Where(name))
    x = np.frombuffer(r.stdout[: len(r.stdout) // 4 * 4], "<f4").astype(np.float32)
    return x, DECODE_RATE


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write float samples (N,) as a 16-bit mono WAV (for tests, demos and the benchmark)."""
    pcm = (np.clip(np.asarray(samples, np.float64), -1.0, 1.0 - 1 / 32768) * 32768.0).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
