"""Cue files: parsing, errors with their line numbers, and the scripted source."""

from __future__ import annotations

import pytest

from livegan.clock import ManualClock
from livegan.engine.cuefile import ScriptedCueSource, ignored_gotos, parse_cue_file, parse_cues
from livegan.errors import ConfigError
from livegan.triggers.events import Cue, EventQueue

GOOD = """\
# a show
0        blackout
1.5      blackout      # fade in

12.25    next
1:04.5   goto 3
0:30     song-next
12.25    prev          # same time as the next above: keeps file order
1:00:00  freeze
3 tap
4\tSONG-PREV
"""


def test_parse_good_file_sorted_stably():
    cues = parse_cues(GOOD, "show.cues")
    assert [(t, c.kind, c.arg) for t, c in cues] == [
        (0.0, "blackout", None), (1.5, "blackout", None), (3.0, "tap", None), (4.0, "song-prev", None),
        (12.25, "next", None), (12.25, "prev", None), (30.0, "song-next", None), (64.5, "goto", 3),
        (3600.0, "freeze", None),
    ]
    assert all(c.source == "cue-file" and c.t == t for t, c in cues)


def test_empty_and_comment_only():
    assert parse_cues("", "x") == []
    assert parse_cues("# nothing\n\n   \n", "x") == []


@pytest.mark.parametrize("line, message", [
    ("12.5", "expected TIME CUE"),
    ("abc next", "not understood"),
    ("-1 next", "negative"),
    ("nan next", "finite"),
    ("inf next", "finite"),
    ("1:75 next", "below 60"),
    ("1:60:00 next", "below 60"),
    ("100000 next", "too late"),
    ("3 jump", "unknown cue 'jump' (allowed: next, prev, goto N"),
    ("3 next 2", "takes no argument"),
    ("3 goto", "needs a section number"),
    ("3 goto x", "whole number"),
    ("3 goto 2.5", "whole number"),
    ("3 goto 0", "range 1..10000"),
    ("3 goto 1 2", "one section number"),
])
def test_errors_name_file_line_and_what_is_allowed(line, message):
    text = "# header\n0 next\n\n" + line + "\n5 next\n"
    with pytest.raises(ConfigError) as e:
        parse_cues(text, "show.cues")
    assert str(e.value).startswith("show.cues:4: ")
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_parse_cue_file_reads_with_the_shared_checks(tmp_path):
    p = tmp_path / "a.cues"
    p.write_text("\ufeff1 next\n2 goto 2\n", encoding="utf-8")
    assert [c.kind for _, c in parse_cue_file(p)] == ["next", "goto"]
    with pytest.raises(ConfigError, match="file not found"):
        parse_cue_file(tmp_path / "missing.cues")
    b = tmp_path / "b.cues"
    b.write_bytes(b"1 next\n\x00\x01")
    with pytest.raises(ConfigError, match="binary"):
        parse_cue_file(b)
    u = tmp_path / "u.cues"
    u.write_bytes(b"1 next\n2 n\xe9xt\n")
    with pytest.raises(ConfigError, match=r"u\.cues:2: not valid UTF-8"):
        parse_cue_file(u)
    bad = tmp_path / "bad.cues"
    bad.write_text("1 next\n2 nope\n")
    with pytest.raises(ConfigError, match=r"bad\.cues:2: unknown cue"):
        parse_cue_file(bad)


def test_scripted_source_emits_each_cue_once_when_the_clock_reaches_it():
    clock, q = ManualClock(), EventQueue()
    src = ScriptedCueSource(q, clock, parse_cues("0 next\n1 prev\n1 goto 2\n2.5 blackout\n"))
    assert src.open()
    assert src.poll() == 1 and [e.kind for e in q.drain()] == ["next"]
    assert src.poll() == 0 and src.next_time() == 1.0
    clock.advance(0.99)
    assert src.poll() == 0
    clock.advance(0.01)
    evs = q.drain() if src.poll() == 2 else []
    assert [(e.kind, e.arg, e.t, e.source) for e in evs] == [("prev", None, 1.0, "cue-file"),
                                                             ("goto", 2, 1.0, "cue-file")]
    clock.advance(10)
    assert src.poll() == 1 and src.done and src.next_time() is None and src.remaining == 0
    assert q.drain()[0] == Cue("blackout", source="cue-file", t=2.5)
    clock.advance(10)
    assert src.poll() == 0


def test_scripted_source_start_offset_and_reopen_do_not_replay(tmp_path):
    p = tmp_path / "s.cues"
    p.write_text("1 next\n2 next\n")
    clock, q = ManualClock(100.0), EventQueue()
    src = ScriptedCueSource.from_file(p, q, clock, start=100.0)
    src.open()
    clock.advance(1.0)
    src.poll()
    assert [e.t for e in q.drain()] == [101.0]
    src.close()
    src.open()
    clock.advance(5.0)
    src.poll()
    assert [e.t for e in q.drain()] == [102.0]


def test_gotos_that_cannot_land_are_named_at_load_time():
    from livegan.engine.state import SongPlan, Transition

    plans = [SongPlan("Alpha", 3, [1] * 3, [Transition(1.0)] * 3), SongPlan("Beta", 2, [1] * 2, [Transition(1.0)] * 2)]
    cues = parse_cues("1 goto 3\n2 song-next\n3 goto 3\n4 goto 999\n5 song-prev\n6 goto 2\n", "cues.txt")
    warned = ignored_gotos(cues, plans, "cues.txt")
    assert warned == [
        "cues.txt: at 3 s goto 3: song 'Beta' has 2 sections (1..2); it will be ignored (playing this file alone)",
        "cues.txt: at 4 s goto 999: song 'Beta' has 2 sections (1..2); it will be ignored (playing this file alone)",
    ]
    assert ignored_gotos(parse_cues("1 goto 3\n", "c"), plans, "c") == []


def test_show_warns_about_a_goto_beyond_the_song(tmp_path, monkeypatch):
    from banktools import SETLIST
    import textwrap
    from livegan.outputs.null import NullOutput
    from livegan.show.session import ShowConfig, build_show

    sl = tmp_path / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    cues = tmp_path / "cues.txt"
    cues.write_text("0.5 goto 999\n")
    said: list[str] = []
    build_show(ShowConfig(setlist=sl, banks=tmp_path / "banks", headless=True, cues=cues, model="tiny",
                          device="cpu", dtype="float32"), output=NullOutput(), notice=said.append)
    assert any("goto 999: song 'Alpha' has 3 sections (1..3)" in s and str(cues) in s for s in said), said
