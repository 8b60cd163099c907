"""Prep progress for whoever is watching: a live bar on a terminal, plain lines in a log.

On a terminal (stderr) each section's title is printed once as a line of its
own above a live bar that holds only numbers (steps, best score, elapsed,
ETA), so the bar stays readable at 80 columns (a section title inside the bar
squeezed everything into "Be Kind to Anima 5: monarch … best 0.175 0:0…").
When stderr is not a terminal (``livegan demo > log 2>&1``, CI, a service)
a live bar would print nothing at all for minutes, so each finished section
is one plain line: song, section, best score, elapsed and ETA.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from ..text import shorten


def fmt_clock(seconds: float) -> str:
    """0:09, 1:05:00: the way rich's time columns show durations."""
    s = max(0, int(round(seconds)))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


class PrepProgress:
    """Steps of all sections still to search; ``section`` before each, ``step`` per step, ``done`` after."""

    def __init__(self, enabled: bool, total_steps: int, total_sections: int, *, stream: TextIO | None = None,
                 terminal: bool | None = None, width: int | None = None,
                 timer: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled and total_steps > 0
        self.total_steps, self.total_sections = total_steps, total_sections
        self.stream = stream if stream is not None else sys.stderr
        self.timer = timer
        self.t0 = timer()
        self.steps = 0
        self.sections = 0
        self.label = ""
        self._text = ""
        self.best: float | None = None
        self.bar = None
        if not self.enabled:
            return
        from rich.console import Console

        self.console = Console(file=self.stream, force_terminal=terminal, width=width, highlight=False)
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
                TimeRemainingColumn
            # Numbers only, each with room for its widest value; the bar takes what is left.
            self.bar = Progress(TextColumn("  "), BarColumn(bar_width=None), MofNCompleteColumn(),
                                TextColumn("best {task.fields[score]:>5}"), TimeElapsedColumn(),
                                TextColumn("ETA"), TimeRemainingColumn(), console=self.console, expand=True)
            self.task = self.bar.add_task("prep", total=total_steps, score="-")
            self.bar.start()

    def section(self, song: str, index: int, count: int, text: str) -> None:
        """A section search begins: song title, its 1-based index and the song's section count, the lyric."""
        self.best = None
        self.label = f"{song} · section {index}/{count}"
        if self.bar is not None:
            head = f"[{self.sections + 1}/{self.total_sections}] {self.label}: "
            self.bar.console.print(head + shorten(text, max(20, self.console.width - len(head) - 1)),
                                   markup=False, highlight=False)
            self.bar.update(self.task, score="-")
        self._text = text

    def step(self, score: float) -> None:
        self.steps += 1
        self.best = score if self.best is None else max(self.best, score)
        if self.bar is not None:
            self.bar.update(self.task, advance=1, score=f"{self.best:.3f}")

    def done(self, score: float) -> None:
        """The section's search ended with this best score (plain line when not on a terminal)."""
        self.sections += 1
        if not self.enabled or self.bar is not None:
            return
        elapsed = self.timer() - self.t0
        eta = elapsed / self.steps * (self.total_steps - self.steps) if self.steps else 0.0
        line = (f"prep [{self.sections}/{self.total_sections}] {self.label}: "
                f"\"{shorten(self._text, 40)}\" best {score:.3f}, elapsed {fmt_clock(elapsed)}, "
                f"ETA {fmt_clock(eta)}")
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
