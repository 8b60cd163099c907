"""Prep progress: plain lines when nobody watches a terminal, a live bar that fits 80 columns when someone does."""

from __future__ import annotations

import io
import re

from livegan.prep.progress import PrepProgress, fmt_clock
from livegan.text import shorten


class Steps:
    """A timer that moves only when told (no real time in tests)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_not_a_terminal_prints_one_plain_line_per_section() -> None:
    out, timer = io.StringIO(), Steps()
    p = PrepProgress(True, total_steps=20, total_sections=2, stream=out, terminal=False, timer=timer)
    p.section("Be Kind to Animals", 5, 5, "monarch butterflies over the volcano")
    for k in range(10):
        timer.t += 1.0
        p.step(0.1 + 0.01 * k)
    p.done(0.19)
    p.section("Night Market", 1, 4, "a lantern")
    for _ in range(10):
        timer.t += 1.0
        p.step(0.2)
    p.done(0.2)
    p.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == ('prep [1/2] Be Kind to Animals · section 5/5: "monarch butterflies over the volcano" '
                        'best 0.190, elapsed 0:10, ETA 0:10')
    assert lines[1].endswith("best 0.200, elapsed 0:20, ETA 0:00")
    assert "\x1b" not in out.getvalue()  # no terminal control codes in a log


def test_live_bar_fits_80_columns_with_every_number_whole() -> None:
    out = io.StringIO()
    p = PrepProgress(True, total_steps=1500, total_sections=9, stream=out, terminal=True, width=80)
    p.section("Be Kind to Animals", 5, 5, "monarch butterflies over the volcano at the end of the long dark night")
    for _ in range(44):
        p.step(0.175)
    table = p.bar.make_tasks_table(p.bar.tasks)
    probe = io.StringIO()
    from rich.console import Console
    Console(file=probe, width=80, force_terminal=False).print(table)
    p.close()
    bar_lines = probe.getvalue().splitlines()
    assert all(len(line) <= 80 for line in bar_lines), bar_lines
    text = " ".join(bar_lines)
    assert "44/1500" in text and "best 0.175" in text and "ETA" in text and "…" not in text, text
    heading = [ln for ln in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue()).splitlines() if "section 5/5" in ln]
    assert heading and all(len(h.rstrip()) <= 80 for h in heading), heading
    assert heading[0].startswith("[1/9] Be Kind to Animals · section 5/5: monarch butterflies")


def test_disabled_or_nothing_to_do_prints_nothing() -> None:
    for enabled, steps in ((False, 10), (True, 0)):
        out = io.StringIO()
        p = PrepProgress(enabled, total_steps=steps, total_sections=1, stream=out, terminal=False)
        p.section("A", 1, 1, "x")
        p.step(0.1)
        p.done(0.1)
        p.close()
        assert out.getvalue() == ""


def test_helpers() -> None:
    assert fmt_clock(9) == "0:09" and fmt_clock(3900) == "1:05:00"
    assert shorten("monarch butterflies over the volcano", 20) == "monarch butterflies…"
    assert shorten("short", 20) == "short"
