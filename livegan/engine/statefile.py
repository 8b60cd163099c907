"""Crash recovery: the show's position, saved atomically off the frame path.

``livegan show --resume`` reads this file to start where a crashed show
was. Saving must never stall a frame or stop the show: :meth:`StateSaver.save`
only stores the latest value and wakes a background thread, which writes a
small JSON file atomically (temp file in the same folder, flush, fsync,
os.replace), so a crash mid-write leaves the previous file intact. Failures
(read-only folder, full disk) are counted and warned about once, never raised.

The file names the song and section by title and lyric as well as by index,
so after songs are reordered, inserted or removed :func:`relocate` finds the
same song and section again (or says plainly why it can't).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Sequence

from ..fsio import atomic_write_bytes
from .state import Position, ShowState, SongPlan

log = logging.getLogger(__name__)

FORMAT = "livegan-state"
FORMAT_VERSION = 1
MAX_STATE_BYTES = 1_000_000


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    atomic_write_bytes(Path(path), json.dumps(data, indent=1).encode("utf-8"))


class StateSaver:
    """Keeps the latest show position on disk from a background thread."""

    def __init__(self, path: str | Path, setlist: str | None = None) -> None:
        self.path = Path(path)
        self.setlist = setlist
        self.writes = 0
        self.failures = 0
        self.last_error: str | None = None
        self._cond = threading.Condition()
        self._pending: dict[str, Any] | None = None
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None  # started on first save: no side effects before

    def save(self, position: Position | tuple[int, int, int], *, t: float | None = None,
             state: dict[str, Any] | None = None, song_title: str | None = None,
             section_text: str | None = None) -> None:
        """Record the latest position (and show time, ShowState.to_dict(), and the song's title and
        the section's lyric, so --resume finds them after a reorder); returns at once."""
        data = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "position": {"song": int(position[0]), "section": int(position[1]), "variant": int(position[2])},
            "song_title": song_title,
            "section_text": section_text,
            "setlist": self.setlist,
            "t": t,
            "state": state,
        }
        with self._cond:
            if self._closed:
                return
            self._pending = data  # only the newest value matters
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="livegan-state-saver", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the latest saved value is written (or failed); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is pending, then stop the thread."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:  # closed and nothing left
                    return
                data, self._pending, self._busy = self._pending, None, True
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(self.path, data)
                ok, err = True, ""
            except Exception as e:  # noqa: BLE001 - never let saving stop the show
                ok, err = False, f"{type(e).__name__}: {e}"
            with self._cond:
                self._busy = False
                if ok:
                    self.writes += 1
                    if self.last_error is not None:
                        log.info("saving show state to %s works again", self.path)
                    self.last_error = None
                else:
                    self.failures += 1
                    if err != self.last_error:  # once per distinct problem, not every cue
                        log.warning("cannot save show state to %s (%s); the show goes on without --resume data",
                                    self.path, err)
                    self.last_error = err
                self._cond.notify_all()


def _valid_position(p: Any) -> bool:
    return isinstance(p, dict) and all(
        isinstance(p.get(k), int) and not isinstance(p.get(k), bool) and p[k] >= 0
        for k in ("song", "section", "variant"))


def load_state(path: str | Path) -> dict[str, Any] | None:
    """The saved state, or None (with a warning) when it is missing or unreadable."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_STATE_BYTES:
            log.warning("saved show state %s is too large; starting from the top", p)
            return None
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        log.warning("no saved show state at %s; starting from the top", p)
        return None
    except (OSError, ValueError) as e:  # ValueError covers bad JSON and bad UTF-8
        log.warning("saved show state %s is unreadable (%s); starting from the top", p, e)
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not _valid_position(data.get("position")):
        log.warning("saved show state %s is not a livegan state file; starting from the top", p)
        return None
    if data.get("version") != FORMAT_VERSION:
        log.warning("saved show state %s has version %r (expected %d); starting from the top",
                    p, data.get("version"), FORMAT_VERSION)
        return None
    return data


def saved_position(data: dict[str, Any]) -> Position:
    """The Position in a dict returned by :func:`load_state`."""
    p = data["position"]
    return Position(p["song"], p["section"], p["variant"])


def relocate(data: dict[str, Any], titles: Sequence[str],
             sections: Sequence[Sequence[str]]) -> tuple[dict[str, Any] | None, str]:
    """Map a saved position onto the setlist as it is now, by song title and lyric.

    Returns (data with the position rewritten, or None to start from the top;
    one line saying what happened). States saved without a title (older
    livegan) resume by index, and say so.
    """
    pos = data["position"]
    state = data.get("state") if isinstance(data.get("state"), dict) else None
    title = data.get("song_title") or (state or {}).get("song_title")
    if not isinstance(title, str):
        if pos["song"] >= len(titles):
            return None, "the saved position is past the end of the setlist; starting from the top"
        return data, (f"resuming at song {pos['song'] + 1}, section {pos['section'] + 1} (by position: the "
                      "saved state names no song title; it was saved by an older livegan)")
    if title not in titles:
        return None, f"the song {title!r} the show stopped in is no longer in the setlist; starting from the top"
    song = list(titles).index(title)
    texts = list(sections[song])
    text = data.get("section_text")
    sec, note = pos["section"], ""
    if isinstance(text, str) and not (sec < len(texts) and texts[sec] == text):
        if text in texts:
            sec = texts.index(text)
        else:
            sec = min(sec, len(texts) - 1)
            note = f" (its line {text!r} is gone: section {sec + 1} instead)"
    elif sec >= len(texts):
        sec, note = len(texts) - 1, f" (it has {len(texts)} sections now)"
    out = {**data, "position": {**pos, "song": song, "section": sec}}
    if state is not None and (song, sec) != (pos["song"], pos["section"]):
        # visit counts are keyed by the old indices: keep the rest, not those
        out["state"] = {k: v for k, v in state.items() if k != "visits"}
    moved = f" (it was song {pos['song'] + 1} when saved)" if song != pos["song"] else ""
    return out, f"resuming at song {song + 1}, section {sec + 1}: {title!r}{moved}{note}"


def resume_state(data: dict[str, Any], plans: Sequence[SongPlan], t0: float = 0.0) -> ShowState:
    """A ShowState to resume from a :func:`load_state` dict: the full saved state when it
    is there and sound, else just the position (clamped to the setlist as it is now)."""
    if isinstance(data.get("state"), dict):
        try:
            st = ShowState.from_dict({**data["state"], "position": data["position"]}, plans, t0)
            return st
        except ValueError as e:
            log.warning("saved show state is partly unreadable (%s); resuming at the saved position only", e)
    return ShowState(plans, start=saved_position(data), t0=t0)
