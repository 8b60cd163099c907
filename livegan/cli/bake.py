"""``livegan bake``: baked clips for rehearsal on any laptop and for the on-stage fallback.

Registered on the shared app (:mod:`livegan.cli.common`) when :mod:`livegan.cli` is imported;
``livegan prep --bake`` calls :func:`run_bake`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import (OPT_BANKS, OPT_DEVICE, OPT_DRIFT, OPT_DTYPE, OPT_MODEL_OVERRIDE, OPT_RANDOM_OVERRIDE,
                  OPT_WEIGHTS_DIR, SETLIST, app, echo, notice)

OPT_BAKE_FPS = typer.Option(30.0, "--fps", min=1, max=120, help="frame rate of the baked clips")


def run_bake(setlist: Path, sl, banks: Path, gen, *, fps: float, drift: float, songs=None, batch=None,
             loop_seconds: Optional[float] = None, quiet: bool = False) -> None:
    """Bake and print what was done (shared by `bake` and `prep --bake`)."""
    from ..bake.clips import LOOP_SECONDS
    from ..bake.runner import bake_setlist

    echo(f"bake {setlist} -> {banks / 'baked'}  (generator {gen.id.key()}, {gen.size}px, {fps:g} fps, "
         f"device {gen.device})", err=True)
    s = bake_setlist(sl, banks, gen, fps=fps, drift=drift, songs=songs, batch=batch,
                     loop_seconds=loop_seconds or LOOP_SECONDS, progress=not quiet)
    rate = s.frames / s.seconds if s.seconds > 0 and s.frames else 0.0
    raw = s.frames / s.generator_seconds if s.generator_seconds > 0 else 0.0
    speed = f"; {s.frames} frames in {s.seconds:.1f} s ({rate:.1f} fps; generator alone {raw:.1f} fps)" if s.frames else ""
    echo(f"baked: {s.done} clips rendered, {s.cached} cached, {s.removed} stale removed{speed}")
    echo(f"  {s.bytes / 1e6:.1f} MB for {s.clip_seconds / 60:.1f} min of clips: {s.mb_per_minute:.1f} MB per minute")
    echo(f"  index {s.index}")


@app.command()
def bake(
    setlist: Path = SETLIST,
    banks: Optional[Path] = OPT_BANKS,
    fps: float = OPT_BAKE_FPS,
    drift: float = OPT_DRIFT,
    loop_seconds: Optional[float] = typer.Option(None, "--loop", min=1, max=120,
                                                 help="idle loop length in seconds [default: 8]"),
    song: Optional[str] = typer.Option(None, "--song", help="bake only this song (title)"),
    batch: Optional[int] = typer.Option(None, "--batch", min=1, max=64,
                                        help="frames per generator call [default: 2 on a CPU, 8 on a GPU]"),
    model: Optional[str] = OPT_MODEL_OVERRIDE,
    weights: Optional[str] = OPT_WEIGHTS_DIR,
    random_weights: bool = OPT_RANDOM_OVERRIDE,
    device: str = OPT_DEVICE,
    dtype: str = OPT_DTYPE,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Render every transition and idle loop to video clips next to the banks (for `show --baked`)."""
    from ..bank import default_banks
    from ..show.session import ShowConfig, load_show_generator
    from ..setlist import load_setlist

    sl = load_setlist(setlist)
    for w in sl.warnings:
        echo(w, err=True)
    banks = banks or default_banks(setlist)
    songs = [sl.song_index(song)] if song else None
    gen = load_show_generator(ShowConfig(setlist=setlist, banks=banks, model=model, weights=weights, device=device,
                                         dtype=dtype, random_weights=random_weights), sl, banks, notice)
    run_bake(setlist, sl, banks, gen, fps=fps, drift=drift, songs=songs, batch=batch, loop_seconds=loop_seconds,
             quiet=quiet)
