"""Builds a live show from the command line's choices: setlist, banks, generator, inputs, output.

Kept apart from :mod:`livegan.app` (the loop) so the loop stays small, and
apart from the CLI so tests can build a show without parsing arguments.
Never imports CLIP or prep (DESIGN.md rule 1).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .app import Show, ShowOptions
from .clock import Clock, MonotonicClock
from .bank import default_banks
from .engine.director import Director
from .engine.state import plans_from_setlist
from .engine.statefile import StateSaver, load_state, resume_state
from .engine.worker import RenderWorker
from .errors import LiveganError
from .outputs.base import Output
from .setlist import Setlist, load_setlist
from .showbanks import ShowKeyframes, find_bank_generator
from .showlearn import ShowLearn
from .triggers.base import TriggerSource
from .triggers.events import EventQueue
from .triggers.midi import MidiInput

log = logging.getLogger(__name__)
STATE_FILE = ".show-state.json"


@dataclass
class ShowConfig:
    setlist: Path
    banks: Path | None = None
    display: int | None = None
    windowed: bool = False
    rehearse: bool = False
    resume: bool = False
    headless: bool = False
    cues: Path | None = None
    model: str | None = None
    weights: str | None = None
    random_weights: bool = False
    device: str = "auto"
    dtype: str = "auto"
    midi: str | None = None
    midi_map: str | None = None
    audio: str | None = None
    audio_file: Path | None = None
    audio_preset: str | None = None
    fps: float = 60.0
    drift: float = 0.15
    drift_speed: float = 0.25
    window_size: tuple[int, int] = (1280, 720)
    overlay: bool | None = None
    max_batch: int = 4
    accel: str = "auto"          # window scaling: SDL renderer (GPU) or software (outputs/window.py)
    compile: str = "auto"        # torch.compile of the generator (models/compiled.py)
    threads: int | None = None   # torch threads; None: threads.py's policy
    notices: list[str] = field(default_factory=list)


def auto_dtype(device: str) -> str:
    """bf16 autocast where the hardware does it natively (CUDA, CPUs with AVX512-BF16), else fp32."""
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    try:
        return "bfloat16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "float32"
    except (AttributeError, RuntimeError):
        return "float32"


def load_show_generator(cfg: ShowConfig, sl: Setlist, banks: Path, notice: Callable[[str], None]):
    """The generator the banks were made with (their metadata names it) unless --model overrides."""
    from .models.registry import generator_from_id, load_generator, resolve_device

    device = resolve_device(cfg.device)
    dtype = auto_dtype(device) if cfg.dtype == "auto" else cfg.dtype
    try:
        if cfg.model or cfg.weights:
            return load_generator(cfg.model or "custom", weights=cfg.weights, device=device, dtype=dtype,
                                  random_weights=cfg.random_weights)
        gid = find_bank_generator(sl, banks)
        if gid is not None:
            return generator_from_id(gid, device=device, dtype=dtype)
        return load_generator(sl.defaults.model, device=device, dtype=dtype)
    except LiveganError as e:
        notice(f"{e}")
        notice("OFFLINE: using the stand-in generator 'tiny'; songs without matching banks play class-hint walks")
        return load_generator("tiny", device=device, dtype=dtype)


def make_sources(cfg: ShowConfig, sl: Setlist, events: EventQueue, clock: Clock) -> list[TriggerSource]:
    sources: list[TriggerSource] = []
    if cfg.cues:
        from .engine.cuefile import ScriptedCueSource
        sources.append(ScriptedCueSource.from_file(cfg.cues, events, clock, start=clock.now()))
    if cfg.midi is not None:
        from .triggers.midi_map import load_midi_preset
        sources.append(MidiInput(events, clock, port=cfg.midi or None, preset=load_midi_preset(cfg.midi_map)))
    if cfg.audio is not None or cfg.audio_file:
        from .audio.settings import SongOnsets, load_onset_settings
        from .triggers.audio import AudioFileSource, AudioInputSource
        settings = load_onset_settings(cfg.audio_preset)
        first = SongOnsets.model_validate(sl.songs[0].onsets or {})
        if cfg.audio_file:
            sources.append(AudioFileSource(events, clock, cfg.audio_file, settings=settings, song_onsets=first))
        else:
            sources.append(AudioInputSource(events, clock, device=cfg.audio or None, settings=settings,
                                            song_onsets=first))
    return sources


def make_output(cfg: ShowConfig) -> Output:
    if cfg.headless:
        from .outputs.null import NullOutput
        return NullOutput()
    from .outputs.window import WindowOutput
    if cfg.rehearse:
        return WindowOutput(display=cfg.display, windowed=True, size=(960, 540), title="livegan (rehearsal)",
                            accel=cfg.accel)
    return WindowOutput(display=cfg.display, windowed=cfg.windowed, size=cfg.window_size, accel=cfg.accel)


def build_show(cfg: ShowConfig, clock: Clock | None = None, output: Output | None = None,
               notice: Callable[[str], None] = lambda m: log.warning("%s", m)) -> Show:
    clock = clock or MonotonicClock()
    sl = load_setlist(cfg.setlist)
    banks = cfg.banks or default_banks(cfg.setlist)
    from .threads import apply_thread_policy
    apply_thread_policy("show", cfg.threads)  # the display loop keeps a core; a busy machine gets fewer
    gen = load_show_generator(cfg, sl, banks, lambda m: (cfg.notices.append(m), notice(m)))
    if cfg.compile != "off":
        from .models.compiled import compile_generator
        compile_generator(gen, cfg.compile, batches=(1,) if gen.device.type == "cpu" else tuple(
            range(1, cfg.max_batch + 1)), truncation=sl.defaults.truncation, warn=notice)
    gid = {"name": gen.id.name, "weights": gen.id.weights}
    keyframes = ShowKeyframes(sl, banks, gid, gen.num_latents)
    plans = [dataclasses.replace(p, variants=keyframes.variants(i)) for i, p in enumerate(plans_from_setlist(sl))]
    state = None
    state_path = banks / STATE_FILE
    if cfg.resume:
        data = load_state(state_path)
        if data is not None:
            state = resume_state(data, plans, t0=clock.now())
            notice(f"resuming at song {state.position.song + 1}, section {state.position.section + 1}")
    director = Director(plans, keyframes, drift_amount=cfg.drift, drift_speed=cfg.drift_speed,
                        truncation=sl.defaults.truncation, t0=clock.now(), state=state)
    saver = StateSaver(state_path, setlist=str(cfg.setlist))
    director.on_position_change = lambda p: saver.save(p, t=clock.now(), state=director.state.to_dict())
    events = EventQueue()
    sources = make_sources(cfg, sl, events, clock)
    worker = RenderWorker(director, gen, clock, fps=cfg.fps, max_batch=cfg.max_batch,
                          on_oom=lambda e: _cpu_fallback(gen, notice))
    if hasattr(gen, "model"):  # a BigGAN Generator: a cue interrupts the batch in flight
        from .models.interrupt import make_interruptible
        make_interruptible(gen, worker.should_stop)
    out = output or make_output(cfg)
    offline = any("OFFLINE" in n for n in cfg.notices)
    opts = ShowOptions(fps=cfg.fps, overlay=cfg.overlay if cfg.overlay is not None else (cfg.windowed or cfg.rehearse),
                       notice="OFFLINE: stand-in models (no real weights)" if offline else None,
                       lyrics=[[s.text for s in song.sections] for song in sl.songs])
    show = Show(director, worker, out, clock, events, sources, opts)
    # The VJ watches the projector, not the terminal: say it on screen too.
    worker.on_oom = lambda e: _cpu_fallback(gen, lambda m: (notice(m), show.warn(m)))
    for w in keyframes.warnings:
        show.warn(w)
    _song_changed(sl, sources, director.position.song)  # the start song's onset settings (also after --resume)
    show.on_song_change.append(lambda i: _song_changed(sl, sources, i))
    learn = ShowLearn(next((s for s in sources if isinstance(s, MidiInput)), None), show.say)
    show.capture = learn.capture
    show.on_tick.append(learn.tick)
    show.on_action = lambda a, t: learn.start(t) if a.kind == "learn" else None
    show.saver = saver  # closed by run_show
    show.generator = gen
    return show


def _song_changed(sl: Setlist, sources: list[TriggerSource], song: int) -> None:
    for src in sources:
        if hasattr(src, "set_song_onsets"):
            from .audio.settings import SongOnsets
            src.set_song_onsets(SongOnsets.model_validate(sl.songs[song].onsets or {}))


def _cpu_fallback(gen, notice: Callable[[str], None]):
    """On out-of-memory: move the generator to the CPU, say so, carry on."""
    if gen.device.type != "cpu":
        gen.to("cpu")
        notice("generator ran out of GPU memory: continuing on the CPU (slower)")
    return gen


def run_show(show: Show, seconds: float | None = None):
    out = show.output
    out.open()
    for w in out.warnings:
        show.warn(w)
    try:
        for src in show.sources:
            src.open()
        _anchor_scripted_cues(show)
        summary = show.run(seconds)
    finally:
        out.close()
        show.saver.close()
    return summary


def _anchor_scripted_cues(show: Show) -> None:
    """Cue-file times count from the moment the show starts, not from when it was built.

    Building loads the generator and opening the window take a while; a cue
    file anchored at build time would run early by that long (cues due in the
    gap all fire at once as the show starts, and ``--seconds`` cuts the end).
    """
    from .engine.cuefile import ScriptedCueSource

    now = show.clock.now()
    for src in show.sources:
        if isinstance(src, ScriptedCueSource) and src.remaining == len(src.cues):
            src.start = now
