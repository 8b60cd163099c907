"""Shared fixtures: a private livegan cache, the tiny generator and CLIP, and setlist writing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def livegan_cache(tmp_path_factory) -> Path:
    """One cache folder for the whole run, so the class-text embeddings are computed once."""
    return tmp_path_factory.mktemp("livegan-cache")


@pytest.fixture(autouse=True)
def _private_cache(livegan_cache: Path, monkeypatch) -> None:
    # No test may read or write ~/.cache/livegan.
    monkeypatch.setenv("LIVEGAN_CACHE", str(livegan_cache))


@pytest.fixture
def one_thread():
    """Run torch on one thread: the tiny models gain nothing from more, and with two threads on a
    busy two-core machine OpenMP's spin-waiting made a search 15x slower (27 s instead of 1.8 s)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_gen():
    from livegan.models.registry import load_generator
    return load_generator("tiny", device="cpu")


@pytest.fixture(scope="session")
def tiny_clip():
    from livegan.models.clip import load_clip
    return load_clip("tiny", device="cpu")


@pytest.fixture(scope="session")
def class_emb(tiny_clip, livegan_cache: Path):
    import os
    from livegan.prep.runner import class_embeddings
    old = os.environ.get("LIVEGAN_CACHE")
    os.environ["LIVEGAN_CACHE"] = str(livegan_cache)  # session scope: no monkeypatch here
    try:
        return class_embeddings(tiny_clip)
    finally:
        if old is None:
            del os.environ["LIVEGAN_CACHE"]
        else:
            os.environ["LIVEGAN_CACHE"] = old


@pytest.fixture
def write_yaml(tmp_path: Path):
    """write_yaml(text, name="setlist.yaml") -> path of a dedented YAML file in tmp_path."""
    def write(text: str, name: str = "setlist.yaml") -> Path:
        p = tmp_path / name
        p.write_text(textwrap.dedent(text).lstrip("\n"))
        return p
    return write


@pytest.fixture
def open_renderer():
    """``open_renderer((w, h))``: a RendererPresenter on SDL's renderer (software under the dummy driver), or a skip."""
    import pygame

    from livegan.outputs.presenters import RendererPresenter

    def make(size):
        pygame.display.init()
        try:
            return RendererPresenter.open(pygame, "t", size, fullscreen=False, display=0, vsync=False,
                                          accelerated_only=False)
        except pygame.error as e:
            pytest.skip(f"no SDL renderer under the dummy driver: {e}")

    return make
