"""``livegan show`` and ``livegan demo``: the live show from the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..bank import default_banks
from .common import (OPT_BANKS, OPT_COMPILE, OPT_DEVICE, OPT_DRIFT, OPT_DTYPE, OPT_MODEL_OVERRIDE,
                     OPT_RANDOM_OVERRIDE, OPT_THREADS, OPT_WEIGHTS_DIR, SETLIST, app, check_choice, echo, notice)
from .prep import load_prep_models


# --------------------------------------------------------------------------- show
def _keys_epilog() -> str:
    from ..outputs.kinds import output_help_text  # pure and tiny: the single source of the output kinds
    from ..triggers.keyboard import KEY_HELP  # pure and tiny: the single source of the key table
    from ..triggers.osc_addresses import help_line  # the single source of the OSC addresses
    from ..engine.tempo import tempo_help
    return ("Keys: " + "; ".join(f"{k}: {v}" for k, v in KEY_HELP) + ".\n\n"
            "Outputs (--output, repeatable): " + output_help_text() + ".\n\n"
            f"OSC in (--osc PORT; listens on 127.0.0.1 only unless --osc-host): {help_line()}.\n\n"
            f"Tempo, highest priority first: {tempo_help()} (the setlist's bpm).")


def _output_option_help() -> str:
    from ..outputs.kinds import OUTPUT_HELP  # pure and tiny: the single source of the output kinds
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
    from ..models.compiled import COMPILE_MODES
    from ..outputs.window import ACCEL_MODES
    from ..show.session import ShowConfig, build_show, run_show

    check_choice("--accel", accel, ACCEL_MODES)
    check_choice("--compile", compile_mode, COMPILE_MODES)

    _validate_show_inputs(cues, midi_map, audio_preset, audio_file)  # bad files fail before any model loads
    if (osc_map is not None and osc is None) or (audio_tempo and audio is None and audio_file is None):
        from ..errors import ConfigError
        raise ConfigError("--osc-map needs --osc PORT" if osc is None and osc_map is not None
                          else "--audio-tempo needs --audio or --audio-file")
    if osc_map is not None:
        from ..triggers.osc_map import load_osc_preset
        load_osc_preset(osc_map)
    if osc_send is not None:
        from ..outputs.osc_feedback import parse_target
        parse_target(osc_send)
    from ..outputs.kinds import check_installed, parse_outputs, parse_size
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
    from ..interrupts import StopGracefully
    with StopGracefully(sh):  # SIGTERM/SIGHUP end the show like Esc: state saved, summary written
        result = run_show(sh, seconds)
    out = result.as_dict()
    if summary:
        from ..engine.statefile import write_json_atomic
        write_json_atomic(summary, out)
    echo(f"show ended: {out['frames']} frames, {out['cues']} cues, {out['fps']:.1f} fps, "
         f"longest stall {out['longest_stall_ms']:.0f} ms{steal_note(out.get('host_steal'))}", err=True)


STEAL_SAID = 0.05  # the share of CPU time a VM's host took above which the summary says so


def steal_note(share: float | None) -> str:
    """A clause for the summary line where the host of a virtual machine took a noticeable share of its CPU."""
    if share is None or share < STEAL_SAID:
        return ""
    return (f"; the host took {100 * share:.0f}% of this machine's CPU time (a shared virtual machine: "
            "expect fewer frames than `livegan bench` measured on a quiet host)")


def _validate_show_inputs(cues: Optional[Path], midi_map: Optional[str], audio_preset: Optional[str],
                         audio_file: Optional[Path]) -> None:
    if cues is not None:
        from ..engine.cuefile import parse_cue_file
        parse_cue_file(cues)
    if midi_map is not None:
        from ..triggers.midi_map import load_midi_preset
        load_midi_preset(midi_map)
    if audio_preset is not None:
        from ..audio.settings import load_onset_settings
        load_onset_settings(audio_preset)
    if audio_file is not None and not audio_file.is_file():  # decoding it waits for the show's own read
        from ..errors import ConfigError, Where
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
    from ..show.session import ShowConfig, build_show, run_show
    from ..setlist import load_setlist
    from ..prep.runner import prep_setlist

    setlist = demo_setlist_path()
    sl = load_setlist(setlist)
    out = out or default_banks(setlist)
    gen, clp = load_prep_models(sl.defaults.model, sl.defaults.clip, weights=None, clip_weights=None,
                                random_weights=False, device="auto", fallback=True)
    if steps is None and gen.device.type == "cpu" and gen.id.name != "tiny":
        # Real weights on a CPU: ~6 h at the setlist's settings (see `livegan check`); a few minutes like this.
        steps, sl.defaults.cutouts = 20, 8
        notice("no GPU: a quick demo prep (20 steps, 8 cutouts per line); `livegan prep` on a GPU gives show quality")
    from ..threads import apply_thread_policy
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
    invisible = not headless and os.environ.get("SDL_VIDEODRIVER") == "dummy"
    if invisible and seconds is None:
        # Nobody can see the window or press a key in it: a rehearsal would go on until killed.
        notice("SDL_VIDEODRIVER=dummy: the window is invisible, so the demo plays its scripted cues for "
               f"{DEMO_SECONDS:g} s (--seconds to change)")
    if headless or invisible:
        cfg.cues = demo_cues_path()
        seconds = seconds or DEMO_SECONDS
    sh = build_show(cfg, notice=notice)
    r = run_show(sh, seconds).as_dict()
    echo(f"demo ended: {r['frames']} frames, {r['cues']} cues, {r['fps']:.1f} fps{steal_note(r.get('host_steal'))}",
         err=True)


DEMO_SECONDS = 12.0  # the demo's length where nobody can stop it (no window, or an invisible one)


def demo_setlist_path() -> Path:
    return Path(__file__).resolve().parents[2] / "setlists" / "demo.yaml"


def demo_cues_path() -> Path:
    return Path(__file__).resolve().parents[2] / "setlists" / "demo-cues.txt"


