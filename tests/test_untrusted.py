"""Untrusted input: no code execution on load, bounded YAML, size limits, and file names that stay put.

Setlists, presets, cue files, banks and saved state may come from anyone (a
shared setlist, a downloaded preset). Loading them must never run code, never
blow up memory, and a song title must never put a file outside the bank folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import livegan
from livegan.bank import bank_path, load_bank, song_slug
from livegan.engine.cuefile import MAX_CUE_FILE_BYTES, parse_cue_file
from livegan.engine.statefile import MAX_STATE_BYTES, load_state
from livegan.errors import BankError, ConfigError
from livegan.setlist import MAX_SETLIST_BYTES, load_setlist
from livegan.triggers.midi_map import load_midi_preset
from livegan.yamlio import MAX_DEPTH, loads_yaml

PKG = Path(livegan.__file__).resolve().parent
SOURCES = sorted(PKG.rglob("*.py"))


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """Source lines with comments and docstring-ish prose dropped well enough for a grep."""
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        code = line.split("#", 1)[0]
        if code.strip():
            out.append((i, code))
    return out


def offenders(path: Path) -> list[str]:
    bad = []
    for i, code in _code_lines(path):
        where = f"{path.name}:{i}: {code.strip()}"
        if re.search(r"\b(import\s+(c?pickle|dill|marshal|shelve)|from\s+(c?pickle|dill|marshal|shelve)\s+import)\b",
                     code):
            bad.append(where)
        elif re.search(r"(?<![\w.])(eval|exec)\s*\(", code):
            bad.append(where)
        elif re.search(r"\bimport\s+yaml\b|\bfrom\s+yaml\s+import\b", code):  # PyYAML; ruamel's rt/safe only
            bad.append(where)
        elif re.search(r"(?<!\w)YAML\(", code) and not re.search(r"""YAML\(\s*typ\s*=\s*["'](rt|safe)["']""", code):
            bad.append(where)
        elif "torch.load(" in code and "weights_only=True" not in code:
            bad.append(where)
        elif re.search(r"\bnp\.load\(", code) and "allow_pickle=False" not in code:
            bad.append(where)
        elif re.search(r"allow_pickle\s*=\s*True|trust_remote_code\s*=\s*True|shell\s*=\s*True", code):
            bad.append(where)
    return bad


def test_the_package_has_no_code_execution_on_load() -> None:
    assert len(SOURCES) > 30
    bad = [b for f in SOURCES for b in offenders(f)]
    assert not bad, "\n".join(bad)


def test_the_grep_itself_catches_offenders(tmp_path) -> None:
    """Guard the guard: each pattern fires on a line that should be refused, and not on a safe one."""
    f = tmp_path / "m.py"
    f.write_text("import pickle\nx = eval('1')\nimport yaml\ny = YAML(typ='unsafe')\n"
                 "torch.load(p)\nnp.load(p)\nsubprocess.run(c, shell=True)\n"
                 "ok = YAML(typ='rt')  # fine\nz = torch.load(p, weights_only=True)\nhelp='a YAML (file)'\n")
    assert len(offenders(f)) == 7


# -- YAML bounds ------------------------------------------------------------------------
BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
songs: *g
"""


def test_alias_bomb_is_refused_fast(tmp_path) -> None:
    p = tmp_path / "bomb.yaml"
    p.write_text(BOMB)
    # refused at its first alias (line 2), before anything is expanded: a position, not a stopwatch
    with pytest.raises(ConfigError, match=r"bomb.yaml:2:\d+: YAML aliases") as e:
        load_setlist(p)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="aliases"):
        load_midi_preset(p)


def test_deep_nesting_and_python_tags_are_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        loads_yaml("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), "deep.yaml")
    with pytest.raises(ConfigError, match="nested too deeply"):
        loads_yaml("[" * 100_000, "deeper.yaml")  # no RecursionError
    for tag in ("!!python/object/apply:os.system ['touch /tmp/livegan-pwned']",
                "!!python/name:os.system", "!!binary aGVsbG8="):
        try:
            data = loads_yaml(f"x: {tag}\n", "tag.yaml")
        except ConfigError:
            continue
        assert not callable(data["x"])  # at most an inert tagged scalar
    assert not Path("/tmp/livegan-pwned").exists()


@pytest.mark.parametrize("kind", ["setlist", "preset", "cues", "state"])
def test_size_limits(tmp_path, kind) -> None:
    limit = {"setlist": MAX_SETLIST_BYTES, "preset": 1_000_000, "cues": MAX_CUE_FILE_BYTES,
             "state": MAX_STATE_BYTES}[kind]
    p = tmp_path / f"big.{kind}"
    line = "# padding padding padding padding padding padding padding padding\n"
    p.write_text(line * (limit // len(line) + 2))
    if kind == "state":
        assert load_state(p) is None  # too large: start from the top, with a warning
        return
    load = {"setlist": load_setlist, "preset": load_midi_preset, "cues": parse_cue_file}[kind]
    with pytest.raises(ConfigError, match="too large") as e:
        load(p)
    assert "\n" not in str(e.value)


def test_oversized_or_hostile_bank_is_a_bank_error(tmp_path, monkeypatch) -> None:
    import livegan.bank as bankmod
    from safetensors.numpy import save

    p = tmp_path / "b.safetensors"
    p.write_bytes(b"\x00" * 64)
    monkeypatch.setattr(bankmod, "MAX_BANK_BYTES", 32)
    with pytest.raises(BankError, match="too large"):
        load_bank(p)
    monkeypatch.undo()
    arrays = {"z": np.zeros((1, 2, 128), np.float32), "y": np.zeros((1, 1000), np.float32),
              "score": np.zeros(1, np.float32), "section": np.zeros(1, np.int32)}
    for meta in ("[]", '{"format": 1, "sections": 5, "generator": {}, "song": "x"}',
                 '{"format": 1, "sections": [{"variants": 1e9}], "generator": [], "song": "x"}',
                 '{"format": 1, "sections": [{"variants": 1, "classes": ["__import__"]}], "generator": {}, "song": 1}'):
        p.write_bytes(save(arrays, metadata={"livegan": meta}))
        with pytest.raises(BankError) as e:
            load_bank(p)
        assert "\n" not in str(e.value)


# -- file names from titles ---------------------------------------------------------------
HOSTILE_TITLES = [
    "../../x", "/etc/passwd", "..", ".", "CON", "nul", "com1", "lpt9.txt", "a/b\\c", "~root",
    "x" * 200, "Hello World", "hello-world!", "HELLO   world", "Ünïcödé", "日本語の歌", "-", "\u202eevil",
]


def test_song_slugs_are_safe_and_distinct() -> None:
    slugs = [song_slug(t) for t in HOSTILE_TITLES]
    assert len(set(slugs)) == len(slugs)
    for s in slugs:
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", s) and len(s) <= 64
        assert s.split(".")[0] not in {"con", "nul", "com1", "lpt9", "prn", "aux"}  # Windows: name before the dot
    for t in HOSTILE_TITLES:
        p = bank_path("/banks", t)
        assert p.parent == Path("/banks") and ".." not in p.parts


def test_prep_with_hostile_titles_writes_only_inside_its_folder(tmp_path, monkeypatch) -> None:
    import torch

    from livegan.models.clip import load_clip
    from livegan.models.registry import load_generator
    from livegan.prep.runner import prep_setlist

    torch.set_num_threads(1)
    root = tmp_path / "a" / "b"  # '../../x' from the bank folder would land in tmp_path
    root.mkdir(parents=True)
    monkeypatch.setenv("LIVEGAN_CACHE", str(root / "cache"))
    songs = "".join(f"  - title: {json.dumps(t)}\n    sections:\n      - {{text: a weasel}}\n"
                    for t in HOSTILE_TITLES)
    (root / "sl.yaml").write_text(
        "defaults: {model: tiny, clip: tiny, steps: 1, variants: 1, candidates: 1, cutouts: 1}\n"
        "songs:\n" + songs)
    sl = load_setlist(root / "sl.yaml")
    assert [s.title for s in sl.songs] == [t.strip() for t in HOSTILE_TITLES]
    before = {p for p in tmp_path.rglob("*")}
    out = root / "banks"
    s = prep_setlist(sl, out, load_generator("tiny", device="cpu"), load_clip("tiny", device="cpu"),
                     progress=False)
    written = {p for p in tmp_path.rglob("*")} - before
    outside = [p for p in written if not (p.is_relative_to(out) or p.is_relative_to(root / "cache"))]
    assert not outside, outside
    assert not Path("/etc/passwd.safetensors").exists() and not (tmp_path / "x.safetensors").exists()
    banks = sorted(out.glob("*.safetensors"))
    assert len(banks) == len(HOSTILE_TITLES) == len(set(s.banks))  # two alike titles: two banks
    assert all(p.parent == out for p in s.banks + s.sheets)
    assert sorted(load_bank(p).song for p in banks) == sorted(t.strip() for t in HOSTILE_TITLES)
