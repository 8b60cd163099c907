"""MidiInput against the fake backend (unplug/replug) and the real python-rtmidi backend."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from livegan.clock import ManualClock
from livegan.triggers.events import Cue, EventQueue, Param
from livegan.triggers.midi import (
    FakeMidiBackend, MidiInput, get_backend, match_port, port_base_name,
)
from livegan.triggers.midi_map import load_midi_preset

NANO = "nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0"


def make(ports=(NANO,), port="nano", preset="nanokontrol2", backend=None):
    clock = ManualClock()
    q = EventQueue()
    be = backend or FakeMidiBackend(list(ports))
    src = MidiInput(q, clock, port=port, preset=load_midi_preset(preset), backend=be)
    warnings: list[str] = []
    src.on_warning = warnings.append
    return src, be, q, clock, warnings


def test_port_names_without_hotplug_numbers():
    assert port_base_name(NANO) == "nanoKONTROL2:nanoKONTROL2 MIDI 1"
    ports = ["Midi Through:Midi Through Port-0 14:0", "nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0"]
    assert match_port(ports, "NANO") == ports[1]                  # case-insensitive substring
    assert match_port(ports, None) == ports[1]                    # skip ALSA's loopback
    assert match_port(ports, "apc") is None
    assert match_port(ports, "zzz", remembered=NANO) == ports[1]  # renumbered on replug


def test_unknown_backend_lists_valid_names():
    with pytest.raises(ValueError, match="rtmidi, fake"):
        get_backend("jack")


def test_messages_become_events_with_arrival_time():
    src, be, q, clock, warnings = make()
    assert src.open() and src.port_name == NANO
    clock.advance(1.5)
    be.send(NANO, [0xB0, 41, 127])          # play
    be.send(NANO, [0xB0, 0, 127])           # fader 1
    assert q.drain() == [Cue("next", source="midi", t=1.5), Param("master_fade", 1.0, source="midi", t=1.5)]
    assert list(src.arrivals) == [1.5, 1.5]
    assert warnings == []


def test_callback_from_another_thread():
    src, be, q, clock, _ = make()
    src.open()
    th = threading.Thread(target=lambda: [be.send(NANO, [0xB0, 0, v]) for v in range(100)])
    th.start()
    th.join()
    assert [e.value for e in q.drain()] == [v / 127 for v in range(100)]


def test_unplug_warns_once_and_replug_reopens_within_two_seconds(caplog):
    caplog.set_level(logging.WARNING)
    src, be, q, clock, warnings = make()
    assert src.open()
    be.unplug(NANO)
    t_gone = 0.0
    for _ in range(100):                    # 100 frames at 60 Hz: the show loop keeps polling
        clock.advance(1 / 60)
        src.poll()
        if not src.is_open and not t_gone:
            t_gone = clock.now()
    assert not src.is_open and t_gone <= src.check_seconds + 1 / 60 + 1e-9
    assert len(warnings) == 1 and "unplugged" in warnings[0]
    # the device comes back with a new ALSA address
    back = "nanoKONTROL2:nanoKONTROL2 MIDI 1 28:0"
    be.plug(back)
    t_back = clock.now()
    while not src.is_open and clock.now() - t_back < 5:
        clock.advance(1 / 60)
        src.poll()
    assert src.is_open and src.port_name == back
    assert clock.now() - t_back <= 2.0
    assert len(warnings) == 1               # no second warning for the retries or the return
    be.send(back, [0xB0, 41, 127])
    assert [e.kind for e in q.drain()] == ["next"]
    assert sum("unplugged" in r.message for r in caplog.records) == 1


def test_fast_replug_between_checks_is_noticed():
    src, be, q, clock, warnings = make()
    src.open()
    be.unplug(NANO)
    be.plug("nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0")   # back before the next port check
    for _ in range(150):
        clock.advance(1 / 60)
        src.poll()
    assert src.is_open and src.port_name.endswith("24:0") and be.opens == 2


def test_missing_device_at_start_is_retried_without_flooding():
    src, be, q, clock, warnings = make(ports=["Midi Through:Midi Through Port-0 14:0"])
    assert not src.open()
    assert len(warnings) == 1 and "no input matches 'nano'" in warnings[0]
    for _ in range(300):
        clock.advance(1 / 60)
        src.poll()
    assert len(warnings) == 1
    be.plug(NANO)
    for _ in range(70):
        clock.advance(1 / 60)
        src.poll()
    assert src.is_open


def test_no_midi_system_warns_once_and_stops_trying():
    src, be, q, clock, warnings = make(backend=FakeMidiBackend([NANO], available=False))
    assert not src.open()
    for _ in range(300):
        clock.advance(0.1)
        src.poll()
    assert len(warnings) == 1 and warnings[0].startswith("MIDI unavailable")
    assert src.available is False


def test_raw_tap_diverts_messages_while_learning():
    src, be, q, clock, _ = make()
    src.open()
    tap = src.raw_tap()
    be.send(NANO, [0xB0, 41, 127])
    assert tap.poll() == [[0xB0, 41, 127]] and q.drain() == []
    tap.close()
    be.send(NANO, [0xB0, 41, 0])
    be.send(NANO, [0xB0, 41, 127])
    assert [e.kind for e in q.drain()] == ["next"]


def test_learn_one_in_show_mode_then_add_mapping():
    from livegan.triggers.learn import learn_one

    src, be, q, clock, _ = make()
    src.open()
    tap = src.raw_tap()

    def press() -> bool:
        be.send(NANO, [0xB0, 23, 127])      # knob 8: unmapped in the preset
        return False

    m = learn_one(tap, "freeze", clock, timeout=1.0, ask_skip=press)
    tap.close()
    src.add_mapping(m)
    be.send(NANO, [0xB0, 23, 0])
    be.send(NANO, [0xB0, 23, 127])
    assert [e.kind for e in q.drain()] == ["freeze"]


# -- the real python-rtmidi backend -------------------------------------------------
def _alsa_sequencer() -> bool:
    return os.access("/dev/snd/seq", os.R_OK | os.W_OK)


@pytest.mark.skipif(_alsa_sequencer(), reason="an ALSA sequencer is present; the no-sequencer path can't happen")
def test_rtmidi_without_sequencer_gives_one_clear_warning(caplog, capfd):
    caplog.set_level(logging.WARNING)
    src = MidiInput(EventQueue(), ManualClock(), port="nano", backend="rtmidi")
    warnings: list[str] = []
    src.on_warning = warnings.append
    assert src.open() is False              # no exception
    for _ in range(5):
        src.clock.advance(5.0)
        src.poll()
    assert len(warnings) == 1
    assert warnings[0].startswith("MIDI unavailable: no ALSA sequencer (")
    assert warnings[0].endswith("); running without MIDI")  # the show says what happens next
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ALSA lib" not in err  # the C library's noise is hidden


@pytest.mark.skipif(not _alsa_sequencer(), reason="no usable ALSA sequencer (/dev/snd/seq) on this machine")
def test_rtmidi_virtual_port_end_to_end():
    import time

    import rtmidi

    from livegan.clock import MonotonicClock

    out = rtmidi.MidiOut()
    out.open_virtual_port("livegan-test-out")
    try:
        q = EventQueue()
        src = MidiInput(q, MonotonicClock(), port="livegan-test-out",
                        preset=load_midi_preset("nanokontrol2"), backend="rtmidi")
        assert src.open(), src.last_error
        out.send_message([0xB0, 41, 127])
        deadline = time.monotonic() + 60.0  # returns at the first event; the cap only stops a hang
        evs: list = []
        while not evs and time.monotonic() < deadline:
            time.sleep(0.01)
            evs = q.drain()
        src.close()
        assert [e.kind for e in evs] == ["next"]
    finally:
        out.close_port()
        out.delete()
