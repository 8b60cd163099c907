"""The output kinds ``livegan show --output`` takes: one table, and the parser of one ``--output``.

``OUTPUT_HELP`` is the single source of the list: ``livegan show --help`` and
the README print it. Pure: importing this imports no backend.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from ..errors import ConfigError

# (syntax, what it does, extra to install or "" when it comes with livegan, systems it runs on or "")
OUTPUT_HELP: list[tuple[str, str, str, str]] = [
    ("window", "the projector / show window (default)", "", ""),
    ("ndi[:NAME]", "NDI source on the network (Resolume, OBS, TouchDesigner) [default name: livegan]", "ndi", ""),
    ("virtualcam", "virtual webcam (v4l2loopback on Linux, OBS Virtual Camera elsewhere)", "virtualcam", ""),
    ("syphon[:NAME]", "Syphon server for apps on the same Mac [default name: livegan]", "syphon", "darwin"),
    ("spout[:NAME]", "Spout sender for apps on the same Windows PC [default name: livegan]", "spout", "win32"),
    ("record:FILE.mp4", "record what goes out to an mp4", "", ""),
]

# The package each extra brings: checked at startup, imported only when the output opens.
EXTRA_MODULES = {"ndi": "cyndilib", "virtualcam": "pyvirtualcam", "syphon": "syphon", "spout": "SpoutGL"}

KINDS: tuple[str, ...] = tuple(re.match(r"[a-z]+", s).group(0) for s, *_ in OUTPUT_HELP)  # type: ignore[union-attr]
SYSTEM_NAMES = {"darwin": "macOS", "win32": "Windows", "linux": "Linux"}
DEFAULT_NAME = "livegan"


@dataclass(frozen=True)
class OutputSpec:
    kind: str           # one of KINDS
    arg: str | None     # NDI/Syphon/Spout source name, or the record file


def output_help_text() -> str:
    """One line per kind, for ``--help``'s epilog and the README."""
    rows = []
    for syntax, what, extra, system in OUTPUT_HELP:
        notes = []
        if system:
            notes.append(f"{SYSTEM_NAMES[system]} only")
        if extra:
            notes.append(f"pip install 'livegan[{extra}]'")
        rows.append(f"{syntax}: {what}" + (f" ({'; '.join(notes)})" if notes else ""))
    return "; ".join(rows)


def output_table_markdown() -> str:
    """The README's table of outputs (a test checks the README carries exactly this)."""
    rows = ["| --output | what | install | runs on |", "| --- | --- | --- | --- |"]
    for syntax, what, extra, system in OUTPUT_HELP:
        install = f"`pip install 'livegan[{extra}]'`" if extra else "included"
        rows.append(f"| `{syntax}` | {what} | {install} | {SYSTEM_NAMES[system] if system else 'all'} |")
    return "\n".join(rows)


def parse_output(text: str, platform: str = sys.platform) -> OutputSpec:
    """``"ndi:Stage"`` -> OutputSpec('ndi', 'Stage'); a user mistake is one ConfigError line."""
    kind, sep, arg = text.strip().partition(":")
    kind = kind.lower()
    if kind not in KINDS:
        raise ConfigError(f"--output {text!r}: unknown output kind {kind!r}; choose from {', '.join(KINDS)}")
    syntax, _what, _extra, system = OUTPUT_HELP[KINDS.index(kind)]
    takes_arg = ":" in syntax
    if sep and not takes_arg:
        raise ConfigError(f"--output {text!r}: {kind} takes no ':' argument")
    if kind == "record":
        if not arg:
            raise ConfigError("--output record needs a file: record:FILE.mp4")
        if not arg.lower().endswith(".mp4"):
            raise ConfigError(f"--output {text!r}: the recording must be an .mp4 file")
    elif takes_arg and sep and not arg:
        raise ConfigError(f"--output {text!r}: empty name after ':'")
    if system and not platform.startswith(system):
        raise ConfigError(f"--output {kind} needs {SYSTEM_NAMES[system]} (this is "
                          f"{SYSTEM_NAMES.get(platform, platform)}); use ndi or virtualcam here")
    if kind in ("ndi", "syphon", "spout"):
        return OutputSpec(kind, arg or DEFAULT_NAME)
    return OutputSpec(kind, arg or None)


def parse_outputs(texts: list[str] | None, platform: str = sys.platform) -> list[OutputSpec]:
    """Every ``--output`` (default: the window alone); the same output twice is a mistake."""
    specs = [parse_output(t, platform) for t in (texts or ["window"])]
    seen: set[OutputSpec] = set()
    for s in specs:
        if s in seen:
            raise ConfigError(f"--output {s.kind}{':' + s.arg if s.arg else ''} given twice")
        seen.add(s)
    return specs


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> (1920, 1080); even sizes from 16 to 8192 (video encoders want even)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise ConfigError(f"--output-size {text!r}: write it as WIDTHxHEIGHT, e.g. 1920x1080")
    w, h = int(m.group(1)), int(m.group(2))
    for v in (w, h):
        if not 16 <= v <= 8192 or v % 2:
            raise ConfigError(f"--output-size {text!r}: width and height must be even, in range 16..8192")
    return w, h


def check_installed(specs: list[OutputSpec], find=None) -> None:
    """An output whose package is missing stops the show at startup with the pip line that fixes it."""
    import importlib.util

    find = find or importlib.util.find_spec
    for s in specs:
        module = EXTRA_MODULES.get(s.kind)
        if module and find(module) is None:
            raise ConfigError(f"--output {s.kind} needs {module}: pip install 'livegan[{s.kind}]'")
