"""Trust nothing on disk: a bank decides nothing for the other songs, proves its content, and says
what truncation it was searched at; --resume finds songs by title; bad frames are said out loud.

Banks are written as prep writes them (``banktools.write_banks``), then damaged the way a
hostile or unlucky disk would. Every damaged bank must be refused or played with a warning,
never played silently, and never cost the other songs.
"""

from __future__ import annotations

import json
import random
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from banktools import LAYERS, SETLIST, TINY, write_banks

from livegan.bank import Bank, bank_path, dumps_bank, load_bank, save_bank
from livegan.engine.state import Position
from livegan.engine.statefile import relocate
from livegan.errors import BankError
from livegan.outputs.null import NullOutput
from livegan.show.session import STATE_FILE, ShowConfig, build_show, run_show
from livegan.setlist import load_setlist
from livegan.show.banks import ShowKeyframes, find_bank_generator

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    sl = tmp_path / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, tmp_path / "banks")
    return sl, tmp_path / "banks"


def config(sl: Path, banks: Path, **kw) -> ShowConfig:
    return ShowConfig(setlist=sl, banks=banks, **{"headless": True, "drift": 0.0, "dtype": "float32",
                                                   "device": "cpu", **kw})


def rewrite_generator(path: Path, gid) -> None:
    """The bank at ``path`` re-saved with other generator metadata (a valid checksum: only the id is off)."""
    b = load_bank(path)
    path.write_bytes(dumps_bank(Bank(b.song, gid, b.clip, b.sections, b.settings)))


# -- 1. the show's generator comes from the setlist, not from the first bank --------------------
BAD_GENERATORS = {
    "nan seed": {"name": "tiny", "weights": "random:NaN"},
    "20-digit seed": {"name": "tiny", "weights": "random:12345678901234567890"},
    "extra not a mapping": {"name": "tiny", "weights": "random:0", "extra": ["folder", "/x"]},
    "name not a string": {"name": ["tiny"], "weights": "random:0"},
    "stray bank of another model": {"name": "biggan-deep-512", "weights": "random:0"},
    "stray bank of other weights": {"name": "tiny", "weights": "random:9"},
    "folder that is gone": {"name": "tiny", "weights": "sha256:0123456789abcdef",
                            "extra": {"folder": "/nonexistent/biggan"}},
}


@pytest.mark.parametrize("damage", sorted(BAD_GENERATORS))
def test_a_bad_first_bank_is_that_songs_problem_alone(files, damage: str) -> None:
    sl, banks = files
    rewrite_generator(bank_path(banks, "Alpha"), BAD_GENERATORS[damage])
    notices: list[str] = []
    show = build_show(config(sl, banks), output=NullOutput(), notice=notices.append)
    assert show.generator.id.name == "tiny" and show.generator.id.weights == "random:0", \
        "the setlist's model with the weights its other banks agree on"
    kf = show.director.keyframe
    assert set(kf.banks) == {1}, "Beta plays its bank"
    alpha = [w for w in show.summary.warnings if "'Alpha'" in w]
    assert len(alpha) == 1 and "class hints" in alpha[0], show.summary.warnings
    assert not [w for w in show.summary.warnings if "'Beta'" in w]
    assert not any("OFFLINE" in n for n in notices), notices
    summary = run_show(show, 0.3)
    assert summary.frames > 0


def test_a_stray_bank_in_every_slot_never_switches_the_generator(files) -> None:
    """Each song in turn gets a stray bank (another setlist's, right file name): only that song walks."""
    sl, banks = files
    titles = [s.title for s in load_setlist(sl).songs]
    for i, title in enumerate(titles):
        mine = banks.parent / f"banks{i}"
        shutil.copytree(banks, mine)
        rewrite_generator(bank_path(mine, title), {"name": "tiny", "weights": "random:5"})
        assert find_bank_generator(load_setlist(sl), mine) == TINY
        kf = ShowKeyframes(load_setlist(sl), mine, TINY, LAYERS)
        assert set(kf.banks) == set(range(len(titles))) - {i}
        assert len(kf.warnings) == 1 and repr(title) in kf.warnings[0]


def test_the_generator_vote_ignores_other_models(files) -> None:
    sl, banks = files
    rewrite_generator(bank_path(banks, "Alpha"), {"name": "biggan-deep-512", "weights": "random:0"})
    assert find_bank_generator(load_setlist(sl), banks) == TINY


# -- 2. banks prove their content --------------------------------------------------------------
def test_random_bit_flips_are_refused_or_warned_never_silent(files, capsys) -> None:
    sl, banks = files
    setlist = load_setlist(sl)
    path = bank_path(banks, "Alpha")
    good = path.read_bytes()
    ref = load_bank(path)
    rng = random.Random(11)
    tried = refused = warned = same = silent = 0
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.choice([1, 1, 1, 2, 8])):
            k = rng.randrange(len(data))
            data[k] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        tried += 1
        try:
            b = load_bank(path)
        except BankError:
            refused += 1
            continue
        identical = (b.song == ref.song and b.generator == ref.generator and b.settings == ref.settings
                     and [s.text for s in b.sections] == [s.text for s in ref.sections]
                     and all(np.array_equal(x.z, y.z) and np.array_equal(x.y, y.y)
                             for x, y in zip(b.sections, ref.sections)))
        kf = ShowKeyframes(setlist, banks, TINY, LAYERS)
        if any("'Alpha'" in w for w in kf.warnings):
            warned += 1
        elif identical:
            same += 1  # e.g. a flipped case of a \\u escape's hex digit: the same JSON
        else:
            silent += 1
    path.write_bytes(good)
    with capsys.disabled():
        print(f"\ncorrupt banks: tried {tried}, refused {refused}, played with a warning {warned}, "
              f"same content {same}, silent {silent}")
    assert silent == 0 and refused + warned + same == tried
    assert refused >= tried * 0.9


@pytest.mark.parametrize("array, value, phrase", [
    ("y", 1e30, "probability"),
    ("y", -0.5, "probability"),
    ("z", 40.0, "z holds values"),
    ("score", 7.0, "score"),
])
def test_absurd_finite_values_are_refused(files, array: str, value: float, phrase: str) -> None:
    _, banks = files
    path = bank_path(banks, "Alpha")
    b = load_bank(path)
    getattr(b.sections[0], array).flat[0] = value
    save_bank(b, path)  # a valid checksum of absurd content
    with pytest.raises(BankError, match=phrase):
        load_bank(path)


def test_an_old_bank_without_checksum_plays_with_one_warning(files) -> None:
    from safetensors.numpy import load_file, save
    from safetensors import safe_open

    sl, banks = files
    for title in ("Alpha", "Beta"):
        path = bank_path(banks, title)
        with safe_open(str(path), framework="numpy") as f:
            meta = json.loads(f.metadata()["livegan"])
        del meta["checksum"]
        path.write_bytes(save(load_file(str(path)), metadata={"livegan": json.dumps(meta)}))
        assert load_bank(path).verified is False
    kf = ShowKeyframes(load_setlist(sl), banks, TINY, LAYERS)
    assert set(kf.banks) == {0, 1}
    assert len(kf.warnings) == 1 and "no checksum" in kf.warnings[0] and "2 bank(s)" in kf.warnings[0]


class NaNGenerator:
    """The tiny generator, but every frame comes out NaN (broken weights)."""

    def __init__(self, gen) -> None:
        self._gen = gen

    def __getattr__(self, name):
        return getattr(self._gen, name)

    def render(self, z, y, truncation):
        from livegan.errors import NonFiniteFrames
        frames = self._gen.render(z, y, truncation)
        raise NonFiniteFrames(frames, np.ones(len(frames), bool))


def test_a_show_with_many_bad_frames_says_so(files, tiny_gen) -> None:
    sl, banks = files
    show = build_show(config(sl, banks, model="tiny"), output=NullOutput())
    show.worker.generator = NaNGenerator(show.worker.generator)
    summary = run_show(show, 1.0)
    assert summary.faults["bad_frames"] > 5
    said = [w for w in summary.warnings if "bad (NaN)" in w]
    assert len(said) == 1, summary.warnings
    assert said[0] in show.warnings, "in the overlay too"


def test_a_render_of_bad_frames_writes_no_video(files, tiny_gen, tmp_path) -> None:
    from livegan.errors import LiveganError
    from livegan.outputs.recorder import VideoRecorder
    from livegan.render import RenderJob, render_frames

    sl, banks = files
    out = tmp_path / "v.mp4"
    with pytest.raises(LiveganError, match="NaN"):
        with VideoRecorder(out, 10) as sink:
            render_frames(load_setlist(sl), NaNGenerator(tiny_gen), banks, RenderJob(0, 1.0, fps=10, size=32),
                          [], sink)
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


# -- 3. --resume by title -----------------------------------------------------------------------
TITLES = ["Alpha", "Beta", "Gamma"]
SECTIONS = [["a1", "a2"], ["b1", "b2", "b3"], ["c1"]]


def saved(song: int, section: int, with_text: bool = True) -> dict:
    return {"position": {"song": song, "section": section, "variant": 0},
            "song_title": TITLES[song] if with_text else None,
            "section_text": SECTIONS[song][section] if with_text else None, "state": None}


def test_relocate_follows_a_reordered_setlist() -> None:
    data, said = relocate(saved(1, 2), ["Gamma", "Alpha", "Beta"], [SECTIONS[2], SECTIONS[0], SECTIONS[1]])
    assert data["position"] == {"song": 2, "section": 2, "variant": 0}
    assert "'Beta'" in said and "song 3, section 3" in said


def test_relocate_follows_an_inserted_section() -> None:
    data, _ = relocate(saved(1, 1), TITLES, [SECTIONS[0], ["new", "b1", "b2", "b3"], SECTIONS[2]])
    assert data["position"]["section"] == 2


def test_relocate_says_why_it_cannot() -> None:
    data, said = relocate(saved(1, 0), ["Alpha", "Gamma"], [SECTIONS[0], SECTIONS[2]])
    assert data is None and "'Beta'" in said and "no longer in the setlist" in said
    data, said = relocate(saved(1, 2), TITLES, [SECTIONS[0], ["b1"], SECTIONS[2]])
    assert data["position"]["section"] == 0 and "gone" in said
    data, said = relocate(saved(1, 1, with_text=False), TITLES, SECTIONS)
    assert data["position"]["song"] == 1 and "by position" in said


def test_resume_after_the_setlist_was_reordered(files) -> None:
    sl, banks = files
    cues = sl.parent / "cues.txt"
    cues.write_text("0.05 song-next\n0.1 next\n")
    run_show(build_show(config(sl, banks, cues=cues), output=NullOutput()), 0.4)
    assert json.loads((banks / STATE_FILE).read_text())["song_title"] == "Beta"
    text = sl.read_text()
    a, b = text.index("  - title: Alpha"), text.index("  - title: Beta")
    sl.write_text(text[:a] + text[b:] + text[a:b])  # Beta first now
    said: list[str] = []
    again = build_show(config(sl, banks, resume=True), output=NullOutput(), notice=said.append)
    assert again.director.position.song == 0 and again.director.position.section == 1
    assert any("'Beta'" in s for s in said), said
    sl.write_text(text[:a] + text[b:].replace("Beta", "Delta"))  # Beta gone
    said.clear()
    third = build_show(config(sl, banks, resume=True), output=NullOutput(), notice=said.append)
    assert third.director.position == Position(0, 0, 0)
    assert any("no longer in the setlist" in s for s in said), said


# -- 4. banks record their truncation -------------------------------------------------------------
def test_a_truncation_mismatch_is_a_warning(files) -> None:
    sl, banks = files
    for title in ("Alpha", "Beta"):
        b = load_bank(bank_path(banks, title))
        b.settings = {"truncation": 0.7}
        save_bank(b, bank_path(banks, title))
    assert ShowKeyframes(load_setlist(sl), banks, TINY, LAYERS).warnings == []
    sl.write_text(sl.read_text().replace("truncation: 0.7", "truncation: 0.4"))
    kf = ShowKeyframes(load_setlist(sl), banks, TINY, LAYERS)
    assert len(kf.warnings) == 2 and all("truncation 0.7" in w and "0.4" in w for w in kf.warnings)
    assert set(kf.banks) == {0, 1}, "still played: the keyframes are right, the look differs"


def test_prep_records_the_truncation(tmp_path, tiny_gen, tiny_clip, monkeypatch) -> None:
    from livegan.prep.runner import prep_setlist

    sl = tmp_path / "sl.yaml"
    sl.write_text("defaults: {model: tiny, clip: tiny, steps: 1, variants: 1, candidates: 1, cutouts: 1, "
                  "truncation: 0.55}\nsongs:\n  - title: One\n    sections:\n      - {text: a weasel}\n")
    prep_setlist(load_setlist(sl), tmp_path / "banks", tiny_gen, tiny_clip, progress=False, sheets=False)
    assert load_bank(bank_path(tmp_path / "banks", "One")).settings["truncation"] == 0.55
