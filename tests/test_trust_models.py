"""Model fidelity: truncation that glides, the search honouring class hints and the truncated prior,
CLIP preprocessing per model, weight fingerprints that can't collide, weight folders that don't fit."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from livegan.errors import ModelError
from livegan.models.biggan import bn_stats
from livegan.models.registry import fingerprint, load_biggan_folder, save_biggan_folder

pytestmark = pytest.mark.usefixtures("one_thread")


# -- 10. truncation that glides ---------------------------------------------------------------
def test_random_models_have_distinct_statistics_rows(tiny_gen) -> None:
    bn = tiny_gen.model.generator.bn
    assert not torch.allclose(bn.running_means[10], bn.running_means[40])
    assert not torch.allclose(bn.running_vars[10], bn.running_vars[40])
    assert (bn.running_vars > 0).all()


def test_statistics_interpolate_between_the_right_rows(tiny_gen) -> None:
    bn = tiny_gen.model.generator.bn
    rows_m, rows_v = bn.running_means, bn.running_vars
    rows = (0, 1, 17, 35, 50)
    m, v = bn_stats(bn, torch.tensor([k / 50 for k in rows]))  # one truncation per frame
    for i, k in enumerate(rows):  # exactly on a row: that row
        assert torch.allclose(m[i], rows_m[k], atol=1e-6) and torch.allclose(v[i], rows_v[k], atol=1e-6)
    m, _ = bn_stats(bn, torch.tensor([0.705]))  # a quarter of the way from row 35 to row 36
    assert torch.allclose(m[0], 0.75 * rows_m[35] + 0.25 * rows_m[36], atol=1e-5)


def test_a_truncation_glide_is_continuous(tiny_gen) -> None:
    """Images along a fine truncation sweep: no step is much bigger than its neighbours (the
    library's swapped weights jump at every multiple of 0.02), and truncation visibly matters."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn((1, tiny_gen.num_latents, 128), generator=g).clamp(-2, 2) * 0.5
    y = torch.softmax(3 * torch.randn((1, 1000), generator=g), -1)
    ts = np.round(np.arange(0.66, 0.74 + 1e-9, 0.0025), 6)
    with torch.no_grad():
        imgs = [tiny_gen(z, y, float(t)) for t in ts]
    steps = np.array([float((b - a).abs().mean()) for a, b in zip(imgs, imgs[1:])])
    assert steps.max() < 2.0 * np.median(steps), steps
    with torch.no_grad():
        far = float((tiny_gen(z, y, 0.3) - tiny_gen(z, y, 0.9)).abs().mean())
    assert far > 20 * np.median(steps), "truncation changes the picture"


# -- 11. the search respects the user ------------------------------------------------------------
def test_every_candidate_starts_on_a_hinted_class(tiny_gen) -> None:
    from livegan.prep.search import SearchSettings, initial_latents

    hints = [5, 7]
    classes = [5, 7, 100, 200, 300, 400]
    _, logits = initial_latents(tiny_gen, classes, SearchSettings(), torch.Generator().manual_seed(0), 8, hints)
    for row in logits:
        assert int(row.argmax()) in hints
    without = initial_latents(tiny_gen, classes, SearchSettings(), torch.Generator().manual_seed(0), 8)[1]
    assert {int(r.argmax()) for r in without} - set(hints), "without hints candidates still vary"


def test_the_z_prior_bound_follows_truncation() -> None:
    from livegan.prep.search import z_prior

    z = torch.full((1, 2, 128), 0.9)
    assert float(z_prior(z, 0.5)) == pytest.approx(0.81)          # inside +-1.0: no penalty
    assert float(z_prior(torch.full((1, 2, 128), 1.5), 0.5)) > 0.81 * 3  # outside +-1.0: penalised
    assert float(z_prior(torch.full((1, 2, 128), 1.5), 1.0)) == pytest.approx(2.25)


# -- 9. CLIP preprocessing per model -------------------------------------------------------------
def test_clip_takes_mean_std_and_size_from_the_model(tiny_clip) -> None:
    from livegan.models.clip import Clip, Preprocess, preprocess_config

    siglip = preprocess_config(tiny_clip.model, "ViT-B-16-SigLIP", "webli")
    assert siglip.mean == (0.5, 0.5, 0.5) and siglip.std == (0.5, 0.5, 0.5)
    openai = preprocess_config(tiny_clip.model, "ViT-B-32", "openai")
    assert openai.mean[0] == pytest.approx(0.48145466)
    assert preprocess_config(tiny_clip.model).size == 32
    half = Clip(tiny_clip.model, tiny_clip.tokenizer, tiny_clip.id, "cpu",
                Preprocess(size=32, mean=(0.5,) * 3, std=(0.5,) * 3))
    img = torch.rand(1, 3, 32, 32) * 2 - 1
    got = half.encode_image(img)
    want = torch.nn.functional.normalize(tiny_clip.model.encode_image(img).float(), dim=-1)  # [-1,1] is (x-.5)/.5
    assert torch.allclose(got, want, atol=1e-5)


def test_resize_modes_give_the_model_size(tiny_clip) -> None:
    from livegan.models.clip import Preprocess, resize_for

    img = torch.rand(1, 3, 40, 64)
    for mode in ("shortest", "longest", "squash"):
        assert resize_for(img, Preprocess(size=32, resize_mode=mode)).shape == (1, 3, 32, 32)


# -- 12. weight fingerprints -----------------------------------------------------------------------
def test_fingerprints_hash_the_whole_file_and_are_cached(tmp_path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    head = os.urandom(1 << 20) * 17  # 17 MiB alike: the old id hashed only the first 16
    a.write_bytes(head + b"A")
    b.write_bytes(head + b"B")
    assert fingerprint(a) != fingerprint(b)
    fa = fingerprint(a)
    st = a.stat()
    a.write_bytes(head + b"C")  # same size; mtime put back: the cache answers
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert fingerprint(a) == fa
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # touched: hashed again
    assert fingerprint(a) != fa


# -- 6. weight folders that don't fit ------------------------------------------------------------
def test_config_for_one_size_weights_for_another_is_one_line(tmp_path) -> None:
    from livegan.models.biggan import build_random

    folder = tmp_path / "w"
    save_biggan_folder(build_random("tiny", 0), folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["channel_width"] = 16
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="other shapes") as info:
        load_biggan_folder(folder)
    assert "\n" not in str(info.value)


def test_an_absurd_config_is_refused_before_allocating(tmp_path) -> None:
    from livegan.models.biggan import build_random

    folder = tmp_path / "w"
    save_biggan_folder(build_random("tiny", 0), folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["channel_width"] = 8192  # ~ hundreds of GB of weights
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="GB"):
        load_biggan_folder(folder)
    for bad in (0, -4, "wide"):
        cfg["channel_width"] = bad
        (folder / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(ModelError):
            load_biggan_folder(folder)


def test_the_size_estimate_matches_real_models() -> None:
    from livegan.models.biggan import build_random
    from livegan.models.registry import estimate_params

    model = build_random("tiny", 0)
    real = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    assert 0.5 * real < estimate_params(model.config) < 2 * real
