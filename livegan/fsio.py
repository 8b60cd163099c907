"""Atomic file writes: readers (and a crash at any moment) see the old file or the new one.

Used for banks, contact sheets, caches, presets and the show's state file.
Files and folders livegan makes get the user's umask, like any other
program's (``mkstemp``/``mkdtemp`` alone would leave them 0600/0700). Every
temporary name carries the writer's process id (``.NAME.pidPID.XXXX.tmp``):
the next run removes those whose process is gone (killed with SIGKILL or by
a power cut), and never touches a live process's file.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

_TEMP_RE = re.compile(r"^\..*\.pid(\d+)\.[^/]*\.(tmp|partial\.mp4|partial)$")
_swept: set[str] = set()


def temp_prefix(name: str) -> str:
    """The prefix of a temporary file or folder for ``name`` written by this process."""
    return f".{name}.pid{os.getpid()}."


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's live process
        return True
    return True


def remove_stale(folder: str | Path) -> list[Path]:
    """Delete temporary files/folders in ``folder`` left by writers that no longer run; returns them."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _TEMP_RE.match(p.name)
        if not m or _alive(int(m.group(1))):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def sweep_once(folder: str | Path) -> None:
    """:func:`remove_stale` the first time this process writes into ``folder``."""
    key = str(Path(folder).resolve())
    if key not in _swept:
        _swept.add(key)
        remove_stale(folder)


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask(0) races other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def user_mode(target: int | str | Path, directory: bool = False) -> None:
    """Give a file (fd or path) or folder made by mkstemp/mkdtemp the mode a new one gets from open/mkdir."""
    mode = (0o777 if directory else 0o666) & ~current_umask()
    if isinstance(target, int):
        os.fchmod(target, mode)
    else:
        os.chmod(target, mode)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_once(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path.name), suffix=".tmp")
    try:
        user_mode(fd)  # mkstemp makes 0600; banks are ordinary files
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
