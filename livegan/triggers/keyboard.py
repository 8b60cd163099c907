"""The show's keyboard: key names in, Cue events and app Actions out.

Outputs (the pygame window) turn native key presses into plain key names
('space', 'right', 'pagedown', '1', 'escape', ... and 'quit' for a closed
window); :class:`KeyMapper` turns those names into what the show does. It is
pure: time is passed in, so the Esc-twice rule is tested without a keyboard.

``KEY_HELP`` is the single source of the key table: ``livegan show --help``,
the README and the on-screen help card all print it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..clock import Clock
from .events import Cue, Event

# (keys, what they do) in the order a VJ learns them; shown verbatim on the
# help card, so keep it ASCII apart from the dash (the default font has it).
KEY_HELP: list[tuple[str, str]] = [
    ("Space / Right", "next section"),
    ("Left", "previous section"),
    ("Page Down / Page Up", "next / previous song"),
    ("1 - 9", "jump to section"),
    ("B", "blackout on/off"),
    ("F", "freeze on/off"),
    ("T", "tap tempo"),
    ("H", "overlay on/off"),
    ("L", "MIDI learn one action"),
    ("Esc twice", "quit (within a second)"),
]

# Key name -> cue kind for the keys that simply send one cue.
_CUE_KEYS: dict[str, str] = {
    "space": "next",
    "right": "next",
    "left": "prev",
    "pagedown": "song-next",
    "pageup": "song-prev",
    "b": "blackout",
    "f": "freeze",
    "t": "tap",
}

# Every key name the mapper reacts to (outputs may send others; they are ignored).
KEY_NAMES: tuple[str, ...] = (
    *_CUE_KEYS, *(str(i) for i in range(1, 10)), "h", "l", "escape", "quit",
)

ACTION_KINDS: tuple[str, ...] = ("overlay", "learn", "quit", "message")

QUIT_MESSAGE = "press Esc again to quit"


@dataclass(frozen=True)
class Action:
    """Something for the app itself, not the show: toggle the overlay, quit, ...

    ``kind`` is one of ACTION_KINDS; ``arg`` is the text of a 'message'.
    """

    kind: str
    arg: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise ValueError(f"unknown action {self.kind!r} (one of {', '.join(ACTION_KINDS)})")


class KeyMapper:
    """Maps key names to Cue events (source 'key') and Actions.

    Esc quits only when pressed twice within ``quit_window`` seconds, so a
    stray Esc during a show costs nothing but a message on screen. Any other
    key in between disarms it: "Esc, Space, Esc" is not a deliberate quit.
    """

    def __init__(self, clock: Clock, quit_window: float = 1.0) -> None:
        self.clock = clock
        self.quit_window = quit_window
        self._esc_at: float | None = None  # time of an unanswered first Esc

    def feed(self, key: str, t: float | None = None) -> list[Event | Action]:
        """What pressing ``key`` at time ``t`` (default: the clock's now) does."""
        if t is None:
            t = self.clock.now()
        key = key.lower()
        if key == "quit":  # the window was closed: no confirmation needed
            self._esc_at = None
            return [Action("quit")]
        if key == "escape":
            if self._esc_at is not None and 0.0 <= t - self._esc_at <= self.quit_window:
                self._esc_at = None
                return [Action("quit")]
            self._esc_at = t
            return [Action("message", QUIT_MESSAGE)]
        self._esc_at = None
        if key in _CUE_KEYS:
            return [Cue(_CUE_KEYS[key], source="key", t=t)]
        if len(key) == 1 and "1" <= key <= "9":
            return [Cue("goto", int(key), source="key", t=t)]
        if key == "h":
            return [Action("overlay")]
        if key == "l":
            return [Action("learn")]
        return []

    def quit_armed(self, t: float | None = None) -> bool:
        """True while a first Esc waits for its second (the app shows the message)."""
        if self._esc_at is None:
            return False
        if t is None:
            t = self.clock.now()
        return t - self._esc_at <= self.quit_window


def help_text(width: int = 24) -> str:
    """The key table as plain text lines, for --help and the README."""
    return "\n".join(f"{keys:<{width}}{what}" for keys, what in KEY_HELP)
