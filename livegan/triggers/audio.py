"""Audio trigger sources: a live sound-card input and a played-along audio file.

Both run the same :class:`~livegan.audio.onset.OnsetDetector` and emit

- ``Param('audio_level', 0..1)`` about 50 times a second (drift follows loudness),
- ``Param('audio_pulse', 0..1)`` on every onset (a short kick of motion),
- ``Cue('next', source='audio')`` on the onsets the current song's
  :class:`~livegan.audio.gate.OnsetGate` lets through (``set_song_onsets``),
- with ``beat_tracking`` on, ``Tempo(bpm, 'audio', beat=...)`` once per beat
  from :class:`~livegan.audio.beat.BeatTracker` on the detector's novelty.

Live input: the PortAudio callback only copies samples into a lock-free
single-producer/single-consumer ring (it must never wait); a worker thread
runs the detector. When the ring is full the *incoming* block is dropped and
counted, never data the worker may be reading. PortAudio missing, no or
unknown device, a device that stops, and overflows are one warning each; the
base class retries and the show goes on. ``sounddevice`` is imported only in
``_open`` so importing this module never needs PortAudio.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.gate import OnsetGate
from ..audio.io import read_audio
from ..audio.onset import Onset, OnsetDetector
from ..audio.settings import OnsetSettings, SongOnsets
from ..clock import Clock
from ..errors import DeviceError
from .base import TriggerSource
from .events import Cue, Event, EventQueue, Param

log = logging.getLogger(__name__)

LEVEL_INTERVAL = 0.02  # seconds of audio between audio_level params (~50 per second)


def import_sounddevice() -> Any:
    """Import sounddevice, turning a missing PortAudio into one clear DeviceError."""
    try:
        import sounddevice  # lazy: needs the PortAudio shared library
    except OSError as e:
        raise DeviceError(f"PortAudio is not available ({e}); install libportaudio2") from None
    return sounddevice


def pick_device(devices: list[dict], wanted: str | None, kind: str = "input") -> int:
    """Index of the first ``kind`` ('input'/'output') device whose name contains ``wanted``.

    ``wanted`` None means the first such device. Matching ignores case. Raises
    DeviceError naming the devices that exist, so the user can fix the name.
    """
    key = f"max_{kind}_channels"
    usable = [(i, d) for i, d in enumerate(devices) if int(d.get(key, 0)) > 0]
    if not usable:
        raise DeviceError(f"no audio {kind} devices found")
    if wanted is None:
        return usable[0][0]
    for i, d in usable:
        if wanted.lower() in str(d.get("name", "")).lower():
            return i
    names = ", ".join(f"{i} '{d.get('name', '?')}'" for i, d in usable)
    raise DeviceError(f"no audio {kind} device matching '{wanted}' ({kind}s: {names})")


def pulse_of(strength: float) -> float:
    """Onset strength (flux / threshold, >= 1) -> pulse 0..1: 2x over threshold is 0.5."""
    return float(min(1.0, max(0.0, 1.0 - 1.0 / max(strength, 1e-9))))


class SampleRing:
    """Fixed float32 ring, one writer (audio callback) and one reader (worker).

    Only the writer moves ``_w`` and only the reader moves ``_r``; each is
    published after the samples it covers are in place, so no lock is needed
    under the GIL. A write that doesn't fit is dropped whole and counted.
    """

    def __init__(self, capacity: int) -> None:
        self._buf = np.zeros(int(capacity), np.float32)
        self._w = 0  # total samples written
        self._r = 0  # total samples read
        self.overflows = 0

    def write(self, x: np.ndarray) -> bool:
        n, cap = x.shape[0], self._buf.shape[0]
        if self._w - self._r + n > cap:
            self.overflows += 1
            return False
        i = self._w % cap
        k = min(n, cap - i)
        self._buf[i:i + k] = x[:k]
        self._buf[: n - k] = x[k:]
        self._w += n
        return True

    def read(self) -> np.ndarray:
        """Everything written since the last read (a copy)."""
        w, cap = self._w, self._buf.shape[0]
        n = w - self._r
        i = self._r % cap
        k = min(n, cap - i)
        out = np.concatenate([self._buf[i:i + k], self._buf[: n - k]])
        self._r = w
        return out


class _Listener:
    """Detector + gate -> events. Shared by the live and the file source."""

    def __init__(self, settings: OnsetSettings, sample_rate: int, clock: Clock,
                 song: SongOnsets | None, sensitivity: float | None, track: bool = False) -> None:
        self.detector = OnsetDetector(settings, sample_rate)
        self.beats = None
        if track:
            from ..audio.beat import BeatFollower
            self.beats = BeatFollower(self.detector)
        if sensitivity is not None:
            self.detector.sensitivity = sensitivity
        self.gate = OnsetGate(song)
        self.clock = clock
        self.onsets: deque[Onset] = deque(maxlen=1000)  # recent onsets, stream times (for tests/UI)
        self._next_level = 0.0

    def feed(self, x: np.ndarray) -> list[Event]:
        evs: list[Event] = []
        det = self.detector
        for o in det.process(x):
            self.onsets.append(o)
            now = self.clock.now()
            evs.append(Param("audio_pulse", pulse_of(o.strength), source="audio", t=now))
            if self.gate.feed(o, o.level):  # self.gate may be swapped by set_song_onsets: read once
                evs.append(Cue("next", source="audio", t=now))
        if self.beats is not None:
            evs.extend(self.beats.events(self.clock.now()))
        # one level per chunk at most (a backlog of stale levels is useless to the show)
        if det.time >= self._next_level:
            evs.append(Param("audio_level", round(float(det.level), 4), source="audio", t=self.clock.now()))
            self._next_level = det.time + LEVEL_INTERVAL
        return evs




class _AudioSource(TriggerSource):
    """What both sources share: settings, song gate, runtime sensitivity."""

    def __init__(self, events: EventQueue, clock: Clock, settings: OnsetSettings | None,
                 song_onsets: SongOnsets | None, backend: Any) -> None:
        super().__init__(events, clock)
        self.settings = settings or OnsetSettings()
        self._song = song_onsets or SongOnsets()
        self._sensitivity: float | None = None
        self._backend = backend  # a sounddevice-like module; None = import the real one
        self._listener: _Listener | None = None
        self.beat_tracking = False  # on: a beat tracker on the novelty gives the 'audio' tempo

    def set_song_onsets(self, song: SongOnsets) -> None:
        """Use this song's onset rules from now on (the show calls it on song change)."""
        self._song = song
        if self._listener is not None:
            self._listener.gate = OnsetGate(song)  # one reference swap: safe across threads

    def set_sensitivity(self, value: float) -> None:
        """Runtime sensitivity multiplier (MIDI ``audio_sensitivity``); > 1 hears more onsets."""
        self._sensitivity = max(0.01, float(value))
        if self._listener is not None:
            self._listener.detector.sensitivity = self._sensitivity

    @property
    def onsets(self) -> list[Onset]:
        """Recent onsets in stream seconds (since this source last opened)."""
        listener = self._listener
        if listener is None:
            return []
        for _ in range(10):  # the worker may append while we copy; just try again
            try:
                return list(listener.onsets)
            except RuntimeError:
                continue
        return []

    @property
    def latency_seconds(self) -> float:
        return OnsetDetector(self.settings).latency_seconds

    def _sd(self) -> Any:
        return self._backend if self._backend is not None else import_sounddevice()


class AudioInputSource(_AudioSource):
    """Onsets from a live input device, chosen by a substring of its name (None = first input)."""

    name = "audio input"
    stall_seconds = 2.0  # no samples for this long (clock time) = the device went away

    def __init__(self, events: EventQueue, clock: Clock, device: str | None = None,
                 settings: OnsetSettings | None = None, song_onsets: SongOnsets | None = None,
                 sample_rate: int | None = None, ring_seconds: float = 2.0, backend: Any = None) -> None:
        super().__init__(events, clock, settings, song_onsets, backend)
        self.device = device
        self.sample_rate = sample_rate  # None = the device's default rate
        self.ring_seconds = ring_seconds
        self.device_name: str | None = None
        self.pa_overflows = 0
        self._stream: Any = None
        self._ring: SampleRing | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._worker_error: BaseException | None = None
        self._stopped_by_device = False
        self._closing = False
        self._last_data = 0.0
        self._overflow_warned = False

    @property
    def overflows(self) -> int:
        """Blocks lost since open: PortAudio input overflows + ring overflows."""
        return self.pa_overflows + (self._ring.overflows if self._ring else 0)

    def _open(self) -> None:
        sd = self._sd()
        devices = [dict(d) for d in sd.query_devices()]
        idx = pick_device(devices, self.device, "input")
        info = devices[idx]
        self.device_name = str(info.get("name", idx))
        sr = int(self.sample_rate or info.get("default_samplerate") or 48000)
        self._ring = SampleRing(int(sr * self.ring_seconds))
        self._listener = _Listener(self.settings, sr, self.clock, self._song, self._sensitivity,
                                   track=self.beat_tracking)
        self.pa_overflows, self._overflow_warned = 0, False
        self._worker_error, self._stopped_by_device, self._closing = None, False, False
        try:
            self._stream = sd.InputStream(device=idx, channels=1, samplerate=sr, dtype="float32",
                                          blocksize=self.settings.hop, callback=self._callback,
                                          finished_callback=self._finished)
            self._stream.start()
        except Exception as e:  # PortAudioError and friends; keep the message, drop the traceback
            self._stream = None
            raise DeviceError(f"cannot open '{self.device_name}': {e}") from None
        self._last_data = self.clock.now()
        self._stop.clear()
        self._thread = threading.Thread(target=self._work, name="livegan-audio", daemon=True)
        self._thread.start()
        log.info("%s: listening on '%s' at %d Hz (latency %.1f ms + device)", self.name,
                 self.device_name, sr, 1000 * self._listener.detector.latency_seconds)

    # Runs on PortAudio's thread: copy, count, nothing else (no locks, no logging).
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status and getattr(status, "input_overflow", False):
            self.pa_overflows += 1
        ring = self._ring
        if ring is not None:
            ring.write(indata[:, 0] if indata.shape[1] == 1 else indata.mean(axis=1))

    def _finished(self) -> None:
        if not self._closing:
            self._stopped_by_device = True

    def _work(self) -> None:
        wait = self.settings.hop / 2 / max(1, self._listener.detector.sample_rate)  # half a hop
        try:
            while not self._stop.is_set():
                x = self._ring.read()
                if x.size == 0:
                    self._stop.wait(wait)
                    continue
                self._last_data = self.clock.now()
                for ev in self._listener.feed(x):
                    self.emit(ev)
        except Exception as e:  # noqa: BLE001 - reported by _poll on the show's thread
            self._worker_error = e

    def _poll(self) -> list[Event]:
        where = f"'{self.device_name}'"
        if self._worker_error is not None:
            raise DeviceError(f"audio analysis of {where} failed: {self._worker_error}")
        if self._stopped_by_device or (self._stream is not None and not self._stream.active):
            raise DeviceError(f"audio input {where} stopped (unplugged or taken by another program?)")
        if self.clock.now() - self._last_data > self.stall_seconds:
            raise DeviceError(f"no audio from {where} for {self.stall_seconds:.0f} s")
        if self.overflows and not self._overflow_warned:
            self._overflow_warned = True  # once per open: a busy machine would flood the log
            msg = (f"{self.name}: input overflow on {where}, some audio was lost "
                   f"({self.overflows} blocks so far); onsets may be missed")
            log.warning(msg)
            if self.on_warning:
                self.on_warning(msg)
        return []

    def _close(self) -> None:
        self._closing = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
        if self._stream is not None:
            try:
                self._stream.abort(ignore_errors=True)
                self._stream.close(ignore_errors=True)
            finally:
                self._stream = None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


class AudioFileSource(_AudioSource):
    """Play an audio file and hear it in time with the injected clock (rehearsal, tests).

    Each poll feeds the detector the samples between the last poll and
    ``clock.now()``, so a ManualClock steps through the file deterministically.
    The file also plays through the default output when there is one; with no
    PortAudio or no output device it stays silent and still drives the show.
    """

    name = "audio file"

    def __init__(self, events: EventQueue, clock: Clock, path: str | Path,
                 settings: OnsetSettings | None = None, song_onsets: SongOnsets | None = None,
                 play: bool = True, backend: Any = None) -> None:
        super().__init__(events, clock, settings, song_onsets, backend)
        self.path = str(path)
        self.samples, self.sample_rate = read_audio(path)  # ConfigError now, not mid-show
        self.play = play
        self.position = 0  # samples fed to the detector
        self.finished = False
        self._t0 = 0.0
        self._out: Any = None
        self._play_pos = 0
        self._out_latency = 0.0

    @property
    def duration(self) -> float:
        return self.samples.size / self.sample_rate

    def _open(self) -> None:
        self._listener = _Listener(self.settings, self.sample_rate, self.clock, self._song, self._sensitivity,
                                   track=self.beat_tracking)
        self.position, self._play_pos, self.finished = 0, 0, False
        self._out_latency = 0.0
        if self.play:
            self._start_playback()
        self._t0 = self.clock.now()

    def _start_playback(self) -> None:
        try:
            sd = self._sd()
            idx = pick_device([dict(d) for d in sd.query_devices()], None, "output")
            self._out = sd.OutputStream(device=idx, channels=1, samplerate=self.sample_rate,
                                        dtype="float32", callback=self._play_callback)
            self._out.start()
            self._out_latency = float(getattr(self._out, "latency", 0.0) or 0.0)
        except Exception as e:  # noqa: BLE001 - no speakers is fine for rehearsal, but say so
            # A rehearsal that plays nothing aloud must not look like a broken show: warn in the
            # terminal and (through on_warning) in the overlay, not at INFO level only.
            msg = f"{self.name}: not playing {Path(self.path).name} aloud ({_one_line(e)}); onsets still follow the clock"
            log.warning(msg)
            if self.on_warning:
                self.on_warning(msg)
            self._out = None

    def _play_callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        chunk = self.samples[self._play_pos:self._play_pos + frames]
        outdata[: chunk.size, 0] = chunk
        outdata[chunk.size:, 0] = 0.0
        self._play_pos += frames

    def _poll(self) -> list[Event]:
        # feed what the listener has heard by now: the output's latency later than the clock
        t = self.clock.now() - self._t0 - self._out_latency
        target = min(self.samples.size, max(0, int(t * self.sample_rate)))
        if target <= self.position:
            return []
        x = self.samples[self.position:target]
        self.position = target
        self.finished = target >= self.samples.size
        return self._listener.feed(x)

    def _close(self) -> None:
        if self._out is not None:
            try:
                self._out.abort(ignore_errors=True)
                self._out.close(ignore_errors=True)
            finally:
                self._out = None
