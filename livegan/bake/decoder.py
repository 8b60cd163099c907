"""Decodes baked clips ahead of the display, on its own thread, into a bounded in-memory cache.

The player says which clips it wants (most urgent first) every frame; the
thread decodes the first missing one, whole (a clip is a few seconds), and
evicts the least recently used clips nobody wants once the cache is over its
byte budget. :meth:`get` never blocks: a clip not decoded yet is ``None``
and the player holds its current picture for the few frames that takes.
A clip that fails to decode is logged once and never retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np

from .codec import read_clip

log = logging.getLogger(__name__)

BUDGET_BYTES = 1536 << 20  # ~1.5 GiB: minutes of 128-256 px clips, a few of 512 px


class ClipCache:
    def __init__(self, folder: Path, budget: int = BUDGET_BYTES,
                 reader: Callable[[Path], np.ndarray] = read_clip) -> None:
        self.folder = Path(folder)
        self.budget = budget
        self.reader = reader
        self._clips: OrderedDict[str, np.ndarray] = OrderedDict()  # file -> (N, H, W, 3) uint8
        self._wanted: list[str] = []
        self._failed: set[str] = set()
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.decoded = 0
        self.errors = 0
        self.decode_seconds = 0.0

    # -- the player's side ----------------------------------------------------
    def get(self, file: str) -> np.ndarray | None:
        with self._cv:
            clip = self._clips.get(file)
            if clip is not None:
                self._clips.move_to_end(file)
            elif file not in self._wanted and file not in self._failed:
                self._wanted.insert(0, file)
                self._cv.notify()
            return clip

    def failed(self, file: str) -> bool:
        """Whether this clip could not be decoded (it will not be tried again)."""
        with self._cv:
            return file in self._failed

    def want(self, files: list[str]) -> None:
        """The clips needed soon, most urgent first (replaces the previous wish list)."""
        with self._cv:
            self._wanted = [f for f in dict.fromkeys(files) if f not in self._failed]
            if any(f not in self._clips for f in self._wanted):
                self._cv.notify()

    def wait_for(self, file: str, timeout: float) -> np.ndarray | None:
        """Block until ``file`` is decoded (start-up only, before the show loop runs)."""
        deadline = time.monotonic() + timeout
        self.get(file)
        with self._cv:
            while file not in self._clips and file not in self._failed and time.monotonic() < deadline:
                self._cv.wait(0.05)
            return self._clips.get(file)

    @property
    def nbytes(self) -> int:
        with self._cv:
            return sum(c.nbytes for c in self._clips.values())

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="bake-decoder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- decoder thread ------------------------------------------------------
    def _next(self) -> str | None:
        with self._cv:
            while not self._stop:
                todo = next((f for f in self._wanted if f not in self._clips and f not in self._failed), None)
                if todo is not None:
                    return todo
                self._cv.wait(0.1)
            return None

    def _run(self) -> None:
        while True:
            file = self._next()
            if file is None:
                return
            t0 = time.perf_counter()
            try:
                clip = self.reader(self.folder / file)
            except Exception as e:  # noqa: BLE001 - a broken clip must not stop the show
                log.error("baked clip %s cannot be decoded (%s); playing around it", file, e)
                with self._cv:
                    self._failed.add(file)
                    self.errors += 1
                    self._cv.notify_all()
                continue
            with self._cv:
                self.decode_seconds += time.perf_counter() - t0
                self.decoded += 1
                self._clips[file] = clip
                self._evict()
                self._cv.notify_all()

    def _evict(self) -> None:
        total = sum(c.nbytes for c in self._clips.values())
        for f in list(self._clips):
            if total <= self.budget:
                break
            if f in self._wanted:
                continue
            total -= self._clips.pop(f).nbytes
