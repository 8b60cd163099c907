"""Virtual camera output: the show as a webcam for OBS, Zoom, browsers (``pyvirtualcam``).

On Linux pyvirtualcam writes to a v4l2loopback device; on macOS and Windows
to the OBS Virtual Camera. ``pyvirtualcam`` is imported only when the output
opens; a missing driver is one clear line (the fan-out warns once, retries
with back-off, and the show runs on).
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

import numpy as np

from ..errors import DeviceError
from .base import Output, Size

DRIVER_HINT = {
    "linux": "load v4l2loopback: sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=livegan",
    "darwin": "install OBS and start its Virtual Camera once",
    "win32": "install OBS (it brings the OBS Virtual Camera)",
}


class CameraBackend(Protocol):
    def open(self, size: Size, fps: float) -> str: ...   # returns the device name
    def send(self, frame: np.ndarray) -> None: ...
    def close(self) -> None: ...


class PyvirtualcamBackend:
    def __init__(self) -> None:
        self._cam: Any = None

    def open(self, size: Size, fps: float) -> str:
        try:
            import pyvirtualcam
        except ImportError as e:
            raise DeviceError("the virtual camera needs pyvirtualcam: pip install 'livegan[virtualcam]'") from e
        try:
            self._cam = pyvirtualcam.Camera(width=size[0], height=size[1], fps=fps, fmt=pyvirtualcam.PixelFormat.RGB)
        except RuntimeError as e:  # pyvirtualcam says "no v4l2 loopback device found" and the like
            hint = DRIVER_HINT.get(sys.platform, "")
            raise DeviceError(f"no virtual camera driver ({str(e).splitlines()[0]}){': ' + hint if hint else ''}") from e
        return str(self._cam.device)

    def send(self, frame: np.ndarray) -> None:
        self._cam.send(np.ascontiguousarray(frame))

    def close(self) -> None:
        if self._cam is not None:
            self._cam.close()
            self._cam = None


class VirtualCamOutput(Output):
    """Sends RGB frames at ``fps``; the camera's size is the first frame's (use --output-size)."""

    name = "virtualcam"

    def __init__(self, fps: float = 60.0, backend: CameraBackend | None = None) -> None:
        super().__init__()
        self.fps = fps
        self._backend = backend
        self._size: Size | None = None
        self.device = ""

    def _open(self) -> None:
        self._backend = self._backend or PyvirtualcamBackend()
        self._size = None

    def _present(self, frame: np.ndarray, overlay: dict | None) -> None:
        size = (frame.shape[1], frame.shape[0])
        if size != self._size:
            if self._size is not None:
                self._backend.close()
            self.device = self._backend.open(size, self.fps)
            self._size = size
        self._backend.send(frame)

    def _close(self) -> None:
        if self._backend is not None and self._size is not None:
            self._backend.close()
        self._size = None

    @property
    def size(self) -> Size | None:
        return self._size
