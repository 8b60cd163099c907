"""SIGTERM and SIGHUP clean up like Ctrl-C; the world's OSErrors read as one line.

Nothing here runs on import (DESIGN.md rule 3): :func:`livegan.cli.main`
installs the handlers for the length of one command and puts the old ones
back. A terminating signal raises :class:`Terminated` in the main thread, so
every ``finally`` and ``with`` on the way out removes its temporary files
(partial video, frames folder, bank temp file) exactly as for Ctrl-C. While
a show runs, :class:`StopGracefully` instead asks its loop to stop, so the
show saves its state and writes ``--summary`` before exiting.

A signal that lands while a module is being imported waits for the import
to finish: raising inside one can abort the interpreter. torch's imports call
Python from C++ (pybind11), and an exception raised there is a C++ exception
that nothing may catch: ``terminate called after throwing an instance of
'pybind11::error_already_set'``, exit by SIGABRT. The handler notices the
import on the stack, and asks again every :data:`RETRY_S` until it is done.
The same signal sent again meanwhile lands at once: an import that hangs (a
broken audio or MIDI driver) must not make Ctrl-C and SIGTERM useless. Ctrl-C
gets the same treatment while the handlers are installed.
"""

from __future__ import annotations

import errno
import importlib._bootstrap
import signal
import threading
from typing import Any

TERM_SIGNALS = ("SIGTERM", "SIGHUP")
stopped_by: list[int] = []  # the signal(s) that ended this run, if any
RETRY_S = 0.05  # how often a signal that landed during an import asks again
_retries: list[threading.Timer] = []
_put_off: set[int] = set()  # signals waiting for an import to finish
_resent: set[int] = set()  # of those, the ones whose retry is on its way (a retry, not the user again)
CAN_RESEND = hasattr(signal, "pthread_kill")  # not on Windows: signals land at once there, as before


class Terminated(BaseException):
    """Raised by the SIGTERM/SIGHUP handler. Not a KeyboardInterrupt: click and the interpreter
    treat those specially (one that escapes makes ``python -m`` exit by SIGINT, not 143)."""


def importing(frame: Any) -> bool:
    """Whether ``frame`` (a signal handler's) or a caller is running a module's import: every import
    runs through ``importlib._bootstrap`` (frozen or not, this is the name its code carries)."""
    bootstrap = importlib._bootstrap._find_and_load.__code__.co_filename
    while frame is not None:
        if frame.f_code.co_filename == bootstrap:
            return True
        frame = frame.f_back
    return False


def _ask_again_later(signum: int) -> None:
    """Send ``signum`` to the main thread again in :data:`RETRY_S`. A real signal, so that it also
    wakes a main thread that sleeps or waits (``_thread.interrupt_main`` would not)."""
    def resend() -> None:
        _resent.add(signum)
        signal.pthread_kill(threading.main_thread().ident, signum)

    timer = threading.Timer(RETRY_S, resend)
    timer.daemon = True
    _retries[:] = [t for t in _retries if t.is_alive()] + [timer]
    timer.start()


def _cancel_retries() -> None:
    for timer in _retries:
        timer.cancel()
    _retries.clear()
    _put_off.clear()
    _resent.clear()


def _put_off_for_import(signum: int, frame: Any) -> bool:
    """Whether this signal waits (and is sent again later): an import is running and this is the
    signal's first sending or a retry of it. Sent again by the user meanwhile, it lands now."""
    retry = signum in _resent
    _resent.discard(signum)
    if CAN_RESEND and importing(frame) and (retry or signum not in _put_off):
        _put_off.add(signum)
        _ask_again_later(signum)
        return True
    _cancel_retries()  # landing now: no retry may follow it into the clean-up
    return False


def _record(signum: int) -> None:
    if signum not in stopped_by:  # once, however often it is sent or put off
        stopped_by.append(signum)


def _on_terminate(signum: int, frame: Any) -> None:
    _record(signum)
    if not _put_off_for_import(signum, frame):
        raise Terminated(signum)


def _on_interrupt(signum: int, frame: Any) -> None:
    if not _put_off_for_import(signum, frame):
        signal.default_int_handler(signum, frame)  # KeyboardInterrupt, as always


def _install(handler, names: tuple[str, ...] = TERM_SIGNALS) -> dict:
    old: dict = {}
    if threading.current_thread() is threading.main_thread():  # signal.signal works only there
        for name in names:
            if hasattr(signal, name):
                sig = getattr(signal, name)
                old[sig] = signal.signal(sig, handler)
    return old


def install_handlers() -> dict:
    """SIGTERM/SIGHUP -> :class:`Terminated`, Ctrl-C -> KeyboardInterrupt, each after any import in progress.
    Returns the previous handlers for :func:`restore_handlers`."""
    old = _install(_on_terminate)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where SIGINT is ignored
        old.update(_install(_on_interrupt, ("SIGINT",)))
    return old


def restore_handlers(old: dict) -> None:
    _cancel_retries()  # first: a retry must not reach the handlers put back
    for sig, handler in old.items():
        signal.signal(sig, handler)


class StopGracefully:
    """While the show runs, SIGTERM/SIGHUP set ``show.quit`` (a second one unwinds at once)."""

    def __init__(self, show: Any) -> None:
        self.show, self.old = show, {}

    def _stop(self, signum: int, frame: Any) -> None:
        if self.show.quit:  # asked twice, or already quitting: stop now (after any import in progress)
            _on_terminate(signum, frame)
            return
        _record(signum)
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
