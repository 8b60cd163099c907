"""Lose nothing, clobber nothing: render never overwrites what it didn't make, the world (full disk,
read-only folder) is one line and never costs a finished search, SIGTERM/SIGHUP leave nothing behind,
and presets that contradict themselves are refused.

Disk-full and read-only cases mount a small tmpfs where the test runs as root (skipped with the
reason otherwise); an in-process ENOSPC variant always runs.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from banktools import SETLIST, write_banks

from livegan.bank import bank_path, load_bank
from livegan.cli import main
from livegan.errors import ConfigError
from livegan.triggers.midi_map import parse_preset

pytestmark = pytest.mark.usefixtures("one_thread")
PREP_SETLIST = """\
defaults: {model: tiny, clip: tiny, steps: 1, variants: 1, candidates: 1, cutouts: 2}
songs:
  - title: One
    sections:
      - text: a weasel in the snow
      - text: a goldfish in a teapot
  - title: Two
    sections:
      - text: a gondola under the bridge
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    sl = tmp_path / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, tmp_path / "banks")
    return sl, tmp_path / "banks"


def cli(*args) -> int:
    try:
        main([str(a) for a in args])
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def write_wav(path: Path, seconds: float = 0.5, sr: int = 16000) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    pcm = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm)
    return path


def leftovers(folder: Path) -> list[Path]:
    """Hidden temporary files or folders a writer left behind."""
    return [p for p in folder.rglob(".*") if p.name.endswith((".tmp", ".partial", ".partial.mp4"))
            or ".partial" in p.name]


# -- 5. render -o never clobbers -------------------------------------------------------------------
def test_render_refuses_to_write_over_its_own_inputs(files, tmp_path, capsys) -> None:
    sl, banks = files
    audio = write_wav(tmp_path / "song.wav")
    cues = tmp_path / "cues.txt"
    cues.write_text("0.1 next\n")
    inputs = [sl, audio, cues, bank_path(banks, "Alpha")]
    before = {p: p.read_bytes() for p in inputs}
    for target in inputs:
        for force in ([], ["--force"]):
            rc = cli("render", sl, "--song", "Alpha", "--audio", audio, "--cues", cues, "--banks", banks,
                     "-o", target, *force)
            err = capsys.readouterr().err
            assert rc == 2 and "inputs" in err and "Traceback" not in err, (target, err)
    for folder in (banks, tmp_path):
        assert cli("render", sl, "--song", "Alpha", "--seconds", "1", "--banks", banks, "-o", folder) == 2
        assert "folder" in capsys.readouterr().err
    assert all(p.read_bytes() == data for p, data in before.items())
    other = tmp_path / "notes.mp4"
    other.write_text("my notes")
    assert cli("render", sl, "--song", "Alpha", "--seconds", "1", "--banks", banks, "-o", other) == 2
    assert "--force" in capsys.readouterr().err and other.read_text() == "my notes"


def test_render_replaces_its_own_video_and_with_force_others(files, tmp_path, capsys) -> None:
    sl, banks = files
    out = tmp_path / "v.mp4"
    args = ("render", sl, "--song", "Alpha", "--seconds", "0.3", "--fps", "10", "--size", "32", "--banks", banks,
            "--model", "tiny", "--dtype", "float32", "--device", "cpu")
    assert cli(*args, "-o", out) == 0
    assert cli(*args, "-o", out) == 0, "a video livegan made may be replaced"
    other = tmp_path / "other.mp4"
    other.write_text("not a video")
    assert cli(*args, "-o", other, "--force") == 0 and other.read_bytes()[4:8] == b"ftyp"
    assert not leftovers(tmp_path)


def test_frames_into_a_folder_of_other_files_is_refused_before_rendering(files, tmp_path, capsys) -> None:
    sl, banks = files
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "holiday.jpg").write_bytes(b"x")
    # no --model: refused before any generator is loaded
    assert cli("render", sl, "--song", "Alpha", "--seconds", "1", "--banks", banks, "--frames",
               tmp_path / "pics", "--model", "biggan-deep-512") == 2
    assert "not empty" in capsys.readouterr().err


# -- 6. what the world does: full disks, read-only folders -----------------------------------------
@pytest.fixture
def small_fs(tmp_path):
    """mount(size, ro=False) -> a fresh tmpfs folder; unmounted afterwards. Skips without root."""
    mounts: list[Path] = []

    def mount(size: str = "64k", ro: bool = False) -> Path:
        d = tmp_path / f"mnt{len(mounts)}"
        d.mkdir()
        opts = f"size={size}" + (",ro" if ro else "")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or 'not root'}): "
                        "the in-process ENOSPC test covers the code path")
        mounts.append(d)
        return d

    yield mount
    for d in mounts:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def fill(folder: Path) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_prep_onto_a_full_disk_keeps_the_search(tmp_path, small_fs, livegan_cache, capsys) -> None:
    sl = tmp_path / "sl.yaml"
    sl.write_text(PREP_SETLIST)
    disk = small_fs("24k")
    rc = cli("prep", sl, "--out", disk / "banks", "-q", "--no-sheets")
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and "No space left" in err, err
    assert "saved in" in err, err
    rescued = sorted((livegan_cache / "rescued").glob("*.safetensors"))
    assert rescued and all(load_bank(p).song in ("One", "Two") for p in rescued)
    assert not leftovers(disk)


def test_prep_into_a_read_only_folder_is_one_line(tmp_path, small_fs, livegan_cache, capsys) -> None:
    sl = tmp_path / "sl.yaml"
    sl.write_text(PREP_SETLIST)
    ro = small_fs("64k", ro=True)
    rc = cli("prep", sl, "--out", ro / "banks", "-q", "--no-sheets")
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and "Read-only" in err and "saved in" in err, err


def test_summary_onto_a_full_disk_is_one_line(files, small_fs, capsys) -> None:
    sl, banks = files
    disk = small_fs("16k")
    fill(disk)
    rc = cli("show", sl, "--banks", banks, "--headless", "--seconds", "0.2", "--model", "tiny", "--device", "cpu",
             "--summary", disk / "summary.json")
    err = capsys.readouterr().err
    assert rc == 2 and "disk is full" in err and "Traceback" not in err, err
    assert not leftovers(disk)


def test_enospc_everywhere_in_process(files, tmp_path, monkeypatch, capsys, livegan_cache) -> None:
    """No mount needed: every atomic write fails with ENOSPC."""
    import livegan.bank as bankmod
    import livegan.engine.statefile as statefile

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    sl, banks = files
    monkeypatch.setattr(statefile, "atomic_write_bytes", full)
    rc = cli("show", sl, "--banks", banks, "--headless", "--seconds", "0.2", "--model", "tiny", "--device", "cpu",
             "--summary", tmp_path / "s.json")
    err = capsys.readouterr().err
    assert rc == 2 and "disk is full" in err and "Traceback" not in err, err
    psl = tmp_path / "prep.yaml"
    psl.write_text(PREP_SETLIST)
    real = bankmod.atomic_write_bytes
    monkeypatch.setattr(bankmod, "atomic_write_bytes",
                        lambda p, d: full(p, d) if str(tmp_path / "out") in str(p) else real(p, d))
    rc = cli("prep", psl, "--out", tmp_path / "out", "-q", "--no-sheets")
    err = capsys.readouterr().err
    assert rc == 2 and "saved in" in err and "Traceback" not in err, err
    assert {load_bank(p).song for p in (livegan_cache / "rescued").glob("*.safetensors")} >= {"One", "Two"}


# -- 7. SIGTERM and SIGHUP ---------------------------------------------------------------------------
def spawn(*args, cwd: Path, cache: Path) -> subprocess.Popen:
    env = {**os.environ, "LIVEGAN_CACHE": str(cache), "OMP_NUM_THREADS": "1", "SDL_VIDEODRIVER": "dummy"}
    return subprocess.Popen([sys.executable, "-m", "livegan.cli", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_importing_livegan_installs_no_signal_handlers() -> None:
    # Compared with what the process had before (under nohup SIGHUP starts ignored, not SIG_DFL).
    code = ("import importlib, pkgutil, signal\n"
            "before = [signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)]\n"
            "import livegan\n"
            "for m in pkgutil.walk_packages(livegan.__path__, 'livegan.'):\n"
            "    importlib.import_module(m.name)\n"
            "after = [signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)]\n"
            "print(*(a is b for a, b in zip(after, before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "SDL_VIDEODRIVER": "dummy"})
    assert out.stdout.split() == ["True", "True"], out.stderr[-800:]


def test_sigterm_at_random_points_leaves_nothing_behind(files, tmp_path, livegan_cache) -> None:
    """Renders (mp4 and frames) and preps, each SIGTERMed or SIGHUPed at a random moment, in parallel.
    Stale temp files of a dead process are swept by the next run; a live process's are not."""
    sl, banks = files
    psl = tmp_path / "prep.yaml"
    psl.write_text(PREP_SETLIST.replace("steps: 1", "steps: 40"))
    stale_pid = dead_pid()
    rng = random.Random(5)
    runs = []
    for i in range(6):
        d = tmp_path / f"run{i}"
        d.mkdir()
        stale = d / f".old.mp4.pid{stale_pid}.abcd.partial.mp4"
        stale.write_bytes(b"half a video")
        live = d / f".x.pid{os.getpid()}.abcd.tmp"  # a live writer's: must survive
        live.write_bytes(b"busy")
        sig = rng.choice([signal.SIGTERM, signal.SIGHUP])
        if i % 3 == 0:
            cmd = ("prep", psl, "--out", d, "-q", "--no-sheets")
        elif i % 3 == 1:
            cmd = ("render", sl, "--song", "Alpha", "--seconds", "30", "--fps", "10", "--banks", banks,
                   "--model", "tiny", "--device", "cpu", "-o", d / "v.mp4")
        else:
            cmd = ("render", sl, "--song", "Alpha", "--seconds", "30", "--fps", "10", "--banks", banks,
                   "--model", "tiny", "--device", "cpu", "--frames", d / "frames")
        runs.append((d, sig, rng.uniform(3.0, 8.0), spawn(*cmd, cwd=d, cache=livegan_cache), stale, live))
    start = time.monotonic()
    pending = list(runs)
    while pending:
        for r in list(pending):
            if time.monotonic() - start >= r[2] or r[3].poll() is not None:
                if r[3].poll() is None:
                    r[3].send_signal(r[1])
                pending.remove(r)
        time.sleep(0.02)
    found = 0
    codes = []
    for d, sig, _, p, stale, live in runs:
        err = p.communicate(timeout=300)[1].decode()
        codes.append(p.returncode)
        assert "Traceback" not in err, err[-800:]
        assert p.returncode in (0, 128 + sig, -sig), (p.returncode, sig, p.args[3], err[-2000:])  # -sig: before main() ran
        found += len([x for x in leftovers(d) if x not in (live, stale)])
        for f in d.rglob("*.safetensors"):
            load_bank(f)
        if p.returncode != 0:
            assert not (d / "v.mp4").exists() and not (d / "frames").exists()
    # The next run in each folder sweeps the dead run's temp files and leaves the live one alone.
    for i, (d, _, _, p, stale, live) in enumerate(runs):
        if i % 3 == 0:
            assert cli("prep", psl, "--out", d, "-q", "--no-sheets", "--steps", "1") == 0
        else:
            assert cli("render", sl, "--song", "Alpha", "--seconds", "0.2", "--fps", "10", "--size", "32",
                       "--banks", banks, "--model", "tiny", "--device", "cpu", "--force",
                       *(("-o", d / "v.mp4") if i % 3 == 1 else ("--frames", d / "frames"))) == 0
        assert not stale.exists() and live.exists()
        found += len([x for x in leftovers(d) if x != live])
    print(f"\nSIGTERM/SIGHUP runs: exit codes {codes}, leftovers found {found}")
    assert found == 0


def test_show_on_sigterm_saves_state_and_writes_the_summary(files, tmp_path, livegan_cache) -> None:
    sl, banks = files
    cues = tmp_path / "cues.txt"
    cues.write_text("0.1 next\n")
    summary = tmp_path / "summary.json"
    p = spawn("show", sl, "--banks", banks, "--headless", "--cues", cues, "--model", "tiny", "--device", "cpu",
              "--summary", summary, cwd=tmp_path, cache=livegan_cache)
    state = banks / ".show-state.json"
    deadline = time.monotonic() + 90
    while not state.exists() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert p.poll() is None, p.communicate()[1].decode()[-800:]
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=300)[1].decode()
    assert p.returncode == 128 + signal.SIGTERM, err[-800:]
    assert "Traceback" not in err and "show ended" in err
    s = json.loads(summary.read_text())
    assert s["seconds"] > 0 and s["cues"] >= 1  # (frames may still be 0 on a loaded machine: not counted on)
    assert json.loads(state.read_text())["position"]["section"] == 1
    assert not leftovers(tmp_path)


# -- 8. presets that contradict themselves -----------------------------------------------------------
@pytest.mark.parametrize("mappings, phrase", [
    ([{"note": True, "cue": "next"}], "not true"),
    ([{"cc": False, "cue": "next"}], "not false"),
    ([{"note": 36, "cue": "next"}, {"note": 36, "cue": "prev"}], "contradict"),
    ([{"note": 36, "cue": "goto", "arg": 2}, {"note": 36, "cue": "goto", "arg": 5}], "contradict"),
    ([{"note": "36-43", "cue": "goto", "arg": 1}, {"note": 40, "channel": 3, "cue": "song-next"}], "contradict"),
    ([{"cc": 20, "cue": "song-next"}, {"cc": 20, "cue": "song-prev"}], "contradict"),
])
def test_contradicting_presets_are_errors(mappings, phrase) -> None:
    with pytest.raises(ConfigError, match=phrase):
        parse_preset({"name": "t", "mappings": mappings})


def test_the_same_note_on_other_channels_or_with_a_toggle_is_fine() -> None:
    parse_preset({"name": "t", "mappings": [{"note": 36, "channel": 1, "cue": "next"},
                                             {"note": 36, "channel": 2, "cue": "prev"},
                                             {"note": 36, "channel": 1, "cue": "tap"}]})
