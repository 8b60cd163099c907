"""Syphon (macOS) and Spout (Windows): share the show's frames with apps on the same machine.

Both are optional extras (``pip install 'livegan[syphon]'`` / ``'livegan[spout]'``)
imported only when such an output opens; ``--output syphon`` on another
system is refused at startup by :func:`livegan.outputs.kinds.parse_output`.
Frames go out as RGBA through a small backend, so tests check what would be
sent with a fake.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ..errors import DeviceError
from .base import Output, Size


def rgb_to_rgba(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W, 4), alpha opaque."""
    h, w = frame.shape[:2]
    out = np.full((h, w, 4), 255, np.uint8)  # (H, W, 4)
    out[..., :3] = frame
    return out


class TextureBackend(Protocol):
    def open(self, name: str, size: Size) -> None: ...
    def send(self, rgba: np.ndarray) -> None: ...
    def close(self) -> None: ...


class SyphonBackend:
    """syphon-python's Metal server (macOS)."""

    def __init__(self) -> None:
        self._server: Any = None
        self._texture: Any = None

    def open(self, name: str, size: Size) -> None:
        try:
            import syphon
            from syphon.utils.raw import create_mtl_texture
        except ImportError as e:
            raise DeviceError("Syphon needs syphon-python: pip install 'livegan[syphon]'") from e
        self._server = syphon.SyphonMetalServer(name)
        self._texture = create_mtl_texture(self._server.device, size[0], size[1])

    def send(self, rgba: np.ndarray) -> None:
        from syphon.utils.numpy import copy_image_to_mtl_texture

        copy_image_to_mtl_texture(rgba, self._texture)
        self._server.publish_frame_texture(self._texture)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


class SpoutBackend:
    """SpoutGL's sender (Windows); sendImage copies from memory, so no GL drawing of our own."""

    def __init__(self) -> None:
        self._sender: Any = None

    def open(self, name: str, size: Size) -> None:
        try:
            import SpoutGL
            from OpenGL import GL
        except ImportError as e:
            raise DeviceError("Spout needs SpoutGL: pip install 'livegan[spout]'") from e
        self._gl_rgba = GL.GL_RGBA
        self._sender = SpoutGL.SpoutSender()
        self._sender.setSenderName(name)

    def send(self, rgba: np.ndarray) -> None:
        h, w = rgba.shape[:2]
        if not self._sender.sendImage(np.ascontiguousarray(rgba), w, h, self._gl_rgba, False, 0):
            raise DeviceError("Spout sender refused the frame (no OpenGL context?)")

    def close(self) -> None:
        if self._sender is not None:
            self._sender.releaseSender()
            self._sender = None


class TextureShareOutput(Output):
    """Base of Syphon/Spout: RGBA frames to a named server (re-created when the size changes)."""

    kind = "texture"
    backend_class: type = SyphonBackend

    def __init__(self, server: str = "livegan", backend: TextureBackend | None = None) -> None:
        super().__init__()
        self.name = f"{self.kind}:{server}"
        self.server = server
        self._backend = backend
        self._size: Size | None = None

    def _open(self) -> None:
        self._backend = self._backend or self.backend_class()
        self._size = None

    def _present(self, frame: np.ndarray, overlay: dict | None) -> None:
        size = (frame.shape[1], frame.shape[0])
        if size != self._size:
            if self._size is not None:
                self._backend.close()
            self._backend.open(self.server, size)
            self._size = size
        self._backend.send(rgb_to_rgba(frame))

    def _close(self) -> None:
        if self._backend is not None and self._size is not None:
            self._backend.close()
        self._size = None

    @property
    def size(self) -> Size | None:
        return self._size


class SyphonOutput(TextureShareOutput):
    kind = "syphon"
    backend_class = SyphonBackend


class SpoutOutput(TextureShareOutput):
    kind = "spout"
    backend_class = SpoutBackend
