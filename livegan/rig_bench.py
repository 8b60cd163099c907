"""Benchmarks of the rig inputs for ``livegan bench``: OSC latency over loopback UDP, MIDI clock BPM error.

OSC: a thread sends datagrams to a real :class:`OscInput` on 127.0.0.1 (an
OS-chosen port); the calling thread plays the show loop at display rate,
draining the queue into a real :class:`Director`. ``datagram_to_queue`` is
sendto -> event on the queue (kernel + decode + route + put);
``datagram_to_state`` is sendto -> handled by the director (about half a
frame more on average, by construction).

MIDI clock: synthetic clock byte streams with jitter and a tempo step, fed
through :class:`MidiClock`; the error of each reading two beats or more after
the change.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from typing import Any

import numpy as np

from .clock import MonotonicClock
from .engine.director import Director
from .engine.path import Keyframe
from .engine.state import SongPlan
from .setlist import Transition
from .triggers.midi_clock import MidiClock, clock_bytes
from .triggers.midi_latency import _pct, _TimedQueue
from .triggers.osc import OscInput


def _osc_datagram(i: int) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder
    b = OscMessageBuilder("/livegan/param/drift_amount")
    b.add_arg((i % 100) / 100.0)
    return b.build().dgram


def measure_osc_latency(n: int = 500, fps: float = 60.0, gap_ms: float = 4.0, seed: int = 0) -> dict[str, Any]:
    clock = MonotonicClock()
    q = _TimedQueue(clock)
    src = OscInput(q, clock, 0)
    if not src.open():
        raise RuntimeError(f"OSC input did not open: {src.last_error}")
    kf = Keyframe(np.zeros((2, 128), np.float32), np.eye(1000, dtype=np.float32)[0])
    director = Director([SongPlan("bench", 1, [1], [Transition(1.0)])], lambda s, i, v: kf, t0=clock.now())
    sent: list[float] = []
    rng = random.Random(seed)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dgrams = [_osc_datagram(i) for i in range(n)]

    def sender() -> None:
        for d in dgrams:
            sent.append(clock.now())
            tx.sendto(d, ("127.0.0.1", src.port))
            time.sleep(rng.uniform(0.0, 2 * gap_ms / 1000))

    handled: list[float] = []
    frame = 1.0 / fps
    th = threading.Thread(target=sender, name="osc-bench-sender", daemon=True)
    deadline = clock.now() + n * gap_ms / 1000 * 4 + 5.0
    th.start()
    next_frame = clock.now()
    while len(handled) < n and clock.now() < deadline:
        for ev in q.drain():
            director.handle(ev, clock.now())
            handled.append(clock.now())
        next_frame += frame
        clock.sleep(next_frame - clock.now())
    th.join(timeout=5.0)
    src.close()
    tx.close()
    k = min(len(sent), len(handled), len(q.put_times))
    to_q = [(q.put_times[i] - sent[i]) * 1000 for i in range(k)]
    to_state = [(handled[i] - sent[i]) * 1000 for i in range(k)]
    return {"n": n, "received": len(handled), "fps": fps,
            "datagram_to_queue_ms_p50": _pct(to_q, 50), "datagram_to_queue_ms_p99": _pct(to_q, 99),
            "datagram_to_state_ms_p50": _pct(to_state, 50), "datagram_to_state_ms_p99": _pct(to_state, 99),
            "bad": src.router.bad_total}


def measure_clock_error(jitter_ms: float = 1.0, seeds: int = 5) -> dict[str, Any]:
    """BPM error (%) of MIDI clock readings: steady 120, and from 2 beats after a 120 -> 140 step."""
    steady: list[float] = []
    after: list[float] = []
    first_beat: list[float] = []
    for seed in range(seeds):
        c = MidiClock()
        for t, data in clock_bytes(lambda t: 120.0 if t < 6 else 140.0, 12.0, jitter=jitter_ms / 1000, seed=seed):
            for ev in c.feed(data, t):
                if 1.0 < ev.t < 6.0:
                    steady.append(abs(ev.bpm - 120) / 1.2)
                elif ev.t >= 6.0 + 2 * 60 / 140:
                    after.append(abs(ev.bpm - 140) / 1.4)
                elif ev.t >= 6.0 + 60 / 140:
                    first_beat.append(abs(ev.bpm - 140) / 1.4)
    return {"jitter_ms": jitter_ms, "steady_error_pct_max": max(steady),
            "error_one_beat_after_step_pct_max": max(first_beat) if first_beat else None,
            "error_two_beats_after_step_pct_max": max(after), "readings": len(steady) + len(after)}
