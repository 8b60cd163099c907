"""MIDI learn inside a running show: L, an action key, then a control; Esc cancels."""

from __future__ import annotations

from livegan.clock import ManualClock
from livegan.show.learn import ShowLearn
from livegan.triggers.events import Cue, EventQueue
from livegan.triggers.keyboard import Action
from livegan.triggers.midi import FakeMidiBackend, MidiInput
from livegan.triggers.midi_map import MidiPreset

PORT = "fake:Pad 1 20:0"


def _setup():
    clock = ManualClock()
    q = EventQueue()
    be = FakeMidiBackend([PORT])
    src = MidiInput(q, clock, port="pad", preset=MidiPreset(name="empty", mappings=[]), backend=be)
    assert src.open()
    said: list[str] = []
    return clock, q, be, src, ShowLearn(src, lambda m, t: said.append(m)), said


def test_learn_binds_a_control_to_the_key_pressed():
    clock, q, be, src, learn, said = _setup()
    learn.start(clock.now())
    assert learn.state == "choose" and "press the key" in said[-1]
    assert learn.capture(Cue("blackout", source="key"), clock.now())  # captured: must not fire
    assert learn.state == "listen" and "BLACKOUT" in said[-1]
    be.send(PORT, [0xB0, 20, 127])
    learn.tick(clock.now())
    assert learn.state == "idle" and "cc 20" in said[-1] and "blackout" in said[-1]
    src.poll()
    q.drain()  # the learning press itself went to the tap, whatever it did
    clock.advance(1.0)
    be.send(PORT, [0xB0, 20, 0])
    be.send(PORT, [0xB0, 20, 127])  # rising edge of the learned button
    src.poll()
    cues = [e for e in q.drain() if isinstance(e, Cue)]
    assert [c.kind for c in cues] == ["blackout"]


def test_escape_cancels_and_timeout_cancels():
    clock, q, be, src, learn, said = _setup()
    learn.start(0.0)
    assert learn.capture(Action("message", "press Esc again to quit"), 0.1)
    assert learn.state == "idle" and "cancelled" in said[-1]
    learn.start(1.0)
    learn.capture(Cue("next"), 1.1)
    learn.tick(100.0)
    assert learn.state == "idle" and "nothing received" in said[-1]
    assert not learn.capture(Cue("next"), 101.0)  # idle: keys act normally again


def test_without_midi_it_says_so():
    said: list[str] = []
    learn = ShowLearn(None, lambda m, t: said.append(m))
    learn.start(0.0)
    assert learn.state == "idle" and "no MIDI input" in said[-1]
