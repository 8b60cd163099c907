"""The setlist: songs, their lyric lines ("sections"), and prep settings.

Pure: loading a setlist reads one YAML file and ImageNet's names, and loads
no model. Every problem is one ``FILE:LINE:COL: what (allowed)`` error.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .errors import ConfigError
from .models.imagenet import resolve_class
from .yamlio import load_yaml, locate, to_plain, validate

MAX_SETLIST_BYTES = 1_000_000
_TRANSITION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|beats?|bars?)?\s*$")


class _Strict(BaseModel):
    # strict: `steps: true` or `classes: [true]` must be errors, not silently 1 (lax mode turns bools into ints)
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class Defaults(_Strict):
    """Settings for the whole setlist; a section may override variants/seed/transition."""

    model: str = Field("biggan-deep-256", description="generator: biggan-deep-128/256/512 or tiny")
    clip: str = Field("ViT-B-32/openai", description="open_clip model/pretrained tag, or tiny")
    steps: int = Field(200, ge=1, le=5000, description="optimiser steps per section")
    variants: int = Field(2, ge=1, le=16, description="keyframes kept per section")
    truncation: float = Field(0.7, gt=0.0, le=1.0, description="BigGAN truncation")
    transition: Union[float, str] = Field(4.0, description="default transition: seconds, or 'N beats'/'N bars'")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="base seed; each section derives its own")
    lr: float = Field(0.07, gt=0.0, le=1.0, description="Adam learning rate")
    cutouts: int = Field(32, ge=1, le=256, description="augmented crops per candidate per step")
    candidates: int = Field(0, ge=0, le=64, description="candidates searched per section (0: 2 x variants)")
    quantise: Literal["off", "beat", "bar"] = Field("off", description="cues wait for the next beat or bar")


class Section(_Strict):
    """One lyric line: the CLIP prompt and its optional hints."""

    text: str = Field(..., min_length=1, max_length=500)
    classes: list[Union[int, str]] = Field(default_factory=list, max_length=16)
    variants: Optional[int] = Field(None, ge=1, le=16)
    seed: Optional[int] = Field(None, ge=0, le=2**31 - 1)
    transition: Optional[Union[float, str]] = None
    _class_ids: list[int] = PrivateAttr(default_factory=list)

    @property
    def class_ids(self) -> list[int]:
        return list(self._class_ids)


class Song(_Strict):
    title: str = Field(..., min_length=1, max_length=200)
    bpm: Optional[float] = Field(None, gt=0, le=400)
    beats_per_bar: int = Field(4, ge=1, le=16)
    quantise: Optional[Literal["off", "beat", "bar"]] = None  # default: defaults.quantise
    sections: list[Section] = Field(..., min_length=1, max_length=500)
    onsets: Optional[dict[str, Any]] = None  # validated by the audio component (livegan.audio.settings)


class Setlist(_Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    songs: list[Song] = Field(..., min_length=1, max_length=200)
    _path: str = PrivateAttr("")
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @property
    def path(self) -> str:
        return self._path

    @property
    def warnings(self) -> list[str]:
        return list(self._warnings)

    def song_index(self, title: str) -> int:
        """Index of a song by exact or case-insensitive title, or a one-line error."""
        for i, s in enumerate(self.songs):
            if s.title == title or s.title.lower() == title.lower():
                return i
        names = ", ".join(repr(s.title) for s in self.songs)
        raise ConfigError(f"no song titled {title!r} in {self._path} (songs: {names})")


@dataclass(frozen=True)
class Transition:
    """A transition length in seconds, beats or bars; beats need a tempo to become seconds."""

    value: float
    unit: Literal["seconds", "beats", "bars"] = "seconds"

    def seconds(self, bpm: float | None, beats_per_bar: int = 4) -> float:
        """Length in seconds; beats at ``bpm`` (120 when no tempo is known yet)."""
        if self.unit == "seconds":
            return self.value
        beats = self.value * (beats_per_bar if self.unit == "bars" else 1)
        return beats * 60.0 / (bpm or 120.0)


def parse_transition(v: float | int | str) -> Transition:
    if isinstance(v, bool):
        raise ValueError("transition must be seconds or 'N beats' / 'N bars'")
    if isinstance(v, (int, float)):
        if not 0 <= v <= 600:
            raise ValueError(f"transition must be in range 0..600 seconds, got {v}")
        return Transition(float(v))
    m = _TRANSITION_RE.match(v)
    if not m:
        raise ValueError(f"transition {v!r} not understood (seconds like 4, or '2 beats', '1 bar')")
    n = float(m.group(1))
    unit = (m.group(2) or "s").rstrip("s") or "s"
    kind: Literal["seconds", "beats", "bars"] = "beats" if unit == "beat" else "bars" if unit == "bar" else "seconds"
    if kind == "seconds" and n > 600:
        raise ValueError(f"transition must be in range 0..600 seconds, got {n}")
    if kind != "seconds" and n > 256:
        raise ValueError(f"transition must be at most 256 {kind}, got {n}")
    return Transition(n, kind)


def section_transition(setlist: Setlist, song: Song, section: Section) -> Transition:
    return parse_transition(section.transition if section.transition is not None else setlist.defaults.transition)


def section_seed(setlist: Setlist, song_i: int, sec_i: int) -> int:
    """A section's seed: its own, or derived from the base seed and its text (stable under reordering)."""
    sec = setlist.songs[song_i].sections[sec_i]
    if sec.seed is not None:
        return sec.seed
    h = hashlib.sha256(f"{setlist.defaults.seed}|{setlist.songs[song_i].title}|{sec.text}".encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


def section_variants(setlist: Setlist, sec: Section) -> int:
    return sec.variants if sec.variants is not None else setlist.defaults.variants


def _post_checks(sl: Setlist, root: Any, name: str) -> None:
    """Checks that need positions or cross-references, after the schema passed."""
    seen: dict[str, int] = {}
    for i, song in enumerate(sl.songs):
        key = song.title.casefold()
        if key in seen:
            raise ConfigError(f"duplicate song title {song.title!r} (first at song {seen[key] + 1}); titles must be unique",
                              locate(root, ("songs", i, "title"), name))
        seen[key] = i
        if song.onsets is not None:
            _check_onsets(song.onsets, root, ("songs", i, "onsets"), name)
        for j, sec in enumerate(song.sections):
            if not sec.text.strip():
                raise ConfigError("text must not be empty", locate(root, ("songs", i, "sections", j, "text"), name))
            ids: list[int] = []
            for k, hint in enumerate(sec.classes):
                where = locate(root, ("songs", i, "sections", j, "classes", k), name)
                try:
                    cid, warning = resolve_class(hint)
                except ValueError as e:
                    raise ConfigError(str(e), where) from None
                if warning:
                    sl._warnings.append(f"{where}: warning: {warning}")
                ids.append(cid)
            sec._class_ids = ids
            for tr_loc, tr in ((("songs", i, "sections", j, "transition"), sec.transition),
                               (("defaults", "transition"), sl.defaults.transition)):
                if tr is None:
                    continue
                try:
                    t = parse_transition(tr)
                except ValueError as e:
                    raise ConfigError(str(e), locate(root, tr_loc, name)) from None
                if t.unit != "seconds" and song.bpm is None:
                    raise ConfigError(f"transition in {t.unit} needs the song's bpm (add 'bpm:' to {song.title!r})",
                                      locate(root, tr_loc, name))
                break


def _check_onsets(data: Any, root: Any, loc: tuple, name: str) -> None:
    try:
        from .audio.settings import SongOnsets  # owned by the audio component
    except ImportError:  # pragma: no cover - audio component missing
        return
    from pydantic import ValidationError
    try:
        SongOnsets.model_validate(data)
    except ValidationError as e:
        from .yamlio import _describe
        err = e.errors(include_url=False)[0]
        raise ConfigError(_describe(err, SongOnsets), locate(root, loc + tuple(err.get("loc", ())), name)) from None


def load_setlist(path: str | Path) -> Setlist:
    """Load and validate a setlist file; raise ConfigError (one line) on any problem."""
    name = str(path)
    root = load_yaml(path, max_bytes=MAX_SETLIST_BYTES)
    data = to_plain(root)
    if isinstance(data, dict) and "songs" in data and isinstance(data["songs"], list):
        for i, song in enumerate(data["songs"]):
            if isinstance(song, dict) and "sections" in song and not song["sections"]:
                raise ConfigError("song has no sections (at least one lyric line is needed)",
                                  locate(root, ("songs", i, "sections"), name))
    if isinstance(data, dict) and data.get("songs") == []:
        raise ConfigError("the setlist has no songs", locate(root, ("songs",), name))
    sl = validate(Setlist, data, root, name)
    sl._path = name
    _post_checks(sl, root, name)
    return sl


@dataclass
class SetlistSummary:
    songs: int
    sections: int
    keyframes: int
    rows: list[tuple[str, int, str]] = field(default_factory=list)


def summarise(sl: Setlist) -> SetlistSummary:
    from .models.imagenet import imagenet_names
    names = imagenet_names()
    rows = []
    n_sec = n_kf = 0
    for song in sl.songs:
        for sec in song.sections:
            n_sec += 1
            n_kf += section_variants(sl, sec)
            cls = ", ".join(f"{c} {names.label(c)}" for c in sec.class_ids) or "-"
            rows.append((song.title, section_variants(sl, sec), f"{sec.text}  [{cls}]"))
    return SetlistSummary(len(sl.songs), n_sec, n_kf, rows)
