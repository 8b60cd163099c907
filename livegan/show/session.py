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

from .loop import Show, ShowOptions
from ..clock import Clock, MonotonicClock
from ..bank import default_banks
from ..engine.director import Director
from ..engine.state import plans_from_setlist
from ..engine.statefile import StateSaver, load_state, relocate, resume_state
from ..engine.worker import RenderWorker
from ..errors import LiveganError
from ..outputs.base import Output
from ..setlist import Setlist, load_setlist
from .banks import ShowKeyframes, find_bank_generator
from .learn import ShowLearn
from ..triggers.base import TriggerSource
from ..triggers.events import EventQueue
from ..triggers.midi import MidiInput

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
    osc: int | None = None           # OSC in: UDP port (0: any free port)
    osc_host: str = "127.0.0.1"      # OSC in: address to listen on
    osc_map: str | None = None       # OSC preset (presets/osc)
    osc_send: str | None = None      # OSC out: HOST:PORT
    clock: str | None = None         # MIDI clock from this port instead of the --midi one
    link: bool = False               # join an Ableton Link session
    audio_tempo: bool = False        # beat tracker on the audio input: the lowest-priority tempo
    baked: bool = False              # frames from baked clips (livegan bake), no generator
    accel: str = "auto"          # window scaling: SDL renderer (GPU) or software (outputs/window.py)
    compile: str = "auto"        # torch.compile of the generator (models/compiled.py)
    threads: int | None = None   # torch threads; None: threads.py's policy
    notices: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)  # --output specs (see outputs/kinds.py); [] = the window
    output_size: tuple[int, int] | None = None         # --output-size for network/camera/record outputs
    console: bool = False                               # --console: operator window beside the projector


def auto_dtype(device: str) -> str:
    """bf16 autocast where the hardware does it natively (CUDA, CPUs with AVX512-BF16), fp16 on MPS, else fp32."""
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device == "mps":
        return "float16"  # fp16 autocast: Apple GPUs run half precision natively
    try:
        return "bfloat16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "float32"
    except (AttributeError, RuntimeError):
        return "float32"


def load_show_generator(cfg: ShowConfig, sl: Setlist, banks: Path, notice: Callable[[str], None]):
    """The setlist's model (or --model), with the weights most of its banks agree on.

    No single bank decides: one with bad or foreign generator metadata is that
    song's problem (a warning and a class-hint walk), never the show's.
    """
    from ..models.registry import generator_from_id, load_generator, resolve_device

    device = resolve_device(cfg.device)
    dtype = auto_dtype(device) if cfg.dtype == "auto" else cfg.dtype
    try:
        if cfg.model or cfg.weights:
            return load_generator(cfg.model or "custom", weights=cfg.weights, device=device, dtype=dtype,
                                  random_weights=cfg.random_weights)
        gid = find_bank_generator(sl, banks, sl.defaults.model)
        if gid is not None:
            try:
                return generator_from_id(gid, device=device, dtype=dtype)
            except LiveganError as e:  # e.g. the folder the banks name is gone: the model itself, then
                notice(f"{e}; loading {sl.defaults.model} as named in the setlist")
        return load_generator(sl.defaults.model, device=device, dtype=dtype)
    except LiveganError as e:
        notice(f"{e}")
        notice("OFFLINE: using the stand-in generator 'tiny'; songs without matching banks play class-hint walks")
        return load_generator("tiny", device=device, dtype=dtype)


def make_sources(cfg: ShowConfig, sl: Setlist, events: EventQueue, clock: Clock) -> list[TriggerSource]:
    sources: list[TriggerSource] = []
    if cfg.cues:
        from ..engine.cuefile import ScriptedCueSource
        sources.append(ScriptedCueSource.from_file(cfg.cues, events, clock, start=clock.now()))
    if cfg.midi is not None:
        from ..triggers.midi_map import load_midi_preset
        sources.append(MidiInput(events, clock, port=cfg.midi or None, preset=load_midi_preset(cfg.midi_map),
                                 midi_clock=cfg.clock is None))
    if cfg.clock is not None:
        sources.append(MidiInput(events, clock, port=cfg.clock or None, clock_only=True))
    if cfg.osc is not None:
        from ..triggers.osc import OscInput
        from ..triggers.osc_map import load_osc_preset
        sources.append(OscInput(events, clock, cfg.osc, host=cfg.osc_host,
                                preset=load_osc_preset(cfg.osc_map) if cfg.osc_map else None))
    if cfg.link:
        from ..triggers.link import LinkSource
        sources.append(LinkSource(events, clock))
    if cfg.audio is not None or cfg.audio_file:
        from ..audio.settings import SongOnsets, load_onset_settings
        from ..triggers.audio import AudioFileSource, AudioInputSource
        settings = load_onset_settings(cfg.audio_preset)
        first = SongOnsets.model_validate(sl.songs[0].onsets or {})
        if cfg.audio_file:
            sources.append(AudioFileSource(events, clock, cfg.audio_file, settings=settings, song_onsets=first))
        else:
            sources.append(AudioInputSource(events, clock, device=cfg.audio or None, settings=settings,
                                            song_onsets=first))
        sources[-1].beat_tracking = cfg.audio_tempo
    return sources


def on_screen(cfg: ShowConfig, output: Output | None = None) -> bool:
    """Whether the show will put its own window on a real screen (not --headless, not SDL's dummy driver)."""
    if output is not None or cfg.headless:
        return False
    from ..outputs.window import display_available
    return display_available() is None


def make_window(cfg: ShowConfig) -> Output:
    if cfg.headless:
        from ..outputs.null import NullOutput
        return NullOutput()
    from ..outputs.window import WindowOutput
    if cfg.rehearse:
        return WindowOutput(display=cfg.display, windowed=True, size=(960, 540), title="livegan (rehearsal)",
                            accel=cfg.accel)
    return WindowOutput(display=cfg.display, windowed=cfg.windowed, size=cfg.window_size, accel=cfg.accel)


def make_output(cfg: ShowConfig) -> Output:
    """The window alone (the default), or a FanOut of window, console and every other --output."""
    from ..outputs.kinds import parse_outputs

    specs = parse_outputs(cfg.outputs)
    sinks_specs = [s for s in specs if s.kind != "window"]
    if not sinks_specs and not cfg.console:
        return make_window(cfg)
    from ..outputs.fanout import FanOut
    from ..outputs.sinks import make_sink

    console = None
    if cfg.console and not cfg.headless:
        from ..outputs.console import make_console
        console = make_console(cfg)  # first: it places the show window (projector, or tiled beside it)
    direct = [make_window(cfg)] if any(s.kind == "window" for s in specs) else []
    overlays = [console is None] * len(direct)  # with a console the projector never shows the overlay
    if console is not None:
        console.poll_keys = not direct  # without a show window the console drains SDL's key events
        direct.append(console)
        overlays.append(True)
    return FanOut(direct, [make_sink(s, cfg.fps) for s in sinks_specs], size=cfg.output_size, overlays=overlays)


def build_show(cfg: ShowConfig, clock: Clock | None = None, output: Output | None = None,
               notice: Callable[[str], None] = lambda m: log.warning("%s", m)) -> Show:
    clock = clock or MonotonicClock()
    sl = load_setlist(cfg.setlist)
    banks = cfg.banks or default_banks(cfg.setlist)
    from ..threads import apply_thread_policy
    threads = apply_thread_policy("show", cfg.threads)  # the display keeps a core; a busy machine gets fewer
    from ..bake.wiring import baked_generator, picture_source, wants_baked
    if wants_baked(cfg.baked, cfg.rehearse, banks):
        gen = None  # baked clips only: no generator to load (a laptop starts in a second)
        gid, layers = baked_generator(banks)
    else:
        gen = load_show_generator(cfg, sl, banks, lambda m: (cfg.notices.append(m), notice(m)))
        if cfg.compile != "off":
            from ..models.compiled import compile_generator, measured_shape
            on_cpu = gen.device.type == "cpu"
            # The batches and thread count `livegan bench` measured compiled here (cached kernels).
            batches, at = measured_shape(gen) if on_cpu else (None, None)
            compile_generator(gen, cfg.compile, batches=batches or ((1,) if on_cpu else tuple(
                range(1, cfg.max_batch + 1))), truncation=sl.defaults.truncation, warn=notice,
                threads=None if threads.asked else at)
        gid, layers = {"name": gen.id.name, "weights": gen.id.weights}, gen.num_latents
    keyframes = ShowKeyframes(sl, banks, gid, layers)
    plans = [dataclasses.replace(p, variants=keyframes.variants(i)) for i, p in enumerate(plans_from_setlist(sl))]
    state = None
    state_path = banks / STATE_FILE
    if cfg.resume:
        data = load_state(state_path)
        if data is not None:
            data, said = relocate(data, [s.title for s in sl.songs], [[x.text for x in s.sections] for s in sl.songs])
            notice(said)
        if data is not None:
            state = resume_state(data, plans, t0=clock.now())
    director = Director(plans, keyframes, drift_amount=cfg.drift, drift_speed=cfg.drift_speed,
                        truncation=sl.defaults.truncation, t0=clock.now(), state=state)
    saver = StateSaver(state_path, setlist=str(cfg.setlist))
    director.on_position_change = lambda p: saver.save(
        p, t=clock.now(), state=director.state.to_dict(), song_title=sl.songs[p[0]].title,
        section_text=sl.songs[p[0]].sections[p[1]].text)
    events = EventQueue()
    sources = make_sources(cfg, sl, events, clock)
    live = None
    if gen is not None:
        from ..threads import RENDER_NICE, live_worker_options
        tuning = live_worker_options(gen, threads, cfg.max_batch) if hasattr(gen, "model") else {}
        if on_screen(cfg, output):
            tuning["nice"] = RENDER_NICE  # the projector and the X server first (threads.py)
        live = RenderWorker(director, gen, clock, fps=cfg.fps, max_batch=cfg.max_batch,
                            on_oom=lambda e: _cpu_fallback(gen, notice), **tuning)
    if live is not None and hasattr(gen, "model"):  # a BigGAN Generator: a cue interrupts the batch in flight
        from ..models.interrupt import interrupt_on_cue
        interrupt_on_cue(gen, live)
    from ..bake.clips import DriftSettings
    worker = picture_source(live, director, sl, banks, keyframes, plans, DriftSettings(cfg.drift, cfg.drift_speed),
                            clock, lambda m: (cfg.notices.append(m), notice(m)))
    out = output or make_output(cfg)
    offline = any("OFFLINE" in n for n in cfg.notices)
    baked_notice = next((n for n in cfg.notices if n.startswith("BAKED")), None)
    opts = ShowOptions(fps=cfg.fps, overlay=cfg.overlay if cfg.overlay is not None else (cfg.windowed or cfg.rehearse),
                       notice="OFFLINE: stand-in models (no real weights)" if offline else baked_notice,
                       lyrics=[[s.text for s in song.sections] for song in sl.songs])
    show = Show(director, worker, out, clock, events, sources, opts)
    if hasattr(out, "on_warning"):  # a FanOut: a failing output says so on screen, once
        out.on_warning = show.warn
    if hasattr(out, "attach"):  # the console reads the show's state (setlist, keyframes, health)
        out.attach(show, sl, keyframes)
    # The VJ watches the projector, not the terminal: say it on screen too.
    if live is not None:
        live.on_oom = lambda e: _cpu_fallback(gen, lambda m: (notice(m), show.warn(m)))
    if hasattr(worker, "on_switch"):  # live with baked clips standing by: say every switch on screen too
        worker.on_switch = lambda m: (notice(m), show.warn(m))
    for w in keyframes.warnings:
        show.warn(w)
    from ..engine.cuefile import ScriptedCueSource, ignored_gotos
    for src in sources:
        if cfg.cues and isinstance(src, ScriptedCueSource):  # the cue file: say now which gotos can't land
            for w in ignored_gotos(src.cues, plans, str(cfg.cues), start=director.position):
                notice(w)
    _song_changed(sl, sources, director.position.song)  # the start song's onset settings (also after --resume)
    show.on_song_change.append(lambda i: _song_changed(sl, sources, i))
    learn = ShowLearn(next((s for s in sources if isinstance(s, MidiInput) and not s.clock_only), None), show.say)
    show.capture = learn.capture
    show.on_tick.append(learn.tick)
    show.on_action = lambda a, t: learn.start(t) if a.kind == "learn" else None
    show.saver = saver  # closed by run_show
    show.feedback = None
    if cfg.link:  # a tap or an OSC tempo proposes the Link session's tempo
        from ..triggers.link import LinkProposer, LinkSource
        for src in sources:
            if isinstance(src, LinkSource):
                show.on_tick.append(LinkProposer(src, director.state.tempo_board).tick)
    if cfg.osc_send:
        from ..outputs.osc_feedback import OscFeedback
        show.feedback = OscFeedback(cfg.osc_send, director.info, opts.lyrics)
        show.on_tick.append(show.feedback.tick)
    show.generator = gen
    return show


def _song_changed(sl: Setlist, sources: list[TriggerSource], song: int) -> None:
    for src in sources:
        if hasattr(src, "set_song_onsets"):
            from ..audio.settings import SongOnsets
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
    feedback = getattr(show, "feedback", None)
    try:
        if feedback is not None:
            feedback.open()
        for src in show.sources:
            src.open()
        _anchor_scripted_cues(show)
        summary = show.run(seconds)
    finally:
        out.close()
        show.saver.close()
        if feedback is not None:
            feedback.close()
    if hasattr(out, "stats"):  # a FanOut: frames sent/dropped/failures per output
        summary.faults["outputs"] = out.stats()
    return summary


def _anchor_scripted_cues(show: Show) -> None:
    """Cue-file times count from the moment the show starts, not from when it was built.

    Building loads the generator and opening the window take a while; a cue
    file anchored at build time would run early by that long (cues due in the
    gap all fire at once as the show starts, and ``--seconds`` cuts the end).
    """
    from ..engine.cuefile import ScriptedCueSource

    now = show.clock.now()
    for src in show.sources:
        if isinstance(src, ScriptedCueSource) and src.remaining == len(src.cues):
            src.start = now
