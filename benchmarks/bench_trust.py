"""What trusting nothing on disk costs: bank load with and without its checksum, weight fingerprints
hashed in full the first time and answered from the cache after.

    python benchmarks/bench_trust.py [--keyframes 40] [--layers 15] [--mib 256]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keyframes", type=int, default=40, help="keyframes in the bank (2 per section)")
    ap.add_argument("--layers", type=int, default=15, help="latents per keyframe (15: biggan-deep-512)")
    ap.add_argument("--mib", type=int, default=256, help="size of the weights file to fingerprint")
    ap.add_argument("--repeats", type=int, default=50)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        os.environ["LIVEGAN_CACHE"] = str(Path(d) / "cache")
        import livegan.bank as bank
        from livegan.models.registry import fingerprint

        rng = np.random.default_rng(0)
        secs = [bank.SectionKeys(f"line {i}", (rng.standard_normal((2, a.layers, 128)) * 0.5).astype(np.float32),
                                 np.eye(1000, dtype=np.float32)[[i, i + 1]], np.full(2, 0.3, np.float32))
                for i in range(a.keyframes // 2)]
        p = bank.save_bank(bank.Bank("Song", {"name": "biggan-deep-512", "weights": "random:0"}, "tiny", secs),
                           Path(d) / "b.safetensors")

        def load_ms() -> float:
            t = time.perf_counter()
            for _ in range(a.repeats):
                bank.load_bank(p)
            return (time.perf_counter() - t) / a.repeats * 1000

        size_kb = round(p.stat().st_size / 1e3)
        with_ck = load_ms()
        real = bank.bank_checksum
        bank.bank_checksum = lambda arrays, meta: meta.get("checksum")  # the same load, hashing skipped
        without = load_ms()
        bank.bank_checksum = real
        w = Path(d) / "w.bin"
        w.write_bytes(os.urandom(a.mib << 20))
        t = time.perf_counter()
        fingerprint(w)
        first = time.perf_counter() - t
        t = time.perf_counter()
        fingerprint(w)
        cached = time.perf_counter() - t
    print(json.dumps({"bank_kb": size_kb, "keyframes": a.keyframes,
                      "bank_load_ms": round(with_ck, 2), "bank_load_ms_without_checksum": round(without, 2),
                      "fingerprint_mib": a.mib, "fingerprint_first_s": round(first, 3),
                      "fingerprint_cached_ms": round(cached * 1000, 3)}, indent=1))


if __name__ == "__main__":
    main()
