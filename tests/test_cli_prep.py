"""`livegan prep` end to end with the tiny models: a real run, user errors, and SIGKILL then resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from livegan.bank import bank_path, load_bank
from livegan.prep.runner import prep_setlist
from livegan.setlist import load_setlist

pytestmark = pytest.mark.usefixtures("one_thread")

SETLIST = """\
defaults: {model: tiny, clip: tiny, variants: 1, candidates: 2, cutouts: 8}
songs:
  - title: One
    sections:
      - text: a weasel in the snow
      - text: a goldfish in a teapot
  - title: Two
    sections:
      - text: a gondola under the bridge
"""


def cli(*args: str, cache: Path) -> list[str]:
    return [sys.executable, "-m", "livegan.cli", *args]


def env(cache: Path) -> dict[str, str]:
    return {**os.environ, "LIVEGAN_CACHE": str(cache), "OMP_NUM_THREADS": "1"}


def run(*args: str, cache: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args, cache=cache), capture_output=True, text=True, timeout=timeout, env=env(cache))


def banks_of(out: Path) -> list[Path]:
    return [bank_path(out, t) for t in ("One", "Two")]


def test_prep_runs_and_reports(tmp_path, livegan_cache):
    sl = tmp_path / "set.yaml"
    sl.write_text(SETLIST)
    r = run("prep", str(sl), "--steps", "2", "-q", "--no-sheets", cache=livegan_cache)
    assert r.returncode == 0, r.stderr
    assert "done: 3 searched, 0 cached" in r.stdout
    out = tmp_path / "set-banks"  # the default: beside the setlist
    for b in banks_of(out):
        assert load_bank(b, expect_generator={"name": "tiny", "weights": "random:0"})
    r = run("prep", str(sl), "--steps", "2", "-q", "--no-sheets", cache=livegan_cache)
    assert r.returncode == 0 and "done: 0 searched, 3 cached" in r.stdout


def test_progress_into_a_log_is_a_line_per_section(tmp_path, livegan_cache):
    """stderr is a pipe here, as in `livegan prep ... 2> log`: a plain line per section, no live bar."""
    sl = tmp_path / "set.yaml"
    sl.write_text(SETLIST)
    r = run("prep", str(sl), "--steps", "2", "--no-sheets", cache=livegan_cache)
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("prep [")]
    assert [x.split(":")[0] for x in lines] == ["prep [1/3] One · section 1/2", "prep [2/3] One · section 2/2",
                                                 "prep [3/3] Two · section 1/1"], r.stderr
    assert all(" best " in x and "elapsed" in x and "ETA" in x for x in lines)
    assert "\x1b[" not in r.stderr


def test_no_sheets_means_no_sheets(tmp_path, livegan_cache):
    sl = tmp_path / "set.yaml"
    sl.write_text(SETLIST)
    r = run("prep", str(sl), "--steps", "1", "-q", "--no-sheets", "--song", "Two", cache=livegan_cache)
    assert r.returncode == 0, r.stderr
    assert not list((tmp_path / "set-banks").glob("*.png"))


def test_prep_user_errors_are_one_line(tmp_path, livegan_cache):
    sl = tmp_path / "set.yaml"
    sl.write_text(SETLIST)
    bad = tmp_path / "bad.yaml"
    bad.write_text("songs:\n  - title: a\n    sections:\n      - text: hi\n        classes: [goldfsh]\n")
    for args, phrase in ((("prep", str(bad)), f"{bad}:5:19: unknown ImageNet class"),
                         (("prep", str(sl), "--model", "biggan-deep-64"), "unknown generator"),
                         (("prep", str(sl), "--song", "Three"), "no song titled 'Three'")):
        r = run(*args, "-q", cache=livegan_cache)
        assert r.returncode == 2, (args, r.stderr)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and phrase in lines[0], (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_sigkill_mid_prep_then_resume(tmp_path, livegan_cache, tiny_gen, tiny_clip):
    sl_path = tmp_path / "set.yaml"
    sl_path.write_text(SETLIST)
    out = tmp_path / "out"
    steps = 60  # long enough per section that the kill lands mid-search of the second
    proc = subprocess.Popen(cli("prep", str(sl_path), "--out", str(out), "--model", "tiny", "--clip", "tiny",
                                "--steps", str(steps), "-q", "--no-sheets", cache=livegan_cache),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env(livegan_cache))
    cache = out / ".cache"
    deadline = time.monotonic() + 600  # an event wait; the cap only stops a hang
    try:
        while not list(cache.glob("*.safetensors")):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "no cache entry appeared"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=300)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL  # killed mid-way, not finished
    entries = list(cache.glob("*.safetensors"))
    assert 1 <= len(entries) < 3
    for e in entries:
        load_bank(e)
    for b in banks_of(out):  # a bank is either absent or whole
        if b.exists():
            load_bank(b)

    sl = load_setlist(sl_path)
    s = prep_setlist(sl, out, tiny_gen, tiny_clip, steps=steps, progress=False, sheets=False)
    assert s.cached == len(entries) and s.done == 3 - len(entries)
    for b in banks_of(out):
        assert len(load_bank(b, expect_generator={"name": "tiny", "weights": "random:0"}).sections) >= 1
    assert not [p for p in out.rglob("*.tmp")] or all(p.parent == cache for p in out.rglob("*.tmp"))
