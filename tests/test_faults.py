"""Fault injection: the show never stops.

Each show test runs the real loop headless (on a PacedClock: one frame of show
time per loop iteration, real sleeps; see tests/showclock.py) with the tiny
generator, injects one kind of fault part-way, and checks that frames
keep coming through and after the fault (and that new frames are rendered
after it), that every cue that arrived was handled in order and that none was
lost. Checks count events (frames presented in a window of show time, cues,
waits asked for), never real durations: on a loaded machine a 100 ms display
stall limit failed for reasons that had nothing to do with livegan (147 ms,
135 ms). The longest stall is printed; `livegan soak` reports it. The prep tests interrupt `livegan prep` at random points
and check that every bank on disk stays readable and the next run completes.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import livegan.bank as bankmod
import livegan.show.session as session
from livegan.bank import Bank, SectionKeys, bank_path, load_bank, save_bank
from livegan.errors import DeviceError
from livegan.outputs.null import NullOutput
from livegan.show.session import ShowConfig, build_show, run_show
from livegan.soak import FaultyGenerator, FloodSource, FlakyCueSource
from livegan.triggers.audio import AudioInputSource
from livegan.triggers.base import TriggerSource
from livegan.triggers.events import Cue, Event, EventQueue, Param
from livegan.triggers.midi import FakeMidiBackend, MidiInput
from showclock import PacedClock, warm_up

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_thread")]  # torch on one thread: see conftest

SETLIST = """\
defaults: {model: tiny, clip: tiny, steps: 2, variants: 1, transition: 0.15}
songs:
  - title: First Song
    sections:
      - {text: a weasel in the snow, classes: [weasel]}
      - {text: a goldfish in a teapot, classes: [goldfish]}
      - {text: a lighthouse, classes: [beacon]}
  - title: Second Song
    sections:
      - {text: a volcano at night, classes: [volcano]}
      - {text: a tabby cat, classes: [tabby]}
"""
GOTOS = [2, 3, 1, 2, 3, 1, 2, 3, 1]  # each moves: positions are a checkable sequence


@pytest.fixture(scope="module")
def tiny():
    from livegan.models.registry import load_generator

    gen = load_generator("tiny", device="cpu")
    gen.render(np.zeros((1, gen.num_latents, 128), np.float32), np.eye(1000, dtype=np.float32)[:1], 0.7)  # warm
    return gen


@dataclass
class Run:
    show: object
    clock: PacedClock
    cue_src: FlakyCueSource | None
    notes: list[str]
    positions: list[tuple[int, int]] = field(default_factory=list)
    handled: list[Cue] = field(default_factory=list)
    presents: list[tuple[float, int]] = field(default_factory=list)  # (show time, frames rendered so far)
    summary: object = None

    def frames_between(self, a: float, b: float) -> int:
        return sum(1 for t, _ in self.presents if a <= t < b)

    def rendered_at(self, t: float) -> int:
        return max((g for s, g in self.presents if s <= t), default=0)


class _Recorder(NullOutput):
    def __init__(self, run_ref: list) -> None:
        super().__init__()
        self._run = run_ref

    def _present(self, frame, overlay) -> None:
        super()._present(frame, overlay)
        r = self._run[0]
        r.presents.append((r.clock.now(), r.show.worker.stats.frames))


def make_run(tmp_path: Path, monkeypatch, gen, *, gotos: list[int] | None = None, cue_times: list[float] | None = None,
             banks: Path | None = None, setlist: str = SETLIST) -> Run:
    """A headless show on a paced clock, with scripted gotos (one every 0.15 s from 0.1 s by default)."""
    sl = tmp_path / "setlist.yaml"
    sl.write_text(setlist)
    monkeypatch.setattr(session, "load_show_generator", lambda cfg, s, b, notice: gen)
    clock = PacedClock()
    notes: list[str] = []
    ref: list = [None]
    show = build_show(ShowConfig(setlist=sl, banks=banks or tmp_path / "banks", headless=True), clock=clock,
                      output=_Recorder(ref), notice=notes.append)
    run = Run(show, clock, None, notes)
    ref[0] = run
    if isinstance(gen, FaultyGenerator):  # the OOM fallback hands back the real generator: keep the wrapper
        on_oom = show.worker.on_oom
        show.worker.on_oom = lambda e: (on_oom(e), gen)[1]
    save = show.director.on_position_change
    show.director.on_position_change = lambda p: (run.positions.append((p.song, p.section)), save(p))
    handle = show.director.handle
    show.director.handle = lambda ev, t: (run.handled.append(ev) if isinstance(ev, Cue) else None, handle(ev, t))[1]
    gotos = GOTOS if gotos is None else gotos
    times = cue_times or [0.1 + 0.15 * i for i in range(len(gotos))]
    if gotos:
        run.cue_src = FlakyCueSource(show.events, clock, [(t, Cue("goto", n, source="script"))
                                                          for t, n in zip(times, gotos)], retry_seconds=0.2)
        add_source(run, run.cue_src)
    return run


def add_source(run: Run, src: TriggerSource) -> None:
    src.on_warning = run.show.warn
    run.show.sources.append(src)


def play(run: Run, seconds: float, rendered_after: float | None = None, cap: float = 300.0) -> None:
    """Play ``seconds`` of show time from a first frame already on screen; with ``rendered_after``
    play on until a frame rendered after that show time is on screen (an event, whatever the load;
    the real-time cap only stops a broken test)."""
    warm_up(run.show)
    run.t0 = run.clock.now()
    for src in run.show.sources:  # scripts count from the start of the show
        if isinstance(getattr(src, "start", None), float):
            src.start = run.t0
    real_end = time.monotonic() + cap

    def enough(t: float) -> None:
        if t - run.t0 < seconds:
            return
        if (rendered_after is None or run.rendered_at(t) > run.rendered_at(run.t0 + rendered_after)
                or time.monotonic() > real_end):
            run.show.quit = True
    run.show.on_tick.append(enough)
    run.summary = run_show(run.show, None)


def check_show(run: Run, fault_at: float, fault_end: float, *, sent: int | None = None) -> dict:
    """The issue's four promises; returns the numbers for reporting."""
    s = run.summary
    t0 = run.t0
    end = t0 + s.seconds
    a, b = t0 + fault_at, t0 + fault_end
    # frames keep coming before, through and after the fault, and new ones are rendered after it
    assert fault_at == 0 or run.frames_between(t0, a) > 0
    assert run.frames_between(a, b) > 0 and run.frames_between(b, end) > 0
    assert run.rendered_at(end) > run.rendered_at(b), "nothing rendered after the fault"
    # every cue handled, in order, none lost
    n = len(GOTOS) if sent is None else sent
    assert s.dropped_cues == 0 and s.cues == n
    if run.cue_src is not None:
        assert run.cue_src.done
        script = [c.arg for _, c in run.cue_src.cues]
        assert [c.arg for c in run.handled if c.kind == "goto"] == script
        assert run.positions[: len(script)] == [(0, g - 1) for g in script]
    # (the display kept presenting through the fault: frames_between(a, b) above; real stalls are reported)
    print(f"longest stall {s.longest_stall_ms:.1f} ms, {s.frames} frames, {s.generated} rendered, faults {s.faults}")
    return s.faults


# -- generator faults -------------------------------------------------------------
def arm_at(clock, t0_ref: Run, at: float, fn) -> threading.Thread:
    def go() -> None:
        while not hasattr(t0_ref, "t0") or clock.now() < t0_ref.t0 + at:
            time.sleep(0.005)
        fn()
    th = threading.Thread(target=go, daemon=True)
    th.start()
    return th


@pytest.mark.parametrize("kind", ["error", "oom", "nan", "nonfinite"])
def test_generator_faults_keep_the_picture(tmp_path, monkeypatch, tiny, kind, caplog) -> None:
    gen = FaultyGenerator(tiny)
    if kind == "oom":  # pretend to be on a GPU so the fallback has somewhere to go
        moved: list[str] = []
        gen.device = types.SimpleNamespace(type="cuda")
        gen.to = lambda dev: (moved.append(dev), setattr(gen, "device", types.SimpleNamespace(type=dev)), gen)[2]
    run = make_run(tmp_path, monkeypatch, gen)
    arm_at(run.clock, run, 0.6, lambda: gen.arm(kind, 3))
    with caplog.at_level(logging.WARNING):
        play(run, 1.6, rendered_after=1.2)
    faults = check_show(run, 0.6, 1.2)
    assert gen.injected[kind] == 3
    if kind == "error":
        assert faults["generator_errors"] == 3 and "injected generator failure" in caplog.text
    elif kind == "oom":
        assert faults["out_of_memory"] == 3 and moved == ["cpu"]
        assert any("out of GPU memory" in n for n in run.notes)  # said so ...
        assert any("out of GPU memory" in w for w in run.summary.warnings)  # ... on screen too
    else:  # the bad frame is dropped (or was stale already); the rest of the batch is kept
        assert faults["bad_frames"] + faults["stale_frames_dropped"] >= 1
        assert faults["generator_errors"] == 0


def test_hung_render_is_restarted_by_the_watchdog(tmp_path, monkeypatch, tiny, caplog) -> None:
    gen = FaultyGenerator(tiny, hang_seconds=5.0)
    run = make_run(tmp_path, monkeypatch, gen)
    restarts: list[float] = []
    watchdog = run.show.worker.watchdog
    run.show.worker.watchdog = lambda: (watchdog() and restarts.append(run.clock.now())) or False
    armed: list[float] = []
    arm_at(run.clock, run, 0.4, lambda: (armed.append(run.clock.now()), gen.arm("hang")))
    with caplog.at_level(logging.ERROR):
        play(run, 2.4, rendered_after=1.5)
    faults = check_show(run, 0.4, 1.5)
    assert faults["worker_restarts"] == 1 and "stuck" in caplog.text
    hung_at = armed[0]  # the next render call starts within a frame or two of arming
    print(f"watchdog restart {restarts[0] - hung_at:.2f} s after the hang began")
    assert restarts[0] - hung_at < gen.hang_seconds  # the watchdog ended it, not the hang itself
    assert run.frames_between(hung_at, restarts[0]) > 0  # the display went on while the render hung
    assert run.rendered_at(run.t0 + run.summary.seconds) > run.rendered_at(restarts[0])  # fresh frames after


# -- trigger faults ------------------------------------------------------------------
class BrokenThreadSource(TriggerSource):
    """A device whose callback thread dies (raises) part-way; the error surfaces in the next poll."""

    name = "broken"
    retry_seconds = 0.2

    def __init__(self, events, clock, script: list[tuple[float, Cue]], die_at: float) -> None:
        super().__init__(events, clock)
        self.script, self.die_at, self.start = script, die_at, 0.0
        self.sent = 0
        self.died = 0
        self._error: BaseException | None = None
        self._stop = threading.Event()

    def _open(self) -> None:
        self._error = None
        self._stop.clear()
        threading.Thread(target=self._work, daemon=True).start()

    def _work(self) -> None:
        try:
            while not self._stop.wait(0.002):
                now = self.clock.now() - self.start
                if self.died == 0 and now >= self.die_at:
                    self.died += 1
                    raise OSError("device thread crashed (injected)")
                while self.sent < len(self.script) and self.script[self.sent][0] <= now:
                    self.emit(self.script[self.sent][1])
                    self.sent += 1
        except Exception as e:  # noqa: BLE001 - reported on the show's thread, like the audio source
            self._error = e

    def _poll(self) -> list[Event]:
        if self._error is not None:
            raise DeviceError(f"{self._error}")
        return []

    def _close(self) -> None:
        self._stop.set()


def test_source_raising_in_its_thread_and_in_poll(tmp_path, monkeypatch, tiny) -> None:
    run = make_run(tmp_path, monkeypatch, tiny)  # its cue source raises in poll at 0.5 s
    thread_cues = [(0.05 + 0.1 * i, Cue("freeze", source="thread")) for i in range(16)]  # pairs: ends unfrozen
    broken = BrokenThreadSource(run.show.events, run.clock, thread_cues, die_at=0.55)
    add_source(run, broken)
    arm_at(run.clock, run, 0.5, run.cue_src.arm)
    play(run, 2.2, rendered_after=1.0)
    check_show(run, 0.5, 1.0, sent=len(GOTOS) + 16)
    assert run.cue_src.raised == 1 and broken.died == 1 and broken.sent == 16
    assert run.summary.faults["source_failures"] == 2
    assert any("injected trigger failure" in w for w in run.summary.warnings)
    assert any("crashed" in w for w in run.summary.warnings)
    assert [c.source for c in run.handled].count("thread") == 16


@pytest.mark.parametrize("with_cues", [False, True])
def test_queue_flood_loses_no_cue(tmp_path, monkeypatch, tiny, with_cues) -> None:
    """10 000 params a second for a second; cues from the script (and mixed into the flood) all arrive."""
    run = make_run(tmp_path, monkeypatch, tiny)
    flood = FloodSource(run.show.events, run.clock)
    add_source(run, flood)
    extra = [Cue("tap", source="flood") for _ in range(20)] if with_cues else []
    arm_at(run.clock, run, 0.3, lambda: flood.flood(0.8, 10_000, extra))
    play(run, 1.6, rendered_after=1.1)
    flood.join()
    check_show(run, 0.3, 1.1, sent=len(GOTOS) + len(extra))
    assert flood.sent >= 7_000
    assert [c.source for c in run.handled].count("flood") == len(extra)
    print(f"flood: {flood.sent} params sent, {run.show.events.dropped_params} dropped")


def test_event_queue_keeps_room_for_cues() -> None:
    q = EventQueue(maxsize=400)
    for i in range(10_000):
        q.put(Param("drift_amount", 0.5))
    assert len(q) == 300 and q.dropped_params == 10_000 - 300  # params stop at 3/4
    cues = [Cue("goto", 1 + i % 9) for i in range(100)]
    assert all(q.put(c) for c in cues) and q.dropped_cues == 0
    got = q.drain()
    assert [e for e in got if isinstance(e, Cue)] == cues  # in order
    # concurrent producers: params from 4 threads never take the cues' room
    q = EventQueue(maxsize=400)
    ths = [threading.Thread(target=lambda: [q.put(Param("truncation", 0.5)) for _ in range(5_000)]) for _ in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    assert all(q.put(c) for c in cues) and q.dropped_cues == 0


def test_midi_device_vanishes_and_returns(tmp_path, monkeypatch, tiny) -> None:
    port = "nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0"
    backend = FakeMidiBackend([port])
    run = make_run(tmp_path, monkeypatch, tiny, gotos=[])
    midi = MidiInput(run.show.events, run.clock, port="nano", backend=backend)
    midi.retry_seconds, midi.check_seconds = 0.3, 0.1
    add_source(run, midi)
    programs = [1, 2, 0] * 4  # program N -> goto N+1
    sent: list[int] = []

    def device() -> None:
        while not hasattr(run, "t0"):
            time.sleep(0.002)
        for k, p in enumerate(programs):
            if k == 4:  # unplugged ...
                backend.unplug(port)
                time.sleep(0.3)
                assert not backend.send(port, [0xC0, 0])  # nobody hears a vanished device
                backend.plug("nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0")  # ... back, renumbered
                while not backend.open_ports:
                    time.sleep(0.005)
            name = next(iter(backend.open_ports))
            if backend.send(name, [0xC0, p]):
                sent.append(p + 1)
            time.sleep(0.08)

    th = threading.Thread(target=device, daemon=True)
    th.start()
    play(run, 2.0, rendered_after=1.0)
    th.join(1)
    assert sent == [p + 1 for p in programs]
    check_show(run, 0.4, 1.0, sent=len(sent))
    assert [c.arg for c in run.handled] == sent and run.positions == [(0, g - 1) for g in sent]
    assert backend.opens == 2 and run.summary.faults["source_failures"] >= 1
    assert any("unplugged" in w for w in run.summary.warnings)


def test_audio_input_errors_and_overflows(tmp_path, monkeypatch, tiny) -> None:
    from test_audio_triggers import MIC, FakeSD

    sd = FakeSD([MIC])
    fail_open = [True]
    make_stream = sd.InputStream

    def input_stream(**kw):
        if len(sd.streams) == 1 and fail_open[0]:  # the first reopen fails too (device busy)
            fail_open[0] = False
            raise OSError("PortAudio error: Device unavailable (injected)")
        return make_stream(**kw)
    sd.InputStream = input_stream
    run = make_run(tmp_path, monkeypatch, tiny)
    audio = AudioInputSource(run.show.events, run.clock, backend=sd)
    audio.retry_seconds = 0.2
    add_source(run, audio)
    rng = np.random.default_rng(0)
    stop = threading.Event()

    def device() -> None:
        while not sd.streams:
            time.sleep(0.002)
        k = 0
        while not stop.is_set():
            stream = sd.streams[-1]
            if stream.active:
                if k == 150:
                    stream.unplug()  # the device goes away mid-show
                else:
                    stream.push((rng.standard_normal(256) * 0.05).astype(np.float32), overflow=k % 40 == 5)
            k += 1
            time.sleep(256 / 48000)

    th = threading.Thread(target=device, daemon=True)
    th.start()
    try:
        play(run, 2.5, rendered_after=1.4)
    finally:
        stop.set()
        th.join(1)
    check_show(run, 0.8, 1.4)
    assert len(sd.streams) == 2 and not fail_open[0]  # reopened after a failed retry
    assert run.summary.faults["source_failures"] >= 2
    warnings = " ".join(run.summary.warnings)
    assert "overflow" in warnings and ("stopped" in warnings or "no audio" in warnings)


# -- disk faults ---------------------------------------------------------------------
@pytest.mark.parametrize("how", ["enospc", "parent-is-a-file"])
def test_state_file_unwritable(tmp_path, monkeypatch, tiny, caplog, how) -> None:
    banks = tmp_path / "banks"
    if how == "parent-is-a-file":
        banks.write_text("not a folder")
    run = make_run(tmp_path, monkeypatch, tiny, banks=banks)
    if how == "enospc":
        real_replace = os.replace

        def full(src, dst, *a, **k):
            if str(dst).endswith(session.STATE_FILE):
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_replace(src, dst, *a, **k)
        monkeypatch.setattr(os, "replace", full)
    with caplog.at_level(logging.WARNING):
        play(run, 1.5, rendered_after=1.0)
    check_show(run, 0.1, 1.0)
    saver = run.show.saver
    assert saver.failures >= 1 and saver.writes == 0
    msgs = [r.getMessage() for r in caplog.records if "cannot save show state" in r.getMessage()]
    assert len(msgs) == 1  # warned once, not per cue
    assert ("No space left" if how == "enospc" else "Errno") in msgs[0]
    assert not list(tmp_path.glob("**/.*.tmp"))  # no temp files left behind


def _bank(title: str, texts: list[str], gen) -> Bank:
    rng = np.random.default_rng(1)
    secs = [SectionKeys(t, rng.standard_normal((1, gen.num_latents, 128)).astype(np.float32) * 0.5,
                        np.eye(1000, dtype=np.float32)[[i]], np.ones(1, np.float32)) for i, t in enumerate(texts)]
    return Bank(title, {"name": gen.id.name, "weights": gen.id.weights}, "tiny", secs)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])  # missing: every other show test
def test_bad_bank_plays_a_class_hint_walk(tmp_path, monkeypatch, tiny, damage) -> None:
    banks = tmp_path / "banks"
    good = save_bank(_bank("Second Song", ["a volcano at night", "a tabby cat"], tiny),
                     bank_path(banks, "Second Song"))
    bad = bank_path(banks, "First Song")
    if damage != "missing":
        data = save_bank(_bank("First Song", ["a weasel in the snow", "a goldfish in a teapot", "a lighthouse"],
                               tiny), bad).read_bytes()
        bad.write_bytes(data[: len(data) // 2] if damage == "truncated" else os.urandom(len(data)))
    run = make_run(tmp_path, monkeypatch, tiny, banks=banks)
    ws = run.show.summary.warnings
    assert len(ws) == 1 and "'First Song'" in ws[0] and "class hints" in ws[0] and bad.name in ws[0]
    assert set(run.show.director.keyframe.banks) == {1}
    play(run, 1.5, rendered_after=0.5)
    check_show(run, 0.0, 0.5)
    assert load_bank(good)  # untouched


# -- prep interrupted ----------------------------------------------------------------
PREP_SETLIST = """\
defaults: {model: tiny, clip: tiny, steps: 2, variants: 2, candidates: 2, cutouts: 2}
songs:
  - title: Alpha
    sections:
      - {text: a weasel in the snow, classes: [weasel]}
      - {text: a goldfish in a teapot}
      - {text: a lighthouse}
  - title: Beta
    sections:
      - {text: a volcano at night}
      - {text: a tabby cat, classes: [tabby]}
"""


def all_banks_readable(folder: Path) -> int:
    """load_bank succeeds on every bank file (song banks and section cache); returns how many."""
    files = sorted(folder.rglob("*.safetensors"))
    for f in files:
        load_bank(f)
    return len(files)


@pytest.fixture(scope="module")
def prep_models():
    from livegan.models.clip import load_clip
    from livegan.models.registry import load_generator

    return load_generator("tiny", device="cpu"), load_clip("tiny", device="cpu")


class Boom(Exception):
    pass


def test_prep_interrupted_in_process_at_random_points(tmp_path, monkeypatch, prep_models) -> None:
    """Exceptions/KeyboardInterrupt at the k-th write, rename, fsync or search; then a clean run."""
    from livegan.prep import runner
    from livegan.setlist import load_setlist

    monkeypatch.setenv("LIVEGAN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "sl.yaml").write_text(PREP_SETLIST)
    sl = load_setlist(tmp_path / "sl.yaml")
    gen, clip = prep_models
    ref = tmp_path / "ref"
    runner.prep_setlist(sl, ref, gen, clip, progress=False)
    out = tmp_path / "out"
    rng = random.Random(7)
    real = {"replace": os.replace, "fsync": os.fsync, "search": runner.search_section}
    interrupted = 0
    for run in range(14):
        for f in rng.sample(sorted(out.rglob("*.safetensors")), k=len(list(out.rglob("*.safetensors"))) // 2):
            f.unlink()  # lines edited since: there is work to interrupt
        where = rng.choice(["replace", "fsync", "search", "write"])
        k = rng.randint(1, 6)
        exc = rng.choice([Boom("injected"), OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
        calls = [0]

        def maybe_fail(*a, _w=where, **kw):
            calls[0] += 1
            if calls[0] == k:
                raise exc
            if _w == "write":
                return real_write(*a, **kw)
            return real[_w](*a, **kw)

        with monkeypatch.context() as m:
            if where == "search":
                m.setattr(runner, "search_section", maybe_fail)
            elif where == "write":
                real_write = bankmod.atomic_write_bytes

                def half_write(path, data, _inner=maybe_fail):  # dies after writing half a temp file
                    calls[0] += 1
                    if calls[0] == k:
                        tmp = Path(path).with_name(f".{Path(path).name}.half.tmp")
                        tmp.write_bytes(data[: len(data) // 2])
                        raise exc
                    return real_write(path, data)
                m.setattr(bankmod, "atomic_write_bytes", half_write)
            else:
                m.setattr(os, where, maybe_fail)
            try:
                runner.prep_setlist(sl, out, gen, clip, progress=False, sheets=run % 3 == 0)
            except (Boom, OSError, KeyboardInterrupt):
                interrupted += 1
        all_banks_readable(out)  # never an unreadable bank, whatever was interrupted
    assert interrupted >= 8
    s = runner.prep_setlist(sl, out, gen, clip, progress=False)  # the run after completes
    assert len(s.banks) == 2 and all_banks_readable(out) >= 2 + 5
    for title in ("Alpha", "Beta"):  # and gives the same banks as an uninterrupted run
        a, b = load_bank(bank_path(out, title)), load_bank(bank_path(ref, title))
        assert [x.cache_key for x in a.sections] == [x.cache_key for x in b.sections]
        assert all(np.array_equal(x.z, y.z) for x, y in zip(a.sections, b.sections))


def test_prep_killed_by_signals(tmp_path, prep_models) -> None:
    STEPS = 25  # long enough (~0.1 s a section) to be caught mid-run
    """`livegan prep` SIGKILLed and SIGINTed mid-run (in parallel); banks stay readable; a rerun completes."""
    from livegan.prep import runner
    from livegan.setlist import load_setlist

    lines = "\n".join(f"      - {{text: line {i} of the long song}}" for i in range(8))
    (tmp_path / "sl.yaml").write_text(PREP_SETLIST + f"  - title: Gamma\n    sections:\n{lines}\n")
    env = {**os.environ, "LIVEGAN_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    procs = {}
    for sig in (signal.SIGKILL, signal.SIGINT):
        out = tmp_path / sig.name
        procs[sig] = (out, subprocess.Popen(
            [sys.executable, "-m", "livegan.cli", "prep", str(tmp_path / "sl.yaml"), "--model", "tiny",
             "--clip", "tiny", "--steps", str(STEPS), "--out", str(out), "-q"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            # a background job inherits SIGINT ignored (then Python installs no handler): un-ignore it
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)))
    rng = random.Random(3)
    due = {sig: None for sig in procs}  # when to send the signal, once the run is under way
    # Waits are for events (cache entries appearing, the process ending); the caps only stop a hung
    # test, and are far beyond what a loaded machine needs (60 s was once not enough to start torch).
    deadline = time.monotonic() + 600
    while any(d != "sent" for d in due.values()) and time.monotonic() < deadline:
        for sig, (out, p) in procs.items():
            if due[sig] == "sent":
                continue
            if due[sig] is None and len(list((out / ".cache").glob("*.safetensors"))) >= 2:
                due[sig] = time.monotonic() + rng.uniform(0.0, 0.4)
            if (due[sig] is not None and time.monotonic() >= due[sig]) or p.poll() is not None:
                p.send_signal(sig)
                due[sig] = "sent"
        time.sleep(0.005)
    gen, clip = prep_models
    sl = load_setlist(tmp_path / "sl.yaml")
    exit_codes = {}
    for sig, (out, p) in procs.items():
        err = p.communicate(timeout=600)[1].decode()
        exit_codes[sig] = (p.returncode, err)
        assert "Traceback" not in err, err[-800:]
        n = all_banks_readable(out)
        s = runner.prep_setlist(sl, out, gen, clip, steps=STEPS, progress=False, sheets=False)
        print(f"{sig.name}: exit {p.returncode}, {n} bank files readable after it; rerun searched {s.done}, "
              f"cached {s.cached}")
        assert s.cached >= 2 and s.done >= 1 and len(s.banks) == 3 and all_banks_readable(out) == 3 + 13
    assert exit_codes[signal.SIGKILL][0] == -9
    rc, err = exit_codes[signal.SIGINT]
    assert rc == 130 and "interrupted" in err


def test_retry_back_off_resets_after_a_good_render(tmp_path, monkeypatch, tiny) -> None:
    """A long show's occasional generator error must not hold the picture for 0.5 s each time."""
    gen = FaultyGenerator(tiny)
    run = make_run(tmp_path, monkeypatch, gen, gotos=[])
    worker = run.show.worker
    worker.stats.errors = 30  # a bad patch long ago, since recovered
    waits: list[float] = []  # the back-off the worker asks for (what it waits is up to the machine)
    stop_wait = worker._stop.wait
    worker._stop.wait = lambda seconds=None: (waits.append(seconds), stop_wait(seconds))[1]
    arm_at(run.clock, run, 0.5, lambda: gen.arm("error"))
    play(run, 1.2)
    assert gen.injected["error"] == 1 and run.summary.faults["generator_errors"] == 31
    backoffs = [w for w in waits if w is not None and w >= 0.02]
    print(f"back-off waits asked for: {backoffs}")
    assert backoffs and max(backoffs) <= 0.02 + 1e-9  # one error in a row: the shortest back-off, not 0.5 s
