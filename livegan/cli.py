"""The ``livegan`` command: prep, check, show, render, bench, onsets, devices, learn, demo.

Every command validates its input at the boundary; any user error is one
line on stderr and exit code 2, never a traceback (``main`` guarantees it).
Heavy imports (torch, CLIP, pygame) happen inside the commands that need
them, so ``livegan check`` and ``--help`` are fast.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from .bank import default_banks
from .errors import EXIT_USER_ERROR, LiveganError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Real-time BigGAN visuals for live music. `livegan demo` runs the whole pipeline offline.")
log = logging.getLogger("livegan")

SETLIST = typer.Argument(..., help="setlist YAML file (see setlists/demo.yaml)", show_default=False,
                         metavar="SETLIST")
MODEL_HELP = "generator: biggan-deep-128/256/512 or tiny (default: the setlist's)"
# Options that several commands share: one definition, one default (DESIGN.md rule 2).
OPT_BANKS = typer.Option(None, "--banks", help="bank folder [default: SETLIST's folder/<name>-banks]")
OPT_MODEL_OVERRIDE = typer.Option(None, "--model", help="override the generator the banks name")
OPT_WEIGHTS_DIR = typer.Option(None, "--weights", help="local BigGAN folder (config.json + pytorch_model.bin)")
OPT_RANDOM_OVERRIDE = typer.Option(False, "--random-weights", help="with --model: random weights (smoke runs)")
OPT_DEVICE = typer.Option("auto", "--device", help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda or mps")
OPT_DTYPE = typer.Option("auto", "--dtype", help="auto, float32, bfloat16 or float16")
OPT_DRIFT = typer.Option(0.15, "--drift", min=0, max=1, help="drift amount around each keyframe")
OPT_THREADS = typer.Option(None, "--threads", min=1, help="torch threads [default: the cores left after the "
                           "display and the machine's other load]")
OPT_COMPILE = typer.Option("auto", "--compile", help="torch.compile the generator: auto (where `livegan bench` "
                           "measured a gain here), on, off")


def check_choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    """One-line error (exit 2) for a value outside ``allowed``."""
    if value not in allowed:
        from .errors import ConfigError
        raise ConfigError(f"{option} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler
    from rich.console import Console

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=Console(stderr=True), show_time=False, show_path=False)])
    logging.getLogger("livegan").setLevel(logging.INFO if verbose else logging.WARNING)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="log more detail")) -> None:
    _setup_logging(verbose)


def echo(msg: str = "", err: bool = False) -> None:
    typer.echo(msg, err=err)


def notice(msg: str) -> None:
    """A visible notice on stderr (e.g. offline stand-in models)."""
    typer.secho(f"NOTICE: {msg}", fg=typer.colors.YELLOW, bold=True, err=True)


# --------------------------------------------------------------------------- check
@app.command()
def check(setlist: Path = SETLIST) -> None:
    """Validate a setlist and print a summary; loads no model."""
    from .setlist import load_setlist, summarise
    from .prep.estimate import estimate_prep_seconds

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
    from .models.clip import load_clip
    from .models.registry import load_generator

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
    from .prep.runner import prep_setlist
    from .setlist import load_setlist
    from .threads import apply_thread_policy

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
        from .cli_bake import run_bake
        run_bake(setlist, sl, out, gen, fps=bake_fps, drift=OPT_DRIFT.default, songs=songs, quiet=quiet)


# --------------------------------------------------------------------------- show
def _keys_epilog() -> str:
    from .outputs.kinds import output_help_text  # pure and tiny: the single source of the output kinds
    from .triggers.keyboard import KEY_HELP  # pure and tiny: the single source of the key table
    from .triggers.osc_addresses import help_line  # the single source of the OSC addresses
    from .engine.tempo import tempo_help
    return ("Keys: " + "; ".join(f"{k}: {v}" for k, v in KEY_HELP) + ".\n\n"
            "Outputs (--output, repeatable): " + output_help_text() + ".\n\n"
            f"OSC in (--osc PORT; listens on 127.0.0.1 only unless --osc-host): {help_line()}.\n\n"
            f"Tempo, highest priority first: {tempo_help()} (the setlist's bpm).")


def _output_option_help() -> str:
    from .outputs.kinds import OUTPUT_HELP  # pure and tiny: the single source of the output kinds
    return "where frames go, repeatable: " + ", ".join(s for s, *_ in OUTPUT_HELP) + " (see below) [default: window]"


@app.command(epilog=_keys_epilog())
def show(
    setlist: Path = SETLIST,
    banks: Optional[Path] = OPT_BANKS,
    display: Optional[int] = typer.Option(None, "--display", min=0,
                                          help="display index [default: the second display if there is one]"),
    windowed: bool = typer.Option(False, "--windowed", help="in a window instead of fullscreen"),
    rehearse: bool = typer.Option(False, "--rehearse", help="laptop rehearsal: windowed, small, CPU-friendly"),
    resume: bool = typer.Option(False, "--resume", help="start at the song and section where the last show stopped"),
    headless: bool = typer.Option(False, "--headless", help="no window (tests, benchmarks)"),
    cues: Optional[Path] = typer.Option(None, "--cues", help="scripted cues: lines of `TIME CUE [ARG]`"),
    seconds: Optional[float] = typer.Option(None, "--seconds", min=0, help="stop after this many seconds"),
    summary: Optional[Path] = typer.Option(None, "--summary", help="write a JSON summary (frames, cues, fps...) here"),
    model: Optional[str] = OPT_MODEL_OVERRIDE,
    weights: Optional[str] = OPT_WEIGHTS_DIR,
    random_weights: bool = OPT_RANDOM_OVERRIDE,
    device: str = OPT_DEVICE,
    dtype: str = OPT_DTYPE,
    midi: Optional[str] = typer.Option(None, "--midi", help="MIDI input whose name contains this ('' = first)"),
    midi_map: Optional[str] = typer.Option(None, "--midi-map", help="MIDI preset YAML [default: presets/midi/generic.yaml]"),
    audio: Optional[str] = typer.Option(None, "--audio", help="audio input whose name contains this ('' = default)"),
    audio_file: Optional[Path] = typer.Option(None, "--audio-file", help="play along with this recording"),
    audio_preset: Optional[str] = typer.Option(None, "--audio-preset", help="onset preset name or YAML (presets/audio)"),
    drift: float = OPT_DRIFT,
    fps: float = typer.Option(60.0, "--fps", min=1, max=240, help="display frame rate"),
    osc: Optional[int] = typer.Option(None, "--osc", min=0, max=65535,
                                      help="listen for OSC on this UDP port [default: off]"),
    osc_host: str = typer.Option("127.0.0.1", "--osc-host",
                                 help="address OSC listens on (0.0.0.0: every network; default this machine only)"),
    osc_map: Optional[str] = typer.Option(None, "--osc-map", help="OSC preset name or YAML (presets/osc)"),
    osc_send: Optional[str] = typer.Option(None, "--osc-send", help="send song/section/lyric/beat/tempo to HOST:PORT"),
    clock: Optional[str] = typer.Option(None, "--clock", help="MIDI clock from the input whose name contains this"),
    link: bool = typer.Option(False, "--link", help="join an Ableton Link session (tempo and beat)"),
    audio_tempo: bool = typer.Option(False, "--audio-tempo",
                                     help="with --audio/--audio-file: tempo and beat from a beat tracker"),
    baked: bool = typer.Option(False, "--baked", help="frames from baked clips (`livegan bake`), no generator; "
                               "--rehearse picks this itself on a machine without a GPU when clips exist"),
    output: Optional[list[str]] = typer.Option(None, "--output", "-o", help=_output_option_help()),
    output_size: Optional[str] = typer.Option(None, "--output-size", help="WxH for NDI/camera/Syphon/Spout/"
                                              "record outputs [default: the generator's size]"),
    console: bool = typer.Option(False, "--console", help="operator console window; the projector shows no overlay"),
    accel: str = typer.Option("auto", "--accel", help="scale on the GPU through an SDL renderer: auto, on, off "
                              "(software)"),
    compile_mode: str = OPT_COMPILE,
    threads: Optional[int] = OPT_THREADS,
) -> None:
    """Walk the latent space live, advancing on keys, MIDI, audio onsets or a cue file."""
    from .models.compiled import COMPILE_MODES
    from .outputs.window import ACCEL_MODES
    from .show.session import ShowConfig, build_show, run_show

    check_choice("--accel", accel, ACCEL_MODES)
    check_choice("--compile", compile_mode, COMPILE_MODES)

    _validate_show_inputs(cues, midi_map, audio_preset, audio_file)  # bad files fail before any model loads
    if (osc_map is not None and osc is None) or (audio_tempo and audio is None and audio_file is None):
        from .errors import ConfigError
        raise ConfigError("--osc-map needs --osc PORT" if osc is None and osc_map is not None
                          else "--audio-tempo needs --audio or --audio-file")
    if osc_map is not None:
        from .triggers.osc_map import load_osc_preset
        load_osc_preset(osc_map)
    if osc_send is not None:
        from .outputs.osc_feedback import parse_target
        parse_target(osc_send)
    from .outputs.kinds import check_installed, parse_outputs, parse_size
    check_installed(parse_outputs(output))  # an unknown kind, Syphon on Linux, a missing extra: before models load
    size = parse_size(output_size) if output_size else None
    cfg = ShowConfig(setlist=setlist, banks=banks, display=display, windowed=windowed, rehearse=rehearse,
                     resume=resume, headless=headless, cues=cues, model=model, weights=weights,
                     random_weights=random_weights, device=device,
                     dtype=dtype, midi=midi, midi_map=midi_map, audio=audio, audio_file=audio_file,
                     audio_preset=audio_preset, drift=drift, fps=fps, osc=osc, osc_host=osc_host,
                     osc_map=osc_map, osc_send=osc_send, clock=clock, link=link, audio_tempo=audio_tempo,
                     baked=baked, outputs=list(output or []), output_size=size, console=console,
                     accel=accel, compile=compile_mode, threads=threads)
    if rehearse and device == "auto":
        cfg.device = "cpu"
    sh = build_show(cfg, notice=notice)
    from .interrupts import StopGracefully
    with StopGracefully(sh):  # SIGTERM/SIGHUP end the show like Esc: state saved, summary written
        result = run_show(sh, seconds)
    out = result.as_dict()
    if summary:
        from .engine.statefile import write_json_atomic
        write_json_atomic(summary, out)
    echo(f"show ended: {out['frames']} frames, {out['cues']} cues, {out['fps']:.1f} fps, "
         f"longest stall {out['longest_stall_ms']:.0f} ms", err=True)


def _validate_show_inputs(cues: Optional[Path], midi_map: Optional[str], audio_preset: Optional[str],
                         audio_file: Optional[Path]) -> None:
    if cues is not None:
        from .engine.cuefile import parse_cue_file
        parse_cue_file(cues)
    if midi_map is not None:
        from .triggers.midi_map import load_midi_preset
        load_midi_preset(midi_map)
    if audio_preset is not None:
        from .audio.settings import load_onset_settings
        load_onset_settings(audio_preset)
    if audio_file is not None and not audio_file.is_file():  # decoding it waits for the show's own read
        from .errors import ConfigError, Where
        raise ConfigError("audio file not found", Where(str(audio_file)))


@app.command()
def demo(
    out: Optional[Path] = typer.Option(None, "--out", help="bank folder [default: setlists/demo-banks]"),
    seconds: Optional[float] = typer.Option(None, "--seconds", min=0, help="stop the rehearsal after this long"),
    headless: bool = typer.Option(False, "--headless", help="no window: play the demo with scripted cues"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="override optimiser steps"),
) -> None:
    """Prep the demo setlist (offline stand-ins when real weights can't be had) and rehearse it."""
    import os
    from .show.session import ShowConfig, build_show, run_show
    from .setlist import load_setlist
    from .prep.runner import prep_setlist

    setlist = demo_setlist_path()
    sl = load_setlist(setlist)
    out = out or default_banks(setlist)
    gen, clp = load_prep_models(sl.defaults.model, sl.defaults.clip, weights=None, clip_weights=None,
                                random_weights=False, device="auto", fallback=True)
    if steps is None and gen.device.type == "cpu" and gen.id.name != "tiny":
        # Real weights on a CPU: ~6 h at the setlist's settings (see `livegan check`); a few minutes like this.
        steps, sl.defaults.cutouts = 20, 8
        notice("no GPU: a quick demo prep (20 steps, 8 cutouts per line); `livegan prep` on a GPU gives show quality")
    from .threads import apply_thread_policy
    apply_thread_policy("prep")
    s = prep_setlist(sl, out, gen, clp, steps=steps, progress=True)
    echo(f"prep: {s.done} searched, {s.cached} cached, {s.seconds:.1f} s; contact sheets: "
         + ", ".join(str(p) for p in s.sheets), err=True)
    if not headless and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
            and sys.platform.startswith("linux") and os.environ.get("SDL_VIDEODRIVER") != "dummy":
        notice("no display found: playing the demo headless with scripted cues (use a desktop for the window)")
        headless = True
    cfg = ShowConfig(setlist=setlist, banks=out, rehearse=not headless, headless=headless, device="cpu"
                     if gen.device.type == "cpu" else "auto", model=gen.id.name if gen.id.name == "tiny" else None)
    if gen.id.name == "tiny" and sl.defaults.model != "tiny":
        # The stand-ins load without failing in the show, so say it here: the banner stays on screen.
        cfg.notices.append("OFFLINE: stand-in models (no real weights)")
    if headless:
        cfg.cues = demo_cues_path()
        seconds = seconds or 12.0
    sh = build_show(cfg, notice=notice)
    r = run_show(sh, seconds).as_dict()
    echo(f"demo ended: {r['frames']} frames, {r['cues']} cues, {r['fps']:.1f} fps", err=True)


def demo_setlist_path() -> Path:
    return Path(__file__).resolve().parent.parent / "setlists" / "demo.yaml"


def demo_cues_path() -> Path:
    return Path(__file__).resolve().parent.parent / "setlists" / "demo-cues.txt"


# render, bench, soak, onsets, devices and learn live in cli_tools (registered on import).
from . import cli_tools  # noqa: E402,F401
from . import cli_bake  # noqa: E402,F401  (bake)


# --------------------------------------------------------------------------- main
def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: user errors are one line and exit 2; Ctrl-C is exit 130, SIGTERM 143, SIGHUP 129."""
    from .interrupts import Terminated, install_handlers, os_error_line, restore_handlers, stopped_by as _stopped_by

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
    except OSError as e:  # disk full, read-only folder, permissions: the world, not a bug
        typer.secho(f"error: {os_error_line(e)}", fg=typer.colors.RED, err=True)
        sys.exit(EXIT_USER_ERROR)
    except Exception as e:  # click's usage errors (from click itself or typer's bundled copy)
        usage, abort = _click_exception_types()
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

if __name__ == "__main__":
    # `python -m livegan.cli`: run the imported module's main, whose app has cli_tools' commands
    # registered on it (this __main__ copy's app has only the commands defined above).
    from livegan.cli import main as _main
    _main()
