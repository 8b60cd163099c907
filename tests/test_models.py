"""Models: strict BigGAN folder loading, per-layer latents, random architectures, offline failures, CLIP."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from livegan.errors import ModelError
from livegan.models import clip as clip_mod
from livegan.models import registry
from livegan.models.biggan import CONFIGS, Generator, GeneratorId, bake_spectral_norm, build_random, trim_rgb_conv
from livegan.models.clip import load_clip
from livegan.models.registry import generator_from_id, load_generator, resolve_device, resolve_dtype, save_biggan_folder

pytestmark = pytest.mark.usefixtures("one_thread")


def inputs(gen: Generator, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn((batch, gen.num_latents, 128), generator=g).clamp(-2, 2) * 0.7  # (B, L, 128)
    y = torch.softmax(3 * torch.randn((batch, 1000), generator=g), -1)             # (B, 1000)
    return z, y


@torch.no_grad()
def images(gen: Generator, z: torch.Tensor, y: torch.Tensor, truncation: float = 0.7) -> torch.Tensor:
    return gen(z, y, truncation)


def one_line_model_error(fn, *args, **kw) -> str:
    with pytest.raises(ModelError) as info:
        fn(*args, **kw)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


# -- generator ---------------------------------------------------------------------
def test_tiny_generator_shapes_and_range(tiny_gen):
    z, y = inputs(tiny_gen, 3)
    img = images(tiny_gen, z, y)
    assert img.shape == (3, 3, 32, 32)
    assert torch.isfinite(img).all() and img.abs().max() <= 1.0
    assert img.std() > 0.05  # not a flat grey picture
    frames = tiny_gen.render(z.numpy(), y.numpy(), 0.7)
    assert frames.shape == (3, 32, 32, 3) and frames.dtype == np.uint8


def test_equal_per_layer_latents_equal_one_latent(tiny_gen):
    z, y = inputs(tiny_gen, 2)
    z1 = z[:, 0]                                                     # (B, 128)
    zl = z1[:, None, :].repeat(1, tiny_gen.num_latents, 1)           # (B, L, 128) all rows equal
    assert torch.allclose(images(tiny_gen, zl, y), images(tiny_gen, z1, y), atol=1e-6)


def test_each_layer_latent_matters(tiny_gen):
    z, y = inputs(tiny_gen, 1)
    base = images(tiny_gen, z, y)
    for layer in range(tiny_gen.num_latents):
        z2 = z.clone()
        z2[:, layer] += 1.0
        assert not torch.allclose(images(tiny_gen, z2, y), base, atol=1e-4), layer


def test_truncation_is_checked(tiny_gen):
    z, y = inputs(tiny_gen, 1)
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="truncation"):
            images(tiny_gen, z, y, bad)


def test_a_truncation_per_frame_renders_each_frame_as_alone(tiny_gen):
    # The render worker gives a batch one truncation per frame (a knob's glide need not split it).
    z, y = inputs(tiny_gen, 3)
    zn, yn = z.numpy(), y.numpy()
    trunc = np.array([0.3, 0.7, 1.0], np.float32)
    both = tiny_gen.render(zn, yn, trunc)
    for b in range(3):
        alone = tiny_gen.render(zn[b:b + 1], yn[b:b + 1], float(trunc[b]))[0]
        assert np.abs(both[b].astype(int) - alone.astype(int)).max() <= 1, b
    assert not (both[0] == tiny_gen.render(zn, yn, 0.7)[0]).all()  # the truncation did reach frame 0
    for bad in ([0.5, 0.0, 0.5], [0.5, float("nan"), 0.5], [1.2, 0.5, 0.5]):
        with pytest.raises(ValueError, match="truncation"):
            tiny_gen.render(zn, yn, np.array(bad, np.float32))


def test_random_weights_are_deterministic():
    a = load_generator("tiny", seed=3, device="cpu")
    b = load_generator("tiny", seed=3, device="cpu")
    c = load_generator("tiny", seed=4, device="cpu")
    z, y = inputs(a, 1)
    assert torch.equal(images(a, z, y), images(b, z, y))
    assert not torch.allclose(images(a, z, y), images(c, z, y))
    assert a.id.key() == "tiny@random:3"


@pytest.mark.parametrize("name", ["tiny", "biggan-deep-128"])
def test_named_architectures_give_finite_images(name):
    gen = load_generator(name, random_weights=True, device="cpu")
    assert gen.size == CONFIGS[name]["output_dim"]
    assert gen.num_latents == len(CONFIGS[name]["layers"]) + 1
    z, y = inputs(gen, 1)
    img = images(gen, z, y, 0.5)
    assert img.shape == (1, 3, gen.size, gen.size)
    assert torch.isfinite(img).all() and img.std() > 0.01


def test_generator_from_bank_id(tiny_gen):
    again = generator_from_id({"name": "tiny", "weights": "random:0"}, device="cpu")
    assert again.id.key() == tiny_gen.id.key()
    z, y = inputs(tiny_gen, 1)
    # Same weights, not bitwise-same pictures: with another thread count oneDNN may sum in another
    # order (a full-suite run once differed in the last bits). Another seed differs by ~0.1.
    assert torch.allclose(images(again, z, y), images(tiny_gen, z, y), rtol=0, atol=1e-5)


def test_the_rgb_conv_keeps_only_the_channels_the_picture_uses():
    full = Generator(build_random("tiny", seed=3), GeneratorId("tiny", "x"), "cpu")
    bake_spectral_norm(full.model)
    trimmed = Generator(copy.deepcopy(full.model), GeneratorId("tiny", "x"), "cpu")
    assert trim_rgb_conv(trimmed.model) and not trim_rgb_conv(trimmed.model)  # once
    conv = trimmed.model.generator.conv_to_rgb
    assert tuple(conv.weight.shape) == (3, 8, 3, 3) and tuple(conv.bias.shape) == (3,)
    z, y = inputs(full, 2)
    assert torch.allclose(images(trimmed, z, y), images(full, z, y), rtol=0, atol=1e-5)
    # The work saved is the 5 channels that were thrown away: 2 * 32 * 32 pixels * 5 * 8 * 3 * 3 per frame.
    flops = []
    for gen in (full, trimmed):
        with FlopCounterMode(display=False) as counter:
            images(gen, z, y)
        flops.append(counter.get_total_flops())
    assert flops[0] - flops[1] == 2 * (2 * 32 * 32 * 5 * 8 * 9)
    # A show's generator comes trimmed.
    assert load_generator("tiny", device="cpu").model.generator.conv_to_rgb.out_channels == 3


def test_the_rgb_conv_is_trimmed_only_after_spectral_norm_is_baked():
    with pytest.raises(ValueError, match="bake spectral norm"):
        trim_rgb_conv(build_random("tiny", seed=3))


# -- strict folder loading --------------------------------------------------------------
def baked(model) -> Generator:
    bake_spectral_norm(model)
    return Generator(model, GeneratorId("tiny", "x"), "cpu")


def test_folder_round_trip(tmp_path):
    save_biggan_folder(build_random("tiny", seed=5), tmp_path / "w")
    gen = load_generator(weights=str(tmp_path / "w"), device="cpu")
    assert gen.id.name == "tiny" and gen.id.weights.startswith("sha256:")
    ref = baked(build_random("tiny", seed=5))
    z, y = inputs(gen, 2)
    assert torch.allclose(images(gen, z, y), images(ref, z, y), atol=1e-6)
    # the bank's metadata brings the same folder back
    again = generator_from_id({"name": "tiny", "weights": gen.id.weights, "extra": gen.id.extra}, device="cpu")
    assert torch.allclose(images(again, z, y), images(gen, z, y), rtol=0, atol=1e-5)


def edited_folder(tmp_path, edit) -> str:
    model = build_random("tiny", seed=1)
    save_biggan_folder(model, tmp_path / "w")
    state = model.state_dict()
    edit(state)
    torch.save(state, tmp_path / "w" / "pytorch_model.bin")
    return str(tmp_path / "w")


def test_missing_key_is_named(tmp_path):
    key = "generator.conv_to_rgb.bias"
    folder = edited_folder(tmp_path, lambda s: s.pop(key))
    msg = one_line_model_error(load_generator, weights=folder, device="cpu")
    assert "missing 1 keys" in msg and key in msg


def test_unexpected_key_is_named(tmp_path):
    folder = edited_folder(tmp_path, lambda s: s.__setitem__("generator.extra.weight", torch.zeros(3)))
    msg = one_line_model_error(load_generator, weights=folder, device="cpu")
    assert "unexpected 1 keys" in msg and "generator.extra.weight" in msg


def test_nan_weights_are_refused(tmp_path):
    def poison(s):
        s["generator.conv_to_rgb.bias"][0] = float("nan")
    msg = one_line_model_error(load_generator, weights=edited_folder(tmp_path, poison), device="cpu")
    assert "NaN" in msg


def test_folder_without_config(tmp_path):
    save_biggan_folder(build_random("tiny"), tmp_path / "w")
    (tmp_path / "w" / "config.json").unlink()
    assert "config.json" in one_line_model_error(load_generator, weights=str(tmp_path / "w"), device="cpu")


def test_folder_without_weights_or_with_garbage(tmp_path):
    save_biggan_folder(build_random("tiny"), tmp_path / "w")
    wfile = tmp_path / "w" / "pytorch_model.bin"
    wfile.write_bytes(b"not a checkpoint at all")
    assert "cannot read weights" in one_line_model_error(load_generator, weights=str(tmp_path / "w"), device="cpu")
    wfile.unlink()
    assert "pytorch_model.bin" in one_line_model_error(load_generator, weights=str(tmp_path / "w"), device="cpu")
    for bad in ("[1, 2]", "{not json", '{"layers": "x"}'):
        (tmp_path / "w" / "config.json").write_text(bad)
        assert "not a BigGAN config" in one_line_model_error(load_generator, weights=str(tmp_path / "w"),
                                                             device="cpu")


def test_missing_folder(tmp_path):
    assert "not found" in one_line_model_error(load_generator, weights=str(tmp_path / "nope"), device="cpu")


def test_unknown_generator_lists_names():
    msg = one_line_model_error(load_generator, "biggan-deep-64", device="cpu")
    assert "biggan-deep-128" in msg and "tiny" in msg


def test_named_download_offline_fails_fast(monkeypatch):
    calls: list[str] = []

    def offline(url, dest):
        calls.append(url)
        raise ConnectionError("no network")

    monkeypatch.setattr(registry, "_download", offline)
    msg = one_line_model_error(load_generator, "biggan-deep-128", device="cpu")
    assert len(calls) == 1  # fails on the first try: no retries (counted, not timed)
    assert "--weights" in msg and "--random-weights" in msg and "ConnectionError" in msg


def test_devices_and_dtypes():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    assert "unknown device" in one_line_model_error(resolve_device, "tpu")
    if not torch.cuda.is_available():
        assert "no CUDA GPU" in one_line_model_error(resolve_device, "cuda")
    assert resolve_dtype("bfloat16") == torch.bfloat16
    assert "float32" in one_line_model_error(resolve_dtype, "float8")


# -- CLIP -------------------------------------------------------------------------------
def test_tiny_clip_text(tiny_clip):
    t = tiny_clip.encode_text(["a goldfish", "a volcano", "a goldfish"])
    assert t.shape == (3, 64)
    assert torch.allclose(t.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.equal(t[0], t[2]) and not torch.allclose(t[0], t[1])


def test_tiny_clip_image_any_size_and_differentiable(tiny_clip):
    for size in (32, 17, 64):
        img = (torch.rand(2, 3, size, size) * 2 - 1).requires_grad_(True)
        e = tiny_clip.encode_image(img)
        assert e.shape == (2, 64)
        assert torch.allclose(e.norm(dim=-1), torch.ones(2), atol=1e-5)
        e.sum().backward()
        assert img.grad is not None and torch.isfinite(img.grad).all() and img.grad.abs().sum() > 0


def test_tiny_clip_is_deterministic(tiny_clip):
    again = load_clip("tiny", device="cpu")
    assert str(again.id) == str(tiny_clip.id) == "tiny/random:0"
    assert torch.equal(again.encode_text(["x"]), tiny_clip.encode_text(["x"]))


def test_unknown_clip_lists_near_names():
    msg = one_line_model_error(load_clip, "ViT-B-23/openai", device="cpu")
    assert "unknown CLIP model 'ViT-B-23'" in msg and "ViT-B-32" in msg and "tiny" in msg


def test_clip_without_tag_lists_tags():
    msg = one_line_model_error(load_clip, "ViT-B-32", device="cpu")
    assert "openai" in msg


def test_clip_checkpoint_missing(tmp_path):
    msg = one_line_model_error(load_clip, "ViT-B-32", checkpoint=str(tmp_path / "nope.pt"), device="cpu")
    assert "not found" in msg


def test_named_clip_offline_fails_fast(monkeypatch):
    monkeypatch.setattr(clip_mod, "_reachable", lambda host, timeout=3.0: False)
    monkeypatch.setattr(clip_mod, "_cached_pretrained", lambda *a: None)
    import open_clip
    tried: list[str] = []  # the hub client's ~45 s of retries start inside create_model
    monkeypatch.setattr(open_clip, "create_model", lambda *a, **k: tried.append(a[0]))
    msg = one_line_model_error(load_clip, "ViT-B-32/openai", device="cpu")
    assert tried == []  # refused before any download was tried
    assert "no network" in msg and "--clip-weights" in msg and "--clip tiny" in msg
