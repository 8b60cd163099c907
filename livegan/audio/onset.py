"""Causal, streaming onset detector: log-band spectral flux with an adaptive threshold.

The detector sees audio block by block exactly as it arrives live; a file is
analysed by feeding its samples through the very same :meth:`OnsetDetector.process`
(:func:`detect_file`), so what ``livegan onsets song.wav`` prints is what the
show will hear.

Per hop of ``H`` samples (window ``N``, Hann):

1. power spectrum of the last N samples, pooled into log-spaced bands
   (pooling steadies the noise floor and keeps a single tone from being
   diluted among hundreds of bins);
2. log compression ``log1p(power / floor)``: quiet and loud hits rise by
   similar amounts, and silence below ``floor_db`` counts as zero;
3. flux = mean over bands of the positive rise since ``lag`` frames ago
   (against the louder neighbour band: SuperFlux's max filter);
4. adaptive threshold = median of the last ``history`` seconds of flux +
   max(threshold * deviation / sensitivity, delta / sensitivity), where the
   deviation is the scaled median absolute deviation (robust to the hits);
5. an onset is the frame where the flux first crosses the threshold (a rising
   edge: no look-ahead, so no extra latency), outside the refractory period
   and after the warm-up.

It also tracks a loudness level 0..1 (RMS dBFS mapped from ``level_floor_db``
to 0 dBFS, instant attack, exponential release) for audio-reactive drift.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .io import read_audio
from .settings import OnsetSettings


@dataclass(frozen=True)
class Onset:
    """One detected onset: ``time`` in seconds of stream time, ``strength`` = flux / threshold (>= 1)."""

    time: float
    strength: float
    level: float = 0.0  # loudness 0..1 when it was detected (used by the per-song gate)


MIN_BAND_BINS = 3


def _band_edges(n_bins: int, sr: int, fmin: float, fmax: float, bands: int) -> np.ndarray:
    """Start indices of log-spaced bands over rfft bins, each band at least one bin wide."""
    hz_per_bin = sr / (2 * (n_bins - 1))
    lo = max(1, int(round(fmin / hz_per_bin)))
    hi = min(n_bins, max(lo + 1, int(round(min(fmax, sr / 2) / hz_per_bin)) + 1))
    edges = np.unique(np.round(np.geomspace(lo, hi, bands + 1)).astype(np.int64))
    # merge bands narrower than MIN_BAND_BINS: a 1-bin band of noise flickers by
    # several dB frame to frame and would dominate the flux of a steady noise
    starts = [int(edges[0])]
    for e in edges[1:-1]:
        if e - starts[-1] >= MIN_BAND_BINS and hi - e >= MIN_BAND_BINS:
            starts.append(int(e))
    return np.array(starts, np.int64), hi


class OnsetDetector:
    """Streaming detector; feed any block sizes to :meth:`process`, read :attr:`level` any time."""

    def __init__(self, settings: OnsetSettings | None = None, sample_rate: int = 48000) -> None:
        self.settings = s = settings or OnsetSettings()
        self.sample_rate = int(sample_rate)
        self.window, self.hop = s.window, s.hop
        self.sensitivity = s.sensitivity
        self._win = np.hanning(self.window + 2)[1:-1].astype(np.float32)  # (N,) no zero ends
        # scale so a full-scale sine's peak bin has power ~1 (floor_db is then in dBFS)
        self._pscale = float(2.0 / self._win.sum()) ** 2
        n_bins = self.window // 2 + 1
        self._starts, self._hi = _band_edges(n_bins, self.sample_rate, s.fmin, s.fmax, s.bands)
        self._counts = np.diff(np.append(self._starts, self._hi)).astype(np.float32)  # (B,)
        self._floor = 10.0 ** (s.floor_db / 10.0)
        hop_s = self.hop / self.sample_rate
        self._hist = np.zeros(max(3, int(round(s.history / hop_s))), np.float32)  # flux ring
        self._refractory_frames = int(np.ceil(s.refractory / hop_s))
        self._warmup_frames = max(3, int(np.ceil(s.warmup / hop_s)))
        self._level_decay = float(np.exp(-hop_s / s.level_release)) if s.level_release > 0 else 0.0
        # Called with (frame time, flux) for every analysed frame: the novelty curve (beat tracker).
        self.on_novelty: Callable[[float, float], None] | None = None
        self.reset()

    # -- public ------------------------------------------------------------
    @property
    def latency_seconds(self) -> float:
        """Worst-case algorithmic latency: ``(window / 2 + hop) / sample_rate``.

        A sound must reach the middle of the Hann window to carry most of its
        weight (window/2 samples), and the detector waits for a whole hop
        before analysing (up to hop samples). There is no look-ahead: the
        onset is the threshold crossing itself. 512/256 at 48 kHz: 10.67 ms.
        """
        return (self.window / 2 + self.hop) / self.sample_rate

    @property
    def time(self) -> float:
        """Stream time in seconds of the samples analysed so far."""
        return self._frames * self.hop / self.sample_rate

    def reset(self) -> None:
        """Forget everything heard (start of a new stream)."""
        self._buf = np.zeros(self.window, np.float32)  # (N,) last N samples
        self._pending = np.zeros(0, np.float32)
        self._prevs: deque = deque(maxlen=self.settings.lag)  # (B,) log band energies of the last frames
        self._frames = 0
        self._last_onset = -(10**9)
        self._above = False
        self.level = 0.0

    def process(self, block: np.ndarray) -> list[Onset]:
        """Feed the next samples (any length, float mono); return onsets completed by them."""
        x = np.asarray(block, np.float32).reshape(-1)
        if self._pending.size:
            x = np.concatenate([self._pending, x])
        out: list[Onset] = []
        h = self.hop
        n_full = x.size // h
        for i in range(n_full):
            o = self._frame(x[i * h:(i + 1) * h])
            if o is not None:
                out.append(o)
        self._pending = x[n_full * h:].copy()
        return out

    # -- one hop -----------------------------------------------------------
    def _frame(self, hop_block: np.ndarray) -> Onset | None:
        s, h = self.settings, self.hop
        buf = self._buf
        buf[:-h] = buf[h:]
        buf[-h:] = hop_block
        self._frames += 1
        k = self._frames

        # loudness: RMS of the newest hop, instant attack, exponential release
        rms = float(np.sqrt(np.dot(hop_block, hop_block) / h))
        db = 20.0 * np.log10(rms + 1e-12)
        lv = min(1.0, max(0.0, (db - s.level_floor_db) / -s.level_floor_db))
        self.level = max(lv, self.level * self._level_decay)

        spec = np.fft.rfft(buf * self._win)  # (N/2+1,)
        power = (spec.real ** 2 + spec.imag ** 2)[: self._hi] * self._pscale
        bands = np.add.reduceat(power, self._starts) / self._counts  # (B,) mean power per band
        logb = np.log1p(bands / self._floor)  # (B,)
        # SuperFlux's lag: compare with the frame `lag` hops back, so a slow attack's rise adds up
        # over several hops instead of being judged one small step at a time (no look-ahead).
        prev = self._prevs[0] if len(self._prevs) == self._prevs.maxlen else None
        self._prevs.append(logb)
        if prev is None:
            return None
        # SuperFlux-style: compare with the louder neighbour band of the previous
        # frame, so noise flicker and vibrato that only shift energy don't count
        ref = np.maximum(prev, np.maximum(np.roll(prev, 1), np.roll(prev, -1)))  # (B,)
        flux = float(np.maximum(logb - ref, 0.0).mean())
        if self.on_novelty is not None:
            self.on_novelty((k * h - self.window / 2) / self.sample_rate, flux)

        # until the history is full, judge by the part heard so far, not by zeros
        hist = self._hist if k > len(self._hist) else self._hist[: max(1, k - 2)]
        med = float(np.median(hist))
        dev = 1.4826 * float(np.median(np.abs(hist - med)))  # robust std of recent flux
        sens = max(self.sensitivity, 1e-6)
        thr = med + max(s.threshold * dev, s.delta) / sens
        self._hist[k % len(self._hist)] = flux  # after computing the threshold: the frame doesn't mask itself

        above = flux > thr
        rising = above and not self._above
        self._above = above
        if not rising or k <= self._warmup_frames or k - self._last_onset <= self._refractory_frames:
            return None
        self._last_onset = k
        # time: the end of this frame minus half a window, where the sound carries weight
        t = (k * h - self.window / 2) / self.sample_rate
        return Onset(time=max(0.0, t), strength=flux / max(thr, 1e-9), level=self.level)


def detect_signal(samples: np.ndarray, sample_rate: int, settings: OnsetSettings | None = None,
                  block: int | None = None) -> list[Onset]:
    """Run the streaming detector over an array, ``block`` samples at a time (default: hop)."""
    det = OnsetDetector(settings, sample_rate)
    step = int(block or det.hop)
    x = np.asarray(samples, np.float32).reshape(-1)
    out: list[Onset] = []
    for i in range(0, x.size, step):
        out.extend(det.process(x[i:i + step]))
    return out


def detect_file(path: str | Path, settings: OnsetSettings | None = None) -> list[Onset]:
    """Onsets of an audio file, as the live detector would hear it. ConfigError if unreadable."""
    x, sr = read_audio(path)
    return detect_signal(x, sr, settings)


def format_onsets(onsets: list[Onset], as_json: bool = False) -> str:
    """Plain: one time per line with 3 decimals; JSON: ``[{"time": 0.512, "strength": 3.1}, ...]``."""
    if as_json:
        return json.dumps([{"time": round(o.time, 3), "strength": round(o.strength, 2)} for o in onsets])
    return "\n".join(f"{o.time:.3f}" for o in onsets)
