"""MIDI input as a trigger source, with backends chosen by name (mido style).

:class:`MidiInput` opens the first input port whose name contains the user's
text (``--midi nano``, case-insensitive) through a backend:

* ``rtmidi`` — python-rtmidi, imported only when used. Its callback thread
  parses bytes into events and puts them on the queue; it never touches show
  state.
* ``fake`` — :class:`FakeMidiBackend`, whose ports and messages tests control.

The port list is polled from the show loop: a device unplugged mid-show gives
one warning and the show goes on; it is reopened, matched by name (ports
renumber on hot-plug), within ``retry_seconds`` of coming back. With no MIDI
system at all (no ALSA sequencer) there is one clear warning and the show
runs without MIDI.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import sys
import threading
from collections import deque
from typing import Any, Callable, Iterator, Protocol

from ..clock import Clock
from ..errors import DeviceError
from .base import TriggerSource
from .events import Event, EventQueue
from .midi_clock import MidiClock
from .midi_map import MidiMapper, MidiPreset, load_midi_preset, parse_preset

log = logging.getLogger(__name__)

Callback = Callable[[list[int]], None]
BACKENDS = ("rtmidi", "fake")


class MidiUnavailable(DeviceError):
    """There is no MIDI system to talk to at all (not just no device): don't retry."""


class BackendPort(Protocol):
    name: str

    def close(self) -> None: ...


class MidiBackend(Protocol):
    name: str

    def list_ports(self) -> list[str]: ...
    def open(self, port_name: str, callback: Callback, timing: bool = False) -> BackendPort: ...


# -- pure helpers --------------------------------------------------------------
_ALSA_ADDR = re.compile(r"\s+\d+:\d+$")   # "nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0"
_INDEX = re.compile(r"\s+\d+$")            # Windows / macOS style "nanoKONTROL2 1"


def port_base_name(name: str) -> str:
    """A port name without the numbers the OS gives it (they change on hot-plug)."""
    stripped = _ALSA_ADDR.sub("", name)
    if stripped == name and sys.platform != "linux":
        stripped = _INDEX.sub("", name)
    return stripped


def match_port(ports: list[str], query: str | None, remembered: str | None = None) -> str | None:
    """The port to open: the remembered device first, then the first name containing ``query``.

    With no query the first port that is not ALSA's loopback "Midi Through" is taken.
    """
    if remembered is not None:
        base = port_base_name(remembered)
        for p in ports:
            if p == remembered or port_base_name(p) == base:
                return p
    q = (query or "").strip().lower()
    for p in ports:
        if q and q in p.lower():
            return p
        if not q and "midi through" not in p.lower():
            return p
    return None


# -- backends ------------------------------------------------------------------
class FakePort:
    def __init__(self, backend: "FakeMidiBackend", name: str, callback: Callback) -> None:
        self.backend, self.name, self.callback = backend, name, callback

    def close(self) -> None:
        self.backend.open_ports.pop(self.name, None)


class FakeMidiBackend:
    """An in-memory MIDI system: tests plug/unplug ports and send bytes.

    ``send`` calls the open port's callback in the caller's thread, as
    rtmidi calls it in its own thread.
    """

    name = "fake"

    def __init__(self, ports: list[str] | None = None, available: bool = True) -> None:
        self.ports: list[str] = list(ports or [])
        self.available = available
        self.open_ports: dict[str, FakePort] = {}
        self.opens = 0

    def _check(self) -> None:
        if not self.available:
            raise MidiUnavailable("MIDI unavailable: no MIDI system (fake)")

    def list_ports(self) -> list[str]:
        self._check()
        return list(self.ports)

    def open(self, port_name: str, callback: Callback, timing: bool = False) -> FakePort:
        self._check()
        if port_name not in self.ports:
            raise DeviceError(f"MIDI input '{port_name}' is gone")
        port = FakePort(self, port_name, callback)
        self.open_ports[port_name] = port
        self.opens += 1
        return port

    def plug(self, name: str) -> None:
        if name not in self.ports:
            self.ports.append(name)

    def unplug(self, name: str) -> None:
        self.ports = [p for p in self.ports if p != name]
        self.open_ports.pop(name, None)  # a vanished device sends nothing more

    def send(self, port_name: str, data: list[int] | bytes) -> bool:
        """Deliver one message to whoever has ``port_name`` open; False if nobody does."""
        port = self.open_ports.get(port_name)
        if port is None:
            return False
        port.callback(list(data))
        return True


@contextlib.contextmanager
def quiet_c_stderr() -> Iterator[None]:
    """Silence C-level stderr (ALSA lib prints its own error lines) for one call.

    Our own warning says the same thing in one clear line. If fd 2 can't be
    redirected (no real fd, as under some test runners) we just go ahead.
    """
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class RtMidiBackend:
    """python-rtmidi (ALSA sequencer on Linux, CoreMIDI, WinMM)."""

    name = "rtmidi"

    def __init__(self) -> None:
        self._probe: Any = None  # one client kept for listing ports

    def _client(self) -> Any:
        try:
            import rtmidi  # lazily: importing livegan must not need a MIDI system
        except ImportError as e:
            raise MidiUnavailable(f"MIDI unavailable: python-rtmidi is not installed ({e})") from None
        try:
            with quiet_c_stderr():
                return rtmidi.MidiIn(name="livegan")
        except (rtmidi.SystemError, RuntimeError, OSError) as e:
            cause = str(e).strip() or type(e).__name__
            if sys.platform == "linux":
                detail = "no ALSA sequencer"
                if not os.path.exists("/dev/snd/seq"):
                    cause = "/dev/snd/seq is missing"  # says more than rtmidi's text
            else:
                detail = "no MIDI system"
            raise MidiUnavailable(f"MIDI unavailable: {detail} ({cause})") from None

    def list_ports(self) -> list[str]:
        if self._probe is None:
            self._probe = self._client()
        return list(self._probe.get_ports())

    def open(self, port_name: str, callback: Callback, timing: bool = False) -> "_RtPort":
        midi_in = self._client()
        ports = midi_in.get_ports()
        if port_name not in ports:  # ports renumber: look the index up at open time
            midi_in.delete()
            raise DeviceError(f"MIDI input '{port_name}' is gone")
        midi_in.ignore_types(sysex=True, timing=not timing, active_sense=True)  # timing: MIDI clock

        def on_message(event: tuple[tuple[list[int], float], Any], data: Any = None) -> None:
            try:
                callback(list(event[0]))
            except Exception as e:  # noqa: BLE001 - never raise into rtmidi's thread
                log.debug("MIDI callback error: %s", e)

        midi_in.set_callback(on_message)
        midi_in.open_port(ports.index(port_name), name="livegan in")
        return _RtPort(port_name, midi_in)


class _RtPort:
    def __init__(self, name: str, midi_in: Any) -> None:
        self.name, self._in = name, midi_in

    def close(self) -> None:
        try:
            self._in.cancel_callback()
            self._in.close_port()
        finally:
            self._in.delete()


def get_backend(name: str) -> MidiBackend:
    """A backend by name (``rtmidi`` or ``fake``); ValueError lists the valid names."""
    if name == "rtmidi":
        return RtMidiBackend()
    if name == "fake":
        return FakeMidiBackend()
    raise ValueError(f"unknown MIDI backend {name!r} (one of {', '.join(BACKENDS)})")


def list_input_ports(backend: str | MidiBackend = "rtmidi") -> list[str]:
    """Input port names; raises MidiUnavailable when there is no MIDI system."""
    be = get_backend(backend) if isinstance(backend, str) else backend
    return be.list_ports()


# -- the trigger source ----------------------------------------------------------
class MidiInput(TriggerSource):
    """MIDI notes/CCs/program changes -> Cue/Param events on the show's queue.

    ``port``: case-insensitive substring of the port name (None: the preset's
    ``port``, else the first real port). ``preset``: a loaded preset (None:
    the generic map). Construction never touches hardware; call ``open()``.
    """

    name = "MIDI"
    retry_seconds = 1.0   # a returning device is reopened within this (< 2 s)
    check_seconds = 0.5   # how often the port list is checked for an unplug

    def __init__(self, events: EventQueue, clock: Clock, port: str | None = None,
                 preset: MidiPreset | None = None, backend: str | MidiBackend = "rtmidi",
                 midi_clock: bool = True, clock_only: bool = False) -> None:
        super().__init__(events, clock)
        if clock_only:
            self.name = "MIDI clock"
        # MIDI clock bytes (24 ppqn, Start/Stop/Continue/SPP) -> Tempo events; clock_only: no cues.
        self.midi_clock = MidiClock() if midi_clock or clock_only else None
        self.clock_only = clock_only
        self.preset = preset if preset is not None else load_midi_preset()
        self.query = port if port is not None else self.preset.port
        self.backend = get_backend(backend) if isinstance(backend, str) else backend
        self.mapper = MidiMapper(self.preset, clock)
        self.port_name: str | None = None   # the device we have (or had) open
        self.available = True                # False once the MIDI system is known missing
        self.arrivals: deque[float] = deque(maxlen=1024)  # clock time of recent messages
        self._port: BackendPort | None = None
        self._lost = False
        self._next_check = 0.0
        self._lock = threading.Lock()        # guards mapper swaps against the callback
        self._taps: list[RawTap] = []

    # -- backend hooks -------------------------------------------------------
    def _open(self) -> None:
        ports = self.backend.list_ports()
        name = match_port(ports, self.query, self.port_name)
        if name is None:
            if self._lost:  # same text as the unplug warning: one warning per unplug
                raise DeviceError(self._lost_message())
            want = f"matches '{self.query}'" if self.query else "is connected"
            raise DeviceError(f"no input {want} (available: {', '.join(ports) or 'none'})")
        self._port = self.backend.open(name, self._on_bytes, timing=self.midi_clock is not None)
        if self._lost:
            log.info("MIDI input '%s' is back", name)
        else:
            log.info("MIDI input '%s' opened (%s)", name, self.preset.name)
        self.port_name, self._lost = name, False
        self._next_check = self.clock.now() + self.check_seconds

    def _poll(self) -> list[Event]:
        now = self.clock.now()
        if self.midi_clock is not None:
            lost = self.midi_clock.check(now)  # a clock that stopped: warn once, keep its tempo
            if lost is not None:
                self.events.put(lost)
        if now >= self._next_check:
            self._next_check = now + self.check_seconds
            ports = self.backend.list_ports()
            # Exact name: a device replugged between two checks comes back with a
            # new ALSA address, and our old subscription to it is dead.
            if self.port_name is not None and self.port_name not in ports:
                self._lost = True
                raise DeviceError(self._lost_message())
        return []  # events arrive from the backend's thread through _on_bytes

    def _close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def _fail(self, e: BaseException) -> None:
        if isinstance(e, MidiUnavailable):
            # No MIDI system at all: retrying every second can't help. One warning, saying
            # what happens next (the error itself doesn't: `livegan learn` stops on it).
            if self.available:
                self.available = False
                msg = f"{e}; running without MIDI"
                log.warning("%s", msg)
                if self.on_warning:
                    self.on_warning(msg)
            self.last_error = str(e)
            if self.is_open:
                self.close()
            self._retry_at = float("inf")
            return
        super()._fail(e)

    def _lost_message(self) -> str:
        return f"input '{self.port_name}' was unplugged; it will be reopened when it comes back"

    # -- the callback thread ---------------------------------------------------
    def _on_bytes(self, data: list[int]) -> None:
        """Runs in the backend's thread: bytes -> events -> queue. Nothing else."""
        t = self.clock.now()
        self.arrivals.append(t)
        with self._lock:
            if self._taps:  # learning: the control being learned must not also fire
                for tap in self._taps:
                    tap.put(data, t)
                return
            evs: list[Event] = []
            if self.midi_clock is not None and any(b >= 0xF8 or b == 0xF2 for b in data):
                evs.extend(self.midi_clock.feed(data, t))
            if not self.clock_only:
                evs.extend(self.mapper.feed(data, t))
        for ev in evs:
            self.events.put(ev)

    # -- live changes ------------------------------------------------------------
    def set_preset(self, preset: MidiPreset) -> None:
        """Swap the map (e.g. after learning one control); safe while open."""
        with self._lock:
            self.preset = preset
            self.mapper = MidiMapper(preset, self.clock)

    def add_mapping(self, mapping: dict[str, Any]) -> None:
        """Bind one more control (e.g. learned in show mode); ConfigError if invalid."""
        data = self.preset.model_dump(exclude_none=True)
        data["mappings"].append(mapping)
        self.set_preset(parse_preset(data, name="learned mapping"))

    def raw_tap(self) -> "RawTap":
        """Divert raw messages to a tap (for learning) until the tap is closed."""
        tap = RawTap(self.port_name or "", on_close=self._untap)
        with self._lock:
            self._taps.append(tap)
        return tap

    def _untap(self, tap: "RawTap") -> None:
        with self._lock:
            if tap in self._taps:
                self._taps.remove(tap)


class RawTap:
    """Raw messages with their arrival time, for the learn flow (thread-safe)."""

    def __init__(self, name: str = "", on_close: Callable[["RawTap"], None] | None = None) -> None:
        self.name = name
        self._q: queue.Queue[tuple[list[int], float]] = queue.Queue(maxsize=1024)
        self._on_close = on_close

    def put(self, data: list[int], t: float) -> None:
        with contextlib.suppress(queue.Full):
            self._q.put_nowait((list(data), t))

    def poll(self) -> list[list[int]]:
        """Every message received since the last poll (never blocks)."""
        out: list[list[int]] = []
        while True:
            try:
                out.append(self._q.get_nowait()[0])
            except queue.Empty:
                return out

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close(self)


def open_raw(port: str | None, backend: str | MidiBackend = "rtmidi") -> tuple[RawTap, BackendPort]:
    """Open a port for learning: raw messages go to the returned tap.

    Raises MidiUnavailable/DeviceError (one line) when it can't; close both when done.
    """
    be = get_backend(backend) if isinstance(backend, str) else backend
    ports = be.list_ports()
    name = match_port(ports, port)
    if name is None:
        want = f"matches '{port}'" if port else "is connected"
        raise DeviceError(f"no MIDI input {want} (available: {', '.join(ports) or 'none'})")
    tap = RawTap(name)
    handle = be.open(name, lambda data: tap.put(data, 0.0))
    return tap, handle
