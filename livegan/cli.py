"""The ``livegan`` command: prep, check, show, render, bench, onsets, devices, learn, demo.

Every command validates its input at the boundary; any user error is one
line on stderr and exit code 2, never a traceback (``main`` guarantees it).
Heavy imports (torch, CLIP, pygame) happen inside the commands that need
them, so ``livegan check`` and ``--help`` are fast.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from .errors import EXIT_USER_ERROR, LiveganError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Real-time BigGAN visuals for live music. `livegan demo` runs the whole pipeline offline.")
log = logging.getLogger("livegan")

SETLIST = typer.Argument(..., help="setlist YAML file (see setlists/demo.yaml)", show_default=False)
MODEL_HELP = "generator: biggan-deep-128/256/512 or tiny (default: the setlist's)"
# Options that several commands share: one definition, one default (DESIGN.md rule 2).
OPT_BANKS = typer.Option(None, "--banks", help="bank folder [default: SETLIST's folder/<name>-banks]")
OPT_MODEL_OVERRIDE = typer.Option(None, "--model", help="override the generator the banks name")
OPT_WEIGHTS_DIR = typer.Option(None, "--weights", help="local BigGAN folder (config.json + pytorch_model.bin)")
OPT_RANDOM_OVERRIDE = typer.Option(False, "--random-weights", help="with --model: random weights (smoke runs)")
OPT_DEVICE = typer.Option("auto", "--device", help="auto, cpu or cuda")
OPT_DTYPE = typer.Option("auto", "--dtype", help="auto, float32, bfloat16 or float16")
OPT_DRIFT = typer.Option(0.15, "--drift", min=0, max=1, help="drift amount around each keyframe")


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
def default_banks_dir(setlist: Path) -> Path:
    """Banks live beside the setlist: setlists/demo.yaml -> setlists/demo-banks/."""
    return setlist.parent / f"{setlist.stem}-banks"


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

    # With a local checkpoint only the architecture part of MODEL/PRETRAINED matters.
    spec = clip_spec.split("/")[0] if clip_weights else clip_spec
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
) -> None:
    """Find keyframes for every lyric line: one bank + contact sheet per song."""
    from .prep.runner import prep_setlist
    from .setlist import load_setlist

    sl = load_setlist(setlist)
    for w in sl.warnings:
        echo(w, err=True)
    out = out or default_banks_dir(setlist)
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


# --------------------------------------------------------------------------- show
def _keys_epilog() -> str:
    from .triggers.keyboard import KEY_HELP  # pure and tiny: the single source of the key table
    return "Keys: " + "; ".join(f"{k}: {v}" for k, v in KEY_HELP) + "."


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
) -> None:
    """Walk the latent space live, advancing on keys, MIDI, audio onsets or a cue file."""
    from .session import ShowConfig, build_show, run_show

    _validate_show_inputs(cues, midi_map, audio_preset, audio_file)  # bad files fail before any model loads
    cfg = ShowConfig(setlist=setlist, banks=banks, display=display, windowed=windowed, rehearse=rehearse,
                     resume=resume, headless=headless, cues=cues, model=model, weights=weights,
                     random_weights=random_weights, device=device,
                     dtype=dtype, midi=midi, midi_map=midi_map, audio=audio, audio_file=audio_file,
                     audio_preset=audio_preset, drift=drift, fps=fps)
    if rehearse and device == "auto":
        cfg.device = "cpu"
    sh = build_show(cfg, notice=notice)
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
    from .session import ShowConfig, build_show, run_show
    from .setlist import load_setlist
    from .prep.runner import prep_setlist

    setlist = demo_setlist_path()
    sl = load_setlist(setlist)
    out = out or default_banks_dir(setlist)
    gen, clp = load_prep_models(sl.defaults.model, sl.defaults.clip, weights=None, clip_weights=None,
                                random_weights=False, device="auto", fallback=True)
    if steps is None and gen.device.type == "cpu" and gen.id.name != "tiny":
        # Real weights on a CPU: ~6 h at the setlist's settings (see `livegan check`); a few minutes like this.
        steps, sl.defaults.cutouts = 20, 8
        notice("no GPU: a quick demo prep (20 steps, 8 cutouts per line); `livegan prep` on a GPU gives show quality")
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


# --------------------------------------------------------------------------- render
@app.command()
def render(
    setlist: Path = SETLIST,
    song: str = typer.Option(..., "--song", help="title of the song to render"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="mp4 file to write"),
    cues: Optional[Path] = typer.Option(None, "--cues", help="cue file: lines of `TIME CUE [ARG]`"),
    audio: Optional[Path] = typer.Option(None, "--audio", help="cues from this audio's onsets; muxed into the video"),
    seconds: Optional[float] = typer.Option(None, "--seconds", min=0.1, help="length [default: the audio's]"),
    fps: float = typer.Option(30.0, "--fps", min=1, max=120, help="video frame rate"),
    size: Optional[int] = typer.Option(None, "--size", min=16, max=4096, help="output side in pixels [default: max(512, generator)]"),
    captions: bool = typer.Option(False, "--captions", help="draw the lyric line on the frames"),
    frames: Optional[Path] = typer.Option(None, "--frames", help="write PNG frames into this folder instead of a video"),
    banks: Optional[Path] = OPT_BANKS,
    model: Optional[str] = OPT_MODEL_OVERRIDE,
    weights: Optional[str] = OPT_WEIGHTS_DIR,
    random_weights: bool = OPT_RANDOM_OVERRIDE,
    device: str = OPT_DEVICE,
    dtype: str = OPT_DTYPE,
    audio_preset: Optional[str] = typer.Option(None, "--audio-preset", help="onset preset name or YAML"),
    drift: float = OPT_DRIFT,
    batch: Optional[int] = typer.Option(None, "--batch", min=1, max=64,
                                        help="frames per generator call [default: 2 on a CPU, 8 on a GPU]"),
) -> None:
    """Render a music video offline: a cue file or an audio file in, mp4 (or PNG frames) out."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from .errors import ConfigError
    from .render import RenderJob, audio_cues, render_frames
    from .session import ShowConfig, default_banks, load_show_generator
    from .setlist import load_setlist

    if (output is None) == (frames is None):
        raise ConfigError("give exactly one of -o VIDEO.mp4 or --frames DIR")
    if cues is None and audio is None and seconds is None:
        raise ConfigError("give --cues FILE and/or --audio FILE, or at least --seconds for a cue-less drift")
    sl = load_setlist(setlist)
    song_i = sl.song_index(song)
    cue_list = []
    if cues is not None:
        from .engine.cuefile import parse_cue_file
        cue_list = parse_cue_file(cues)
    length = seconds
    if audio is not None:
        acues, alen = audio_cues(audio, sl.songs[song_i].onsets, audio_preset)
        cue_list = sorted(cue_list + acues, key=lambda c: c[0])
        length = seconds or alen
    if length is None:
        raise ConfigError("--seconds is needed with --cues (or give --audio)")
    banks = banks or default_banks(setlist)
    gen = load_show_generator(ShowConfig(setlist=setlist, banks=banks, model=model, weights=weights, device=device,
                                         dtype=dtype, random_weights=random_weights), sl, banks, notice)
    # Measured on a 2-core CPU with bf16: batches of 2 beat 4 and 8; GPUs like big batches.
    batch = batch or (2 if gen.device.type == "cpu" else 8)
    job = RenderJob(song=song_i, seconds=length, fps=fps, size=size, captions=captions, batch=batch, drift=drift)
    n = int(round(length * fps))
    if frames is not None:
        from .outputs.recorder import FramesRecorder
        sink = FramesRecorder(frames)
    else:
        from .outputs.recorder import VideoRecorder
        sink = VideoRecorder(output, fps, audio=audio)
    with sink, Progress(TextColumn("render"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[rate]} fps"), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("render", total=n, rate="-")
        t0 = time.perf_counter()

        def advance(k: int) -> None:
            bar.advance(task, k)
            done = bar.tasks[0].completed
            bar.update(task, rate=f"{done / max(1e-9, time.perf_counter() - t0):.1f}")

        written = render_frames(sl, gen, banks, job, cue_list, sink, progress=advance)
    dt = time.perf_counter() - t0
    echo(f"wrote {frames or output}: {written} frames ({length:.1f} s at {fps:g} fps), {len(cue_list)} cues, "
         f"{written / dt:.1f} frames/s")


# --------------------------------------------------------------------------- bench
@app.command()
def bench(
    model: list[str] = typer.Option(["biggan-deep-128"], "--model", help="generator(s) to measure (repeatable)"),
    random_weights: bool = typer.Option(False, "--random-weights", help="real architecture, random weights"),
    device: str = OPT_DEVICE,
    dtype: str = typer.Option("auto", "--dtype", help="engine dtype: auto, float32, bfloat16, float16"),
    seconds: float = typer.Option(10.0, "--seconds", min=1, help="seconds per loop"),
) -> None:
    """Print one JSON object: raw vs engine fps, display fps, cue and MIDI latencies."""
    from .bench import bench as run_bench

    echo(json.dumps(run_bench(model, random_weights=random_weights, device=device, seconds=seconds, dtype=dtype),
                    indent=2))


@app.command()
def soak(
    minutes: float = typer.Option(10.0, "--minutes", min=0.1, help="simulated show minutes"),
    speed: float = typer.Option(30.0, "--speed", min=1, help="show seconds per real second"),
    seed: int = typer.Option(0, "--seed", help="seed of the random cues and faults"),
    fault_every: float = typer.Option(4.0, "--fault-every", min=0.1, help="mean show seconds between faults"),
) -> None:
    """Soak the live engine with random cues and faults (tiny model); print a JSON report."""
    from .soak import run_soak

    r = run_soak(minutes, speed, seed, fault_every=fault_every)
    echo(json.dumps(r, indent=1))
    if not (r["dropped_cues"] == 0 and r["cues_in_order"] and r["cues_handled"] == r["cues_sent"]):
        raise typer.Exit(1)


# --------------------------------------------------------------------------- audio, devices, learn
@app.command()
def onsets(
    file: Path = typer.Argument(..., help="audio file (wav directly; other formats through ffmpeg)"),
    as_json: bool = typer.Option(False, "--json", help='print [{"time": s, "strength": x}, ...]'),
    preset: Optional[str] = typer.Option(None, "--preset", help="onset preset name (presets/audio) or YAML file"),
) -> None:
    """Detected onset times in seconds, one per line (the live detector, run over a file)."""
    from .audio.onset import detect_file, format_onsets
    from .audio.settings import load_onset_settings

    echo(format_onsets(detect_file(file, load_onset_settings(preset)), as_json))


@app.command()
def devices() -> None:
    """List MIDI inputs, audio inputs, displays and the GPU."""
    from .devices import format_devices, list_devices

    echo(format_devices(list_devices()))


@app.command()
def learn(
    midi: str = typer.Option("", "--midi", help="MIDI input whose name contains this ('' = first)"),
    output: Path = typer.Option(..., "-o", "--output", help="preset YAML to write"),
    timeout: float = typer.Option(20.0, "--timeout", min=1, help="seconds to wait per action before skipping"),
) -> None:
    """MIDI learn: press the control for each action in turn (Enter skips); writes a preset."""
    import select
    from .triggers.learn import run_learn, write_preset
    from .triggers.midi import open_raw

    def ask_skip() -> bool:
        if not sys.stdin or not sys.stdin.isatty():
            return False
        ready, _, _ = select.select([sys.stdin], [], [], 0)
        if ready:
            sys.stdin.readline()
            return True
        return False

    tap, handle = open_raw(midi or None)
    try:
        preset = run_learn(tap, prompt=lambda m: echo(m), ask_skip=ask_skip, timeout=timeout,
                           name=output.stem, port_name=midi or None)
    finally:
        handle.close()
    write_preset(preset, output)
    echo(f"wrote {output} ({len(preset.get('mappings', []))} mappings)")


# --------------------------------------------------------------------------- main
def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: user errors are one line and exit 2; Ctrl-C is exit 130."""
    try:
        rc = app(args=argv, standalone_mode=False)
        # Without standalone mode click *returns* the code of an Exit (typer turns
        # Ctrl-C into Exit(130)) instead of exiting with it.
        if isinstance(rc, int) and rc != 0:
            if rc == 130:
                typer.echo("interrupted", err=True)
            sys.exit(rc)
    except LiveganError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # click's usage errors
        import click
        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(EXIT_USER_ERROR)
        if isinstance(e, click.exceptions.Abort):
            typer.echo("interrupted", err=True)
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
