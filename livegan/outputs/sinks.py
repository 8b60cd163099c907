"""Builds the outputs ``--output`` names: each kind's class imported only when asked for."""

from __future__ import annotations

from pathlib import Path

from .base import Output
from .kinds import OutputSpec


def make_sink(spec: OutputSpec, fps: float) -> Output:
    """A non-window output for one ``--output`` (the window is built by the session)."""
    if spec.kind == "ndi":
        from .ndi import NdiOutput
        return NdiOutput(spec.arg or "livegan", fps=fps)
    if spec.kind == "virtualcam":
        from .virtualcam import VirtualCamOutput
        return VirtualCamOutput(fps=fps)
    if spec.kind == "syphon":
        from .texshare import SyphonOutput
        return SyphonOutput(spec.arg or "livegan")
    if spec.kind == "spout":
        from .texshare import SpoutOutput
        return SpoutOutput(spec.arg or "livegan")
    if spec.kind == "record":
        from .recorder import VideoRecorder
        rec = VideoRecorder(Path(spec.arg or "show.mp4"), fps=fps)
        rec.name = f"record:{spec.arg}"
        return rec
    raise ValueError(f"not a sink: {spec.kind}")
