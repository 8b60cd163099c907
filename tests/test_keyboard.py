"""KeyMapper: every key in the table, Esc-twice timing, and KEY_HELP coverage."""

import pytest

from livegan.clock import ManualClock
from livegan.triggers.events import Cue
from livegan.triggers.keyboard import KEY_HELP, KEY_NAMES, QUIT_MESSAGE, Action, KeyMapper, help_text


def feed(key, t=0.0):
    return KeyMapper(ManualClock()).feed(key, t)


@pytest.mark.parametrize("key,kind", [
    ("space", "next"), ("right", "next"), ("left", "prev"), ("pagedown", "song-next"),
    ("pageup", "song-prev"), ("b", "blackout"), ("f", "freeze"), ("t", "tap"),
])
def test_cue_keys(key, kind):
    assert feed(key, 1.5) == [Cue(kind, source="key", t=1.5)]


def test_digits_goto_sections():
    for i in range(1, 10):
        assert feed(str(i), 2.0) == [Cue("goto", i, source="key", t=2.0)]
    assert feed("0") == []


def test_actions_and_unknown_keys():
    assert feed("h") == [Action("overlay")]
    assert feed("l") == [Action("learn")]
    assert feed("quit") == [Action("quit")]  # window closed: no confirmation
    assert feed("x") == [] and feed("return") == []
    assert feed("SPACE")[0].kind == "next"  # case-insensitive


def test_default_time_comes_from_clock():
    clock = ManualClock(7.25)
    assert KeyMapper(clock).feed("space") == [Cue("next", source="key", t=7.25)]


def test_escape_twice_within_a_second_quits():
    m = KeyMapper(ManualClock())
    assert m.feed("escape", 10.0) == [Action("message", QUIT_MESSAGE)]
    assert m.quit_armed(10.5)
    assert m.feed("escape", 10.9) == [Action("quit")]
    assert not m.quit_armed(10.9)


def test_escape_too_slow_only_warns_again():
    m = KeyMapper(ManualClock())
    m.feed("escape", 0.0)
    assert not m.quit_armed(1.2)
    assert m.feed("escape", 1.2) == [Action("message", QUIT_MESSAGE)]  # re-armed
    assert m.feed("escape", 2.0) == [Action("quit")]


def test_other_key_disarms_escape():
    m = KeyMapper(ManualClock())
    m.feed("escape", 0.0)
    m.feed("space", 0.2)
    assert m.feed("escape", 0.4) == [Action("message", QUIT_MESSAGE)]


def test_action_validates_kind():
    with pytest.raises(ValueError, match="one of"):
        Action("explode")


def test_key_help_covers_the_table():
    text = help_text()
    assert len(KEY_HELP) == 10 and all(k and v for k, v in KEY_HELP)
    for word in ("Space", "Page Down", "1 - 9", "Esc", "MIDI learn"):
        assert word in text
    assert {"space", "escape", "quit", "9"} <= set(KEY_NAMES)
