"""Shared test helpers: a two-song tiny setlist and banks written as prep would write them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from livegan.bank import Bank, SectionKeys, bank_path, save_bank
from livegan.setlist import load_setlist, section_variants

TINY = {"name": "tiny", "weights": "random:0"}
LAYERS = 5  # latents per keyframe of the tiny generator

SETLIST = """
defaults: {model: tiny, clip: tiny, steps: 3, variants: 1, truncation: 0.7, transition: 1}
songs:
  - title: Alpha
    sections:
      - {text: a weasel in the snow, classes: [weasel]}
      - {text: a goldfish in a teapot, classes: [goldfish, teapot]}
      - {text: a lighthouse at night, classes: [beacon]}
  - title: Beta
    sections:
      - {text: a red wine glass, classes: [red wine]}
      - {text: a grand piano on the seashore, classes: [grand piano, seashore]}
"""


def write_banks(setlist: Path, folder: Path, gid: dict = TINY, layers: int = LAYERS) -> list[Path]:
    """One bank per song, as prep would write it (seeded z, the class hints as y)."""
    sl = load_setlist(setlist)
    paths = []
    for i, song in enumerate(sl.songs):
        secs = []
        for j, sec in enumerate(song.sections):
            v = section_variants(sl, sec)
            rng = np.random.default_rng(100 * i + j)
            z = (np.clip(rng.standard_normal((v, layers, 128)), -2, 2) * 0.7).astype(np.float32)  # (V, L, 128)
            y = np.zeros((v, 1000), np.float32)                                                      # (V, 1000)
            hints = sec.class_ids or [j]
            for k in range(v):
                y[k, hints[k % len(hints)]] = 1.0
            score = np.linspace(0.3, 0.2, v).astype(np.float32)
            secs.append(SectionKeys(sec.text, z, y, score, f"key{i}{j}", sec.class_ids))
        paths.append(save_bank(Bank(song.title, gid, "tiny", secs), bank_path(folder, song.title)))
    return paths
