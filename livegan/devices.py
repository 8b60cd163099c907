"""What `livegan devices` shows: MIDI inputs, audio inputs, displays, the GPU, OSC and Link.

Every probe imports its library lazily and turns any failure (no ALSA
sequencer, no PortAudio, no video driver, no torch) into a short note, so
listing devices never raises: it is the first thing to run when something on
stage doesn't work.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def midi_inputs(backend: Any = "rtmidi") -> dict[str, Any]:
    from .triggers.midi import MidiUnavailable, list_input_ports

    try:
        return {"inputs": list_input_ports(backend), "note": None}
    except MidiUnavailable as e:
        return {"inputs": [], "note": e.message}
    except Exception as e:  # noqa: BLE001 - a listing must never crash
        return {"inputs": [], "note": f"MIDI listing failed ({_one_line(e)})"}


def audio_inputs() -> dict[str, Any]:
    try:
        import sounddevice as sd  # raises OSError when the PortAudio library is missing
    except (ImportError, OSError) as e:
        return {"inputs": [], "default": None, "note": f"audio unavailable ({_one_line(e)})"}
    try:
        devs = sd.query_devices()
        default_in = sd.default.device[0] if sd.default.device else None
        inputs = [
            {"index": i, "name": d["name"], "channels": int(d["max_input_channels"]),
             "samplerate": float(d["default_samplerate"]),
             "hostapi": sd.query_hostapis(d["hostapi"])["name"]}
            for i, d in enumerate(devs) if d["max_input_channels"] > 0
        ]
    except Exception as e:  # noqa: BLE001
        return {"inputs": [], "default": None, "note": f"audio listing failed ({_one_line(e)})"}
    note = None if inputs else "no audio input devices found"
    default = default_in if isinstance(default_in, int) and default_in >= 0 else None
    return {"inputs": inputs, "default": default, "note": note}


def displays() -> dict[str, Any]:
    driver_env = os.environ.get("SDL_VIDEODRIVER")
    try:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame greets on import
        import pygame
    except Exception as e:  # noqa: BLE001
        return {"sizes": [], "driver": driver_env, "note": f"pygame unavailable ({_one_line(e)})"}
    was_init = pygame.display.get_init()
    try:
        if not was_init:
            from .triggers.midi import quiet_c_stderr

            with quiet_c_stderr():  # SDL prints its own noise (XDG_RUNTIME_DIR…) to fd 2
                pygame.display.init()
        sizes = [list(s) for s in pygame.display.get_desktop_sizes()]
        driver = pygame.display.get_driver()
    except Exception as e:  # noqa: BLE001
        return {"sizes": [], "driver": driver_env, "note": f"no display ({_one_line(e)})"}
    finally:
        if not was_init:
            try:
                pygame.display.quit()
            except Exception:  # noqa: BLE001
                pass
    note = None
    if driver in ("dummy", "offscreen"):
        note = f"SDL video driver '{driver}' is not a real screen"
    return {"sizes": sizes, "driver": driver, "note": note}


def gpu() -> dict[str, Any]:
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        return {"available": False, "name": None, "note": f"torch unavailable ({_one_line(e)})"}
    try:
        if torch.cuda.is_available():
            return {"available": True, "name": torch.cuda.get_device_name(0),
                    "count": torch.cuda.device_count(), "note": None}
    except Exception as e:  # noqa: BLE001
        return {"available": False, "name": None, "note": f"CUDA check failed ({_one_line(e)})"}
    return {"available": False, "name": None, "note": "no CUDA GPU; the show runs on the CPU (--rehearse)"}


def osc_port(port: int | None = None, host: str | None = None) -> dict[str, Any]:
    """The OSC port `--osc` would use by default, and whether it is free (a bind on this machine only)."""
    import socket

    from .triggers.osc_addresses import DEFAULT_HOST, DEFAULT_PORT

    port = DEFAULT_PORT if port is None else port
    host = DEFAULT_HOST if host is None else host
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
        note = None
        free = True
    except OSError as e:
        free, note = False, f"port {port} is in use here ({e.strerror or e}); choose another with --osc PORT"
    finally:
        s.close()
    return {"host": host, "port": port, "free": free, "note": note}


def link_status() -> dict[str, Any]:
    from .triggers.link import link_available

    ok, note = link_available()
    return {"available": ok, "note": note}


def video_outputs() -> dict[str, Any]:
    """Which --output backends are installed, and the NDI source name receivers will list.

    Nothing is opened: an NDI finder would announce itself on the network.
    """
    import importlib.util

    from .outputs.kinds import EXTRA_MODULES
    from .outputs.ndi import source_name

    installed = {kind: importlib.util.find_spec(mod) is not None for kind, mod in EXTRA_MODULES.items()}
    return {"installed": installed, "ndi_source": source_name("livegan")}


def list_devices(midi_backend: Any = "rtmidi") -> dict[str, Any]:
    """Every device group as plain data: keys midi, audio, displays, gpu, osc, link. Never raises."""
    out: dict[str, Any] = {}
    for key, probe in (("midi", lambda: midi_inputs(midi_backend)), ("audio", audio_inputs),
                       ("displays", displays), ("gpu", gpu), ("osc", osc_port), ("link", link_status),
                       ("outputs", video_outputs)):
        try:
            out[key] = probe()
        except Exception as e:  # noqa: BLE001 - belt and braces: one group can't sink the rest
            out[key] = {"note": f"listing failed ({_one_line(e)})"}
    return out


def format_devices(d: dict[str, Any]) -> str:
    """Human-readable text of ``list_devices()`` output."""
    lines: list[str] = []

    def note(group: dict[str, Any]) -> None:
        if group.get("note"):
            lines.append(f"  ({group['note']})")

    midi = d.get("midi", {})
    lines.append("MIDI inputs (use a part of the name: --midi nano):")
    for name in midi.get("inputs", []):
        lines.append(f"  {name}")
    note(midi)

    audio = d.get("audio", {})
    lines.append("Audio inputs:")
    for a in audio.get("inputs", []):
        star = " (default)" if a.get("index") == audio.get("default") else ""
        lines.append(f"  [{a['index']}] {a['name']} - {a['channels']} ch, "
                     f"{a['samplerate']:.0f} Hz, {a.get('hostapi', '')}{star}")
    note(audio)

    disp = d.get("displays", {})
    lines.append(f"Displays (SDL driver: {disp.get('driver') or 'none'}):")
    for i, (w, h) in enumerate(disp.get("sizes", [])):
        lines.append(f"  [{i}] {w}x{h}")
    note(disp)

    o = d.get("outputs", {})
    if o.get("installed") is not None:
        lines.append("Video outputs (--output):")
        for kind, ok in o["installed"].items():
            extra = "" if ok else f" (pip install 'livegan[{kind}]')"
            name = f": receivers list it as '{o['ndi_source']}'" if kind == "ndi" and ok else ""
            lines.append(f"  {kind}: {'installed' if ok else 'not installed'}{name}{extra}")
    note(o)

    g = d.get("gpu", {})
    lines.append("GPU:")
    if g.get("available"):
        lines.append(f"  {g.get('name')}")
    note(g)

    o = d.get("osc", {})
    lines.append("OSC in (--osc PORT; this machine only unless --osc-host):")
    if o.get("port") is not None:
        lines.append(f"  {o.get('host')}:{o.get('port')}{' (free)' if o.get('free') else ''}")
    note(o)

    lk = d.get("link", {})
    lines.append(f"Ableton Link (--link): {'available' if lk.get('available') else 'not available'}")
    note(lk)
    return "\n".join(lines)
