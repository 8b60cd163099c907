"""The baked show end to end: `livegan bake` and `show --baked` from the CLI, the session choosing
the baked player (--baked, --rehearse without a GPU) or the fallback wrapper, the BAKED overlay,
and `--device` choosing CUDA, then MPS, then the CPU (without the hardware)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from banktools import SETLIST, write_banks

import livegan.bake.wiring as wiring
import livegan.models.registry as registry
from livegan.bake.fallback import FallbackWorker
from livegan.bake.player import BakedPlayer
from livegan.clock import ManualClock
from livegan.cli import main
from livegan.engine.worker import RenderWorker
from livegan.errors import ModelError
from livegan.outputs.null import NullOutput
from livegan.show.session import ShowConfig, auto_dtype, build_show
from livegan.triggers.events import Cue
from test_worker import wait_for

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def baked_files(tmp_path_factory):
    """(setlist, banks) with a bake made through the CLI (tiny model, 10 fps, 1 s loops)."""
    import torch
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("bakeshow")
    sl = d / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, d / "banks")
    main(["bake", str(sl), "--banks", str(d / "banks"), "--model", "tiny", "--device", "cpu", "--dtype", "float32",
          "--fps", "10", "--loop", "1", "--quiet"])
    return sl, d / "banks"


def test_bake_cli_reports_size_and_rate(baked_files, capsys):
    sl, banks = baked_files
    main(["bake", str(sl), "--banks", str(banks), "--model", "tiny", "--device", "cpu", "--dtype", "float32",
          "--fps", "10", "--loop", "1", "--quiet"])
    out = capsys.readouterr().out
    assert "baked: 0 clips rendered, 8 cached" in out and "MB per minute" in out


def test_headless_show_baked_with_a_cue_file(baked_files, tmp_path: Path, capsys):
    sl, banks = baked_files
    cues = tmp_path / "cues.txt"
    cues.write_text("0.2 next\n0.5 next\n0.8 song-next\n")
    summary = tmp_path / "summary.json"
    main(["show", str(sl), "--banks", str(banks), "--baked", "--headless", "--cues", str(cues), "--seconds", "1.5",
          "--summary", str(summary)])
    s = json.loads(summary.read_text())
    assert s["cues"] == 3 and s["dropped_cues"] == 0 and s["frames"] > 10
    assert "BAKED: playing 8 baked clips" in capsys.readouterr().err


def test_baked_show_without_a_bake_is_one_line_exit_2(tmp_path: Path, capsys):
    sl = tmp_path / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    with pytest.raises(SystemExit) as e:
        main(["show", str(sl), "--banks", str(tmp_path / "none"), "--baked", "--headless", "--seconds", "0.1"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "index.json: no baked clips here (run `livegan bake SETLIST` first)" in err and "Traceback" not in err


def cfg(sl, banks, **kw) -> ShowConfig:
    return ShowConfig(setlist=sl, banks=banks, headless=True, device="cpu", dtype="float32", **kw)


def test_session_picks_the_source(baked_files, monkeypatch):
    sl, banks = baked_files
    clock = ManualClock()
    show = build_show(cfg(sl, banks, baked=True), clock=clock, output=NullOutput())
    assert isinstance(show.worker, BakedPlayer) and show.generator is None
    show.overlay_on = True
    assert "BAKED" in show.overlay(0.0)["status"]
    assert show.overlay(0.0)["notice"].startswith("BAKED")
    monkeypatch.setattr(wiring, "gpu_present", lambda: False)
    assert isinstance(build_show(cfg(sl, banks, rehearse=True), clock=clock, output=NullOutput()).worker, BakedPlayer)
    monkeypatch.setattr(wiring, "gpu_present", lambda: True)  # a GPU: rehearse renders live (clips stand by)
    live = build_show(cfg(sl, banks, rehearse=True), clock=clock, output=NullOutput())
    assert isinstance(live.worker, FallbackWorker) and live.worker.badges == ()
    assert live.worker.on_switch is not None and live.worker.generator is live.generator
    # A cue interrupts the live generator's batch in flight, so no latency budget holds its batches.
    assert live.generator.should_stop == live.worker.live.should_stop and live.worker.live.interruptible


def test_a_bake_for_another_generator_is_no_fallback_and_the_show_says_why(baked_files, tmp_path: Path):
    import shutil
    sl, banks0 = baked_files
    banks = tmp_path / "banks"
    shutil.copytree(banks0, banks)
    idx = banks / "baked" / "index.json"
    idx.write_text(idx.read_text().replace('"random:0"', '"random:9"'))
    said: list[str] = []
    show = build_show(cfg(sl, banks), clock=ManualClock(), output=NullOutput(), notice=said.append)
    assert type(show.worker) is RenderWorker
    assert any("not usable as a fallback" in m and "random:9" in m for m in said), said


def test_show_switches_to_baked_and_says_so(baked_files):
    """Through the real Show: a failing generator puts BAKED on screen and in the warnings; cues still count."""
    sl, banks = baked_files
    clock = ManualClock()
    show = build_show(cfg(sl, banks), clock=clock, output=NullOutput())
    fw = show.worker
    assert isinstance(fw, FallbackWorker)

    class Broken:
        def render(self, z, y, truncation):
            raise RuntimeError("test: the generator broke")

    # Really failing renders: bumping the error count while the real tiny generator ran raced with
    # its first frame (a frame kept before the watchdog looked resets the failures in a row).
    fw.generator = Broken()
    fw.start()
    try:
        assert wait_for(lambda: fw.live.stats.errors >= 3)
        fw.watchdog()
        show.dispatch(Cue("next", source="test"), clock.now())
        show.overlay_on = True
        ov = show.overlay(clock.now())
        assert "BAKED" in ov["status"] and any("baked clips" in w for w in ov["warnings"])
        assert show.summary.cues == 1 and show.director.state.cues_handled == 1
    finally:
        fw.stop()


# -- devices ---------------------------------------------------------------------------------------
def _fake_hw(monkeypatch, cuda: bool, mps: bool) -> None:
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize("cuda,mps,want", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, want):
    _fake_hw(monkeypatch, cuda, mps)
    assert registry.resolve_device("auto") == want
    assert wiring.gpu_present() == (cuda or mps)


def test_explicit_mps_is_checked(monkeypatch):
    _fake_hw(monkeypatch, False, True)
    assert registry.resolve_device("mps") == "mps"
    assert auto_dtype("mps") == "float16"  # fp16 autocast on Apple GPUs
    _fake_hw(monkeypatch, False, False)
    with pytest.raises(ModelError, match="mps asked for, but Apple's MPS is not available"):
        registry.resolve_device("mps")
    with pytest.raises(ModelError, match=r"unknown device 'metal' \(auto, cpu, cuda, cuda:N, mps\)"):
        registry.resolve_device("metal")


def test_prep_then_bake_in_one_command(tmp_path: Path, capsys):
    sl = tmp_path / "set.yaml"
    sl.write_text("defaults: {model: tiny, clip: tiny, variants: 1, candidates: 2, cutouts: 8}\n"
                  "songs:\n  - title: Two\n    sections:\n      - text: a gondola under the bridge\n")
    main(["prep", str(sl), "--steps", "1", "-q", "--no-sheets", "--bake", "--bake-fps", "5"])
    out = capsys.readouterr().out
    assert "done: 1 searched" in out and "baked: 1 clips rendered" in out
    idx = json.loads((tmp_path / "set-banks" / "baked" / "index.json").read_text())
    assert idx["fps"] == 5 and list(idx["songs"]["Two"]["clips"]) == ["idle/0/0"]


def test_python_dash_m_reaches_commands_registered_by_other_modules():
    """`python -m livegan.cli bake` (and render) used to say "No such command": they register on the imported app."""
    import os
    import subprocess
    import sys
    for cmd in ("bake", "render"):
        r = subprocess.run([sys.executable, "-m", "livegan.cli", cmd, "--help"], capture_output=True, text=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
        assert r.returncode == 0 and f"livegan.cli {cmd} [OPTIONS]" in r.stdout, r.stderr[-300:]
