"""Keyframes for the live show: the setlist's banks, or a fallback walk per song.

A song whose bank is missing, corrupt or made for another generator is named
in a warning at start and plays a walk between its sections' class hints
(seeded z, one-hot classes) instead of stopping the show. No bank decides
anything for the other songs: the show's generator is the setlist's model
(or ``--model``), with the weights most of the banks made for that model
agree on (:func:`find_bank_generator`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..bank import Bank, bank_path, load_bank, same_generator
from ..engine.path import Keyframe
from ..errors import BankError
from ..models.imagenet import words_to_classes
from ..setlist import Setlist, section_seed

log = logging.getLogger(__name__)


def find_bank_generator(sl: Setlist, banks_dir: Path, name: str | None = None) -> dict | None:
    """The generator id (``{"name", "weights", ...}``) that most readable banks made for model
    ``name`` (default: the setlist's) agree on; ties go to the weights the model loads by default
    (downloaded, or random seed 0), then to the earlier song. None: no bank agrees.

    A stray or damaged bank can only lose the vote, never switch the show to another model.
    """
    name = name or sl.defaults.model
    votes: dict[tuple[str, str], list] = {}  # (name, weights) -> [count, first song, gid]
    for i, song in enumerate(sl.songs):
        try:
            gid = load_bank(bank_path(banks_dir, song.title)).generator
        except BankError:
            continue
        if gid.get("name") != name:
            continue
        vote = votes.setdefault((gid["name"], gid["weights"]), [0, i, gid])
        vote[0] += 1
    if not votes:
        return None
    def default(gid: dict) -> bool:
        return gid["weights"] == "random:0" or gid["weights"].startswith("download")

    return max(votes.values(), key=lambda v: (v[0], default(v[2]), -v[1]))[2]


def fallback_keyframe(sl: Setlist, song: int, section: int, variant: int, layers: int) -> Keyframe:
    """A stand-in keyframe from the section's class hints (or the lyric's words), seeded."""
    sec = sl.songs[song].sections[section]
    classes = sec.class_ids or words_to_classes(sec.text) or [section_seed(sl, song, section) % 1000]
    rng = np.random.default_rng(section_seed(sl, song, section) + 7919 * variant)
    z = np.clip(rng.standard_normal((layers, 128)), -2, 2).astype(np.float32) * sl.defaults.truncation  # (L, 128)
    y = np.zeros(1000, np.float32)
    y[classes[variant % len(classes)]] = 1.0                                                           # (1000,)
    return Keyframe(z, y)


class ShowKeyframes:
    """``(song, section, variant) -> Keyframe`` over banks checked against the running generator."""

    def __init__(self, sl: Setlist, banks_dir: str | Path, generator_id: dict, layers: int) -> None:
        self.setlist = sl
        self.layers = layers
        self.banks: dict[int, Bank] = {}
        self.warnings: list[str] = []
        unverified: list[str] = []
        for i, song in enumerate(sl.songs):
            path = bank_path(banks_dir, song.title)
            try:
                bank = load_bank(path)
            except BankError as e:
                self.warnings.append(f"{song.title!r}: {e} -- playing a walk between its class hints")
                continue
            problem = self._mismatch(bank, generator_id, len(song.sections), [s.text for s in song.sections])
            if problem:
                self.warnings.append(f"{song.title!r}: bank {path.name} {problem} -- playing a walk between its class hints")
                continue
            self.banks[i] = bank
            trunc = bank.settings.get("truncation")
            if isinstance(trunc, (int, float)) and abs(float(trunc) - sl.defaults.truncation) > 1e-6:
                self.warnings.append(f"{song.title!r}: bank {path.name} was searched at truncation {trunc:g}, "
                                     f"the setlist says {sl.defaults.truncation:g}: the pictures differ from "
                                     "the ones prep scored (re-run prep)")
            if not bank.verified:
                unverified.append(path.name)
        if unverified:  # one line for all of them: older banks are common, not an emergency
            self.warnings.append(f"{len(unverified)} bank(s) have no checksum (made by an older livegan), played "
                                 f"unverified: {', '.join(unverified[:3])}{' …' if len(unverified) > 3 else ''} "
                                 "(re-run prep to add one)")
        for w in self.warnings:
            log.warning("%s", w)

    def _mismatch(self, bank: Bank, gid: dict, n_sections: int, texts: list[str]) -> str | None:
        if not same_generator(bank.generator, gid):
            return (f"was made for {bank.generator.get('name')} ({bank.generator.get('weights')}), "
                    f"the show runs {gid.get('name')} ({gid.get('weights')})")
        if bank.num_latents != self.layers:
            return f"has {bank.num_latents} latents per keyframe, the generator takes {self.layers}"
        if len(bank.sections) != n_sections or [s.text for s in bank.sections] != texts:
            return "doesn't match the setlist's sections any more (re-run prep)"
        return None

    def variants(self, song: int) -> list[int]:
        bank = self.banks.get(song)
        if bank is None:
            return [max(1, len(s.class_ids) or 1) for s in self.setlist.songs[song].sections]
        return [len(s.score) for s in bank.sections]

    def __call__(self, song: int, section: int, variant: int) -> Keyframe:
        bank = self.banks.get(song)
        if bank is None:
            return fallback_keyframe(self.setlist, song, section, variant, self.layers)
        sec = bank.sections[section]
        v = variant % len(sec.score)
        return Keyframe(sec.z[v], sec.y[v])
