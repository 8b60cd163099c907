"""Blending two uint8 frames for the display, in 8.8 fixed point.

The display blends the two rendered frames around "now" 60 times a second on
the show's own thread. In float32 that was 1.2 ms at 256 px and 4.7 ms at
512 px (six passes over four bytes a channel); on two cores every
millisecond the display thread takes also stalls one of torch's two
OpenMP threads. In uint16 fixed point it is 0.1 ms and 0.8 ms (one run of
/tmp micro-benchmark, this 2-core Xeon), within one level of the float
result (the weight is rounded to 1/256).
"""

from __future__ import annotations

import numpy as np


def mix(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """(1-w)*a + w*b as uint8 (H, W, 3), rounded to nearest (truncating darkens blends).

    uint8 frames blend in fixed point; any other dtype (a custom generator's
    float frames) in float32, as before.
    """
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        return (a.astype(np.float32) * (1.0 - w) + b.astype(np.float32) * w + 0.5).astype(np.uint8)
    k = int(w * 256.0 + 0.5)
    if k <= 0:
        return a
    if k >= 256:
        return b
    out = np.multiply(a, 256 - k, dtype=np.uint16)   # (H, W, 3); 255 * 256 + 128 fits in 16 bits
    out += np.multiply(b, k, dtype=np.uint16)
    out += 128
    out >>= 8
    return out.astype(np.uint8)
