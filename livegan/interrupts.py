"""SIGTERM and SIGHUP clean up like Ctrl-C; the world's OSErrors read as one line.

Nothing here runs on import (DESIGN.md rule 3): :func:`livegan.cli.main`
installs the handlers for the length of one command and puts the old ones
back. A terminating signal raises :class:`Terminated` in the main thread, so
every ``finally`` and ``with`` on the way out removes its temporary files
(partial video, frames folder, bank temp file) exactly as for Ctrl-C. While
a show runs, :class:`StopGracefully` instead asks its loop to stop, so the
show saves its state and writes ``--summary`` before exiting.
"""

from __future__ import annotations

import errno
import signal
import threading
from typing import Any

TERM_SIGNALS = ("SIGTERM", "SIGHUP")
stopped_by: list[int] = []  # the signal(s) that ended this run, if any


class Terminated(BaseException):
    """Raised by the SIGTERM/SIGHUP handler. Not a KeyboardInterrupt: click and the interpreter
    treat those specially (one that escapes makes ``python -m`` exit by SIGINT, not 143)."""


def _on_terminate(signum: int, frame: Any) -> None:
    stopped_by.append(signum)
    raise Terminated(signum)


def _install(handler) -> dict:
    old: dict = {}
    if threading.current_thread() is threading.main_thread():  # signal.signal works only there
        for name in TERM_SIGNALS:
            if hasattr(signal, name):
                sig = getattr(signal, name)
                old[sig] = signal.signal(sig, handler)
    return old


def install_handlers() -> dict:
    """SIGTERM/SIGHUP -> :class:`Terminated`; returns the previous handlers for :func:`restore_handlers`."""
    return _install(_on_terminate)


def restore_handlers(old: dict) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)


class StopGracefully:
    """While the show runs, SIGTERM/SIGHUP set ``show.quit`` (a second one unwinds at once)."""

    def __init__(self, show: Any) -> None:
        self.show, self.old = show, {}

    def _stop(self, signum: int, frame: Any) -> None:
        if self.show.quit:  # asked twice, or already quitting: stop now
            _on_terminate(signum, frame)
        stopped_by.append(signum)
        self.show.quit = True

    def __enter__(self) -> "StopGracefully":
        self.old = _install(self._stop)
        return self

    def __exit__(self, *exc: Any) -> None:
        restore_handlers(self.old)


def os_error_line(e: OSError) -> str:
    """What the world did (disk full, read-only folder, no permission), in one line."""
    hint = {errno.ENOSPC: " (the disk is full: free some space)", errno.EROFS: " (the folder is read-only)",
            errno.EDQUOT: " (disk quota exceeded)", errno.EACCES: " (no permission)"}.get(e.errno or 0, "")
    where = f"{e.filename}: " if e.filename else ""
    return f"{where}{e.strerror or e}{hint}"
