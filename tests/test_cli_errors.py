"""Command-line mistakes through the installed ``livegan`` entry point: usage text or one line, exit 2.

Recent typer releases raise their bundled click's exceptions (``typer._click``),
which are not the ``click`` package's; both must end as a usage error, never a
traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "setlists" / "demo.yaml"


def entry_point() -> str:
    beside = Path(sys.executable).with_name("livegan")  # the venv's console script
    found = str(beside) if beside.exists() else shutil.which("livegan")
    assert found, "the livegan console script is not installed (pip install -e .)"
    return found


@pytest.mark.parametrize("args, says", [
    ([], "Commands"),                                            # usage text with the command list
    (["chek", "x.yaml"], "No such command 'chek'. Did you mean 'check'?"),
    (["show", "x.yaml", "--windowd"], "No such option: --windowd"),
    (["show", str(DEMO), "--fps", "0"], "Invalid value for '--fps'"),
])
def test_mistakes_are_usage_errors_with_exit_2(args: list[str], says: str) -> None:
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    r = subprocess.run([entry_point(), *args], capture_output=True, text=True, timeout=120, env=env)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert says in out, out
    assert "Traceback" not in out and "╭" not in out, out  # neither python's nor rich's traceback
    assert len(out.splitlines()) < 40, out


def test_both_click_flavours_are_caught() -> None:
    from livegan.cli.main import _click_exception_types

    usage, abort = _click_exception_types()
    import click
    assert issubclass(click.exceptions.UsageError, usage)
    try:
        from typer._click import exceptions as bundled
    except ImportError:  # an older typer that uses the click package itself
        return
    assert issubclass(bundled.NoSuchOption, usage) and issubclass(bundled.NoArgsIsHelpError, usage)
