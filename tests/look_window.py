"""Look at the window as a person would: screenshots for a human to check.

Not a pytest test (the name doesn't start with test_). Run under a real X
server, e.g.:

    Xvfb :99 -screen 0 1280x720x24 &
    DISPLAY=:99 python tests/look_window.py /tmp/livegan-shots

It opens a windowed WindowOutput, presents gradient and bright test frames
with the overlay on and off, and saves PNG screenshots of the window.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from livegan.outputs.window import WindowOutput  # noqa: E402

OVERLAY = {
    "song": "2/5  The Goldfish Bowl", "section": "3/12",
    "lyric": "a goldfish circles slowly in a glass bowl by the window",
    "next_lyric": "and the tabby cat watches from the shelf",
    "fps": 59.8, "gen_ms": 14.2, "cue": "next (midi)", "status": ["FROZEN", "120 BPM"],
    "warnings": ["midi: 'nanoKONTROL2' disconnected; retrying"],
    "notice": "OFFLINE: stand-in models",
}


def gradient(w: int, h: int) -> np.ndarray:
    """A colourful test picture: red across, green down, blue a diagonal."""
    x = np.linspace(0, 255, w)[None, :]
    y = np.linspace(0, 255, h)[:, None]
    f = np.stack([x + 0 * y, y + 0 * x, 255 - (x + y) / 2], axis=-1)  # (H, W, 3)
    return f.clip(0, 255).astype(np.uint8)


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    white = np.full((512, 512, 3), 255, np.uint8)
    yellow = np.zeros((512, 512, 3), np.uint8)
    yellow[:] = (250, 235, 120)
    shots = [
        ("gradient_plain", (1280, 720), gradient(512, 512), None),
        ("gradient_overlay", (1280, 720), gradient(512, 512), OVERLAY),
        ("white_overlay", (1280, 720), white, OVERLAY),
        ("yellow_wide_overlay", (1280, 720), np.repeat(yellow, 2, axis=1), OVERLAY),
        ("esc_message", (1280, 720), gradient(512, 512), {"panel": False, "message": "press Esc again to quit"}),
        ("small_rehearse", (640, 360), gradient(512, 512), OVERLAY),
    ]
    for name, size, frame, ov in shots:
        with WindowOutput(windowed=True, size=size, title=f"livegan look: {name}") as win:
            for _ in range(3):  # a few frames so the window is mapped before the shot
                win.present(frame, ov)
                win.poll_events()
            win.screenshot(str(out / f"{name}.png"))
        logging.info("saved %s", out / f"{name}.png")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/livegan-shots")
