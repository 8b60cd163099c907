"""An output that shows nothing: counts frames and keeps the last one.

For tests and ``livegan bench`` (measures the generator, not the display).
Tests can script key presses with :meth:`NullOutput.press`.
"""

from __future__ import annotations

import numpy as np

from .base import KeyEvent, Output, Size


class NullOutput(Output):
    name = "null"

    def __init__(self, size: Size | None = None, copy: bool = False) -> None:
        super().__init__()
        self._size = size
        self.copy = copy  # copy frames (when the caller reuses its buffer)
        self.last_frame: np.ndarray | None = None
        self.last_overlay: dict | None = None
        self._keys: list[KeyEvent] = []

    def press(self, *keys: KeyEvent) -> None:
        """Queue key names for the next poll_events(), as if pressed."""
        self._keys.extend(keys)

    def _present(self, frame: np.ndarray, overlay: dict | None) -> None:
        self.last_frame = frame.copy() if self.copy else frame
        self.last_overlay = overlay
        if self._size is None:
            self._size = (frame.shape[1], frame.shape[0])

    def _poll_events(self) -> list[KeyEvent]:
        keys, self._keys = self._keys, []
        return keys

    @property
    def size(self) -> Size | None:
        return self._size
