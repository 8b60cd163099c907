"""Base class of every output (window, recorders, null) and shared frame helpers.

In the style of mido's ports: the public methods guard state and validate
frames; a backend implements only ``_open``, ``_present``, ``_poll_events``
and ``_close``. Frames are numpy ``uint8`` arrays of shape (H, W, 3), RGB.
Sizes are (width, height), as pygame and ffmpeg write them.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# A common event from an output: a key name ('space', 'right', 'pagedown',
# '1'..'9', 'b', 'escape', ...) or 'quit' when the window was closed.
# livegan.triggers.keyboard.KeyMapper turns these into cues and actions.
KeyEvent = str

Size = tuple[int, int]  # (width, height)


def check_frame(frame: Any) -> np.ndarray:
    """Return ``frame`` if it is an (H, W, 3) uint8 array, else raise ValueError."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"frame must have shape (H, W, 3), got {frame.shape}")
    return frame


def fit_rect(src: Size, dst: Size) -> tuple[int, int, int, int]:
    """Where a ``src``-sized picture goes inside ``dst``, aspect kept: (x, y, w, h).

    Letterbox (bars above/below) or pillarbox (bars left/right); the picture
    is centred and always at least 1x1.
    """
    sw, sh = src
    dw, dh = dst
    if sw <= 0 or sh <= 0 or dw <= 0 or dh <= 0:
        raise ValueError(f"sizes must be positive, got {src} in {dst}")
    if sw * dh >= sh * dw:  # wider than the target: full width, bars top/bottom
        w, h = dw, max(1, round(dw * sh / sw))
    else:
        w, h = max(1, round(dh * sw / sh)), dh
    return (dw - w) // 2, (dh - h) // 2, w, h


class Output:
    """Somewhere frames go. Use as a context manager, or open()/close().

    Leaving a ``with`` block through an exception calls :meth:`abort`, which
    for recorders removes the unfinished file instead of keeping half of it.
    """

    name: str = "output"

    def __init__(self) -> None:
        self.is_open = False
        self.frames = 0  # frames presented since open()
        self.warnings: list[str] = []  # problems worth showing the user (the app shows them)

    # -- public, guarded -------------------------------------------------
    def open(self) -> "Output":
        if not self.is_open:
            self._open()
            self.is_open = True
            self.frames = 0
        return self

    def present(self, frame: np.ndarray, overlay: dict | None = None) -> None:
        """Show or store one frame; ``overlay`` (see overlay.py) is drawn only by windows."""
        if not self.is_open:
            raise RuntimeError(f"{self.name}: present() before open()")
        self._present(check_frame(frame), overlay)
        self.frames += 1

    def poll_events(self) -> list[KeyEvent]:
        """Key names pressed since the last call (never raises; [] when closed)."""
        if not self.is_open:
            return []
        return self._poll_events()

    def close(self) -> None:
        """Finish: flush and keep what was written. Safe to call twice."""
        if not self.is_open:
            return
        self.is_open = False
        self._close()

    def abort(self) -> None:
        """Stop without keeping a result. Outputs with nothing to discard just close."""
        self.close()

    @property
    def size(self) -> Size | None:
        """(width, height) of what is shown/stored, or None while not yet known."""
        return None

    def __enter__(self) -> "Output":
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def warn(self, message: str) -> None:
        """Log a warning and keep it for the app's overlay."""
        log.warning("%s: %s", self.name, message)
        self.warnings.append(message)

    # -- for backends ------------------------------------------------------
    def _open(self) -> None:
        pass

    def _present(self, frame: np.ndarray, overlay: dict | None) -> None:
        pass

    def _poll_events(self) -> list[KeyEvent]:
        return []

    def _close(self) -> None:
        pass
