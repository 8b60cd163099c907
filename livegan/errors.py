"""User-facing error types.

Every problem a user can cause (a bad setlist, a missing bank, an unknown
model name) is raised as a :class:`LiveganError`. The CLI prints it as one
line and exits with code 2; nothing else is ever shown to the user as a
traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXIT_USER_ERROR = 2


@dataclass
class Where:
    """A position in a file; line and col are 1-based, 0 means unknown."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        parts = [self.file]
        if self.line:
            parts.append(str(self.line))
            if self.col:
                parts.append(str(self.col))
        return ":".join(parts)


class LiveganError(Exception):
    """An error caused by the user's input or environment, shown as one line."""

    def __init__(self, message: str, where: Where | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # always one line
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ConfigError(LiveganError):
    """A setlist, preset or cue file is invalid."""


class ModelError(LiveganError):
    """A model can't be found, downloaded or loaded."""


class BankError(LiveganError):
    """A keyframe bank is missing, corrupt or made for another generator."""


class DeviceError(LiveganError):
    """A MIDI/audio/display device can't be opened."""


class RenderInterrupted(Exception):
    """A render given up between generator blocks because its frames were no longer wanted."""


class NonFiniteFrames(Exception):
    """A generator produced NaN/inf pixels in some frames of a batch (not a user error).

    ``images`` holds the batch as uint8, ``bad`` marks the frames to drop.
    """

    def __init__(self, images, bad) -> None:  # (B, H, W, 3) uint8, (B,) bool
        super().__init__(f"{int(bad.sum())} of {len(bad)} frames had NaN or infinite pixels")
        self.images = images
        self.bad = bad


def read_text_file(path: str | Path, max_bytes: int = 1_000_000) -> str:
    """Read a small user-supplied UTF-8 text file, or raise a one-line ConfigError.

    Shared by the setlist, preset and cue-file loaders so each refuses missing
    files, folders, oversized, binary and non-UTF-8 content the same way.
    """
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise ConfigError("file not found", Where(name))
    if p.is_dir():
        raise ConfigError("is a directory, expected a file", Where(name))
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise ConfigError(f"file is too large ({size} bytes, at most {max_bytes})", Where(name))
        data = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read file ({e.strerror or e})", Where(name)) from None
    if b"\x00" in data:
        raise ConfigError("binary content, expected a UTF-8 text file", Where(name))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError("not valid UTF-8 text", Where(name, line)) from None
    return text.removeprefix("\ufeff")
