"""Audio trigger sources against a tiny fake sounddevice: events, gating, failures, file playback."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import types

import numpy as np
import pytest

from livegan.audio.io import write_wav
from livegan.audio.settings import SongOnsets
from livegan.clock import ManualClock
from livegan.errors import ConfigError, DeviceError
from livegan.triggers.audio import (AudioFileSource, AudioInputSource, SampleRing, pick_device,
                                    pulse_of)
from livegan.triggers.events import Cue, EventQueue, Param

SR = 48000
CLICK_TIMES = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def click_track(dur: float = 3.5) -> np.ndarray:
    x = (np.random.default_rng(1).standard_normal(int(dur * SR)) * 1e-3).astype(np.float32)
    for t in CLICK_TIMES:
        x[int(t * SR):int(t * SR) + 4] += np.array([0.8, -0.8, 0.4, -0.4], np.float32)
    return x


class FakeStream:
    def __init__(self, **kw) -> None:
        self.kw = kw
        self.active = False
        self.closed = False
        self.latency = 0.0

    def start(self) -> None:
        self.active = True

    def abort(self, ignore_errors: bool = True) -> None:
        self.active = False

    def close(self, ignore_errors: bool = True) -> None:
        self.closed = True

    def push(self, x: np.ndarray, overflow: bool = False) -> None:
        """Deliver samples the way PortAudio does: (frames, channels) blocks to the callback."""
        status = types.SimpleNamespace(input_overflow=overflow)
        self.kw["callback"](x.reshape(-1, 1), x.size, None, status if overflow else None)

    def unplug(self) -> None:
        self.active = False
        self.kw["finished_callback"]()


class FakeSD:
    def __init__(self, devices: list[dict]) -> None:
        self.devices = devices
        self.streams: list[FakeStream] = []

    def query_devices(self) -> list[dict]:
        return self.devices

    def InputStream(self, **kw) -> FakeStream:  # noqa: N802 - mirrors sounddevice
        s = FakeStream(**kw)
        self.streams.append(s)
        return s

    OutputStream = InputStream  # noqa: N815


MIC = {"name": "USB Audio CODEC: Mic", "max_input_channels": 1, "max_output_channels": 0,
       "default_samplerate": 48000.0}
SPEAKER = {"name": "HDMI out", "max_input_channels": 0, "max_output_channels": 2, "default_samplerate": 48000.0}


def wait_drained(src: AudioInputSource, timeout: float = 60.0) -> None:  # returns once drained
    ring = src._ring
    t0 = time.monotonic()
    while ring._r != ring._w and time.monotonic() - t0 < timeout:
        time.sleep(0.002)
    time.sleep(0.01)  # let the worker finish the block it took


def stream_in(src: AudioInputSource, stream: FakeStream, x: np.ndarray, block: int = 256) -> None:
    for i in range(0, x.size, block):
        stream.push(x[i:i + block])
        if (i // block) % 64 == 63:
            wait_drained(src)
    wait_drained(src)


def test_pick_device() -> None:
    devs = [SPEAKER, MIC, {**MIC, "name": "Built-in Mic"}]
    assert pick_device(devs, None) == 1
    assert pick_device(devs, "usb audio") == 1
    assert pick_device(devs, "Built-in") == 2
    assert pick_device(devs, "hdmi", "output") == 0
    with pytest.raises(DeviceError, match=r"no audio input device matching 'Focusrite' \(inputs: 1 'USB"):
        pick_device(devs, "Focusrite")
    with pytest.raises(DeviceError, match="no audio input devices found"):
        pick_device([SPEAKER], None)


def test_ring_wraps_and_drops_new_blocks_when_full() -> None:
    r = SampleRing(10)
    assert r.write(np.arange(6, dtype=np.float32)) and r.read().tolist() == list(range(6))
    assert r.write(np.arange(8, dtype=np.float32))  # wraps around the end
    assert not r.write(np.ones(3, np.float32)) and r.overflows == 1  # would overwrite unread samples
    assert r.read().tolist() == list(range(8))
    assert r.read().size == 0


def test_pulse_of() -> None:
    assert pulse_of(1.0) == 0.0 and pulse_of(2.0) == 0.5 and 0.9 < pulse_of(20.0) <= 1.0


def test_input_source_emits_levels_pulses_and_gated_cues() -> None:
    sd, q, clock = FakeSD([SPEAKER, MIC]), EventQueue(), ManualClock()
    src = AudioInputSource(q, clock, device="USB", backend=sd)
    assert src.open() and src.device_name == MIC["name"]
    stream = sd.streams[0]
    assert stream.kw["device"] == 1 and stream.kw["samplerate"] == 48000 and stream.kw["blocksize"] == 256
    x = click_track()
    stream_in(src, stream, x[: 2 * SR])
    src.set_song_onsets(SongOnsets(advance=True, min_interval=0.9))
    stream_in(src, stream, x[2 * SR:])
    assert src.poll() == 0 and src.is_open
    evs = q.drain()
    pulses = [e for e in evs if isinstance(e, Param) and e.name == "audio_pulse"]
    levels = [e.value for e in evs if isinstance(e, Param) and e.name == "audio_level"]
    cues = [e for e in evs if isinstance(e, Cue)]
    assert len(pulses) == len(CLICK_TIMES) and all(0 <= p.value <= 1 for p in pulses)
    assert [round(o.time, 1) for o in src.onsets] == CLICK_TIMES
    # at most one level per 20 ms of audio, and one per chunk the worker takes (no stale backlog)
    assert 5 <= len(levels) <= 3.5 / 0.02 and max(levels) > 0.5 and all(0 <= v <= 1 for v in levels)
    # before the song said so: no cues; after: onsets at 2.0, 2.5, 3.0 with 0.9 s spacing -> 2.0, 3.0
    assert [(c.kind, c.source) for c in cues] == [("next", "audio")] * 2
    src.close()
    assert stream.closed and src._thread is None


def test_runtime_sensitivity_reaches_the_detector() -> None:
    sd = FakeSD([MIC])
    src = AudioInputSource(EventQueue(), ManualClock(), backend=sd)
    src.set_sensitivity(3.0)
    src.open()
    assert src._listener.detector.sensitivity == 3.0
    src.set_sensitivity(0.5)
    assert src._listener.detector.sensitivity == 0.5
    src.close()


def test_missing_portaudio_is_one_warning_and_retried(monkeypatch, caplog) -> None:
    class NoPortAudio:
        def find_spec(self, name, path=None, target=None):
            if name == "sounddevice":
                raise OSError("PortAudio library not found")
            return None

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    clock = ManualClock()
    src = AudioInputSource(EventQueue(), clock)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            src.poll()
            clock.advance(2.5)
    assert not src.is_open and src.failures == 5
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "PortAudio" in warnings[0].getMessage()
    assert "libportaudio2" in src.last_error


def test_no_input_device_then_plugged_in(caplog) -> None:
    sd, clock = FakeSD([SPEAKER]), ManualClock()
    src = AudioInputSource(EventQueue(), clock, device="USB", backend=sd)
    with caplog.at_level(logging.WARNING):
        assert not src.open()
    assert "no audio input devices" in src.last_error
    sd.devices = [SPEAKER, MIC]
    src.poll()  # not due yet
    assert not src.is_open
    clock.advance(src.retry_seconds)
    src.poll()
    assert src.is_open
    src.close()


def test_device_disappearing_closes_and_retries(caplog) -> None:
    sd, clock = FakeSD([MIC]), ManualClock()
    src = AudioInputSource(EventQueue(), clock, backend=sd)
    src.open()
    sd.streams[0].unplug()
    with caplog.at_level(logging.WARNING):
        src.poll()
    assert not src.is_open and "stopped" in src.last_error and sd.streams[0].closed
    clock.advance(src.retry_seconds)
    src.poll()
    assert src.is_open and len(sd.streams) == 2
    src.close()


def test_silent_device_is_detected_by_the_watchdog() -> None:
    sd, clock = FakeSD([MIC]), ManualClock()
    src = AudioInputSource(EventQueue(), clock, backend=sd)
    src.open()
    clock.advance(src.stall_seconds + 0.5)
    src.poll()
    assert not src.is_open and "no audio from" in src.last_error


def test_overflows_are_counted_and_warned_once(caplog) -> None:
    sd, clock = FakeSD([MIC]), ManualClock()
    src = AudioInputSource(EventQueue(), clock, backend=sd, ring_seconds=0.05)
    src.open()
    stream = sd.streams[0]
    src._stop.set()  # stall the worker so the ring fills
    src._thread.join()
    with caplog.at_level(logging.WARNING):
        for _ in range(20):
            stream.push(np.zeros(256, np.float32))
        stream.push(np.zeros(256, np.float32), overflow=True)
        src.poll()
        src.poll()
    assert src.pa_overflows == 1 and src._ring.overflows > 5 and src.is_open
    assert len([r for r in caplog.records if "overflow" in r.getMessage()]) == 1
    src.close()


def test_file_source_follows_the_manual_clock(tmp_path) -> None:
    p = tmp_path / "song.wav"
    write_wav(p, click_track(), SR)
    q, clock = EventQueue(), ManualClock(100.0)
    src = AudioFileSource(q, clock, p, song_onsets=SongOnsets(advance=True, every=2, min_interval=0),
                          backend=FakeSD([MIC]))  # no output device: silent, still drives the show
    said: list[str] = []
    src.on_warning = said.append  # the show's overlay
    assert src.open() and src._out is None
    assert len(said) == 1 and "not playing song.wav aloud (no audio output devices found)" in said[0], said
    clock.advance(1.25)
    src.poll()
    assert [round(o.time, 1) for o in src.onsets] == [0.5, 1.0]
    assert src.position == int(1.25 * SR)
    while not src.finished:
        clock.advance(1 / 60)
        src.poll()
    evs = q.drain()
    assert [round(o.time, 1) for o in src.onsets] == CLICK_TIMES
    cues = [e for e in evs if isinstance(e, Cue)]
    assert len(cues) == 3 and all(c.t >= 100.0 for c in cues)
    assert sum(isinstance(e, Param) and e.name == "audio_pulse" for e in evs) == 6


def test_file_source_plays_through_an_output_device(tmp_path) -> None:
    p = tmp_path / "song.wav"
    x = click_track()
    write_wav(p, x, SR)
    sd = FakeSD([MIC, SPEAKER])
    src = AudioFileSource(EventQueue(), ManualClock(), p, backend=sd)
    src.open()
    out = sd.streams[0]
    assert out.active and out.kw["device"] == 1 and out.kw["samplerate"] == SR
    buf = np.zeros((512, 1), np.float32)
    out.kw["callback"](buf, 512, None, None)
    assert np.abs(buf[:, 0] - x[:512]).max() < 1e-4
    src.close()
    assert out.closed


def test_file_source_bad_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError):
        AudioFileSource(EventQueue(), ManualClock(), tmp_path / "missing.wav")


def test_importing_audio_modules_does_not_load_portaudio() -> None:
    code = ("import sys, livegan.triggers.audio, livegan.audio; "
            "assert 'sounddevice' not in sys.modules, 'imported sounddevice'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)
