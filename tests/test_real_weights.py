"""Tests that need the real downloaded weights (marker ``weights``; skipped by default).

Run them where the network or the cache has the weights:
``python -m pytest -m weights``. They check what random weights can't: the
named downloads load strictly, pictures look like their class to CLIP, and
prep's search finds a better picture of a lyric than its starting point.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livegan.errors import LiveganError
from livegan.models.clip import load_clip
from livegan.models.registry import load_generator
from livegan.prep.search import SearchSettings, search_section

pytestmark = pytest.mark.weights


@pytest.fixture(scope="module")
def real():
    try:
        return load_generator("biggan-deep-128", device="auto"), load_clip("ViT-B-32/openai", device="auto")
    except LiveganError as e:
        pytest.skip(f"real weights not available here: {e}")


def test_named_generator_loads_and_renders_its_class(real) -> None:
    gen, clip = real
    z = np.zeros((2, gen.num_latents, 128), np.float32)
    y = np.zeros((2, 1000), np.float32)
    y[0, 1], y[1, 980] = 1.0, 1.0  # goldfish, volcano
    imgs = gen.render(z, y, 0.4)
    assert imgs.shape == (2, 128, 128, 3) and imgs.std() > 10
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float().to(clip.device) / 127.5 - 1
    with torch.no_grad():
        emb = clip.encode_image(x)
    text = clip.encode_text(["a photo of a goldfish", "a photo of a volcano"])
    sims = emb @ text.T                                                   # (2, 2)
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]


def test_search_improves_on_its_start(real) -> None:
    gen, clip = real
    r = search_section(gen, clip, "a goldfish in a teapot", [1, 849],
                       SearchSettings(steps=60, candidates=2, variants=1, cutouts=16, seed=0))
    assert r.history[-1] > r.history[0] + 0.01
