"""ShowKeyframes: banks checked against the running generator, and fallback walks for songs without one.

Banks are written directly with ``save_bank`` (what prep writes, minus the
CLIP search), so these tests need no model at all.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from banktools import LAYERS, TINY, write_banks

from livegan.bank import bank_path
from livegan.setlist import load_setlist
from livegan.show.banks import ShowKeyframes, fallback_keyframe, find_bank_generator


SETLIST = """
defaults: {model: tiny, clip: tiny, steps: 3, variants: 1, truncation: 0.7, transition: 1}
songs:
  - title: Alpha
    sections:
      - {text: a weasel in the snow, classes: [weasel]}
      - {text: a goldfish in a teapot, classes: [goldfish, teapot], variants: 2}
      - {text: a lighthouse at night, classes: [beacon]}
  - title: Beta
    sections:
      - {text: a red wine glass, classes: [red wine]}
      - {text: hello there}
"""



@pytest.fixture
def setlist(tmp_path: Path) -> Path:
    p = tmp_path / "sl.yaml"
    p.write_text(textwrap.dedent(SETLIST).lstrip())
    return p


def test_good_banks_give_their_keyframes(setlist: Path, tmp_path: Path):
    write_banks(setlist, tmp_path / "banks")
    sl = load_setlist(setlist)
    kf = ShowKeyframes(sl, tmp_path / "banks", TINY, LAYERS)
    assert kf.warnings == []
    assert sorted(kf.banks) == [0, 1]
    assert kf.variants(0) == [1, 2, 1] and kf.variants(1) == [1, 1]
    rng = np.random.default_rng(1)  # song 0, section 1
    z = (np.clip(rng.standard_normal((2, LAYERS, 128)), -2, 2) * 0.7).astype(np.float32)
    k = kf(0, 1, 1)
    assert np.array_equal(k.z, z[1])
    assert k.y[sl.songs[0].sections[1].class_ids[1]] == 1.0
    assert np.array_equal(kf(0, 1, 3).z, z[1]), "variant index wraps"
    assert find_bank_generator(sl, tmp_path / "banks") == TINY


def test_missing_bank_warns_with_the_song_and_plays_a_walk(setlist: Path, tmp_path: Path):
    alpha, beta = write_banks(setlist, tmp_path / "banks")
    beta.unlink()
    sl = load_setlist(setlist)
    kf = ShowKeyframes(sl, tmp_path / "banks", TINY, LAYERS)
    assert len(kf.warnings) == 1
    assert "'Beta'" in kf.warnings[0] and "not found" in kf.warnings[0] and "walk" in kf.warnings[0]
    assert 0 in kf.banks and 1 not in kf.banks
    assert kf.variants(1) == [1, 1]
    a = kf(1, 0, 0)
    assert a.z.shape == (LAYERS, 128) and a.y.sum() == 1.0
    assert a.y[sl.songs[1].sections[0].class_ids[0]] == 1.0, "the class hint is the picture"
    assert np.array_equal(a.z, kf(1, 0, 0).z), "seeded: the same every time"
    assert not np.array_equal(a.z, kf(1, 1, 0).z), "each section its own picture"
    b = fallback_keyframe(sl, 1, 1, 0, LAYERS)  # no class hints: from the words, or the seed
    assert b.y.sum() == 1.0 and np.isfinite(b.z).all()


@pytest.mark.parametrize("damage, expect", [
    ("corrupt", "corrupt"),
    ("generator", "was made for tiny (random:7)"),
    ("layers", "has 3 latents per keyframe"),
    ("edited", "re-run prep"),
])
def test_unusable_bank_warns_and_falls_back(setlist: Path, tmp_path: Path, damage: str, expect: str):
    banks = tmp_path / "banks"
    write_banks(setlist, banks)
    alpha = bank_path(banks, "Alpha")
    if damage == "corrupt":
        alpha.write_bytes(alpha.read_bytes()[:200])
    elif damage == "generator":
        write_banks(setlist, banks, gid={"name": "tiny", "weights": "random:7"})
    elif damage == "layers":
        write_banks(setlist, banks, layers=3)
    elif damage == "edited":
        setlist.write_text(setlist.read_text().replace("a lighthouse at night", "a lighthouse at dawn"))
    sl = load_setlist(setlist)
    kf = ShowKeyframes(sl, banks, TINY, LAYERS)
    alpha_warnings = [w for w in kf.warnings if "'Alpha'" in w]
    assert len(alpha_warnings) == 1, kf.warnings
    assert expect in alpha_warnings[0] and "walk" in alpha_warnings[0]
    assert 0 not in kf.banks
    assert np.array_equal(kf(0, 2, 0).z, fallback_keyframe(sl, 0, 2, 0, LAYERS).z)
    assert kf.variants(0) == [1, 2, 1], "a fallback section has one variant per class hint"


def test_find_bank_generator_skips_unreadable_banks(setlist: Path, tmp_path: Path):
    banks = tmp_path / "banks"
    sl = load_setlist(setlist)
    assert find_bank_generator(sl, banks) is None
    alpha, beta = write_banks(setlist, banks, gid={"name": "tiny", "weights": "random:3"})
    alpha.write_bytes(b"not a bank")
    assert find_bank_generator(sl, banks) == {"name": "tiny", "weights": "random:3"}
