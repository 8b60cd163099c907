"""Crash-recovery state file: atomic background saves, failures that never raise, tolerant loads."""

from __future__ import annotations

import errno
import json
import logging
import os
import threading

from livegan.engine.state import Position
from livegan.engine.statefile import StateSaver, load_state, resume_state, saved_position


def test_save_flush_load_round_trip(tmp_path):
    p = tmp_path / "sub" / "state.json"
    s = StateSaver(p, setlist="set.yaml")
    assert s._thread is None  # nothing starts until the first save
    s.save(Position(1, 2, 0), t=12.5, state={"tapped_bpm": 120.0})
    assert s.flush()
    d = load_state(p)
    assert d is not None and saved_position(d) == Position(1, 2, 0)
    assert d["setlist"] == "set.yaml" and d["t"] == 12.5 and d["state"] == {"tapped_bpm": 120.0}
    assert s.writes == 1 and s.failures == 0
    s.close()
    assert not s._thread.is_alive()
    s.save(Position(0, 0, 0))  # after close: ignored, no error
    assert saved_position(load_state(p)) == Position(1, 2, 0)


def test_many_saves_keep_the_latest_and_readers_never_see_half_a_file(tmp_path):
    p = tmp_path / "state.json"
    s = StateSaver(p)
    s.save((0, 0, 0))
    s.flush()
    bad: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                json.loads(p.read_text())
            except (ValueError, OSError) as e:
                bad.append(repr(e))

    th = threading.Thread(target=reader)
    th.start()
    for k in range(200):
        s.save((k % 7, k, 0), t=float(k))
    assert s.flush()
    stop.set()
    th.join()
    assert bad == []
    assert load_state(p)["position"]["section"] == 199
    assert 1 <= s.writes <= 201
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    s.close()


def test_failed_replace_keeps_the_old_file_counts_and_warns_once(tmp_path, monkeypatch, caplog):
    p = tmp_path / "state.json"
    s = StateSaver(p)
    s.save((1, 1, 1))
    s.flush()

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with caplog.at_level(logging.WARNING, logger="livegan.engine.statefile"):
        for k in range(5):
            s.save((2, k, 0))  # never raises
            s.flush()
    assert s.failures == 5 and "No space left" in (s.last_error or "")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot save show state" in warnings[0].getMessage()
    assert saved_position(load_state(p)) == Position(1, 1, 1)  # the old file is intact
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    monkeypatch.undo()
    s.save((3, 0, 0))
    s.flush()
    assert saved_position(load_state(p)) == Position(3, 0, 0) and s.last_error is None
    s.close()


def test_unwritable_folder_is_counted_not_raised(tmp_path, caplog):
    # Tests run as root, where a read-only folder still accepts writes: a parent
    # that is a file fails the same way for everyone.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    s = StateSaver(blocker / "state.json")
    with caplog.at_level(logging.WARNING, logger="livegan.engine.statefile"):
        s.save((0, 1, 0))
        s.save((0, 2, 0))
        assert s.flush()
        s.save((0, 3, 0))
        assert s.flush()
    assert s.failures >= 2 and s.writes == 0
    assert sum(r.levelno == logging.WARNING for r in caplog.records) == 1
    s.close()


def test_load_state_tolerates_missing_corrupt_and_foreign_files(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert load_state(tmp_path / "nope.json") is None
        p = tmp_path / "s.json"
        for content in (
            "{not json",
            "[1, 2]",
            json.dumps({"format": "other", "version": 1, "position": {"song": 0, "section": 0, "variant": 0}}),
            json.dumps({"format": "livegan-state", "version": 1, "position": {"song": -1, "section": 0,
                                                                             "variant": 0}}),
            json.dumps({"format": "livegan-state", "version": 1, "position": {"song": True, "section": 0,
                                                                             "variant": 0}}),
            json.dumps({"format": "livegan-state", "version": 99, "position": {"song": 0, "section": 0,
                                                                              "variant": 0}}),
        ):
            p.write_text(content)
            assert load_state(p) is None, content
        p.write_bytes(b"\xff\xfe garbage")
        assert load_state(p) is None
        assert load_state(tmp_path) is None  # a folder
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 9


def test_resume_state_end_to_end_with_a_director(tmp_path):
    import numpy as np

    from livegan.engine.director import Director
    from livegan.engine.path import Keyframe
    from livegan.engine.state import SongPlan
    from livegan.setlist import Transition
    from livegan.triggers.events import Cue

    plans = [SongPlan("A", 2, [2, 1], [Transition(1.0)] * 2, bpm=100), SongPlan("B", 1, [1], [Transition(1.0)])]

    def kf(s: int, i: int, v: int) -> Keyframe:
        y = np.full(1000, 1e-3, np.float32)  # (1000,) sums to 1
        return Keyframe(np.full((2, 128), s + i + v, np.float32), y)  # (2, 128)

    p = tmp_path / "state.json"
    saver = StateSaver(p, setlist="set.yaml")
    d = Director(plans, kf)
    d.on_position_change = lambda pos: saver.save(pos, t=0.0, state=d.state.to_dict())
    for c in ("next", "prev", "tap", "tap"):
        d.handle(Cue(c), 1.0 if c != "tap" else 2.0 + len(d.state._taps) * 0.5)
    d.handle(Cue("next"), 4.0)
    d.handle(Cue("prev"), 5.0)  # section 0, third entry: variant 0 again
    saver.close()
    data = load_state(p)
    st = resume_state(data, plans, t0=100.0)
    assert st.position == d.position == Position(0, 0, 0) and st.tapped_bpm == 120.0
    st.handle(Cue("goto", 1), 101.0)
    assert st.position.variant == 1  # the cycle went on from where it was
    # a damaged 'state' part falls back to the position alone
    data["state"] = {"visits": "garbage", "position": 3}
    assert resume_state(data, plans).position == Position(0, 0, 0)
    data["state"] = None
    assert resume_state(data, plans).position == Position(0, 0, 0)
