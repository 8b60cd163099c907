"""``livegan bench --outputs``: what each output costs per frame, and the display rate with all of them on.

Per output, on the thread that pays for it: scaling a generator frame to the
output size (once per frame for every sink), the window's present (scale +
flip), the console's present, and NDI's conversion + send. Then the display
loop at 60 fps through one :class:`FanOut` with window + console + NDI on, as
``livegan show -o window -o ndi --console --output-size WxH`` runs it.
Opening NDI announces a source on the network: run it where that is wanted.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from .base import Output, Size
from .fanout import FanOut, fit_frame


def _frames(src: Size, n: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (src[1], src[0], 3), dtype=np.uint8) for _ in range(n)]


def _ms_per_call(fn: Callable[[int], None], seconds: float) -> float:
    fn(0)  # warm-up (first-frame set-up: sender creation, surfaces)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += 1
        fn(n)
    return 1000 * (time.perf_counter() - t0) / n


def bench_outputs(kinds: list[str], size: Size = (1920, 1080), src: Size = (256, 256), seconds: float = 3.0,
                  fps: float = 60.0) -> dict[str, Any]:
    """ms per frame for each output in ``kinds`` (window, console, ndi), then display fps with all of them."""
    frames = _frames(src)
    big = [fit_frame(f, size) for f in frames[:2]]
    res: dict[str, Any] = {"size": list(size), "source": list(src), "ms_per_frame": {}}
    ms = res["ms_per_frame"]
    ms["scale_once"] = _ms_per_call(lambda i: fit_frame(frames[i % len(frames)], size), seconds)

    def make(kind: str) -> Output:
        if kind == "window":
            from .window import WindowOutput
            return WindowOutput(windowed=True, size=size, vsync=False, title="livegan bench")
        if kind == "console":
            from .console import ConsoleOutput
            return ConsoleOutput(rect=(0, 0, 960, 600))
        if kind == "ndi":
            from .ndi import NdiOutput
            return NdiOutput("livegan-bench", fps=fps)
        raise ValueError(f"bench knows window, console, ndi; not {kind!r}")

    for kind in kinds:
        out = make(kind)
        with out:
            pick = frames if kind != "ndi" else big  # NDI gets the frame already scaled, as in the show
            ms[kind] = _ms_per_call(lambda i: (out.present(pick[i % len(pick)], None), out.poll_events()), seconds)

    # the display loop through one FanOut: the first output alone, then adding one at a time (side by side)
    res["display_fps"] = {}
    for n_on in range(1, len(kinds) + 1):
        on = kinds[:n_on]
        direct = [make(k) for k in on if k in ("window", "console")]
        sinks = [make(k) for k in on if k == "ndi"]
        fan = FanOut(direct, sinks, size=size, overlays=[k != "window" for k in on if k in ("window", "console")])
        fan.open()
        try:
            n, t0, next_t = 0, time.perf_counter(), time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                fan.present(frames[n % len(frames)], None)
                fan.poll_events()
                n += 1
                next_t = max(next_t + 1 / fps, time.perf_counter() - 1 / fps)
                time.sleep(max(0.0, next_t - time.perf_counter()))
            res["display_fps"]["+".join(on)] = round(n / (time.perf_counter() - t0), 2)
        finally:
            fan.close()
        res["outputs"] = fan.stats()
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.items()} | {
        "ms_per_frame": {k: round(v, 2) for k, v in ms.items()}}
