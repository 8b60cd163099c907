"""Display figures for ``livegan bench``: a real window, both paths, projector sizes, generator running.

For each size (1920x1080, 3840x2160) and each path (SDL renderer, software)
the real engine runs (worker + director + cues) and a 60 Hz loop presents
to a real window as a fullscreen show does (no overlay unless asked):
presented fps, ms per present (mean and p99) and the engine's fps meanwhile. Each size is a window of that
size (under Xvfb, with no window manager, the same pixels as fullscreen;
the screen must be at least that big). Needs a display
(a real one, or Xvfb: ``xvfb-run -s "-screen 0 3840x2160x24" livegan bench``);
without one the figures say why they are missing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .outputs.window import display_available

PATHS: tuple[tuple[str, str], ...] = (("renderer", "on"), ("software", "off"))
SHOTS: Path | None = None  # `livegan bench --screenshots DIR`: save what each window showed


def x_server_pid() -> int | None:
    """The pid of the local X server of $DISPLAY (Xvfb, Xorg), to count its CPU time; None if unknown."""
    disp = os.environ.get("DISPLAY", "")
    if not disp.startswith(":"):
        return None
    num = disp.split(".")[0]
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode(errors="replace")).name in ("Xvfb", "Xorg", "X") and \
                num.encode() in argv:
            return int(d.name)
    return None


def cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process (seconds), from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def display_figures(gen: Any, seconds: float, *, sizes: tuple[tuple[int, int], ...], cue_every: float,
                    max_batch: int = 4, log: Any = None, worker_options: dict | None = None,
                    overlay: bool = False) -> list[dict[str, Any]]:
    from .bench import engine_run
    from .outputs.window import WindowOutput

    why = display_available()
    if why:
        return [{"skipped": why}]
    from .threads import RENDER_NICE

    # As a show with its window on a screen runs the worker: a step below the display (threads.py).
    worker_options = {**(worker_options or {}), "nice": RENDER_NICE}
    rows: list[dict[str, Any]] = []
    for w, h in sizes:
        for name, accel in PATHS:
            row: dict[str, Any] = {"size": f"{w}x{h}", "path": name, "overlay": overlay}
            try:
                win = WindowOutput(windowed=True, size=(w, h), accel=accel, vsync=True)
                win.open()
                try:
                    if win.size != (w, h):  # the window manager or screen didn't give that size
                        row["opened"] = "{}x{}".format(*win.size)
                    row["used"] = win.path
                    xpid = x_server_pid()
                    x0 = cpu_seconds(xpid)
                    row.update(engine_run(gen, seconds, max_batch=max_batch, cue_every=cue_every, output=win,
                                          worker_options=worker_options, overlay=overlay))
                    x1 = cpu_seconds(xpid)
                    # Presents the software path skipped: the held frame was on screen already.
                    row["repeats_skipped"] = win.repeats
                    if x0 is not None and x1 is not None and win.frames:
                        # The X server's CPU per presented frame (Xvfb copies every frame on the CPU).
                        row["x_server_cpu_ms_per_frame"] = round(1000 * (x1 - x0) / win.frames, 2)
                    if SHOTS is not None:
                        SHOTS.mkdir(parents=True, exist_ok=True)
                        win.screenshot(str(SHOTS / f"{gen.name}-{w}x{h}-{name}.png"))
                finally:
                    win.close()
            except Exception as e:  # noqa: BLE001 - a missing path is a figure, not a crash
                row["error"] = f"{type(e).__name__}: {e}"
            if log:
                log(f"display {row}")
            rows.append(row)
    return rows
