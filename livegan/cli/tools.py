"""More ``livegan`` commands: render, bench, soak, onsets, devices, learn.

Registered on the shared app (:mod:`livegan.cli.common`) when :mod:`livegan.cli` is
imported. Heavy imports stay inside the commands.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from .common import (OPT_BANKS, OPT_COMPILE, OPT_DEVICE, OPT_DRIFT, OPT_DTYPE, OPT_MODEL_OVERRIDE,
                  OPT_RANDOM_OVERRIDE, OPT_WEIGHTS_DIR, SETLIST, app, check_choice, echo, notice)


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
    force: bool = typer.Option(False, "--force", help="replace an existing -o file (never one of the inputs)"),
) -> None:
    """Render a music video offline: a cue file or an audio file in, mp4 (or PNG frames) out."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from ..errors import ConfigError
    from ..render import RenderJob, audio_cues, check_output, render_frames
    from ..bank import bank_path, default_banks
    from ..show.session import ShowConfig, load_show_generator
    from ..setlist import load_setlist

    if (output is None) == (frames is None):
        raise ConfigError("give exactly one of -o VIDEO.mp4 or --frames DIR")
    if cues is None and audio is None and seconds is None:
        raise ConfigError("give --cues FILE and/or --audio FILE, or at least --seconds for a cue-less drift")
    banks = banks or default_banks(setlist)
    if output is not None:  # before any work: never clobber the setlist, the audio, a folder...
        check_output(output, [setlist, audio, cues, bank_path(banks, song), banks], force)
    else:
        from ..outputs.recorder import FramesRecorder
        FramesRecorder(frames).check_target()
    sl = load_setlist(setlist)
    song_i = sl.song_index(song)
    cue_list = []
    if cues is not None:
        from ..engine.cuefile import parse_cue_file
        cue_list = parse_cue_file(cues)
    length = seconds
    if audio is not None:
        acues, alen = audio_cues(audio, sl.songs[song_i].onsets, audio_preset)
        cue_list = sorted(cue_list + acues, key=lambda c: c[0])
        length = seconds or alen
    if length is None:
        raise ConfigError("--seconds is needed with --cues (or give --audio)")
    gen = load_show_generator(ShowConfig(setlist=setlist, banks=banks, model=model, weights=weights, device=device,
                                         dtype=dtype, random_weights=random_weights), sl, banks, notice)
    # Measured on a 2-core CPU with bf16: batches of 2 beat 4 and 8; GPUs like big batches.
    batch = batch or (2 if gen.device.type == "cpu" else 8)
    job = RenderJob(song=song_i, seconds=length, fps=fps, size=size, captions=captions, batch=batch, drift=drift)
    n = int(round(length * fps))
    if frames is not None:
        from ..outputs.recorder import FramesRecorder
        sink = FramesRecorder(frames)
    else:
        from ..outputs.recorder import VideoRecorder
        sink = VideoRecorder(output, fps, audio=audio)
    with sink, Progress(TextColumn("render"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[rate]} fps"), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("render", total=n, rate="-")
        t0 = time.perf_counter()

        def advance(k: int) -> None:
            bar.advance(task, k)
            done = bar.tasks[0].completed
            bar.update(task, rate=f"{done / max(1e-9, time.perf_counter() - t0):.1f}")

        report: dict = {}
        written = render_frames(sl, gen, banks, job, cue_list, sink, progress=advance, report=report)
    dt = time.perf_counter() - t0
    echo(f"wrote {frames or output}: {written} frames ({length:.1f} s at {fps:g} fps), {len(cue_list)} cues, "
         f"{written / dt:.1f} frames/s")
    from ..render import BAD_FRAMES_WARN
    if report["bad_frames"] > BAD_FRAMES_WARN:
        notice(f"{report['bad_frames']} of {written} frames were bad (NaN) and hold the frame before them")
    for w in report.get("warnings", []):
        notice(w)


# --------------------------------------------------------------------------- bench
@app.command()
def bench(
    model: list[str] = typer.Option(["biggan-deep-128"], "--model", help="generator(s) to measure (repeatable)"),
    random_weights: bool = typer.Option(False, "--random-weights", help="real architecture, random weights"),
    device: str = OPT_DEVICE,
    dtype: str = typer.Option("auto", "--dtype", help="engine dtype: auto, float32, bfloat16, float16"),
    seconds: float = typer.Option(10.0, "--seconds", min=1, help="seconds per loop"),
    outputs: Optional[str] = typer.Option(None, "--outputs", help="instead: ms per frame of these outputs "
                                          "(comma list of window, console, ndi) at --output-size, and display "
                                          "fps with all on (NDI announces a source on the network)"),
    output_size: str = typer.Option("1920x1080", "--output-size", help="WxH for --outputs"),
    compile_mode: str = OPT_COMPILE,
    display: bool = typer.Option(True, "--display/--no-display",
                                 help="measure a real window at 1920x1080 and 3840x2160 (both paths)"),
    screenshots: Optional[Path] = typer.Option(None, "--screenshots", help="save what each window showed here"),
) -> None:
    """Print one JSON object: every raw configuration, the engine against the best, display and latencies.

    Also measures whether --compile pays here, and remembers it for `--compile auto`.
    """
    if outputs is not None:
        from ..outputs.bench import bench_outputs
        from ..outputs.kinds import parse_size
        echo(json.dumps(bench_outputs([k.strip() for k in outputs.split(",") if k.strip()],
                                      size=parse_size(output_size), seconds=seconds), indent=2))
        return
    from .. import bench_display
    from ..bench import bench as run_bench
    from ..models.compiled import COMPILE_MODES

    check_choice("--compile", compile_mode, COMPILE_MODES)
    if screenshots is not None:
        bench_display.SHOTS = screenshots
    result = run_bench(model, random_weights=random_weights, device=device, seconds=seconds, dtype=dtype,
                       compile_mode=compile_mode, display=display, log=lambda m: echo(m, err=True))
    echo(json.dumps(result, indent=2))


@app.command()
def soak(
    minutes: float = typer.Option(10.0, "--minutes", min=0.1, help="simulated show minutes"),
    speed: float = typer.Option(30.0, "--speed", min=1, help="show seconds per real second"),
    seed: int = typer.Option(0, "--seed", help="seed of the random cues and faults"),
    fault_every: float = typer.Option(4.0, "--fault-every", min=0.1, help="mean show seconds between faults"),
) -> None:
    """Soak the live engine with random cues and faults (tiny model); print a JSON report."""
    from ..soak import run_soak

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
    from ..audio.onset import detect_file, format_onsets
    from ..audio.settings import load_onset_settings

    echo(format_onsets(detect_file(file, load_onset_settings(preset)), as_json))


@app.command()
def devices() -> None:
    """List MIDI inputs, audio inputs, displays and the GPU."""
    from ..devices import format_devices, list_devices

    echo(format_devices(list_devices()))


@app.command()
def learn(
    midi: str = typer.Option("", "--midi", help="MIDI input whose name contains this ('' = first)"),
    output: Path = typer.Option(..., "-o", "--output", help="preset YAML to write"),
    timeout: float = typer.Option(20.0, "--timeout", min=1, help="seconds to wait per action before skipping"),
) -> None:
    """MIDI learn: press the control for each action in turn (Enter skips); writes a preset."""
    import select
    from ..triggers.learn import run_learn, write_preset
    from ..triggers.midi import open_raw

    def ask_skip() -> bool:
        if not sys.stdin or not sys.stdin.isatty():
            return False
        ready, _, _ = select.select([sys.stdin], [], [], 0)
        if ready:
            sys.stdin.readline()
            return True
        return False

    from ..errors import DeviceError
    from ..triggers.midi import MidiUnavailable
    try:
        tap, handle = open_raw(midi or None)
    except MidiUnavailable as e:  # learn can't run without MIDI: say that, not "running without MIDI"
        raise DeviceError(f"{e}; MIDI learn needs a MIDI input (or copy and edit presets/midi/generic.yaml)") from None
    try:
        preset = run_learn(tap, prompt=lambda m: echo(m), ask_skip=ask_skip, timeout=timeout,
                           name=output.stem, port_name=midi or None)
    finally:
        handle.close()
    write_preset(preset, output)
    echo(f"wrote {output} ({len(preset.get('mappings', []))} mappings)")
