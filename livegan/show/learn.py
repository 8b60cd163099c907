"""MIDI learn inside a running show: L, then the key of an action, then move a control.

Non-blocking: the show loop calls :meth:`ShowLearn.tick` once per frame and
offers raw MIDI messages to a :class:`~livegan.triggers.learn.OneShotLearner`,
so the picture never waits for the controller. While learning, the key that
names the action is captured (it doesn't also fire its cue). Esc, or 15 s
without a control, cancels.
"""

from __future__ import annotations

import logging
from typing import Callable

from ..errors import LiveganError
from ..triggers.events import Cue
from ..triggers.keyboard import Action
from ..triggers.learn import OneShotLearner

log = logging.getLogger(__name__)
TIMEOUT = 15.0


class ShowLearn:
    """States: idle -> choose (waiting for an action key) -> listen (waiting for a control)."""

    def __init__(self, midi, say: Callable[[str, float], None]) -> None:
        self.midi = midi            # a MidiInput, or None when the show has no MIDI
        self.say = say
        self.state = "idle"
        self.deadline = 0.0
        self.action: str | None = None
        self._tap = None
        self._learner: OneShotLearner | None = None

    def start(self, t: float) -> None:
        if self.midi is None or not self.midi.is_open:
            self.say("MIDI learn: no MIDI input open (start the show with --midi NAME)", t)
            return
        self.state, self.deadline = "choose", t + TIMEOUT
        self.say("MIDI learn: press the key of the action to learn (Esc cancels)", t)

    def capture(self, ev, t: float) -> bool:
        """Offered each key event first; True when learn used it (it must not act)."""
        if self.state == "idle":
            return False
        if isinstance(ev, Action) and ev.kind in ("message", "quit"):  # Esc
            self.cancel(t, "MIDI learn cancelled")
            return True
        if self.state == "choose" and isinstance(ev, Cue):
            self.action = ev.kind if ev.kind != "goto" else f"goto {ev.arg}"
            self._tap = self.midi.raw_tap()
            self._learner = OneShotLearner(self.action)
            self.state, self.deadline = "listen", t + TIMEOUT
            self.say(f"MIDI learn: move a control for {self.action.upper()}", t)
            return True
        return self.state == "choose"

    def tick(self, t: float) -> None:
        if self.state == "idle":
            return
        if t >= self.deadline:
            self.cancel(t, "MIDI learn: nothing received, cancelled")
            return
        if self.state != "listen" or self._tap is None or self._learner is None:
            return
        for data in self._tap.poll():
            m = self._learner.offer(data)
            if m is None:
                continue
            try:
                self.midi.add_mapping(m)
            except LiveganError as e:
                self.cancel(t, f"MIDI learn failed: {e}")
                return
            kind = next(k for k in ("note", "cc", "program") if k in m)
            self.cancel(t, f"MIDI learn: {kind} {m[kind]} (channel {m['channel']}) -> {self.action}")
            return

    def cancel(self, t: float, message: str) -> None:
        if self._tap is not None:
            self._tap.close()
        self._tap, self._learner, self.state = None, None, "idle"
        self.say(message, t)
