"""Per-song gate: which detected onsets become ``next`` cues.

Pure and clock-free: it judges onsets by their own stream times, so the same
gate works for the live input, file playback and tests. The show makes a new
gate (via the trigger source's ``set_song_onsets``) on every song change.
"""

from __future__ import annotations

from .onset import Onset
from .settings import SongOnsets


class OnsetGate:
    """Count onsets loud enough for this song; cue on every ``every``-th, ``min_interval`` apart.

    Counting restarts after each cue, so ``every: 4, min_interval: 2`` means
    "at least four hits and at least two seconds since the last cue": a cue
    held back by the interval is not lost, it comes on the next hit after it.
    """

    def __init__(self, settings: SongOnsets | None = None) -> None:
        self.settings = settings or SongOnsets()
        self.count = 0
        self.last_cue: float | None = None

    def feed(self, onset: Onset, level: float) -> bool:
        """True when this onset (heard at loudness ``level`` 0..1) should become a ``next`` cue."""
        s = self.settings
        if not s.advance or level < s.min_level:
            return False
        self.count += 1
        if self.count < s.every:
            return False
        if self.last_cue is not None and onset.time - self.last_cue < s.min_interval:
            return False
        self.count = 0
        self.last_cue = onset.time
        return True
