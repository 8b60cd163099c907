"""Fuzzing the loaders of untrusted text: setlists, MIDI presets, cue files.

Any input must end in a clean result or one one-line LiveganError: never
another exception, never a hang. Random text finds parser crashes; YAML-ish
text built from the real keys and plausible values reaches the validation
code behind the parser.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livegan.engine.cuefile import parse_cues
from livegan.errors import LiveganError
from livegan.setlist import load_setlist
from livegan.triggers.midi_map import parse_preset
from livegan.yamlio import loads_yaml, to_plain

FUZZ = settings(max_examples=250, deadline=None,  # no per-example stopwatch: the load decides it
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def one_line_or_ok(fn, *args) -> object:
    try:
        return fn(*args)
    except LiveganError as e:
        assert "\n" not in str(e) and str(e).strip(), repr(str(e))
        return None


# -- strategies --------------------------------------------------------------------------
scalars = st.one_of(
    st.integers(-10, 10**6).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["true", "no", "null", "~", "''", '""', "[]", "{}", "-1", "1e999", ".inf", ".nan", "0x1F",
                     "2 beats", "1 bar", "4s", "weasel", "goldfish", "tabby", "n01440764", "999", "1000",
                     "'a: b'", "&x 1", "*x", "!!str 3", "!!python/name:os.system", "|", ">-", "'", "\"\\u0000\""]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12).map(json.dumps),
)
SETLIST_KEYS = {
    "defaults": ["model", "clip", "steps", "variants", "truncation", "transition", "seed", "lr", "cutouts",
                 "candidates", "bogus"],
    "song": ["title", "bpm", "beats_per_bar", "sections", "onsets", "titel"],
    "section": ["text", "classes", "variants", "seed", "transition", "txt"],
    "onsets": ["advance", "min_interval", "sensitivity", "nope"],
}


def mapping(keys: list[str], values, indent: str) -> st.SearchStrategy[str]:
    return st.lists(st.tuples(st.sampled_from(keys), values), max_size=6).map(
        lambda kv: "".join(f"{indent}{k}: {v}\n" for k, v in kv))


@st.composite
def setlist_texts(draw) -> str:
    out = []
    if draw(st.booleans()):
        out.append("defaults:\n" + draw(mapping(SETLIST_KEYS["defaults"], scalars, "  ")))
    out.append("songs:" + draw(st.sampled_from(["\n", " []\n", " 3\n", "\n"])))
    for _ in range(draw(st.integers(0, 3))):
        song = draw(mapping([k for k in SETLIST_KEYS["song"] if k not in ("sections", "onsets")], scalars, "    "))
        out.append("  - " + (song.lstrip() or "title: x\n"))
        if draw(st.booleans()):
            out.append("    onsets:\n" + draw(mapping(SETLIST_KEYS["onsets"], scalars, "      ")))
        if draw(st.integers(0, 4)):
            out.append("    sections:\n")
            for _ in range(draw(st.integers(0, 3))):
                sec = draw(mapping(SETLIST_KEYS["section"], scalars, "        "))
                if draw(st.booleans()):
                    sec += "        classes: [" + ", ".join(draw(st.lists(scalars, max_size=4))) + "]\n"
                out.append("      - " + (sec.lstrip() or "text: a\n"))
    text = "".join(out)
    if draw(st.integers(0, 9)) == 0:  # a sprinkle of damage: a tab, a cut, a stray colon
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(["\t", ":", "- ", "\n  ", "[", "'", "&a ", "*a"])) + text[i:]
    return text


PRESET_KEYS = ["note", "cc", "program", "channel", "cue", "arg", "param", "range", "curve", "velocity_min",
               "label", "nte"]
preset_values = st.one_of(scalars, st.sampled_from(
    ["next", "goto", "prev", "blackout", "drift_amount", "truncation", "master_fade", "audio_level", "linear",
     "exponential", "36-42", "0-127", "any", "[0, 1]", "[1, 0]", "[0.0, 100]", "128", "-1", "17", "7"]))


@st.composite
def preset_texts(draw) -> str:
    out = [draw(mapping(["name", "port", "min_cue_interval", "bogus"], scalars, ""))]
    out.append("mappings:" + draw(st.sampled_from(["\n", " []\n", " x\n"])))
    for _ in range(draw(st.integers(0, 4))):
        m = draw(st.lists(st.tuples(st.sampled_from(PRESET_KEYS), preset_values), min_size=1, max_size=5))
        out.append("  - {" + ", ".join(f"{k}: {v}" for k, v in m) + "}\n")
    return "".join(out)


cue_tokens = st.sampled_from(["0", "1.5", "12.25", "1:04.5", "1:02:03", "59:60", "-1", "nan", "inf", "1e9",
                              "86401", ".5", "5.", "next", "prev", "goto", "GOTO", "song-next", "blackout",
                              "freeze", "tap", "3", "0", "10001", "+2", "x", "#", "# c", "\t", "", "١٢"])


@st.composite
def cue_texts(draw) -> str:
    lines = draw(st.lists(st.lists(cue_tokens, max_size=4).map(" ".join), max_size=8))
    return "\n".join(lines)


# -- the properties -----------------------------------------------------------------------
def _setlist(tmp_path, text: str):
    p = tmp_path / "setlist.yaml"
    p.write_text(text, encoding="utf-8")
    return one_line_or_ok(load_setlist, p)


@FUZZ
@given(text=st.text(max_size=300))
def test_setlist_random_text(tmp_path, text) -> None:
    _setlist(tmp_path, text)


@FUZZ
@given(text=setlist_texts())
def test_setlist_structured(tmp_path, text) -> None:
    sl = _setlist(tmp_path, text)
    if sl is not None:  # accepted: it really is a usable setlist
        assert sl.songs and all(s.sections and s.title for s in sl.songs)
        assert all(0 <= c < 1000 for s in sl.songs for sec in s.sections for c in sec.class_ids)


def test_structured_setlists_reach_validation(tmp_path) -> None:
    """The structured strategy is not just parse errors: some pass, some fail in validation."""
    ok = bad_schema = 0
    seeds = ["songs:\n  - title: a\n    sections:\n      - text: b\n",
             "songs:\n  - title: a\n    sections:\n      - text: b\n        classes: [weasel, 1000]\n",
             "defaults:\n  steps: -1\nsongs:\n  - title: a\n    sections:\n      - text: b\n"]
    for text in seeds:
        r = _setlist(tmp_path, text)
        ok += r is not None
        bad_schema += r is None
    assert ok == 1 and bad_schema == 2


def _preset(text: str):
    def load(t: str):
        root = loads_yaml(t, "preset.yaml")
        return parse_preset(to_plain(root), root, "preset.yaml")
    return one_line_or_ok(load, text)


@FUZZ
@given(text=st.text(max_size=300))
def test_midi_preset_random_text(text) -> None:
    _preset(text)


@FUZZ
@given(text=preset_texts())
def test_midi_preset_structured(text) -> None:
    p = _preset(text)
    if p is not None:
        from livegan.triggers.midi_map import MidiMapper

        m = MidiMapper(p)  # an accepted preset maps any bytes without raising
        for status in (0x90, 0xB0, 0xC0, 0x80):
            for n in (0, 36, 64, 127):
                m.feed([status, n, 127] if status != 0xC0 else [status, n], t=float(n))


@FUZZ
@given(text=st.one_of(st.text(max_size=300), cue_texts()))
def test_cue_file(text) -> None:
    cues = one_line_or_ok(parse_cues, text, "cues.txt")
    if cues is not None:
        times = [t for t, _ in cues]
        assert times == sorted(times) and all(0 <= t <= 24 * 3600 for t in times)
