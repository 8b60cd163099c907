"""Virtual camera, Syphon and Spout: fakes check what would be sent; the real import paths where they exist."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from livegan.errors import DeviceError
from livegan.outputs.fanout import OutputThread
from livegan.outputs.texshare import SpoutOutput, SyphonOutput, rgb_to_rgba
from livegan.outputs.virtualcam import PyvirtualcamBackend, VirtualCamOutput


class FakeCam:
    def __init__(self) -> None:
        self.opened: list[tuple[tuple[int, int], float]] = []
        self.sent: list[np.ndarray] = []

    def open(self, size, fps) -> str:
        self.opened.append((size, fps))
        return "/dev/video9"

    def send(self, frame) -> None:
        self.sent.append(frame)

    def close(self) -> None:
        pass


class FakeTexture:
    def __init__(self) -> None:
        self.opened: list[tuple[str, tuple[int, int]]] = []
        self.sent: list[np.ndarray] = []

    def open(self, name, size) -> None:
        self.opened.append((name, size))

    def send(self, rgba) -> None:
        self.sent.append(rgba)

    def close(self) -> None:
        pass


def test_virtual_camera_gets_rgb_at_the_show_rate() -> None:
    cam = FakeCam()
    out = VirtualCamOutput(fps=30.0, backend=cam)
    with out:
        out.present(np.full((90, 160, 3), 7, np.uint8))
        out.present(np.full((90, 160, 3), 8, np.uint8))
    assert cam.opened == [((160, 90), 30.0)] and out.device == "/dev/video9"
    assert [f.shape for f in cam.sent] == [(90, 160, 3)] * 2 and cam.sent[1][0, 0, 0] == 8


@pytest.mark.parametrize("cls, kind", [(SyphonOutput, "syphon"), (SpoutOutput, "spout")])
def test_texture_sharing_sends_named_rgba(cls, kind) -> None:
    tex = FakeTexture()
    out = cls("VJ", backend=tex)
    assert out.name == f"{kind}:VJ"
    with out:
        out.present(np.full((4, 6, 3), 9, np.uint8))
    assert tex.opened == [("VJ", (6, 4))]
    assert tex.sent[0].shape == (4, 6, 4) and tex.sent[0][..., 3].min() == 255 and tex.sent[0][0, 0, 0] == 9


def test_rgba() -> None:
    assert rgb_to_rgba(np.array([[[1, 2, 3]]], np.uint8)).tolist() == [[[1, 2, 3, 255]]]


def test_real_virtual_camera_without_a_driver_is_one_line_and_the_show_runs_on() -> None:
    pytest.importorskip("pyvirtualcam", reason="pip install 'livegan[virtualcam]'")
    import glob

    if sys.platform.startswith("linux") and glob.glob("/dev/video*"):
        pytest.skip("a video device exists here: this test is for a machine without v4l2loopback")
    with pytest.raises(DeviceError) as e:
        PyvirtualcamBackend().open((64, 36), 30.0)
    msg = str(e.value)
    assert "\n" not in msg and "virtual camera" in msg
    if sys.platform.startswith("linux"):
        assert "modprobe v4l2loopback" in msg
    # through the fan-out: one warning, then retries
    warned: list[str] = []
    th = OutputThread(VirtualCamOutput(fps=30.0), warned.append, backoff=(0.0, 0.0))
    for _ in range(3):
        th._one(np.zeros((36, 64, 3), np.uint8))
    assert len(warned) == 1 and th.stats.failures == 3 and th.stats.sent == 0


@pytest.mark.skipif(sys.platform == "darwin", reason="syphon-python may be installed on macOS")
def test_syphon_without_its_package_names_the_extra() -> None:
    from livegan.outputs.texshare import SyphonBackend

    with pytest.raises(DeviceError, match=r"pip install 'livegan\[syphon\]'"):
        SyphonBackend().open("x", (4, 4))


@pytest.mark.skipif(sys.platform == "win32", reason="SpoutGL may be installed on Windows")
def test_spout_without_its_package_names_the_extra() -> None:
    from livegan.outputs.texshare import SpoutBackend

    with pytest.raises(DeviceError, match=r"pip install 'livegan\[spout\]'"):
        SpoutBackend().open("x", (4, 4))


def test_importing_the_outputs_imports_no_backend() -> None:
    import subprocess

    code = ("import sys, livegan.outputs.fanout, livegan.outputs.ndi, livegan.outputs.virtualcam, "
            "livegan.outputs.texshare, livegan.outputs.sinks, livegan.outputs.kinds; "
            "print(sorted(m for m in ('cyndilib', 'pyvirtualcam', 'syphon', 'SpoutGL', 'pygame') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
