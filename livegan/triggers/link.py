"""Ableton Link as a tempo source (``--link``), through ``aalink``; backends by name, with a fake.

Link shares a tempo and a beat grid between every app on the local network.
:class:`LinkSource` polls the session from the show loop (cheap: two reads)
and puts :class:`Tempo` readings (source ``link``, with the beat position, so
quantised cues land on the band's beats) on the queue when the tempo changes
and once per beat. :meth:`LinkSource.propose` sets the session tempo (e.g.
from a tap).

``aalink`` needs a running asyncio loop: the backend runs one on its own
thread. ``network=False`` keeps Link disabled: a local timeline that sends
nothing (what tests use); the show enables it to join the session.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from typing import Any, Protocol

from ..clock import Clock
from .base import TriggerSource
from .events import Event, EventQueue, Tempo

log = logging.getLogger(__name__)

BACKENDS = ("aalink", "fake")
SOURCE = "link"


def link_available() -> tuple[bool, str]:
    """(available, note) for ``livegan devices``; imports aalink only."""
    try:
        import aalink  # noqa: F401
    except Exception as e:  # noqa: BLE001
        return False, f"aalink not importable ({type(e).__name__}: {e})"
    return True, "aalink installed; --link joins the session on the local network"


class LinkHandle(Protocol):
    tempo: float

    @property
    def beat(self) -> float: ...
    def close(self) -> None: ...


class _AalinkHandle:
    """aalink.Link living in an asyncio loop on its own thread."""

    def __init__(self, bpm: float, network: bool) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="link", daemon=True)
        self._thread.start()

        async def make() -> Any:
            from aalink import Link
            link = Link(bpm)
            link.enabled = network
            return link

        try:
            self._link = asyncio.run_coroutine_threadsafe(make(), self._loop).result(timeout=5.0)
        except BaseException:
            self._stop()
            raise

    @property
    def tempo(self) -> float:
        return float(self._link.tempo)

    @tempo.setter
    def tempo(self, bpm: float) -> None:
        self._link.tempo = float(bpm)

    @property
    def beat(self) -> float:
        return float(self._link.beat)

    @property
    def peers(self) -> int:
        return int(self._link.num_peers)

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2.0)

    def close(self) -> None:
        try:
            self._link.enabled = False
        finally:
            self._stop()


class AalinkBackend:
    name = "aalink"

    def __init__(self, network: bool = True) -> None:
        self.network = network

    def open(self, bpm: float) -> _AalinkHandle:
        try:
            import aalink  # noqa: F401
        except ImportError as e:
            raise RuntimeError(f"Ableton Link unavailable: aalink is not installed ({e})") from None
        return _AalinkHandle(bpm, self.network)


class FakeLinkHandle:
    """A session whose tempo tests set; its beat runs on the injected clock."""

    def __init__(self, clock: Clock, bpm: float) -> None:
        self.clock = clock
        self._tempo, self._t0, self._b0 = bpm, clock.now(), 0.0
        self.closed = False

    @property
    def beat(self) -> float:
        return self._b0 + (self.clock.now() - self._t0) * self._tempo / 60.0

    @property
    def tempo(self) -> float:
        return self._tempo

    @tempo.setter
    def tempo(self, bpm: float) -> None:  # the beat stays continuous across a tempo change
        self._b0, self._t0, self._tempo = self.beat, self.clock.now(), float(bpm)

    def close(self) -> None:
        self.closed = True


class FakeLinkBackend:
    name = "fake"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.handle: FakeLinkHandle | None = None

    def open(self, bpm: float) -> FakeLinkHandle:
        self.handle = FakeLinkHandle(self.clock, bpm)
        return self.handle


class LinkSource(TriggerSource):
    """Link session -> Tempo readings (tempo changes, and once per beat)."""

    name = "Link"

    def __init__(self, events: EventQueue, clock: Clock, bpm: float = 120.0,
                 backend: str | Any = "aalink", network: bool = True) -> None:
        super().__init__(events, clock)
        if isinstance(backend, str):
            if backend not in BACKENDS:
                raise ValueError(f"unknown Link backend {backend!r} (one of {', '.join(BACKENDS)})")
            backend = AalinkBackend(network) if backend == "aalink" else FakeLinkBackend(clock)
        self.backend = backend
        self.start_bpm = bpm
        self._h: Any = None
        self._last_bpm: float | None = None
        self._last_beat: int | None = None

    def _open(self) -> None:
        self._h = self.backend.open(self.start_bpm)
        log.info("Ableton Link: joined (%.1f bpm)", self._h.tempo)

    def _close(self) -> None:
        h, self._h = self._h, None
        if h is not None:
            h.close()

    def _poll(self) -> list[Event]:
        bpm, beat = self._h.tempo, self._h.beat
        t = self.clock.now()
        if not (math.isfinite(bpm) and math.isfinite(beat)):
            return []
        whole = math.floor(beat)
        if self._last_bpm is not None and abs(bpm - self._last_bpm) < 0.005 and whole == self._last_beat:
            return []
        self._last_bpm, self._last_beat = bpm, whole
        return [Tempo(bpm, SOURCE, t, beat)]

    def propose(self, bpm: float) -> None:
        """Set the session's tempo (every peer follows). Never raises."""
        if self._h is None:
            return
        try:
            self._h.tempo = float(bpm)
        except Exception as e:  # noqa: BLE001
            log.warning("Link: could not set the tempo (%s)", e)


class LinkProposer:
    """Hands manual tempos (a tap, an OSC /livegan/tempo) to the Link session, so every peer follows.

    Without it a tap would be outranked by Link and do nothing; with it the tap
    *changes the session's* tempo, which then comes back as the ruling 'link'
    reading. ``board`` is the show's TempoBoard; ``tick`` runs once per frame.
    """

    MANUAL = ("osc", "tap")

    def __init__(self, link: LinkSource, board: Any) -> None:
        self.link, self.board = link, board
        self._seen: dict[str, float] = {}

    def tick(self, t: float) -> None:
        for name in self.MANUAL:
            r = self.board.readings.get(name)
            if r is not None and self._seen.get(name) != r.t:
                self._seen[name] = r.t
                self.link.propose(r.bpm)
