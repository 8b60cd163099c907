"""OSC input as a trigger source, with backends chosen by name (the MidiInput pattern).

:class:`OscInput` listens for OSC over UDP (``livegan show --osc PORT``) and
puts the same Cue/Param/Tempo events MIDI makes on the show's queue; the
show loop never sees OSC. Backends:

* ``udp`` — a socket bound to 127.0.0.1 (or ``--osc-host``) read by its own
  thread; python-osc decodes the packets.
* ``fake`` — :class:`FakeOscBackend`: tests hand it datagrams, it calls the
  source's callback in the caller's thread.

Every datagram is guarded: oversized packets, bundles nested too deep,
undecodable bytes and bad messages are counted (``OscInput.router.bad``) and
logged once per address; nothing a network delivers can raise into the show.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any, Callable, Protocol

from ..clock import Clock
from .base import TriggerSource
from .events import Event, EventQueue
from .osc_addresses import DEFAULT_HOST, OscRouter
from .osc_map import OscPreset

log = logging.getLogger(__name__)

BACKENDS = ("udp", "fake")
MAX_DATAGRAM = 8192      # bytes; OSC controllers send far less, anything bigger is refused
MAX_BUNDLE_DEPTH = 4     # bundles inside bundles deeper than this are refused
Callback = Callable[[bytes], None]


class OscHandle(Protocol):
    port: int

    def close(self) -> None: ...


class OscBackend(Protocol):
    name: str

    def open(self, host: str, port: int, callback: Callback) -> OscHandle: ...


class _PythonOscNoise(logging.Filter):
    """python-osc logs every odd bundle element on the *root* logger: a hostile sender could
    flood the log. Our own counters say it once per address instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pythonosc" not in (record.pathname or "")


_NOISE = _PythonOscNoise()


def quiet_python_osc() -> None:
    """Install the filter on the root logger (idempotent; called when OSC opens, never on import)."""
    root = logging.getLogger()
    if _NOISE not in root.filters:
        root.addFilter(_NOISE)


# -- pure decoding -----------------------------------------------------------------
def decode(dgram: bytes) -> tuple[list[tuple[str, list[Any]]], str | None]:
    """A datagram -> ([(address, args)...], problem or None). Never raises."""
    from pythonosc.osc_bundle import OscBundle
    from pythonosc.osc_message import OscMessage

    if len(dgram) > MAX_DATAGRAM:
        return [], f"oversized packet ({len(dgram)} bytes > {MAX_DATAGRAM})"
    out: list[tuple[str, list[Any]]] = []

    def walk(item: Any, depth: int) -> str | None:
        if isinstance(item, OscMessage):
            out.append((item.address, list(item.params)))
            return None
        if depth > MAX_BUNDLE_DEPTH:
            return f"bundle nested deeper than {MAX_BUNDLE_DEPTH}"
        if item.num_contents == 0:
            return "empty or undecodable bundle"
        for c in item:
            why = walk(c, depth + 1)
            if why:
                return why
        return None

    try:
        if OscBundle.dgram_is_bundle(dgram):
            why = walk(OscBundle(dgram), 1)
        elif OscMessage.dgram_is_message(dgram):
            why = walk(OscMessage(dgram), 0)
        else:
            return [], "not an OSC packet"
    except (Exception, RecursionError) as e:  # noqa: BLE001 - python-osc raises ParseError and others
        return [], f"undecodable packet ({type(e).__name__})"
    return (out, why) if why is None else ([], why)


# -- backends ------------------------------------------------------------------------
class _UdpHandle:
    def __init__(self, sock: socket.socket, callback: Callback) -> None:
        self.sock = sock
        self.port = sock.getsockname()[1]
        self._stop = threading.Event()
        self._cb = callback
        self._thread = threading.Thread(target=self._run, name="osc-in", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(MAX_DATAGRAM + 1)  # one byte more: an oversized packet shows as such
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            try:
                self._cb(data)
            except Exception as e:  # noqa: BLE001 - never let one packet end the thread
                log.debug("OSC callback error: %s", e)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self.sock.close()


class UdpOscBackend:
    """Real UDP; the receive thread wakes every 0.2 s to notice a close."""

    name = "udp"

    def open(self, host: str, port: int, callback: Callback) -> _UdpHandle:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
        except OSError as e:
            sock.close()
            raise OSError(f"can't listen on {host}:{port} ({e.strerror or e})") from None
        sock.settimeout(0.2)
        return _UdpHandle(sock, callback)


class _FakeHandle:
    def __init__(self, backend: "FakeOscBackend", port: int, callback: Callback) -> None:
        self.backend, self.port, self.callback = backend, port, callback

    def close(self) -> None:
        if self.backend.handle is self:
            self.backend.handle = None


class FakeOscBackend:
    """In memory: ``deliver(dgram)`` calls the open source's callback, as the UDP thread would."""

    name = "fake"

    def __init__(self) -> None:
        self.handle: _FakeHandle | None = None

    def open(self, host: str, port: int, callback: Callback) -> _FakeHandle:
        self.handle = _FakeHandle(self, port or 1, callback)
        return self.handle

    def deliver(self, dgram: bytes) -> bool:
        if self.handle is None:
            return False
        self.handle.callback(dgram)
        return True


def get_backend(name: str) -> OscBackend:
    if name == "udp":
        return UdpOscBackend()
    if name == "fake":
        return FakeOscBackend()
    raise ValueError(f"unknown OSC backend {name!r} (one of {', '.join(BACKENDS)})")


# -- the trigger source ------------------------------------------------------------------
class OscInput(TriggerSource):
    """OSC datagrams -> Cue/Param/Tempo events on the show's queue (source 'osc').

    ``port`` 0 binds a free port (tests); :attr:`port` then says which.
    Construction never touches the network; call ``open()``.
    """

    name = "OSC"

    def __init__(self, events: EventQueue, clock: Clock, port: int, host: str = DEFAULT_HOST,
                 preset: OscPreset | None = None, backend: str | OscBackend = "udp") -> None:
        super().__init__(events, clock)
        self.host, self.port = host, port
        self.preset = preset
        self.router = OscRouter(preset.targets() if preset else None, preset.quantise if preset else None)
        self.backend = get_backend(backend) if isinstance(backend, str) else backend
        self.datagrams = 0
        self._handle: OscHandle | None = None
        self._lock = threading.Lock()  # the router is fed by one thread at a time

    def _open(self) -> None:
        quiet_python_osc()
        self._handle = self.backend.open(self.host, self.port, self._on_datagram)
        self.port = self._handle.port
        log.info("OSC: listening on %s:%d%s", self.host, self.port,
                 f" ({self.preset.name})" if self.preset else "")

    def _close(self) -> None:
        h, self._handle = self._handle, None
        if h is not None:
            h.close()

    def _poll(self) -> list[Event]:
        return []  # events arrive from the receive thread

    def _on_datagram(self, dgram: bytes) -> None:
        """Runs in the receive thread: bytes -> events -> queue. Never raises."""
        t = self.clock.now()
        msgs, problem = decode(dgram)
        with self._lock:
            self.datagrams += 1
            if problem:
                self.router.reject("<packet>", problem)
                return
            evs: list[Event] = []
            for address, args in msgs:
                evs.extend(self.router.route(address, args, t))
        for ev in evs:
            self.events.put(ev)
