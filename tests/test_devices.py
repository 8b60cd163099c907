"""`livegan devices`: the listing never raises and always explains what is missing."""

from __future__ import annotations

import builtins
import sys

from livegan import devices
from livegan.triggers.midi import FakeMidiBackend


def test_list_devices_has_every_group_and_formats(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    d = devices.list_devices()
    assert set(d) == {"midi", "audio", "displays", "gpu", "osc", "link", "outputs"}
    text = devices.format_devices(d)
    for heading in ("MIDI inputs", "Audio inputs", "Displays", "GPU", "OSC in", "Ableton Link", "Video outputs"):
        assert heading in text
    # on a machine without a MIDI system the listing says so instead of crashing
    if not d["midi"]["inputs"]:
        assert d["midi"]["note"]
    assert d["displays"]["driver"] == "dummy" and d["displays"]["sizes"]
    assert d["outputs"]["ndi_source"].endswith(" (livegan)")  # the name Resolume/OBS will list
    if d["outputs"]["installed"]["ndi"]:
        assert f"receivers list it as '{d['outputs']['ndi_source']}'" in text


def test_midi_ports_from_a_backend():
    d = devices.midi_inputs(FakeMidiBackend(["nanoKONTROL2 20:0"]))
    assert d == {"inputs": ["nanoKONTROL2 20:0"], "note": None}
    d = devices.midi_inputs(FakeMidiBackend([], available=False))
    assert d["inputs"] == [] and d["note"].startswith("MIDI unavailable")


def test_missing_libraries_become_notes(monkeypatch):
    real_import = builtins.__import__

    def broken(name, *a, **kw):
        if name in ("sounddevice", "pygame", "torch"):
            raise OSError(f"PortAudio library not found ({name})")
        return real_import(name, *a, **kw)

    for mod in ("sounddevice", "pygame", "torch"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    monkeypatch.setattr(builtins, "__import__", broken)
    d = devices.list_devices(FakeMidiBackend(["x"]))
    assert "PortAudio library not found" in d["audio"]["note"]
    assert d["displays"]["note"].startswith("pygame unavailable")
    assert d["gpu"]["available"] is False and d["gpu"]["note"]
    assert "audio unavailable" in devices.format_devices(d)


def test_display_failure_is_a_note(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "no-such-driver")
    d = devices.displays()
    assert d["sizes"] == [] and d["note"].startswith("no display")


def test_osc_port_says_which_port_and_whether_it_is_free():
    import socket

    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    try:
        taken = devices.osc_port(port)
        assert taken["port"] == port and taken["host"] == "127.0.0.1"
        assert taken["free"] is False and "in use" in taken["note"]
    finally:
        holder.close()
    assert devices.osc_port(port)["free"] is True
    assert devices.osc_port()["port"] == 9000, "the default --osc suggestion"
    text = devices.format_devices({"osc": devices.osc_port(port), "link": devices.link_status()})
    assert f"127.0.0.1:{port} (free)" in text and "Ableton Link (--link):" in text
