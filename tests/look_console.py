"""Look at the operator console beside the show window: screenshots for a human to check.

Not a pytest test. Run under a real X server with one screen (the windows tile):

    Xvfb :99 -screen 0 1920x1080x24 &
    DISPLAY=:99 python tests/look_console.py /tmp/livegan-console [OUTPUT ...]

Extra arguments are ``--output`` specs (e.g. ``virtualcam``, ``ndi:look``;
run NDI only inside ``unshare -rn`` with loopback up).

It plays a short show (tiny generator, banks written directly, scripted
cues and taps) with ``--console`` and an NDI-less fan-out, and saves: the
whole X screen (``import -window root``), the show window's surface and the
console's surface, a second or two in.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from banktools import SETLIST, write_banks  # noqa: E402

from livegan.show.session import ShowConfig, build_show, run_show  # noqa: E402


def main(out_dir: str, outputs: list[str]) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sl = out / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, out / "banks")
    cues = out / "cues.txt"
    cues.write_text("0.5 tap\n1.0 tap\n1.5 tap\n2.0 tap\n2.2 next\n")
    cfg = ShowConfig(setlist=sl, banks=out / "banks", cues=cues, device="cpu", dtype="float32", console=True,
                     fps=30.0, outputs=["window", *outputs], output_size=(1280, 720) if outputs else None)
    show = build_show(cfg)
    fan = show.output
    window, console = fan.direct
    shots: list[float] = []

    def shoot(t: float) -> None:
        if not shots and show.summary.frames > 30 and t > show.clock.now() - 1 and show.director.state.tempo:
            shots.append(t)
            subprocess.run(["import", "-window", "root", str(out / "screen.png")], check=False)
            window.screenshot(str(out / "window.png"))
            console.screenshot(str(out / "console.png"))
            logging.info("saved screenshots in %s", out)

    show.on_tick.append(shoot)
    s = run_show(show, 6.0)
    logging.info("frames %d, cues %d, window %s, console %s", s.frames, s.cues, window.size, console.size)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/livegan-console", sys.argv[2:])
