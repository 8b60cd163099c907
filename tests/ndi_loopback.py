"""Run inside a private network namespace by test_outputs_ndi.py: livegan's NDI output -> a cyndilib receiver.

Prints one JSON line: how many distinct frames arrived and how the pixels
compare with what was sent. Not a test module (no ``test_`` prefix): the test
re-executes it under ``unshare``. The receiver reads through cyndilib's
FrameSync (latest frame on demand), as a VJ app pulling at its own rate does.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from cyndilib import Finder, FrameFormat, Receiver, RecvBandwidth, RecvColorFormat, VideoFrameSync

from livegan.outputs.fanout import FanOut
from livegan.outputs.ndi import NdiOutput, source_name

W, H, FPS, N = 128, 72, 30.0, 120


def known_frame(i: int) -> np.ndarray:
    """A gradient whose blue channel is 2 * i: which frame arrived can be read off it."""
    y, x = np.mgrid[0:H, 0:W]
    f = np.stack([(x * 2) % 256, (y * 3) % 256, np.full_like(x, 2 * i)], -1)  # (H, W, 3)
    return f.astype(np.uint8)


def main(fourcc: str) -> dict:
    fan = FanOut([], [NdiOutput("livegan-test", fps=FPS, fourcc=fourcc)])  # as the show sends: its own thread
    fan.open()
    finder = Finder()
    finder.open()
    want = source_name("livegan-test")
    fan.present(known_frame(0))
    end = time.monotonic() + 20
    while want not in finder.get_source_names() and time.monotonic() < end:
        finder.wait_for_sources(0.5)
        finder.update_sources()
    names = finder.get_source_names()
    recv = Receiver(color_format=RecvColorFormat.BGRX_BGRA, bandwidth=RecvBandwidth.highest)
    vfs = VideoFrameSync()
    recv.frame_sync.set_video_frame(vfs)
    recv.set_source(finder.get_source(want))
    warm = 0  # frames until the receiver shows one (connection set-up)
    while warm < 20 * FPS and not vfs.xres:
        fan.present(known_frame(0))
        warm += 1
        time.sleep(1 / FPS)
        recv.frame_sync.capture_video(FrameFormat.progressive)
    got: dict[int, np.ndarray] = {}
    for i in range(1, N + 1):
        fan.present(known_frame(i))
        time.sleep(1 / FPS)
        recv.frame_sync.capture_video(FrameFormat.progressive)
        if vfs.xres:
            a = vfs.get_array().reshape(vfs.yres, vfs.xres, 4)  # (H, W, 4) BGRA
            k = int(round(np.median(a[..., 0]) / 2))
            got.setdefault(k, a.copy())
    res = {"names": names, "want": want, "warm_up_frames": warm, "offered": N,
           "distinct_received": len([k for k in got if 1 <= k <= N]), "stats": fan.stats(),
           "resolution": [vfs.xres, vfs.yres], "frame_rate": float(vfs.get_frame_rate()) if vfs.xres else None}
    diffs = [np.abs(a[..., [2, 1, 0]].astype(int) - known_frame(k).astype(int)) for k, a in got.items() if 1 <= k <= N]
    if diffs:
        res.update(mean_abs=float(np.mean([d.mean() for d in diffs])), max_abs=int(max(d.max() for d in diffs)),
                   alpha_min=int(min(a[..., 3].min() for a in got.values())))
    fan.close()
    finder.close()
    return res


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "BGRA")))
