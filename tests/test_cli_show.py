"""The show/render/onsets commands as a user runs them: summaries, one-line errors, help.

Two tests start a real ``livegan`` process (a headless show, a bad cue
file) to check what the terminal sees; the rest call ``livegan.cli.main``
in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from banktools import SETLIST, write_banks

from livegan.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")  # torch on one thread: see conftest



@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    sl = tmp_path / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, tmp_path / "banks")
    return sl, tmp_path / "banks"


def livegan(*args, env_extra: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "livegan.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def cli(*args) -> int:
    try:
        main([str(a) for a in args])
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_headless_show_writes_a_sane_summary(files, tmp_path: Path):
    sl, banks = files
    cues = tmp_path / "cues.txt"
    cues.write_text("# three cues within the show, one after it\n0.3 next\n0.8 blackout\n1.2 blackout\n9 next\n")
    out = tmp_path / "summary.json"
    r = livegan("show", sl, "--banks", banks, "--headless", "--cues", cues, "--seconds", "2", "--summary", out,
                "--device", "cpu")
    assert r.returncode == 0, r.stderr
    s = json.loads(out.read_text())
    assert s["cues"] == 3 and s["dropped_cues"] == 0
    assert s["seconds"] >= 1.9
    # at most the display rate (the loop never runs ahead of it); how close it gets depends on the load
    assert 10 < s["frames"] <= 61 * s["seconds"] + 1 and s["fps"] <= 61
    assert s["generated"] > 5
    assert s["faults"]["generator_errors"] == 0 and s["faults"]["worker_restarts"] == 0
    assert s["warnings"] == []
    assert "Traceback" not in r.stderr and "show ended:" in r.stderr
    state = json.loads((banks / ".show-state.json").read_text())
    assert state["position"]["section"] == 1, "the position was saved for --resume"


def test_show_with_a_bad_cue_file_is_one_line_and_exit_2(files, tmp_path: Path):
    sl, banks = files
    cues = tmp_path / "cues.txt"
    cues.write_text("0.5 next\n1.0 goto zero\n")
    r = livegan("show", sl, "--banks", banks, "--headless", "--cues", cues, "--seconds", "1")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert f"{cues}:2:" in lines[0] and "goto" in lines[0]
    assert "Traceback" not in r.stderr + r.stdout


def test_show_with_missing_banks_warns_but_plays(files, tmp_path: Path, capsys):
    sl, _ = files
    out = tmp_path / "summary.json"
    assert cli("show", sl, "--banks", tmp_path / "nowhere", "--headless", "--seconds", "0.5", "--summary", out,
               "--model", "tiny", "--device", "cpu") == 0
    s = json.loads(out.read_text())
    assert s["frames"] > 10
    assert any("'Alpha'" in w for w in s["warnings"]) and any("'Beta'" in w for w in s["warnings"])


def test_render_needs_exactly_one_output(files, tmp_path: Path, capsys):
    sl, banks = files
    assert cli("render", sl, "--song", "Alpha", "--seconds", "1", "--banks", banks) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "-o" in err[0] and "--frames" in err[0]
    assert cli("render", sl, "--song", "Alpha", "--seconds", "1", "-o", tmp_path / "a.mp4",
               "--frames", tmp_path / "f") == 2
    assert not (tmp_path / "a.mp4").exists() and not (tmp_path / "f").exists()


def test_render_of_an_unknown_song_names_the_choices(files, tmp_path: Path, capsys):
    sl, banks = files
    assert cli("render", sl, "--song", "Gamma", "--seconds", "1", "-o", tmp_path / "a.mp4") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Gamma" in err[0] and "Alpha" in err[0]


def test_onsets_prints_times(tmp_path: Path, capsys):
    sr = 16000
    x = np.zeros(sr * 2, np.float32)
    for c in (0.4, 1.3):
        i = int(c * sr)
        x[i:i + 400] = np.random.default_rng(1).uniform(-0.8, 0.8, 400)
    wav = tmp_path / "hits.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((x * 32767).astype("<i2").tobytes())
    assert cli("onsets", wav) == 0
    times = [float(t) for t in capsys.readouterr().out.split()]
    assert len(times) == 2 and abs(times[0] - 0.4) < 0.05 and abs(times[1] - 1.3) < 0.05
    assert cli("onsets", wav, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert [round(d["time"], 1) for d in data] == [0.4, 1.3]


def test_help_lists_every_command_and_show_help_the_keys(capsys):
    assert cli("--help") == 0
    out = capsys.readouterr().out
    for cmd in ("check", "prep", "show", "demo", "render", "bench", "onsets", "devices", "learn"):
        assert f"  {cmd} " in out, cmd
    assert cli("show", "--help") == 0
    out = " ".join(capsys.readouterr().out.split())
    for key in ("Space", "Left", "Page Down", "B: blackout", "F: freeze", "H: overlay", "Esc twice"):
        assert key in out, key
    for text in ("--osc ", "127.0.0.1", "--osc-send", "--link", "--clock", "/livegan/cue/next",
                 "/livegan/param/truncation", "link > clock > osc > tap > audio > song"):
        assert text in out, text
    assert cli("render", "--help") == 0
    out = capsys.readouterr().out
    for opt in ("--cues", "--audio", "--frames", "--captions", "--seconds", "--fps"):
        assert opt in out


def test_demo_without_a_display_plays_headless_with_the_offline_banner(tmp_path: Path, monkeypatch, capsys,
                                                                       tiny_gen):
    """The demo's flow with prep stubbed out (banks written directly) and the stand-in models."""
    import livegan.cli.show as cli_mod  # where demo looks its helpers up
    import livegan.prep.runner as runner
    import livegan.show.session as session

    def fake_prep(sl, out, gen, clip, **kw):
        write_banks(cli_mod.demo_setlist_path(), Path(out))
        return runner.PrepSummary(done=sum(len(s.sections) for s in sl.songs))

    shows = []
    real_run = session.run_show
    monkeypatch.setattr(cli_mod, "load_prep_models", lambda *a, **kw: (tiny_gen, None))  # prep is stubbed: no CLIP
    monkeypatch.setattr(runner, "prep_setlist", fake_prep)
    monkeypatch.setattr(session, "run_show", lambda sh, s: (shows.append(sh), real_run(sh, s))[1])
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(var, raising=False)
    assert cli("demo", "--out", tmp_path / "banks", "--seconds", "2") == 0
    err = capsys.readouterr().err
    assert "no display found" in err and "demo ended:" in err
    (show,) = shows
    assert show.output.name == "null"
    assert show.opt.notice and show.opt.notice.startswith("OFFLINE"), "the stand-ins are said on screen"
    assert show.summary.cues == 1, "the demo's cue file (first cue at 1.5 s) drives it"
    assert show.summary.warnings == [], "its banks were found and match"


def test_demo_in_an_invisible_window_ends_by_itself_and_says_so(tmp_path: Path, monkeypatch, capsys, tiny_gen):
    """SDL's dummy driver: the window path, but nobody can see it or press Esc, so the demo must end."""
    import livegan.cli.show as cli_mod
    import livegan.prep.runner as runner
    import livegan.show.session as session

    def fake_prep(sl, out, gen, clip, **kw):
        write_banks(cli_mod.demo_setlist_path(), Path(out))
        return runner.PrepSummary(done=sum(len(s.sections) for s in sl.songs))

    runs = []
    real_run = session.run_show
    monkeypatch.setattr(cli_mod, "load_prep_models", lambda *a, **kw: (tiny_gen, None))
    monkeypatch.setattr(runner, "prep_setlist", fake_prep)
    # The length asked for is recorded; the run itself is kept short (the cue file's first cue is at 1.5 s).
    monkeypatch.setattr(session, "run_show", lambda sh, s: (runs.append((sh, s)), real_run(sh, 2.0))[1])
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("DISPLAY", ":99")  # a display is there; the driver still shows nothing
    assert cli("demo", "--out", tmp_path / "banks") == 0
    err = capsys.readouterr().err
    assert "SDL_VIDEODRIVER=dummy" in err and "12 s" in err and "demo ended:" in err, err
    ((show, seconds),) = runs
    assert seconds == cli_mod.DEMO_SECONDS
    assert show.output.name == "window", "the window path runs, as before"
    assert show.summary.cues == 1, "the scripted cues drive it: no key can be pressed"

    runs.clear()
    assert cli("demo", "--out", tmp_path / "banks", "--seconds", "3") == 0
    assert "SDL_VIDEODRIVER=dummy" not in capsys.readouterr().err, "a length was given: nothing to say"
    assert runs[0][1] == 3.0


def test_learn_without_midi_says_one_thing_that_matches_what_happens(tmp_path: Path, monkeypatch, capsys):
    import livegan.triggers.midi as midi

    def no_midi(port=None):
        raise midi.MidiUnavailable("MIDI unavailable: no ALSA sequencer (/dev/snd/seq is missing)")
    monkeypatch.setattr(midi, "open_raw", no_midi)
    assert cli("learn", "-o", tmp_path / "mine.yaml") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no ALSA sequencer" in err and "MIDI learn needs a MIDI input" in err, err
    assert "running without MIDI" not in err  # it stops: it doesn't run on without MIDI
    assert not (tmp_path / "mine.yaml").exists()


def test_show_with_a_bad_osc_preset_or_target_is_one_line_and_exit_2(tmp_path: Path, capsys):
    bad = tmp_path / "osc.yaml"
    bad.write_text("mappings:\n  - {address: /x, cue: nxt}\n")
    sl = tmp_path / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    with pytest.raises(SystemExit) as e:
        main(["show", str(sl), "--headless", "--osc", "0", "--osc-map", str(bad)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:" in err and "did you mean 'next'" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as e:
        main(["show", str(sl), "--headless", "--osc-send", "nohost"])
    assert e.value.code == 2 and "HOST:PORT" in capsys.readouterr().err


def test_options_that_need_another_say_so(tmp_path: Path, capsys):
    sl = tmp_path / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    for args, words in ((["--osc-map", "touchosc-simple"], "--osc-map needs --osc PORT"),
                        (["--audio-tempo"], "--audio-tempo needs --audio or --audio-file")):
        with pytest.raises(SystemExit) as e:
            main(["show", str(sl), "--headless", *args])
        assert e.value.code == 2 and words in capsys.readouterr().err


def test_the_render_thread_is_lowered_only_where_the_show_has_a_window_on_a_screen(monkeypatch, tmp_path):
    from livegan.outputs.null import NullOutput
    from livegan.show.session import ShowConfig, on_screen

    cfg = ShowConfig(setlist=tmp_path / "s.yaml")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    assert on_screen(cfg)
    assert not on_screen(ShowConfig(setlist=tmp_path / "s.yaml", headless=True))
    assert not on_screen(cfg, NullOutput()), "an output given by the caller (tests, bench) is not a screen"
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    assert not on_screen(cfg), "SDL's dummy driver (CI) shows nothing"
