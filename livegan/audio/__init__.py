"""Audio analysis for the live show: a causal onset detector, its settings and presets,
file reading, and the per-song gate that turns onsets into cues.

The trigger sources that feed it from a sound card or a playing file live in
:mod:`livegan.triggers.audio`; nothing here touches audio hardware.
"""

from .gate import OnsetGate
from .onset import Onset, OnsetDetector, detect_file, detect_signal, format_onsets
from .settings import OnsetSettings, SongOnsets, load_onset_settings, preset_names

__all__ = [
    "Onset", "OnsetDetector", "OnsetGate", "OnsetSettings", "SongOnsets",
    "detect_file", "detect_signal", "format_onsets", "load_onset_settings", "preset_names",
]
