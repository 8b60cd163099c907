"""What a machine can do: CPU features, and the raw generator speed of every configuration.

``livegan bench`` compares the live engine against the *best* of these, so a
better setting the engine did not use cannot hide behind a ratio. A
configuration is (dtype, batch, threads, eager/compiled); its raw fps is
frames per second of a bare loop of ``gen.render`` calls, nothing else.
bf16 is measured only where the CPU does it natively (AVX512-BF16 or AMX):
elsewhere autocast emulates it ~50x slower, and one batch would take minutes.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .threads import RESERVED_CORES, choose_threads, machine_load, usable_cores

CPU_FLAGS: tuple[str, ...] = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_info() -> dict[str, Any]:
    """Model name and the vector/matrix features that decide fp32 vs bf16 speed."""
    import torch

    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    try:
        mkldnn_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        mkldnn_bf16 = False
    return {"cpu": model, "features": [f for f in CPU_FLAGS if f in flags], "native_bf16": mkldnn_bf16,
            "cores": usable_cores(), "load": round(machine_load(), 2), "torch": torch.__version__,
            "torch_default_threads": torch.get_num_threads()}


def _inputs(gen: Any, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = (np.clip(rng.standard_normal((batch, gen.num_latents, 128)), -2, 2) * 0.7).astype(np.float32)
    y = np.zeros((batch, 1000), np.float32)
    y[np.arange(batch), rng.integers(0, 1000, batch)] = 1.0
    return z, y


def raw_fps(gen: Any, seconds: float, *, batch: int = 1, dtype: Any = None, threads: int | None = None,
            truncation: float = 0.7) -> float:
    """Frames per second of bare ``gen.render`` calls of ``batch`` frames (one warm-up call first)."""
    times = raw_times(gen, seconds, batch=batch, dtype=dtype, threads=threads, truncation=truncation)
    return batch * len(times) / sum(times)


def raw_times(gen: Any, seconds: float, *, batch: int = 1, dtype: Any = None, threads: int | None = None,
              truncation: float = 0.7) -> list[float]:
    """Seconds of each bare ``gen.render`` call of ``batch`` frames, for about ``seconds`` (after a warm-up)."""
    import torch

    old_dtype, old_threads = gen.dtype, torch.get_num_threads()
    if dtype is not None:
        gen.dtype = dtype
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        z, y = _inputs(gen, batch)
        gen.render(z, y, truncation)  # warm-up
        times: list[float] = []
        t0 = last = time.perf_counter()
        while not times or last - t0 < seconds:
            gen.render(z, y, truncation)
            now = time.perf_counter()
            times.append(now - last)
            last = now
        return times
    finally:
        gen.dtype = old_dtype
        torch.set_num_threads(old_threads)


def dtypes_to_try(device: str, native_bf16: bool) -> list[str]:
    if device.startswith("cuda"):
        return ["float32", "bfloat16", "float16"]
    return ["float32", "bfloat16"] if native_bf16 else ["float32"]


def thread_counts(cores: int, load: float) -> list[int]:
    """The show's policy count and all cores (torch's default), each once."""
    show = choose_threads(cores, load, RESERVED_CORES["show"]).threads
    return sorted({show, cores})


def raw_configs(gen: Any, seconds: float, *, device: str, batches: tuple[int, ...] = (1, 2, 4),
                compile_mode: str = "auto", log: Any = None) -> dict[str, Any]:
    """Raw fps of every configuration; the best one; and (unless off) the compiled best of each dtype.

    ``compile_mode`` 'off' skips compiling; otherwise the best eager
    configuration of each dtype is compiled at every batch size (compiling
    changes which is fastest, and a show's worker picks among them in place),
    measured, and whether it paid is recorded for ``--compile auto``.
    """
    import torch

    info = cpu_info()
    rows: list[dict[str, Any]] = []
    threads = [None] if device.startswith("cuda") else thread_counts(info["cores"], info["load"])
    for t in threads:
        for dt in dtypes_to_try(device, info["native_bf16"]):
            for b in batches:
                fps = raw_fps(gen, seconds, batch=b, dtype=getattr(torch, dt), threads=t)
                rows.append({"dtype": dt, "batch": b, "threads": t or torch.get_num_threads(),
                             "compiled": False, "fps": round(fps, 3)})
                if log:
                    log(f"raw {rows[-1]}")
    best = max(rows, key=lambda r: r["fps"])
    if compile_mode != "off" and not device.startswith("mps"):
        # The best eager configuration of each dtype: compiling changes the order (bf16 on AMX
        # compiled 2.2x, fp32 much less), and a sweep whose fp32 won by noise missed it.
        for dt in dict.fromkeys(r["dtype"] for r in rows):
            rows += _compiled_rows(gen, max((r for r in rows if r["dtype"] == dt and not r["compiled"]),
                                            key=lambda r: r["fps"]), seconds, log, batches)
        best = max(rows, key=lambda r: r["fps"])
    return {"configs": rows, "best": best}


def _compiled_rows(gen: Any, best: dict, seconds: float, log: Any,
                   batches: tuple[int, ...] = (1, 2, 4)) -> list[dict[str, Any]]:
    import torch

    from .models.compiled import compile_generator, save_record, uncompile

    old = gen.dtype
    gen.dtype = getattr(torch, best["dtype"])
    batches = sorted({1, *batches})
    old_threads = torch.get_num_threads()
    torch.set_num_threads(best["threads"])
    rows = []
    t0 = time.perf_counter()
    try:
        if not compile_generator(gen, "on", batches=batches, warn=log or print, threads=best["threads"]):
            return []
        compile_s = time.perf_counter() - t0
        for b in batches:
            fps = raw_fps(gen, seconds, batch=b, threads=best["threads"])
            rows.append({"dtype": best["dtype"], "batch": b, "threads": best["threads"], "compiled": True,
                         "fps": round(fps, 3), "compile_seconds": round(compile_s, 1)})
            if log:
                log(f"raw {rows[-1]}")
        top = max(rows, key=lambda r: r["fps"])
        rec = save_record(gen, best["fps"], top["fps"], batches=batches, threads=best["threads"])
        for r in rows:
            r["compile_pays"] = rec["pays"]
        return rows
    finally:
        uncompile(gen)
        gen.dtype = old
        torch.set_num_threads(old_threads)
