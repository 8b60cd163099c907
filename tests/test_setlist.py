"""Setlist loading: every bad file is one FILE:LINE(:COL) error; good ones load; class names resolve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from livegan.errors import ConfigError
from livegan.setlist import (Transition, load_setlist, parse_transition, section_seed, section_transition,
                             section_variants, summarise)

REPO = Path(__file__).resolve().parents[1]
SONG = "songs:\n  - title: a\n    sections:\n      - text: hi\n"  # the smallest valid body


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_setlist(path)
    msg = str(info.value)
    assert "\n" not in msg
    return info.value


# (name, file content, expected "LINE:COL" or "LINE" or "" after the file name, key phrase of the message)
BAD = [
    ("syntax", "songs:\n  - title: a\n    sections: [\n", "4:1", "YAML syntax error"),
    ("syntax_colon", "songs:\n  - title: a: b\n", "2:13", "mapping values are not allowed"),
    ("tab", "songs:\n\t- title: a\n", "2:1", "tab character"),
    ("unknown_key", "defaults:\n  stesp: 3\n" + SONG, "2:3", "unknown key 'stesp'; did you mean 'steps'?"),
    ("unknown_section_key", "songs:\n  - title: a\n    sections:\n      - txt: hi\n", "4:9",
     "unknown key 'txt'; did you mean 'text'?"),
    ("unknown_top_key", "song:\n  - title: a\n", "1:1", "unknown key 'song'; did you mean 'songs'?"),
    ("wrong_type", "defaults:\n  steps: lots\n" + SONG, "2:3", "steps must be a whole number, got str 'lots'"),
    ("bool_for_int", "defaults:\n  steps: true\n" + SONG, "2:3", "steps must be a whole number, got bool"),
    ("float_for_int", "defaults:\n  variants: 2.5\n" + SONG, "2:3", "variants must be a whole number"),
    ("text_not_text", "songs:\n  - title: a\n    sections:\n      - text: 5\n", "4:9", "text must be text"),
    ("sections_not_list", "songs:\n  - title: a\n    sections: hi\n", "3:5", "sections must be a list"),
    ("song_not_mapping", "songs:\n  - hello\n", "2:5", "songs must be a mapping"),
    ("too_big", "defaults:\n  truncation: 1.5\n" + SONG, "2:3", "truncation must be <= 1.0, got 1.5"),
    ("too_small", "defaults:\n  steps: 0\n" + SONG, "2:3", "steps must be >= 1, got 0"),
    ("bpm_negative", "songs:\n  - title: a\n    bpm: -3\n    sections:\n      - text: hi\n", "3:5", "bpm must be > 0"),
    ("section_variants", "songs:\n  - title: a\n    sections:\n      - text: hi\n        variants: 99\n", "5:9",
     "variants must be <= 16"),
    ("no_songs", "songs: []\n", "1:1", "no songs"),
    ("songs_missing", "defaults:\n  steps: 3\n", "1:1", "'songs' is required"),
    ("no_sections", "songs:\n  - title: a\n    sections: []\n", "3:5", "song has no sections"),
    ("empty_text", "songs:\n  - title: a\n    sections:\n      - text: ''\n", "4:9", "at least 1 character"),
    ("blank_text", "songs:\n  - title: a\n    sections:\n      - text: '   '\n", "4:9", "at least 1 character"),
    ("empty_title", "songs:\n  - title: ''\n    sections:\n      - text: hi\n", "2:5", "at least 1 character"),
    ("unknown_class", "songs:\n  - title: a\n    sections:\n      - text: hi\n        classes: [goldfsh]\n", "5:19",
     "unknown ImageNet class 'goldfsh'; did you mean 'goldfish'"),
    ("unknown_class_2nd", "songs:\n  - title: a\n    sections:\n      - text: hi\n        classes: [goldfish, tabbby]\n",
     "5:29", "did you mean 'tabby'"),
    ("class_index_high", "songs:\n  - title: a\n    sections:\n      - text: hi\n        classes: [1000]\n", "5:19",
     "class index must be in range 0..999, got 1000"),
    ("class_index_negative", "songs:\n  - title: a\n    sections:\n      - text: hi\n        classes: [-1]\n", "5:19",
     "in range 0..999, got -1"),
    ("class_bool", "songs:\n  - title: a\n    sections:\n      - text: hi\n        classes: [true]\n", "5:19",
     "got bool"),
    ("duplicate_title", SONG + "  - title: A\n    sections:\n      - text: ho\n", "5:5", "duplicate song title 'A'"),
    ("duplicate_key", "songs:\n  - title: a\n    title: b\n    sections:\n      - text: hi\n", "3:5", 'duplicate key "title"'),
    ("top_list", "- a\n- b\n", "1:1", "the top level must be a mapping"),
    ("top_scalar", "hello\n", "1:1", "the top level must be a mapping"),
    ("empty_file", "", "", "file is empty"),
    ("only_comments", "# nothing here\n\n", "", "file is empty"),
    ("alias", "defaults: &d\n  steps: 3\nother: *d\n", "3:8", "aliases"),
    ("beats_without_bpm", "songs:\n  - title: a\n    sections:\n      - text: hi\n        transition: 2 beats\n",
     "5:9", "transition in beats needs the song's bpm"),
    ("default_bars_without_bpm", "defaults:\n  transition: 1 bar\n" + SONG, "2:3", "transition in bars needs the song's bpm"),
    ("transition_words", "songs:\n  - title: a\n    sections:\n      - text: hi\n        transition: soon\n", "5:9",
     "transition 'soon' not understood"),
    ("transition_long", "songs:\n  - title: a\n    sections:\n      - text: hi\n        transition: 1000\n", "5:9",
     "0..600 seconds"),
    ("onsets_unknown_key", "songs:\n  - title: a\n    onsets:\n      advnce: true\n    sections:\n      - text: hi\n",
     "4:7", "unknown key 'advnce'; did you mean 'advance'?"),
    ("onsets_range", "songs:\n  - title: a\n    onsets:\n      every: 0\n    sections:\n      - text: hi\n", "4:7",
     "every must be >= 1, got 0"),
    ("onsets_type", "songs:\n  - title: a\n    onsets:\n      min_level: loud\n    sections:\n      - text: hi\n", "4:7",
     "min_level must be a number"),
    ("quantise_bad", "songs:\n  - title: a\n    quantise: bars\n    sections:\n      - text: hi\n", "3:5",
     "'off', 'beat' or 'bar'"),
    ("onsets_not_mapping", "songs:\n  - title: a\n    onsets: sometimes\n    sections:\n      - text: hi\n", "3:5",
     "onsets must be a mapping"),
]


@pytest.mark.parametrize("name,text,where,phrase", BAD, ids=[b[0] for b in BAD])
def test_bad_setlist(tmp_path, name, text, where, phrase):
    p = tmp_path / f"{name}.yaml"
    p.write_text(text)
    e = error_of(p)
    prefix = f"{p}:{where}: " if where else f"{p}: "
    assert str(e).startswith(prefix), str(e)
    assert phrase in str(e), str(e)


def test_unknown_key_lists_the_allowed_keys(write_yaml):
    e = error_of(write_yaml("defaults:\n  stesp: 3\n" + SONG))
    assert "(allowed: model, clip, steps, variants" in str(e)


def test_missing_file(tmp_path):
    p = tmp_path / "nope.yaml"
    assert str(error_of(p)) == f"{p}: file not found"


def test_directory(tmp_path):
    assert str(error_of(tmp_path)) == f"{tmp_path}: is a directory, expected a file"


def test_binary_content(tmp_path):
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"songs:\x00\x01\x02")
    assert str(error_of(p)) == f"{p}: binary content, expected a UTF-8 text file"


def test_non_utf8_names_the_line(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("songs:\n  - title: caf\xe9\n".encode("latin-1"))
    assert str(error_of(p)) == f"{p}:2: not valid UTF-8 text"


def test_too_large(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("# " + "x" * 1_100_000 + "\n" + SONG)
    assert "file is too large" in str(error_of(p))


def test_billion_laughs_is_refused_quickly(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    p = tmp_path / "bomb.yaml"
    p.write_text("\n".join(lines) + "\n")
    e = error_of(p)
    assert str(e).startswith(f"{p}:2:")  # at the first alias: nothing was expanded
    assert "aliases" in str(e)


def test_deep_nesting_is_refused(tmp_path):
    p = tmp_path / "deep.yaml"
    p.write_text("a: " + "[" * 200 + "]" * 200 + "\n")
    e = error_of(p)
    assert "nested too deeply" in str(e)
    line, col = map(int, str(e)[len(str(p)) + 1:].split(":")[:2])
    assert line == 1 and col < 50  # refused where the depth limit (32) was crossed, not after parsing 200


def test_bom_is_accepted(tmp_path):
    p = tmp_path / "bom.yaml"
    p.write_bytes(b"\xef\xbb\xbf" + SONG.encode())
    assert load_setlist(p).songs[0].title == "a"


# -- class names ---------------------------------------------------------------
def classes_of(write_yaml, hints: str) -> tuple[list[int], list[str]]:
    sl = load_setlist(write_yaml(SONG + f"        classes: {hints}\n"))
    return sl.songs[0].sections[0].class_ids, sl.warnings


def test_synonyms_resolve_to_the_same_class(write_yaml):
    ids, warnings = classes_of(write_yaml, "[orca, killer whale, grampus, Killer_Whale, 148]")
    assert ids == [148] * 5
    assert warnings == []


def test_ambiguous_class_warns_with_candidates(write_yaml):
    ids, warnings = classes_of(write_yaml, "[crane]")
    assert ids == [134]
    assert len(warnings) == 1
    w = warnings[0]
    assert ":5:19: warning:" in w
    assert "134" in w and "517" in w and "'crane'" in w
    # glosses are cut at a word boundary with an ellipsis, never mid-word
    gloss_134 = w.split("134 = ")[1].split(";")[0]
    assert gloss_134.endswith("…") and gloss_134[:-1] == gloss_134[:-1].rstrip(), gloss_134
    from livegan.models.imagenet import imagenet_names
    full = imagenet_names().definitions[134]
    assert full.startswith(gloss_134[:-1]) and full[len(gloss_134) - 1] in " ,;:", (gloss_134, full)


def test_shipped_setlists_load():
    files = sorted((REPO / "setlists").glob("*.yaml"))
    assert files
    for f in files:
        sl = load_setlist(f)
        s = summarise(sl)
        assert s.songs == len(sl.songs) and s.sections >= s.songs and s.keyframes >= s.sections


def test_demo_setlist_contents():
    sl = load_setlist(REPO / "setlists" / "demo.yaml")
    assert sl.defaults.model == "biggan-deep-128"
    whale = next(sec for sec in sl.songs[0].sections if "killer whale" in sec.text)
    assert whale.class_ids[0] == 148
    assert sl.song_index("night market") == 1
    with pytest.raises(ConfigError, match="no song titled"):
        sl.song_index("nope")


# -- transitions, seeds, variants ----------------------------------------------------
def test_parse_transition():
    assert parse_transition(3) == Transition(3.0, "seconds")
    assert parse_transition("2 beats") == Transition(2.0, "beats")
    assert parse_transition("1 bar") == Transition(1.0, "bars")
    assert parse_transition("1.5s") == Transition(1.5, "seconds")
    assert parse_transition("2 beats").seconds(bpm=120) == pytest.approx(1.0)
    assert parse_transition("1 bar").seconds(bpm=60, beats_per_bar=3) == pytest.approx(3.0)
    for bad in (True, -1, "soon", "700 s", "300 beats"):
        with pytest.raises(ValueError):
            parse_transition(bad)


def test_section_defaults_and_overrides(write_yaml):
    sl = load_setlist(write_yaml("""
        defaults:
          variants: 3
          transition: 5
        songs:
          - title: a
            bpm: 100
            sections:
              - text: one
              - text: two
                variants: 1
                seed: 42
                transition: 2 beats
    """))
    one, two = sl.songs[0].sections
    assert section_variants(sl, one) == 3 and section_variants(sl, two) == 1
    assert section_transition(sl, sl.songs[0], one) == Transition(5.0)
    assert section_transition(sl, sl.songs[0], two) == Transition(2.0, "beats")
    assert section_seed(sl, 0, 1) == 42
    s0 = section_seed(sl, 0, 0)
    assert 0 <= s0 < 2**31 and s0 == section_seed(sl, 0, 0)


def test_derived_seed_follows_text_not_position(write_yaml):
    a = load_setlist(write_yaml("songs:\n  - title: a\n    sections:\n      - text: one\n      - text: two\n", "a.yaml"))
    b = load_setlist(write_yaml("songs:\n  - title: a\n    sections:\n      - text: two\n      - text: one\n", "b.yaml"))
    assert section_seed(a, 0, 0) == section_seed(b, 0, 1)
    assert section_seed(a, 0, 0) != section_seed(a, 0, 1)


# -- the CLI -----------------------------------------------------------------------
def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "livegan.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_cli_check_bad_file_is_one_line_exit_2(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("defaults:\n  stesp: 3\n" + SONG)
    r = run_cli("check", str(p), cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert f"{p}:2:3: unknown key 'stesp'" in lines[0]
    assert "Traceback" not in r.stderr + r.stdout


def test_cli_check_missing_file_exit_2(tmp_path):
    r = run_cli("check", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "file not found" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_check_good_file(tmp_path):
    r = run_cli("check", str(REPO / "setlists" / "demo.yaml"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout and "9 sections" in r.stdout


def test_quantise_per_song_and_default(write_yaml):
    from livegan.engine.state import plans_from_setlist
    sl = load_setlist(write_yaml("defaults:\n  quantise: beat\nsongs:\n  - title: a\n    sections:\n      - text: hi\n"
                                 "  - title: b\n    quantise: bar\n    sections:\n      - text: ho\n"))
    assert [p.quantise for p in plans_from_setlist(sl)] == ["beat", "bar"]
