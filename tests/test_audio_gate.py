"""The per-song onset gate: advance, every Nth, minimum level, minimum interval."""

from __future__ import annotations

import pytest

from livegan.audio.gate import OnsetGate
from livegan.audio.onset import Onset
from livegan.audio.settings import SongOnsets


def run(settings: SongOnsets, hits: list[tuple[float, float]]) -> list[float]:
    g = OnsetGate(settings)
    return [t for t, lv in hits if g.feed(Onset(t, 2.0), lv)]


def test_no_cues_unless_advance() -> None:
    assert run(SongOnsets(), [(t, 1.0) for t in range(10)]) == []


def test_min_interval_spaces_cues() -> None:
    hits = [(t * 0.5, 1.0) for t in range(10)]  # every 0.5 s
    assert run(SongOnsets(advance=True, min_interval=2.0), hits) == [0.0, 2.0, 4.0]
    assert run(SongOnsets(advance=True, min_interval=0.0), hits) == [h[0] for h in hits]


def test_every_nth_counts_since_the_last_cue() -> None:
    hits = [(float(t), 1.0) for t in range(12)]
    assert run(SongOnsets(advance=True, every=4, min_interval=0), hits) == [3.0, 7.0, 11.0]


def test_interval_holds_a_cue_back_without_losing_it() -> None:
    # every 2nd hit, hits 0.4 s apart, 1 s apart at least: the held cue comes on the next hit after 1 s
    hits = [(t * 0.4, 1.0) for t in range(10)]
    assert run(SongOnsets(advance=True, every=2, min_interval=1.0), hits) == pytest.approx([0.4, 1.6, 2.8])


def test_quiet_onsets_do_not_count() -> None:
    hits = [(0.0, 0.2), (1.0, 0.9), (2.0, 0.3), (3.0, 0.6), (4.0, 0.59)]
    assert run(SongOnsets(advance=True, min_level=0.6, min_interval=0), hits) == [1.0, 3.0]
    # quiet hits don't count towards `every` either
    assert run(SongOnsets(advance=True, every=2, min_level=0.6, min_interval=0), hits) == [3.0]
