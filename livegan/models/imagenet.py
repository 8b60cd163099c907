"""ImageNet-1k class names, read from timm's packaged WordNet data.

We never type the 1000 names by hand: timm (installed with open_clip) ships
``imagenet_synsets.txt`` (the 1000 synsets in class order) and
``imagenet_synset_to_lemma.txt`` (their WordNet lemmas), so that ``orca``,
``killer whale`` and ``grampus`` all resolve to class 148. The files are read
without importing timm itself (which would import torch): ``check`` stays fast.
"""

from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..text import shorten

NUM_CLASSES = 1000


def _info_dir() -> Path:
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("timm is not installed (it comes with open_clip_torch)")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "_info"


def normalise(name: str) -> str:
    """Case, underscores, hyphens and extra spaces don't matter in class names."""
    return " ".join(name.lower().replace("_", " ").replace("-", " ").split())


@dataclass(frozen=True)
class ImageNetNames:
    lemmas: tuple[tuple[str, ...], ...]  # per class index, its lemmas in WordNet order
    index: dict[str, tuple[int, ...]]    # normalised lemma -> class indices that share it
    definitions: tuple[str, ...] = ()    # per class index, WordNet's gloss

    def label(self, i: int) -> str:
        """The first lemma: a short human name for class i."""
        return self.lemmas[i][0]

    def lookup(self, name: str) -> tuple[int, ...]:
        return self.index.get(normalise(name), ())

    def suggest(self, name: str, n: int = 3) -> list[str]:
        return difflib.get_close_matches(normalise(name), list(self.index), n=n, cutoff=0.6)


@lru_cache(maxsize=1)
def imagenet_names() -> ImageNetNames:
    d = _info_dir()
    synsets = (d / "imagenet_synsets.txt").read_text().split()
    lemma_of: dict[str, str] = {}
    for line in (d / "imagenet_synset_to_lemma.txt").read_text().splitlines():
        if "\t" in line:
            syn, lem = line.split("\t", 1)
            lemma_of[syn] = lem
    if len(synsets) != NUM_CLASSES:
        raise RuntimeError(f"timm's ImageNet synset list has {len(synsets)} entries, expected 1000")
    lemmas = tuple(tuple(s.strip() for s in lemma_of[syn].split(",") if s.strip()) for syn in synsets)
    index: dict[str, list[int]] = {}
    for i, names in enumerate(lemmas):
        for name in names:
            ids = index.setdefault(normalise(name), [])
            if i not in ids:
                ids.append(i)
    gloss: dict[str, str] = {}
    for line in (d / "imagenet_synset_to_definition.txt").read_text().splitlines():
        if "\t" in line:
            syn, text = line.split("\t", 1)
            gloss[syn] = text.strip()
    definitions = tuple(gloss.get(syn, "") for syn in synsets)
    return ImageNetNames(lemmas, {k: tuple(v) for k, v in index.items()}, definitions)


def resolve_class(hint: str | int) -> tuple[int, str | None]:
    """A class hint (name or index) -> (index, warning or None). Raises ValueError if unknown."""
    names = imagenet_names()
    if isinstance(hint, bool):
        raise ValueError(f"class must be a name or an index 0..999, got {hint!r}")
    if isinstance(hint, int):
        if not 0 <= hint < NUM_CLASSES:
            raise ValueError(f"class index must be in range 0..999, got {hint}")
        return hint, None
    ids = names.lookup(hint)
    if not ids:
        near = names.suggest(hint)
        hint_s = f"; did you mean {' or '.join(repr(s) for s in near)}?" if near else ""
        raise ValueError(f"unknown ImageNet class {hint!r}{hint_s} (a WordNet name or an index 0..999)")
    if len(ids) > 1:
        cands = "; ".join(f"{i} = {shorten(names.definitions[i], 48) or names.lemmas[i][0]}" for i in ids)
        return ids[0], f"class name {hint!r} is shared by {len(ids)} classes: {cands}; using {ids[0]} (write the index to choose)"
    return ids[0], None


def words_to_classes(text: str, limit: int = 4) -> list[int]:
    """Classes whose name appears in a lyric line (longest names first): prep's cheap hints."""
    names = imagenet_names()
    t = f" {normalise(''.join(c if c.isalnum() or c in ' -_' else ' ' for c in text))} "
    found: list[int] = []
    for name in sorted(names.index, key=len, reverse=True):
        if len(name) >= 3 and f" {name} " in t:
            for i in names.index[name]:
                if i not in found:
                    found.append(i)
            t = t.replace(f" {name} ", "  ")
        if len(found) >= limit:
            break
    return found[:limit]
