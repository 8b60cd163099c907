"""MIDI latency measurement: backend callback -> event on the queue -> drained by the show loop.

A thread plays the part of python-rtmidi's callback thread and feeds CC
messages through the fake backend into a real :class:`MidiInput`; the calling
thread is a loop polling at display rate that drains the queue, as the show
loop does once per frame. Used by ``livegan bench`` and benchmarks/bench_midi.py.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

from ..clock import MonotonicClock
from .events import EventQueue
from .midi import FakeMidiBackend, MidiInput
from .midi_map import Mapping, MidiMapper, MidiPreset

log = logging.getLogger(__name__)
PORT = "bench:bench MIDI 1 20:0"


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def _mapper_cost_us(n: int = 20_000) -> float:
    """Mean cost of parsing + mapping one 3-byte CC message, in microseconds."""
    m = MidiMapper(MidiPreset(mappings=[Mapping(cc=1, param="master_fade")]))
    msgs = [[0xB0, 1, i % 128] for i in range(n)]
    t0 = time.perf_counter()
    for msg in msgs:
        m.feed(msg, 0.0)
    return (time.perf_counter() - t0) / n * 1e6


class _TimedQueue(EventQueue):
    """The show's queue, noting when each event landed on it (for the bench only)."""

    def __init__(self, clock: MonotonicClock) -> None:
        super().__init__()
        self.clock = clock
        self.put_times: list[float] = []

    def put(self, ev: Any) -> bool:
        ok = super().put(ev)
        self.put_times.append(self.clock.now())
        return ok


def measure_midi_latency(n: int = 1000, fps: float = 60.0, gap_ms: float = 4.0,
                         seed: int = 0) -> dict[str, Any]:
    """Send ``n`` CC messages from another thread; latency percentiles in milliseconds.

    ``callback_to_queue``: message handed to the callback -> event on the queue
    (parse + map + put). ``to_drain``: message sent -> drained by the loop polling
    at ``fps``; about half a frame on average by construction.
    """
    clock = MonotonicClock()
    q = _TimedQueue(clock)
    be = FakeMidiBackend([PORT])
    preset = MidiPreset(name="bench", mappings=[Mapping(cc=1, param="master_fade")])
    src = MidiInput(q, clock, port="bench", preset=preset, backend=be)
    if not src.open():
        raise RuntimeError(f"fake MIDI port did not open: {src.last_error}")
    sent: list[float] = []
    rng = random.Random(seed)

    def sender() -> None:
        # Random gaps so sends are not phase-locked to the frame loop.
        for i in range(n):
            sent.append(clock.now())
            be.send(PORT, [0xB0, 1, i % 128])
            time.sleep(rng.uniform(0.0, 2 * gap_ms / 1000))

    drained: list[float] = []
    frame = 1.0 / fps
    th = threading.Thread(target=sender, name="fake-midi-callback", daemon=True)
    deadline = clock.now() + n * gap_ms / 1000 * 4 + 5.0
    th.start()
    next_frame = clock.now()
    while len(drained) < n and clock.now() < deadline:
        src.poll()
        evs = q.drain()
        now = clock.now()
        drained.extend(now for _ in evs)
        next_frame += frame
        clock.sleep(next_frame - clock.now())
    th.join(timeout=5.0)
    src.close()
    k = min(len(sent), len(drained))
    cb = [(q.put_times[i] - sent[i]) * 1000 for i in range(k)]
    dr = [(drained[i] - sent[i]) * 1000 for i in range(k)]
    return {
        "n": n, "received": len(drained), "fps": fps,
        "callback_to_queue_ms_p50": _pct(cb, 50), "callback_to_queue_ms_p99": _pct(cb, 99),
        "to_drain_ms_p50": _pct(dr, 50), "to_drain_ms_p99": _pct(dr, 99),
        "to_drain_ms_max": max(dr) if dr else float("nan"),
        "frame_ms": frame * 1000,
        "mapper_us_per_message": _mapper_cost_us(),
        "dropped": q.dropped_cues + q.dropped_params,
    }

