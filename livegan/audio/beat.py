"""A causal beat tracker on the onset detector's novelty curve: tempo and beat phase from the band.

The lowest-priority tempo source (``audio``, see :mod:`livegan.engine.tempo`):
where no clock, Link or tap exists, the show still knows the band's tempo and
where its beats fall, so beat transitions and quantised cues follow the music.

Pure and streaming: :meth:`BeatTracker.feed` takes one novelty value (the
detector's spectral flux) per analysis frame, with the frame's stream time.
Every ``update`` seconds it

1. takes the last ``window`` seconds of novelty, minus its moving average,
   half-wave rectified (so only rises count);
2. tempo: the autocorrelation at every lag from 60 to 200 bpm, plus half of it
   at twice the lag (a beat period also repeats at two beats, its half does
   not), weighted by a log-normal prior around 120 bpm (halving/doubling
   errors are where trackers go wrong); parabolic interpolation refines the
   lag. A new tempo more than 4 % away is only taken when two updates agree
   (one odd fill doesn't move it);
3. phase: for each offset within one period, the sum of the novelty at beats
   one period apart going back in time, recent beats weighing more; the best
   offset gives the last beat's time.

No look-ahead: everything is computed from frames already heard, so the
tracker's beat times come with the detector's latency and no more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..triggers.events import Tempo

MIN_BPM, MAX_BPM = 60.0, 200.0
PRIOR_BPM, PRIOR_OCTAVES = 120.0, 1.0   # log-normal prior: centre and width (in octaves)
SWITCH = 0.04                            # a tempo further away than this needs two agreeing updates
MIN_RISE = 0.05                          # novelty rises (log units) smaller than this are no beats
MIN_CONFIDENCE = 0.3                     # readings below this autocorrelation are not used as a tempo
OCTAVE_VOTES = 12                        # ... and twice or half the tempo needs this many (3 s of updates)


@dataclass(frozen=True)
class BeatReading:
    bpm: float
    beat_time: float   # stream time of the most recent beat
    confidence: float  # 0..1: how much the winning lag stands out


class BeatTracker:
    """Novelty frames in, (bpm, last beat time) out. One feeding thread."""

    def __init__(self, frame_rate: float, window: float = 6.0, update: float = 0.25,
                 min_seconds: float = 4.0) -> None:
        self.fr = float(frame_rate)
        self.n = int(round(window * self.fr))
        self._buf = np.zeros(self.n, np.float32)   # ring of novelty
        self._count = 0
        self._t_last = 0.0                          # stream time of the newest frame
        self._every = max(1, int(round(update * self.fr)))
        self._min = int(round(min_seconds * self.fr))
        self.bpm: float | None = None
        self.beat_time: float | None = None
        self.confidence = 0.0
        self._candidate: float | None = None
        self._votes = 0
        lo = int(math.floor(60.0 * self.fr / MAX_BPM))
        hi = int(math.ceil(60.0 * self.fr / MIN_BPM))
        self._lags = np.arange(lo, hi + 1)
        bpms = 60.0 * self.fr / self._lags
        self._prior = np.exp(-0.5 * (np.log2(bpms / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)

    def feed(self, t: float, novelty: float) -> BeatReading | None:
        """One frame at stream time t; a reading when an update ran and a tempo is known."""
        self._buf[self._count % self.n] = novelty if math.isfinite(novelty) else 0.0
        self._count += 1
        self._t_last = t
        if self._count < self._min or self._count % self._every:
            return None
        self._update()
        if self.bpm is None or self.beat_time is None:
            return None
        return BeatReading(self.bpm, self.beat_time, self.confidence)

    def beat_at(self, t: float) -> float | None:
        """Beats since the last beat at stream time t (fractional), on the current estimate."""
        if self.bpm is None or self.beat_time is None:
            return None
        return (t - self.beat_time) * self.bpm / 60.0

    # -- internals -----------------------------------------------------------------
    def _recent(self) -> np.ndarray:
        k = min(self._count, self.n)
        i = self._count % self.n
        x = np.concatenate([self._buf[i:], self._buf[:i]]) if self._count >= self.n else self._buf[:k]
        # subtract a ~0.25 s moving average: what is left are the rises
        w = max(3, int(round(0.25 * self.fr)))
        avg = np.convolve(x, np.ones(w, np.float32) / w, mode="same")
        return np.maximum(x - avg, 0.0)

    def _update(self) -> None:
        o = self._recent()  # (T,)
        T = o.size
        if float(o.max(initial=0.0)) < MIN_RISE:
            self.confidence = 0.0
            return  # nothing but steady sound (or silence): no beat to find
        o = o - o.mean()
        spec = np.fft.rfft(o, 2 * T)
        ac = np.fft.irfft(spec * np.conj(spec))[:T]  # (T,) autocorrelation
        ac = ac / (ac[0] + 1e-12)
        lags = self._lags[self._lags * 2 < T]
        score = ac[lags] + 0.5 * ac[np.minimum(2 * lags, T - 1)]
        score = score * self._prior[: lags.size]
        j = int(np.argmax(score))
        if score[j] <= 0:
            return
        lag = float(lags[j])
        if 0 < j < lags.size - 1:  # parabolic refinement between lag bins
            a, b, c = score[j - 1], score[j], score[j + 1]
            den = a - 2 * b + c
            if den < 0:
                lag += 0.5 * (a - c) / den
        bpm = 60.0 * self.fr / lag
        self.confidence = float(min(1.0, max(0.0, ac[lags[j]])))  # normalised autocorrelation at the beat
        self._take(bpm)
        self._phase(o, 60.0 * self.fr / self.bpm)

    def _take(self, bpm: float) -> None:
        if self.bpm is None or abs(bpm - self.bpm) / self.bpm <= SWITCH:
            self.bpm = bpm if self.bpm is None else 0.5 * self.bpm + 0.5 * bpm
            self._candidate, self._votes = None, 0
            return
        if self._candidate is not None and abs(bpm - self._candidate) / self._candidate <= SWITCH:
            self._votes += 1
        else:
            self._candidate, self._votes = bpm, 1
        # Twice or half the tempo is the same groove counted differently: jumping there
        # needs OCTAVE_VOTES agreeing updates, any other change two (one odd fill can't move it).
        ratio = bpm / self.bpm
        octave = any(abs(ratio - r) / r <= SWITCH for r in (0.5, 2.0))
        if self._votes >= (OCTAVE_VOTES if octave else 2):
            self.bpm, self._candidate, self._votes = bpm, None, 0

    def _phase(self, o: np.ndarray, period: float) -> None:
        """Offset (frames back from the newest) of the last beat: comb over past beats."""
        T = o.size
        beats = int(T // period) - 1
        if beats < 2:
            return
        offsets = np.arange(int(math.ceil(period)))
        k = np.arange(beats)
        weights = 0.8 ** k  # recent beats count more: follows a drifting band
        idx = (T - 1 - offsets[:, None] - np.round(k[None, :] * period)).astype(np.int64)  # (P, K)
        ok = idx >= 0
        vals = np.where(ok, o[np.clip(idx, 0, T - 1)], 0.0)
        # smooth over +-1 frame so one frame of jitter doesn't split a beat's score
        score = (vals * weights[None, :]).sum(axis=1)
        score = np.convolve(np.concatenate([score[-1:], score, score[:1]]), [0.25, 0.5, 0.25], "valid")
        best = int(np.argmax(score))
        off = float(best)
        if 0 < best < score.size - 1:
            a, b, c = score[best - 1], score[best], score[best + 1]
            den = a - 2 * b + c
            if den < 0:
                off += 0.5 * (a - c) / den
        self.beat_time = self._t_last - off / self.fr


class BeatFollower:
    """A tracker fed by an :class:`~livegan.audio.onset.OnsetDetector`'s novelty; Tempo events once per beat.

    The events carry source ``audio`` and the beat position now (counted from
    the first beat heard: audio knows beats, not where a bar starts).
    """

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.tracker = BeatTracker(detector.sample_rate / detector.hop)
        self.reading: BeatReading | None = None
        self._first: float | None = None
        self._sent: int | None = None
        detector.on_novelty = self._novelty

    def _novelty(self, t: float, flux: float) -> None:
        r = self.tracker.feed(t, flux)
        if r is not None:
            self.reading = r

    def events(self, now: float) -> list[Tempo]:
        """After the detector processed a block: a Tempo when a new beat was tracked (and trusted)."""
        r = self.reading
        if r is None or r.confidence < MIN_CONFIDENCE:
            return []
        if self._first is None:
            self._first = r.beat_time
        n = int(round((r.beat_time - self._first) * r.bpm / 60.0))
        if n == self._sent:
            return []
        self._sent = n
        since = (self.detector.time - r.beat_time) * r.bpm / 60.0  # beats since that beat, stream time
        return [Tempo(r.bpm, "audio", now, beat=n + since)]
