"""The display's fixed-point blend: within one level of the float blend, exact at the ends, no darkening."""

import numpy as np

from livegan.engine.mix import mix


def test_mix_matches_the_float_blend_within_one_level():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    for w in np.linspace(0.0, 1.0, 41):
        ref = np.floor(a.astype(np.float64) * (1 - w) + b.astype(np.float64) * w + 0.5)
        out = mix(a, b, float(w))
        assert out.dtype == np.uint8 and out.shape == a.shape
        assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1, w


def test_mix_is_exact_at_the_ends_and_never_darkens_a_flat_picture():
    a = np.full((4, 4, 3), 90, np.uint8)
    b = np.full((4, 4, 3), 200, np.uint8)
    assert mix(a, b, 0.0) is a and mix(a, b, 1.0) is b
    assert np.all(mix(a, a, 0.5) == 90), "truncation would give 89 and flicker"
    white = np.full((2, 2, 3), 255, np.uint8)
    assert np.all(mix(white, white, 0.3) == 255), "no overflow at the top of the range"
    assert np.all(mix(a, b, 0.5) == 145)


def test_float_frames_blend_in_float_as_before():
    a = np.full((2, 2, 3), 10.0, np.float32)
    b = np.full((2, 2, 3), 20.0, np.float32)
    out = mix(a, b, 0.25)
    assert out.dtype == np.uint8 and np.all(out == 13)  # 12.5 rounds up, as the float blend always did
