"""Baking: clip latents on the engine's path maths, the bake runner (resume, exact invalidation,
atomic files after a kill), the validated index, and the mp4 round trip (PSNR)."""

from __future__ import annotations

import json
import shutil
import textwrap

import numpy as np
import pytest

from banktools import write_banks

from livegan.bake.clips import DriftSettings, idle_latents, transition_latents
from livegan.bake.codec import read_clip
from livegan.bake.index import index_path, load_index
from livegan.bake.runner import bake_setlist
from livegan.bank import bank_path, load_bank, save_bank
from livegan.engine.path import Drift, Keyframe
from livegan.errors import BankError
from livegan.setlist import load_setlist

pytestmark = pytest.mark.usefixtures("one_thread")

FPS = 10.0
LOOP = 1.0
SETLIST = """
defaults: {model: tiny, clip: tiny, steps: 3, variants: 1, truncation: 0.7, transition: 1}
songs:
  - title: Alpha
    bpm: 120
    sections:
      - {text: a weasel in the snow, classes: [weasel]}
      - {text: a goldfish in a teapot, classes: [goldfish, teapot], variants: 2}
      - {text: a lighthouse at night, classes: [beacon], transition: 2 beats}
  - title: Beta
    sections:
      - {text: a red wine glass, classes: [red wine]}
      - {text: a grand piano on the seashore, classes: [grand piano]}
"""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module")
def baked(tmp_path_factory, tiny_gen):
    """(setlist path, banks folder with a finished bake, summary) -- copied by tests that change it."""
    import torch
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("bake")
    sl = d / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, d / "banks")
    s = bake_setlist(load_setlist(sl), d / "banks", tiny_gen, fps=FPS, loop_seconds=LOOP, progress=False)
    return sl, d / "banks", s


def _kf(seed: int, cls: int) -> Keyframe:
    rng = np.random.default_rng(seed)
    y = np.zeros(1000, np.float32)
    y[cls] = 1
    return Keyframe(rng.standard_normal((5, 128)).astype(np.float32), y)


def test_transition_lands_where_the_idle_loop_starts_and_the_loop_is_seamless():
    a, b = _kf(1, 3), _kf(2, 9)
    d = DriftSettings(0.3, 0.5, 0)
    drift = Drift(5, seed=0)
    z, y = transition_latents(a, b, 2.0, 30.0, drift, d)            # (61, 5, 128)
    assert z.shape == (61, 5, 128) and y.shape == (61, 1000)
    za, _ = idle_latents(a, 4.0, 30.0, drift, d)
    zb, yb = idle_latents(b, 4.0, 30.0, drift, d)                   # (120, 5, 128)
    np.testing.assert_allclose(z[0], za[0], atol=1e-5)             # leaves from A's loop start
    np.testing.assert_allclose(z[-1], zb[0], atol=1e-5)            # lands on B's loop start
    np.testing.assert_allclose(y[-1], yb[0], atol=1e-6)
    # The loop's wrap (last frame -> first) is a step like any other: position and velocity continuous.
    steps = np.linalg.norm(np.diff(zb, axis=0).reshape(len(zb) - 1, -1), axis=1)
    wrap = np.linalg.norm((zb[0] - zb[-1]).ravel())
    assert wrap < 1.5 * steps.max() and wrap > 0.5 * steps.min()
    assert np.linalg.norm((zb - b.z).reshape(len(zb), -1), axis=1).max() > 0.1  # it does drift


def test_bake_writes_every_clip_and_they_decode_to_the_generator_frames(baked, tiny_gen):
    sl_path, banks, s = baked
    idx = load_index(index_path(banks))
    # Alpha: idle 1+2+1, trans 1x2 + 2x1 (2 beats at 120 bpm = 1 s); Beta: idle 1+1, trans 1.
    assert len(idx.songs["Alpha"].clips) == 8 and len(idx.songs["Beta"].clips) == 3
    assert s.done == 11 and s.cached == 0 and s.bytes > 0 and s.mb_per_minute > 0
    e = idx.songs["Alpha"].clips["trans/1/1/0"]
    clip = read_clip(banks / "baked" / e.file)
    assert clip.shape == (e.frames, 32, 32, 3) and e.frames == 11  # 1 s at 10 fps, both ends
    bank = load_bank(bank_path(banks, "Alpha"))
    a = Keyframe(bank.sections[1].z[1], bank.sections[1].y[1])
    b = Keyframe(bank.sections[2].z[0], bank.sections[2].y[0])
    z, y = transition_latents(a, b, 1.0, FPS, Drift(5, seed=0), DriftSettings())
    want = tiny_gen.render(z, y, 0.7)                                # (11, 32, 32, 3)
    assert min(psnr(c, w) for c, w in zip(clip, want)) > 30.0


def test_rerun_is_all_cached_and_a_changed_bank_rebakes_exactly_its_clips(baked, tiny_gen, tmp_path):
    sl_path, banks0, _ = baked
    banks = tmp_path / "banks"
    shutil.copytree(banks0, banks)
    sl = load_setlist(sl_path)
    again = bake_setlist(sl, banks, tiny_gen, fps=FPS, loop_seconds=LOOP, progress=False)
    assert (again.done, again.cached, again.removed) == (0, 11, 0)
    before = {k: c.file for k, c in load_index(index_path(banks)).songs["Alpha"].clips.items()}
    # Re-prep section 3 of Alpha (index 2): its idle loop and the two transitions into it change.
    b = load_bank(bank_path(banks, "Alpha"))
    b.sections[2].z = b.sections[2].z + np.float32(0.5)
    save_bank(b, bank_path(banks, "Alpha"))
    s = bake_setlist(sl, banks, tiny_gen, fps=FPS, loop_seconds=LOOP, progress=False)
    after = {k: c.file for k, c in load_index(index_path(banks)).songs["Alpha"].clips.items()}
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"idle/2/0", "trans/1/0/0", "trans/1/1/0"}
    assert (s.done, s.cached, s.removed) == (3, 8, 3)
    assert not any((banks / "baked" / before[k]).exists() for k in changed)  # stale files removed


def test_a_changed_transition_or_drift_invalidates_what_it_touches(baked, tiny_gen, tmp_path):
    sl_path, banks0, _ = baked
    banks = tmp_path / "banks"
    shutil.copytree(banks0, banks)
    text = sl_path.read_text().replace("transition: 2 beats", "transition: 4 beats")
    p = tmp_path / "sl.yaml"
    p.write_text(text)
    s = bake_setlist(load_setlist(p), banks, tiny_gen, fps=FPS, loop_seconds=LOOP, progress=False)
    assert s.done == 2  # only the two transitions into section 3 of Alpha
    s = bake_setlist(load_setlist(p), banks, tiny_gen, fps=FPS, loop_seconds=LOOP, drift=0.3, progress=False)
    assert s.done == 11  # the drift moves every picture


class _Killer:
    """A generator that dies (like a kill) after a number of render calls."""

    def __init__(self, gen, calls: int) -> None:
        self.gen, self.left = gen, calls

    def __getattr__(self, name):
        return getattr(self.gen, name)

    def render(self, z, y, t):
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        return self.gen.render(z, y, t)


def test_killed_bake_leaves_only_whole_clips_and_resumes(tmp_path, tiny_gen):
    sl = tmp_path / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, tmp_path / "banks")
    setlist = load_setlist(sl)
    with pytest.raises(KeyboardInterrupt):
        bake_setlist(setlist, tmp_path / "banks", _Killer(tiny_gen, 14), fps=FPS, loop_seconds=LOOP,
                     progress=False, batch=2)
    idx = load_index(index_path(tmp_path / "banks"))
    named = [c for s in idx.songs.values() for c in s.clips.values()]
    assert 0 < len(named) < 11
    for c in named:  # every clip the index names is complete
        assert len(read_clip(tmp_path / "banks" / "baked" / c.file)) == c.frames
    assert not list((tmp_path / "banks" / "baked").glob("*/.*partial*"))  # no half files left
    s = bake_setlist(setlist, tmp_path / "banks", tiny_gen, fps=FPS, loop_seconds=LOOP, progress=False)
    assert s.done == 11 - len(named) and s.cached == len(named)


def test_bad_index_is_one_line_with_file_and_field(tmp_path, baked):
    _, banks, _ = baked
    p = tmp_path / "index.json"
    p.write_text("{\n  \"format\": 1,\n  oops\n}")
    with pytest.raises(BankError, match=r"index.json:3:\d+: bake index is not valid JSON"):
        load_index(p)
    data = json.loads(index_path(banks).read_text())
    data["songs"]["Alpha"]["clips"]["idle/0/0"]["frames"] = -1
    p.write_text(json.dumps(data))
    with pytest.raises(BankError, match=r"index.json: bake index: songs.Alpha.clips.idle/0/0.frames"):
        load_index(p)
    data["songs"]["Alpha"]["clips"]["idle/0/0"]["frames"] = 3
    data["songs"]["Alpha"]["clips"]["idle/0/0"]["file"] = "../../etc/passwd.mp4"
    p.write_text(json.dumps(data))
    with pytest.raises(BankError, match=r"clips.idle/0/0.file"):
        load_index(p)
    with pytest.raises(BankError, match="run `livegan bake"):
        load_index(tmp_path / "nothing.json")


def test_progress_is_plain_lines_with_an_eta_when_not_a_terminal(tmp_path, tiny_gen, capsys):
    sl = tmp_path / "sl.yaml"
    sl.write_text("defaults: {model: tiny, clip: tiny, variants: 1, transition: 1}\n"
                  "songs:\n  - title: One\n    sections:\n      - {text: a weasel, classes: [weasel]}\n"
                  "      - {text: a teapot, classes: [teapot]}\n")
    s = bake_setlist(load_setlist(sl), tmp_path / "banks", tiny_gen, fps=5, loop_seconds=1, progress=True)
    err = capsys.readouterr().err.splitlines()
    lines = [x for x in err if x.startswith("bake ")]
    assert s.done == 3 and len(lines) == 3  # one line per clip: two idle loops, one transition
    assert lines[-1].startswith("bake 3/3 clips, 16/16 frames") and "ETA 0 s" in lines[-1]
