"""NDI output: pixel formats, a fake sender that checks size/format/rate, and the real thing over loopback.

The end-to-end test runs livegan's sender and a cyndilib receiver in a
private network namespace (``unshare -rn``, loopback only), because NDI
announces sources with multicast DNS: nothing can leave the machine. It skips,
saying why, where a namespace can't be made or cyndilib isn't installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from livegan.outputs.ndi import NdiOutput, rgb_to_bgra, rgb_to_uyvy, source_name

HERE = Path(__file__).resolve().parent


class FakeNdi:
    """Records what a sender would be asked to do."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, tuple[int, int], float, str]] = []
        self.sent: list[np.ndarray] = []
        self.closed = 0

    def open(self, name, size, fps, fourcc) -> None:
        self.opened.append((name, size, fps, fourcc))

    def send(self, data) -> None:
        self.sent.append(data)

    def close(self) -> None:
        self.closed += 1


def test_bgra_swaps_red_and_blue_and_is_opaque() -> None:
    f = np.zeros((2, 3, 3), np.uint8)
    f[..., 0], f[..., 1], f[..., 2] = 10, 20, 30
    out = rgb_to_bgra(f)
    assert out.shape == (2, 3, 4) and out[0, 0].tolist() == [30, 20, 10, 255]


def test_uyvy_is_bt709_limited_range() -> None:
    f = np.zeros((1, 4, 3), np.uint8)
    f[0, 2:] = 255  # black pair, white pair
    out = rgb_to_uyvy(f)
    assert out.shape == (1, 8)
    assert out[0].tolist() == [128, 16, 128, 16, 128, 235, 128, 235]  # U Y0 V Y1
    red = rgb_to_uyvy(np.array([[[255, 0, 0], [255, 0, 0]]], np.uint8))[0]
    assert red.tolist() == [102, 63, 240, 63]  # BT.709: Y 63, Cb 102, Cr 240
    with pytest.raises(ValueError, match="even width"):
        rgb_to_uyvy(np.zeros((2, 3, 3), np.uint8))


def test_uyvy_in_integers_is_within_one_level_of_the_bt709_formula() -> None:
    rng = np.random.default_rng(3)
    f = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
    f[0, :2] = 255  # the extremes too: no value may wrap past 0 or 255
    f[0, 2:4] = 0
    f[1, :2], f[1, 2:4] = [255, 0, 0], [0, 0, 255]
    rgb = f.astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + 0.1826 * r + 0.6142 * g + 0.0620 * b
    u = 128 - 0.1006 * r - 0.3386 * g + 0.4392 * b
    v = 128 + 0.4392 * r - 0.3989 * g - 0.0403 * b
    want = np.stack([(u[:, 0::2] + u[:, 1::2]) / 2, y[:, 0::2], (v[:, 0::2] + v[:, 1::2]) / 2, y[:, 1::2]], -1)
    got = rgb_to_uyvy(f).reshape(32, 32, 4).astype(np.float64)
    assert np.abs(got - want).max() <= 1.0
    assert 16 <= got.min() and got.max() <= 240


@pytest.mark.parametrize("fourcc, shape", [("BGRA", (36, 64, 4)), ("UYVY", (36, 128))])
def test_fake_sender_sees_size_format_and_rate(fourcc, shape) -> None:
    fake = FakeNdi()
    out = NdiOutput("Stage", fps=50.0, fourcc=fourcc, backend=fake)
    assert out.name == "ndi:Stage"
    with out:
        for _ in range(3):
            out.present(np.zeros((36, 64, 3), np.uint8))
        out.present(np.zeros((72, 128, 3), np.uint8))  # a new size re-creates the sender
    assert fake.opened == [("Stage", (64, 36), 50.0, fourcc), ("Stage", (128, 72), 50.0, fourcc)]
    assert [s.shape for s in fake.sent[:3]] == [shape] * 3 and all(s.dtype == np.uint8 for s in fake.sent)
    assert fake.closed == 2 and out.frames == 4


def test_format_is_checked() -> None:
    with pytest.raises(ValueError, match="BGRA, UYVY"):
        NdiOutput(fourcc="RGB")


def test_source_name_is_what_receivers_list(monkeypatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "stage-pc.local")
    assert source_name("livegan") == "STAGE-PC (livegan)"


# NDI looks for sources at 127.0.0.1 directly (its mDNS finds nothing on a loopback-only namespace)
# and sends no multicast.
NDI_CONFIG = {"ndi": {"networks": {"ips": "127.0.0.1", "discovery": ""},
                      "multicast": {"send": {"enable": False}, "recv": {"enable": False}}}}


def _namespace_reason() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare and ip (util-linux, iproute2)"
    r = subprocess.run(["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"can't make a private network namespace here: {r.stderr.strip() or r.returncode}"
    return None


@pytest.mark.parametrize("fourcc", ["BGRA", "UYVY"])
def test_ndi_end_to_end_over_loopback_in_a_private_namespace(tmp_path, fourcc) -> None:
    pytest.importorskip("cyndilib", reason="pip install 'livegan[ndi]'")
    reason = _namespace_reason()
    if reason:
        pytest.skip(f"NDI announces itself by multicast; not run outside a private namespace: {reason}")
    (tmp_path / "ndi-config.v1.json").write_text(json.dumps(NDI_CONFIG))
    env = dict(os.environ, NDI_CONFIG_DIR=str(tmp_path), PYTHONPATH=str(HERE.parent))
    script = f"ip link set lo up && exec {sys.executable} {HERE / 'ndi_loopback.py'} {fourcc}"
    r = subprocess.run(["unshare", "-rn", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    print(res)  # frame rate, frames received of offered, drops: shown with -s
    assert res["want"] in res["names"] and res["want"].endswith("(livegan-test)")
    assert res["resolution"] == [128, 72] and res["frame_rate"] == 30.0
    assert res["distinct_received"] >= 10  # frames arrive continuously, not just one
    # NDI compresses (SpeedHQ): close, not identical. A swapped channel or a shifted row would be far off.
    assert res["mean_abs"] < 4 and res["max_abs"] < 40 and res["alpha_min"] == 255
    st = res["stats"]["ndi:livegan-test"]
    assert st["failures"] == 0 and st["sent"] >= res["offered"] - st["dropped"]
