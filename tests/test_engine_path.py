"""Latent path maths: slerp/lerp endpoints and norms, easing, blend, drift."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livegan.engine.path import EASE_KINDS, Drift, Keyframe, blend, ease, lerp, slerp


def _z(seed: int, layers: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((layers, 128)).astype(np.float32)  # (L, 128)


def test_slerp_endpoints_exact():
    a, b = _z(1), _z(2)
    assert np.array_equal(slerp(a, b, 0.0), a)
    assert np.array_equal(slerp(a, b, 1.0), b)
    assert np.allclose(slerp(a, b, 1e-9), a, atol=1e-6)
    assert np.allclose(slerp(a, b, 1 - 1e-9), b, atol=1e-5)
    assert slerp(a, b, 0.3).dtype == np.float32 and slerp(a, b, 0.3).shape == a.shape


def test_slerp_per_row_and_keeps_norm_for_equal_norms():
    a, b = _z(3), _z(4)
    b = b / np.linalg.norm(b, axis=1, keepdims=True) * np.linalg.norm(a, axis=1, keepdims=True)
    for t in (0.1, 0.5, 0.77):
        out = slerp(a, b, t)
        assert np.allclose(np.linalg.norm(out, axis=1), np.linalg.norm(a, axis=1), rtol=1e-5)
        # each row on its own: same as slerping that row alone
        assert np.allclose(out[2], slerp(a[2], b[2], t), atol=1e-6)
    # the midpoint is equidistant in angle
    mid = slerp(a, b, 0.5).astype(np.float64)
    cos = lambda u, v: np.sum(u * v, 1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)  # noqa: E731
    assert np.allclose(cos(mid, a), cos(mid, b), atol=1e-5)


def test_slerp_parallel_and_zero_fall_back_to_lerp():
    a = _z(5)
    out = slerp(a, 2 * a, 0.5)
    assert np.all(np.isfinite(out)) and np.allclose(out, 1.5 * a, atol=1e-5)
    z = np.zeros_like(a)
    assert np.allclose(slerp(z, a, 0.25), 0.25 * a, atol=1e-6)
    anti = slerp(a, -a, 0.5)
    assert np.all(np.isfinite(anti))


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1), st.integers(0, 1000), st.floats(0.1, 20))
def test_slerp_property_stays_on_the_sphere(t, seed, radius):
    a, b = _z(seed, 2), _z(seed + 1, 2)
    a = a / np.linalg.norm(a, axis=1, keepdims=True) * radius  # (2, 128) on a sphere of that radius
    b = b / np.linalg.norm(b, axis=1, keepdims=True) * radius
    out = slerp(a, b, t)
    assert np.all(np.isfinite(out))
    assert np.allclose(np.linalg.norm(out, axis=1), radius, rtol=1e-5)


def test_lerp_endpoints_and_mid():
    a, b = _z(6), _z(7)
    assert np.array_equal(lerp(a, b, 0.0), a) and np.array_equal(lerp(a, b, 1.0), b)
    assert np.allclose(lerp(a, b, 0.5), (a + b) / 2, atol=1e-6)


@pytest.mark.parametrize("kind", EASE_KINDS)
def test_ease_monotonic_and_endpoints(kind):
    assert ease(0.0, kind) == 0.0 and ease(1.0, kind) == 1.0
    assert ease(-3.0, kind) == 0.0 and ease(7.0, kind) == 1.0
    ts = np.linspace(0, 1, 501)
    vals = [ease(float(t), kind) for t in ts]
    assert all(b >= a for a, b in zip(vals, vals[1:]))
    assert all(0.0 <= v <= 1.0 for v in vals)


def test_ease_unknown_kind_names_the_allowed():
    with pytest.raises(ValueError, match="linear"):
        ease(0.5, "bouncy")


def test_blend_slerps_z_and_lerps_y():
    y1 = np.zeros(1000, np.float32); y1[3] = 1
    y2 = np.zeros(1000, np.float32); y2[9] = 0.5; y2[10] = 0.5
    a, b = Keyframe(_z(1), y1), Keyframe(_z(2), y2)
    m = blend(a, b, 0.25)
    assert np.allclose(m.z, slerp(a.z, b.z, 0.25))
    assert m.y[3] == pytest.approx(0.75) and m.y[9] == pytest.approx(0.125)
    assert m.y.sum() == pytest.approx(1.0) and m.y.min() >= 0
    assert np.array_equal(blend(a, b, 1.0).z, b.z) and np.array_equal(blend(a, b, 0.0).y, a.y)


def test_keyframe_checks_shapes():
    with pytest.raises(ValueError, match="128"):
        Keyframe(np.zeros((3, 64), np.float32), np.zeros(1000, np.float32))
    with pytest.raises(ValueError, match="1000"):
        Keyframe(np.zeros((3, 128), np.float32), np.zeros(10, np.float32))


def test_drift_zero_at_amount_zero():
    d = Drift(5, seed=1)
    for t in (0.0, 3.3, 1e4):
        off = d.offset(t, 0.0, 1.0)
        assert off.shape == (5, 128) and off.dtype == np.float32 and not off.any()


def test_drift_bounded_continuous_deterministic_and_moving():
    d, d2, other = Drift(4, seed=7), Drift(4, seed=7), Drift(4, seed=8)
    ts = np.arange(0, 120, 1 / 60)
    offs = np.stack([d.offset(float(t), 0.15, 1.0) for t in ts])  # (T, L, 128)
    norms = np.linalg.norm(offs, axis=-1)  # (T, L)
    assert norms.max() <= d.bound(0.15) + 1e-5
    assert norms.max() <= 0.15 * np.sqrt(128) + 1e-5
    assert norms.mean() > 0.1 * d.bound(0.15)  # it actually moves
    step = np.linalg.norm(np.diff(offs, axis=0), axis=-1)  # (T-1, L) per frame at 60 fps
    assert step.max() < 0.02 * d.bound(0.15)  # smooth: tiny moves per frame
    assert np.array_equal(d.offset(12.5, 0.3, 0.5), d2.offset(12.5, 0.3, 0.5))
    assert not np.allclose(d.offset(12.5, 0.3, 0.5), other.offset(12.5, 0.3, 0.5))
    # linear in amount; speed scales time
    assert np.allclose(d.offset(4.0, 0.2, 1.0), 2 * d.offset(4.0, 0.1, 1.0), atol=1e-6)
    assert np.allclose(d.offset(4.0, 0.2, 0.5), d.offset(2.0, 0.2, 1.0), atol=1e-6)


def test_engine_imports_no_torch_clip_or_prep():
    import subprocess
    import sys
    code = ("import sys, livegan.engine, livegan.engine.director, livegan.engine.statefile, livegan.engine.cuefile; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'open_clip', 'clip') "
            "or m.startswith('livegan.prep')]; "
            "import threading; assert threading.active_count() == 1; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
