"""``livegan check`` and ``livegan prep``: validate a setlist; find keyframes for every lyric line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..bank import default_banks
from ..errors import LiveganError
from .common import MODEL_HELP, OPT_DEVICE, OPT_DRIFT, OPT_THREADS, OPT_WEIGHTS_DIR, SETLIST, app, echo, notice


# --------------------------------------------------------------------------- check
@app.command()
def check(setlist: Path = SETLIST) -> None:
    """Validate a setlist and print a summary; loads no model."""
    from ..setlist import load_setlist, summarise
    from ..prep.estimate import estimate_prep_seconds

    sl = load_setlist(setlist)
    for w in sl.warnings:
        echo(w, err=True)
    s = summarise(sl)
    echo(f"{setlist}: OK — {_n(s.songs, 'song')}, {_n(s.sections, 'section')}, {_n(s.keyframes, 'keyframe')}")
    echo(f"  model {sl.defaults.model}, clip {sl.defaults.clip}, {sl.defaults.steps} steps, "
         f"truncation {sl.defaults.truncation}")
    last = None
    for song, variants, text in s.rows:
        if song != last:
            echo(f"  {song}")
            last = song
        echo(f"    x{variants}  {text}")
    for device in ("cpu", "cuda"):
        est = estimate_prep_seconds(sl, device=device)
        echo(f"  estimated prep time on {device}: {_fmt_seconds(est)}")


def _n(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


def _fmt_seconds(s: float) -> str:
    if s < 90:
        return f"~{s:.0f} s"
    if s < 5400:
        return f"~{s / 60:.0f} min"
    return f"~{s / 3600:.1f} h"


# --------------------------------------------------------------------------- prep
def _or_fallback(load, stand_in, fallback: bool, what: str):
    """``load()``; when it fails and ``fallback`` is on, say so and use ``stand_in()``."""
    try:
        return load()
    except LiveganError as e:
        if not fallback:
            raise
        notice(f"{e}")
        notice(f"using {what}")
        return stand_in()


def load_prep_models(model: str, clip_spec: str, *, weights: Optional[str], clip_weights: Optional[str],
                     random_weights: bool, device: str, fallback: bool):
    """Generator and CLIP as asked; with ``fallback``, offline stand-ins (with a notice) when weights can't be had."""
    from ..models.clip import load_clip
    from ..models.registry import load_generator

    # With a local checkpoint the architecture loads it; a PRETRAINED tag still names its preprocessing.
    spec = clip_spec
    gen = _or_fallback(lambda: load_generator(model, weights=weights, random_weights=random_weights, device=device),
                       lambda: load_generator("tiny", device=device), fallback,
                       "the offline stand-in generator 'tiny' (random weights): pictures are abstract")
    clip = _or_fallback(lambda: load_clip(spec, checkpoint=clip_weights, device=device,
                                          random_weights=random_weights and spec != "tiny"),
                        lambda: load_clip("tiny", device=device), fallback,
                        "the offline stand-in CLIP 'tiny' (random weights): scores are not meaningful")
    return gen, clip


@app.command()
def prep(
    setlist: Path = SETLIST,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="bank folder [default: SETLIST's folder/<name>-banks]"),
    model: Optional[str] = typer.Option(None, "--model", help=MODEL_HELP),
    clip: Optional[str] = typer.Option(None, "--clip", help="CLIP as MODEL/PRETRAINED (e.g. ViT-B-32/openai) or tiny"),
    weights: Optional[str] = OPT_WEIGHTS_DIR,
    clip_weights: Optional[str] = typer.Option(None, "--clip-weights", help="local CLIP checkpoint file for --clip MODEL"),
    random_weights: bool = typer.Option(False, "--random-weights", help="real architectures, deterministic random weights"),
    device: str = OPT_DEVICE,
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="override the setlist's optimiser steps"),
    song: Optional[str] = typer.Option(None, "--song", help="prep only this song (title)"),
    fallback: bool = typer.Option(False, "--fallback/--no-fallback",
                                  help="use the offline stand-in models when real weights can't be had"),
    sheets: bool = typer.Option(True, "--sheets/--no-sheets", help="write a contact-sheet PNG per song"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
    bake: bool = typer.Option(False, "--bake", help="then bake clips for `show --baked` (see `livegan bake`)"),
    bake_fps: float = typer.Option(30.0, "--bake-fps", min=1, max=120, help="with --bake: clip frame rate"),
    threads: Optional[int] = OPT_THREADS,
) -> None:
    """Find keyframes for every lyric line: one bank + contact sheet per song."""
    from ..prep.runner import prep_setlist
    from ..setlist import load_setlist
    from ..threads import apply_thread_policy

    apply_thread_policy("prep", threads)  # torch's default threads collapse 8-14x when the CPU is shared

    sl = load_setlist(setlist)
    for w in sl.warnings:
        echo(w, err=True)
    out = out or default_banks(setlist)
    songs = [sl.song_index(song)] if song else None
    gen, clp = load_prep_models(model or sl.defaults.model, clip or sl.defaults.clip, weights=weights,
                                clip_weights=clip_weights, random_weights=random_weights, device=device,
                                fallback=fallback)
    echo(f"prep {setlist} -> {out}  (generator {gen.id.key()}, clip {clp.id}, device {gen.device})", err=True)
    s = prep_setlist(sl, out, gen, clp, steps=steps, songs=songs, progress=not quiet, sheets=sheets)
    echo(f"done: {s.done} searched, {s.cached} cached, {s.seconds:.1f} s, mean CLIP score {s.mean_score:.3f}")
    for b in s.banks:
        echo(f"  bank  {b}")
    for p in s.sheets:
        echo(f"  sheet {p}")
    if s.unsaved:  # (before a bake: it would bake the old banks)
        raise LiveganError(f"{len(s.unsaved)} bank(s) not written where they belong: " + "; ".join(s.unsaved))
    if bake:
        from .bake import run_bake
        run_bake(setlist, sl, out, gen, fps=bake_fps, drift=OPT_DRIFT.default, songs=songs, quiet=quiet)


