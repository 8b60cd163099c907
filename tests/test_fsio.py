"""Files livegan makes are the user's: they get the umask like any other program's, never mkstemp's 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from livegan.fsio import atomic_write_bytes, current_umask
from livegan.outputs import FramesRecorder, VideoRecorder


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_umask_is_read_without_changing_it(umask) -> None:
    assert current_umask() == umask
    assert current_umask() == umask


def test_every_kind_of_file_gets_the_umask(tmp_path, umask) -> None:
    file_mode, dir_mode = 0o666 & ~umask, 0o777 & ~umask
    atomic_write_bytes(tmp_path / "bank.bin", b"x")
    assert mode(tmp_path / "bank.bin") == file_mode
    frame = np.zeros((16, 16, 3), np.uint8)
    with VideoRecorder(tmp_path / "silent.mp4", fps=10, preset="ultrafast") as rec:  # no audio: once 0600
        rec.present(frame)
    assert mode(tmp_path / "silent.mp4") == file_mode
    with FramesRecorder(tmp_path / "frames") as rec:
        rec.present(frame)
    assert mode(tmp_path / "frames") == dir_mode  # mkdtemp made it 0700
    assert all(mode(p) == file_mode for p in (tmp_path / "frames").iterdir())
    from livegan.triggers.learn import write_preset
    out = write_preset({"name": "mine", "mappings": [{"note": 60, "cue": "next"}]}, tmp_path / "mine.yaml")
    assert mode(out) == file_mode  # (it wrote its own 0600 temp file before)
