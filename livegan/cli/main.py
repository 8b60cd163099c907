"""``livegan``'s entry point: every user error is one line and exit 2, never a traceback.

Ctrl-C is exit 130, SIGTERM 143, SIGHUP 129 (their handlers are installed here, never on import).
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from ..errors import EXIT_USER_ERROR, LiveganError
from .common import app


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: user errors are one line and exit 2; Ctrl-C is exit 130, SIGTERM 143, SIGHUP 129."""
    from ..heap import keep_freed_memory
    from ..interrupts import Terminated, install_handlers, os_error_line, restore_handlers, stopped_by as _stopped_by

    keep_freed_memory()  # before any render thread: each frame's activations reused, not faulted in again
    _stopped_by.clear()
    old = install_handlers()
    try:
        rc = app(args=argv, standalone_mode=False)
        # Without standalone mode click *returns* the code of an Exit (typer turns
        # Ctrl-C into Exit(130)) instead of exiting with it.
        if _stopped_by:
            rc = 128 + _stopped_by[0]
        if isinstance(rc, int) and rc != 0:
            if rc >= 128:
                typer.echo("terminated" if _stopped_by else "interrupted", err=True)
            sys.exit(rc)
    except LiveganError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        sys.exit(EXIT_USER_ERROR)
    except (KeyboardInterrupt, Terminated):
        typer.echo("terminated" if _stopped_by else "interrupted", err=True)
        sys.exit(128 + _stopped_by[0] if _stopped_by else 130)
    except SystemExit:
        raise
    except Exception as e:
        if _stopped_by:  # the signal landed in code that turned it into another error (e.g. a C extension's
            typer.echo("terminated", err=True)  # import gives ImportError): still a clean stop, no traceback
            sys.exit(128 + _stopped_by[0])
        if isinstance(e, OSError):  # disk full, read-only folder, permissions: the world, not a bug
            typer.secho(f"error: {os_error_line(e)}", fg=typer.colors.RED, err=True)
            sys.exit(EXIT_USER_ERROR)
        usage, abort = _click_exception_types()  # click's usage errors (click itself or typer's bundled copy)
        if isinstance(e, usage):
            e.show()
            sys.exit(EXIT_USER_ERROR)
        if isinstance(e, abort):
            typer.echo("terminated" if _stopped_by else "interrupted", err=True)
            sys.exit(128 + _stopped_by[0] if _stopped_by else 130)
        raise
    finally:
        restore_handlers(old)


def _click_exception_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(usage-error types, abort types) of every click the installed typer may raise.

    typer < 0.22 raises the ``click`` package's exceptions; later releases carry
    their own copy (``typer._click``, with Abort/Exit in ``typer.exceptions``),
    whose classes share no base with click's. Catching only one of them let the
    other's usage errors out as a 40-line traceback with exit 1.
    """
    import importlib

    usage: list[type] = []
    abort: list[type] = []
    for name in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        usage += [c for c in (getattr(mod, "ClickException", None),) if isinstance(c, type)]
        abort += [c for c in (getattr(mod, "Abort", None),) if isinstance(c, type)]
    return tuple(usage), tuple(abort)

