"""The ``livegan`` command, one small module per group of commands.

common.py  the typer app and the options several commands share (one default each)
prep.py    check, prep                 show.py   show, demo
tools.py   render, bench, soak, onsets, devices, learn
bake.py    bake (and prep --bake)      main.py   the entry point: one-line errors, exit codes

Importing the command modules registers their commands on the one app; they
import only :mod:`.common` (and prep's model loading), never this package, so
there is no import cycle. Heavy imports (torch, CLIP, pygame) stay inside the
commands, so ``livegan --help`` is fast.
"""

from __future__ import annotations

# Registers the commands, in the order --help lists them.
from . import prep, show, tools, bake  # noqa: F401,I001
from .common import app
from .main import main

__all__ = ["app", "main"]
