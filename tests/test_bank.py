"""Banks: round trip, every kind of damaged file is one BankError, safe file names, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from livegan import bank as bank_mod
from livegan.bank import (FORMAT_VERSION, Bank, SectionKeys, atomic_write_bytes, bank_path, dumps_bank, load_bank,
                          same_generator, save_bank, song_slug)
from livegan.errors import BankError

GEN = {"name": "tiny", "weights": "random:0", "extra": {}}


def keys(text: str, variants: int = 2, latents: int = 5, seed: int = 0) -> SectionKeys:
    rng = np.random.default_rng(seed)
    y = rng.random((variants, 1000)).astype(np.float32)
    return SectionKeys(text, rng.standard_normal((variants, latents, 128)).astype(np.float32),
                       y / y.sum(1, keepdims=True), np.sort(rng.random(variants).astype(np.float32))[::-1].copy(),
                       f"key-{text}", [seed, seed + 1])


def make_bank(song: str = "Song", gen: dict = GEN) -> Bank:
    return Bank(song, dict(gen), "tiny/random:0", [keys("one", 2, seed=1), keys("two", 3, seed=2)],
                {"setlist": "x.yaml"})


def one_line_bank_error(path: Path, **kw) -> str:
    with pytest.raises(BankError) as info:
        load_bank(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ")
    return msg


def write_raw(path: Path, meta, arrays: dict | None = None, raw_meta: str | None = None) -> Path:
    """A safetensors file with the given arrays and livegan metadata, bypassing dumps_bank's checks."""
    z = np.zeros((2, 5, 128), np.float32)
    base = {"z": z, "y": np.full((2, 1000), 1e-3, np.float32), "score": np.zeros(2, np.float32),
            "section": np.zeros(2, np.int32)}
    base.update(arrays or {})
    base = {k: v for k, v in base.items() if v is not None}
    md = {"livegan": raw_meta if raw_meta is not None else json.dumps(meta)}
    path.write_bytes(save(base, metadata=md))
    return path


def good_meta(**over) -> dict:
    m = {"format": FORMAT_VERSION, "song": "a", "generator": dict(GEN), "clip": "tiny", "settings": {},
         "sections": [{"text": "a", "variants": 2, "classes": [1], "cache_key": "k"}]}
    m.update(over)
    return m


# -- round trip ------------------------------------------------------------------
def test_round_trip(tmp_path):
    b = make_bank()
    p = save_bank(b, tmp_path / "b.safetensors")
    got = load_bank(p, expect_generator=GEN)
    assert (got.song, got.generator, got.clip, got.settings) == (b.song, b.generator, b.clip, b.settings)
    assert len(got.sections) == 2 and got.num_latents == 5
    for a, c in zip(b.sections, got.sections):
        assert (a.text, a.cache_key, a.classes) == (c.text, c.cache_key, c.classes)
        for name in ("z", "y", "score"):
            assert np.array_equal(getattr(a, name), getattr(c, name))
            assert getattr(c, name).dtype == np.float32


def test_unicode_song_and_text_round_trip(tmp_path):
    b = Bank("Ça va — 日本", dict(GEN), "tiny", [keys("über 🐋", 1)])
    got = load_bank(save_bank(b, tmp_path / "u.safetensors"))
    assert got.song == "Ça va — 日本" and got.sections[0].text == "über 🐋"


def test_empty_bank_cannot_be_written():
    with pytest.raises(ValueError):
        dumps_bank(Bank("a", GEN, "tiny", []))


# -- damaged files -----------------------------------------------------------------
def test_missing_bank(tmp_path):
    assert "bank not found" in one_line_bank_error(tmp_path / "nope.safetensors")


def test_random_bytes_are_corrupt(tmp_path):
    p = tmp_path / "r.safetensors"
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 8, 9, 100, 5000):
        p.write_bytes(rng.bytes(n))
        assert "corrupt or truncated" in one_line_bank_error(p)
    # a plausible header length followed by garbage
    p.write_bytes((64).to_bytes(8, "little") + rng.bytes(200))
    one_line_bank_error(p)


def test_every_truncation_is_one_bank_error(tmp_path):
    data = dumps_bank(make_bank())
    header_end = 8 + int.from_bytes(data[:8], "little")
    cuts = sorted({0, 1, 4, 7, 8, 9, 20, header_end // 2, header_end - 1, header_end, header_end + 1,
                   header_end + 4, len(data) // 2, len(data) - 4, len(data) - 1})
    p = tmp_path / "t.safetensors"
    for cut in cuts:
        p.write_bytes(data[:cut])
        one_line_bank_error(p)  # any other exception type fails the test


def test_flipped_header_bytes_never_escape_as_other_errors(tmp_path):
    data = bytearray(dumps_bank(make_bank()))
    header_end = 8 + int.from_bytes(data[:8], "little")
    p = tmp_path / "f.safetensors"
    rng = np.random.default_rng(1)
    for pos in rng.integers(8, header_end, 60):
        bad = bytearray(data)
        bad[pos] = (bad[pos] + 1 + int(rng.integers(0, 254))) % 256
        p.write_bytes(bytes(bad))
        try:
            load_bank(p)
        except BankError as e:
            assert "\n" not in str(e)


def test_wrong_format_version(tmp_path):
    for fmt in (FORMAT_VERSION + 1, 0, "1", None, True):
        msg = one_line_bank_error(write_raw(tmp_path / "v.safetensors", good_meta(format=fmt)))
        assert "not supported" in msg and f"reads format {FORMAT_VERSION}" in msg


def test_metadata_missing_or_not_json(tmp_path):
    p = tmp_path / "m.safetensors"
    assert "not JSON" in one_line_bank_error(write_raw(p, None, raw_meta="{nope"))
    p.write_bytes(save({"z": np.zeros((1, 5, 128), np.float32)}))  # no metadata at all
    assert "metadata missing" in one_line_bank_error(p)


@pytest.mark.parametrize("over", [
    {"sections": [1]}, {"sections": "ab"}, {"sections": {"a": 1}}, {"sections": []},
    {"sections": [{"text": "a", "variants": "x"}]}, {"sections": [{"text": "a", "variants": 2, "classes": ["x"]}]},
    {"sections": [{"text": "a", "variants": 2, "classes": 5}]}, {"sections": [{"text": "a", "variants": 3}]},
    {"generator": [1, 2]}, {"generator": "tiny"}, {"settings": [1, 2]}, [1], "x",
])
def test_bad_metadata_is_a_bank_error(tmp_path, over):
    meta = good_meta(**over) if isinstance(over, dict) else over
    one_line_bank_error(write_raw(tmp_path / "m.safetensors", meta))


@pytest.mark.parametrize("key", ["song", "generator", "sections"])
def test_incomplete_metadata(tmp_path, key):
    meta = good_meta()
    del meta[key]
    assert "metadata is incomplete" in one_line_bank_error(write_raw(tmp_path / "m.safetensors", meta))


@pytest.mark.parametrize("array,value", [("z", np.nan), ("z", np.inf), ("y", np.nan), ("score", -np.inf)])
def test_non_finite_values(tmp_path, array, value):
    arrays = {"z": np.zeros((2, 5, 128), np.float32), "y": np.full((2, 1000), 1e-3, np.float32),
              "score": np.zeros(2, np.float32)}
    arrays[array].flat[3 % arrays[array].size] = value
    msg = one_line_bank_error(write_raw(tmp_path / "n.safetensors", good_meta(), arrays))
    assert f"array '{array}' holds NaN or infinite" in msg


@pytest.mark.parametrize("arrays,phrase", [
    ({"z": np.zeros((2, 5, 64), np.float32)}, "inconsistent shapes"),
    ({"z": np.zeros((2, 128), np.float32)}, "inconsistent shapes"),
    ({"z": np.zeros((3, 5, 128), np.float32)}, "inconsistent shapes"),
    ({"y": np.zeros((2, 999), np.float32)}, "inconsistent shapes"),
    ({"section": np.zeros(3, np.int32)}, "inconsistent shapes"),
    ({"z": np.zeros((2, 5, 128), np.float64)}, "dtype float64"),
    ({"section": np.zeros(2, np.int64)}, "dtype int64"),
    ({"score": None}, "'score' missing"),
    ({"section": np.array([0, 5], np.int32)}, "keyframes"),
    ({"section": np.array([-1, -1], np.int32)}, "keyframes"),
])
def test_wrong_shapes_and_dtypes(tmp_path, arrays, phrase):
    assert phrase in one_line_bank_error(write_raw(tmp_path / "s.safetensors", good_meta(), arrays))


def test_generator_mismatch(tmp_path):
    p = save_bank(make_bank(), tmp_path / "g.safetensors")
    msg = one_line_bank_error(p, expect_generator={"name": "biggan-deep-128", "weights": "random:0"})
    assert "made for generator tiny (random:0), not biggan-deep-128 (random:0)" in msg
    one_line_bank_error(p, expect_generator={"name": "tiny", "weights": "random:1"})
    assert load_bank(p, expect_generator={"name": "tiny", "weights": "random:0", "extra": {"x": 1}})
    assert same_generator(GEN, {"name": "tiny", "weights": "random:0"})


def test_too_large(tmp_path, monkeypatch):
    p = save_bank(make_bank(), tmp_path / "big.safetensors")
    monkeypatch.setattr(bank_mod, "MAX_BANK_BYTES", 100)
    assert "too large" in one_line_bank_error(p)


# -- file names --------------------------------------------------------------------
def test_slugs_stay_inside_the_folder(tmp_path):
    folder = tmp_path / "banks"
    titles = ["../../x", "/etc/passwd", "..", ".", "a/b\\c", "con", "CON", "nul", "lpt1", "", "   ", "日本語",
              "x" * 5000, "C:\\Windows\\system32", "~/.bashrc", "a\x00b", "-rf"]
    names = set()
    for t in titles:
        p = bank_path(folder, t)
        assert p.parent == folder
        assert p.resolve().parent == folder.resolve()
        stem = song_slug(t)
        assert "/" not in stem and "\\" not in stem and not stem.startswith(".")
        assert stem.split("-")[0].lower() not in {"con", "prn", "aux", "nul", "lpt1"}
        assert len(p.name) < 100 and p.name.isascii()
        names.add(p.name)
    assert len(names) == len(titles)  # every title gets its own file


def test_titles_that_slug_alike_get_different_names():
    assert song_slug("Hello World!").rsplit("-", 1)[0] == song_slug("hello world?").rsplit("-", 1)[0]
    assert song_slug("Hello World!") != song_slug("hello world?")
    assert song_slug("a" * 300) != song_slug("a" * 301)
    assert song_slug("Night Market") == song_slug("Night Market")  # stable


def test_a_nasty_title_saves_and_loads(tmp_path):
    p = save_bank(make_bank("../../x"), bank_path(tmp_path, "../../x"))
    assert p.parent == tmp_path and load_bank(p).song == "../../x"


# -- atomic writes ------------------------------------------------------------------
def test_atomic_write_leaves_no_temp_file(tmp_path):
    p = save_bank(make_bank(), tmp_path / "a.safetensors")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.safetensors"]
    assert p.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    p = save_bank(make_bank("old"), tmp_path / "a.safetensors")
    before = p.read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_bank(make_bank("new"), p)
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert load_bank(p).song == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.safetensors"]


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "x.bin"
    atomic_write_bytes(p, b"old")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(p, b"new")
    monkeypatch.undo()
    assert p.read_bytes() == b"old" and [x.name for x in tmp_path.iterdir()] == ["x.bin"]


def test_atomic_write_creates_the_folder(tmp_path):
    p = tmp_path / "a" / "b" / "c.bin"
    atomic_write_bytes(p, b"x")
    assert p.read_bytes() == b"x"
