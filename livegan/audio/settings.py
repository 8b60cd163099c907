"""Settings of the audio onset detector and of per-song onset cues, and their preset loader.

The detector owns its defaults here (one default per setting, DESIGN.md rule
2). Presets in ``presets/audio/*.yaml`` override some of them; a preset is a
flat mapping of :class:`OnsetSettings` keys, loaded through
:mod:`livegan.yamlio` so a bad key or value is a ``FILE:LINE:COL`` error.

:class:`SongOnsets` is the setlist's per-song ``onsets:`` key: it decides
which detected onsets become ``next`` cues (see :mod:`livegan.audio.gate`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import ConfigError, Where
from ..yamlio import load_yaml, to_plain, validate

# presets/ lives at the repository root, next to the package.
PRESET_DIR = Path(__file__).resolve().parents[2] / "presets" / "audio"


class OnsetSettings(BaseModel):
    """How the streaming onset detector listens. Every field has its one default here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(512, ge=128, le=4096,
                        description="FFT window in samples (a power of two). Half of it adds to the latency.")
    hop: int = Field(256, ge=32, le=2048,
                     description="Samples between analysis frames; also the block the detector waits for.")
    fmin: float = Field(30.0, ge=0.0, le=20000.0, description="Lowest frequency (Hz) that counts.")
    fmax: float = Field(16000.0, gt=0.0, le=48000.0, description="Highest frequency (Hz) that counts.")
    bands: int = Field(48, ge=4, le=256,
                       description="Log-spaced frequency bands the spectrum is pooled into before the flux.")
    floor_db: float = Field(-80.0, ge=-140.0, le=-20.0,
                            description="Level (dBFS) below which the spectrum counts as silence.")
    threshold: float = Field(10.0, gt=0.0, le=50.0,
                             description="Onset when the flux exceeds the recent median by this many "
                                         "deviations (divided by the sensitivity).")
    delta: float = Field(0.2, ge=0.0, le=10.0,
                         description="Smallest flux rise above the median that can count (log units).")
    history: float = Field(0.4, ge=0.05, le=5.0,
                           description="Seconds of recent flux the adaptive threshold looks at.")
    refractory: float = Field(0.05, ge=0.0, le=2.0,
                              description="Seconds after an onset during which no other onset is reported.")
    warmup: float = Field(0.1, ge=0.0, le=10.0,
                          description="Seconds at the start of a stream with no onsets (the threshold settles).")
    lag: int = Field(1, ge=1, le=32,
                     description="Frames back the flux compares with (SuperFlux's mu): >1 adds up slow attacks.")
    sensitivity: float = Field(1.0, gt=0.0, le=20.0,
                               description="Initial sensitivity multiplier; MIDI audio_sensitivity changes it live.")
    level_floor_db: float = Field(-60.0, ge=-120.0, le=-6.0,
                                  description="Loudness (dBFS RMS) that maps to level 0; 0 dBFS maps to 1.")
    level_release: float = Field(0.3, ge=0.0, le=10.0,
                                 description="Seconds for the loudness level to fall by ~63% after a sound stops.")

    @model_validator(mode="after")
    def _check(self) -> "OnsetSettings":
        if self.window & (self.window - 1):
            raise ValueError(f"window must be a power of two (128..4096), got {self.window}")
        if self.hop > self.window:
            raise ValueError(f"hop ({self.hop}) must be <= window ({self.window})")
        if self.fmin >= self.fmax:
            raise ValueError(f"fmin ({self.fmin}) must be below fmax ({self.fmax})")
        return self


class SongOnsets(BaseModel):
    """The setlist's per-song ``onsets:`` key: which audio onsets move the show on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    advance: bool = Field(False, description="Whether audio onsets advance to the next section at all.")
    every: int = Field(1, ge=1, le=1000,
                       description="Advance on every Nth counted onset (4 = every fourth hit).")
    min_level: float = Field(0.0, ge=0.0, le=1.0,
                             description="Onsets whose loudness level (0..1) is below this are not counted.")
    min_interval: float = Field(2.0, ge=0.0, le=3600.0,
                                description="Seconds that must pass between two onset cues.")


def preset_names() -> list[str]:
    """Names of the shipped audio presets (file stems in presets/audio)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_onset_settings(preset: str | Path | None = None) -> OnsetSettings:
    """Load detector settings from a preset name ("drums") or a YAML path; None = defaults.

    Raises ConfigError with FILE:LINE:COL for unknown keys and bad values, and
    a list of the valid names for an unknown preset name.
    """
    if preset is None:
        return OnsetSettings()
    s = str(preset)
    is_name = "/" not in s and "\\" not in s and not s.endswith((".yaml", ".yml"))
    if is_name:
        path = PRESET_DIR / f"{s}.yaml"
        if not path.exists():
            names = ", ".join(preset_names()) or "none found"
            raise ConfigError(f"unknown audio preset '{s}' (one of: {names}; or a path to a .yaml file)")
    else:
        path = Path(s)
    root = load_yaml(path)
    if not isinstance(root, dict):
        raise ConfigError("an audio preset must be a mapping of detector settings", Where(str(path), 1, 1))
    return validate(OnsetSettings, to_plain(root), root, str(path))
