"""``--compile``: torch.compile of the generator's forward, with the artefacts cached across runs.

A show must not spend minutes compiling on stage. So:

- the compiled kernels go to ``<livegan cache>/inductor`` (inductor's FX graph
  and AOT caches), where ``livegan bench`` or a show's warm-up leaves them: a
  later start only re-traces and loads them (seconds, not minutes);
- every shape the show will use is compiled at warm-up, before the first
  frame; after that a call that would need a *re*compile (another batch
  size) runs eager instead of stalling the render thread. Truncation is a
  tensor input of the graph, one per frame: as a number it was a constant,
  and a truncation knob turned on stage ran the rest of the show eager, 3x
  slower (biggan-deep-128 bf16, 2-core Xeon: 41-57 ms a frame compiled,
  129-165 eager);
- anything failing (no C++ compiler, an unsupported op, a driver) falls back
  to eager with one warning line; the show never stops for it;
- a cue need not wait for the compiled batch in flight: where the generator
  is interruptible (a show), the graph gives up between two of its kernels:
  its first call is watched by a profile hook (:class:`KernelCheck`), which
  finds the graph's generated wrapper module, and from then on the kernels
  in that module ask themselves (:func:`install_kernel_checks`).

``auto`` compiles only where ``livegan bench`` measured that it pays on this
machine (>= 5 % more frames per second; the record is kept in the cache), so
nobody waits for a compile that buys nothing (1.08x on a 2-core AVX2 CPU).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from ..errors import RenderInterrupted
from .biggan import per_frame

log = logging.getLogger(__name__)

COMPILE_MODES: tuple[str, ...] = ("auto", "on", "off")
PAYS_AT = 1.05   # compiled must give at least this many times the eager fps for `auto`
# Graphs dynamo may keep for the generator's forward (one code object for every model, dtype, batch
# size and thread count compiled in this process): its default of 8 was reached by `livegan bench`
# with two models, and past it dynamo runs the forward eager *silently*.
RECOMPILE_LIMIT = 64
RECORD_FILE = "compile-pays.json"


# Inductor calls each C++ kernel it generates for the CPU through a small Python binding that keeps
# the GIL for the whole kernel (torch/_inductor/codecache.py, CppPythonBindingsCodeCache: "kernel({});
# Py_RETURN_NONE;"). While a compiled batch renders, the show's 60 Hz loop then cannot run a line of
# Python for up to one kernel: a thread sleeping 1 ms beside a compiled biggan-deep-256 batch of 2
# saw gaps of up to 19.6 ms (p99 8.6 ms; 12 % of the time in gaps over 5 ms), against 5.9 ms beside
# the eager one, whose aten ops let go of the GIL. The binding below parses the arguments with the GIL
# (they are Python objects), then lets go of it around the kernel, as aten does; an exception comes
# back through the same guard, so the GIL is held again before Python sees it.
_GIL_CALL = ("{{ auto args_ = std::make_tuple({}); "
             "struct NoGil {{ PyThreadState* s; NoGil() : s(PyEval_SaveThread()) {{}} "
             "~NoGil() {{ PyEval_RestoreThread(s); }} }}; "
             "{{ NoGil nogil_; std::apply(kernel, args_); }} }} Py_RETURN_NONE;")
_GIL_KEPT = "kernel({}); Py_RETURN_NONE;"


def release_gil_in_kernels() -> bool:
    """Make inductor's CPU kernels let go of the GIL while they run; True if they do (idempotent).

    Only where inductor's binding is the one this was written against; any
    other version is left alone (the kernels then keep the GIL, as before).
    Kernels built before this are not rebuilt: call it before compiling.
    """
    try:
        from torch._inductor.codecache import CppPythonBindingsCodeCache as Bindings
    except Exception:  # noqa: BLE001 - another torch: leave it be
        return False
    if Bindings.call_entry_function == _GIL_CALL:
        return True
    head = "#include <sstream>\n"
    if Bindings.call_entry_function != _GIL_KEPT or head not in Bindings.suffix_template:
        log.debug("inductor's kernel binding is not the one livegan knows; kernels keep the GIL")
        return False
    Bindings.suffix_template = Bindings.suffix_template.replace(head, head + "#include <tuple>\n", 1)
    Bindings.call_entry_function = _GIL_CALL
    return True


def inductor_cache() -> Path:
    from .registry import cache_dir
    return cache_dir() / "inductor"


def machine_key(gen: Any) -> str:
    """What a compile measurement holds for: model, device, dtype, torch and CPU."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{gen.id.key()}|{gen.device}|{gen.dtype}|torch {torch.__version__}|{cpu}"


def _record_path() -> Path:
    from .registry import cache_dir
    return cache_dir() / RECORD_FILE


def load_records() -> dict[str, dict]:
    try:
        return json.loads(_record_path().read_text())
    except (OSError, ValueError):
        return {}


def save_record(gen: Any, eager_fps: float, compiled_fps: float, batches: Iterable[int] = (1,),
                threads: int | None = None) -> dict:
    """Remember whether compiling paid for this generator on this machine (``livegan bench`` calls it).

    Also the batch sizes and torch thread count it was measured at: a show
    compiles those (a compiled graph is only valid at its thread count).
    """
    from ..fsio import atomic_write_bytes

    rec = {"eager_fps": eager_fps, "compiled_fps": compiled_fps,
           "pays": bool(compiled_fps >= PAYS_AT * eager_fps), "batches": sorted(set(batches)), "threads": threads}
    records = load_records()
    records[machine_key(gen)] = rec
    path = _record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(records, indent=1, sort_keys=True).encode())
    return rec


def compile_pays(gen: Any) -> bool | None:
    """True/False where ``livegan bench`` measured it here; None where nobody has."""
    rec = load_records().get(machine_key(gen))
    return None if rec is None else bool(rec.get("pays"))


def measured_shape(gen: Any) -> tuple[tuple[int, ...] | None, int | None]:
    """(batch sizes, threads) ``livegan bench`` compiled and measured here; (None, None) where unknown."""
    rec = load_records().get(machine_key(gen)) or {}
    batches = rec.get("batches")
    return (tuple(batches) if batches else None), rec.get("threads")


def _plain(t: torch.Tensor) -> torch.Tensor:
    """``t`` with the strides a fresh tensor has: graphs are guarded on strides, and a batch of one
    from numpy (``z[None]``, or np.stack of one frame) has stride 0 in its batch dimension, which no
    graph was compiled for (a recompile: eager for the rest of the show)."""
    fresh = t.new_empty(t.shape)
    return t if t.stride() == fresh.stride() else fresh.copy_(t)


class KernelCheck:
    """A profile hook that asks ``should_stop`` before each kernel a compiled graph's wrapper calls.

    Inductor runs a compiled graph as one generated Python function (kept in
    the cache folder ``root``) that calls its kernels one by one, so the only
    place to give up early is between them: :func:`sys.setprofile` sees each
    call of a C function, and raising there abandons the graph before that
    kernel starts, like any exception a kernel raises. Only calls made from
    files under ``root`` are checked; everything else runs untouched. A
    cue then waits for one kernel (milliseconds) instead of the rest of a
    batch (270 ms for a compiled batch of 4 at 128 px on a 2-core CPU).

    The hook also notes the module namespace of every wrapper it saw
    (``found``), so that :func:`install_kernel_checks` can put the same check
    into the wrapper itself: a profile hook runs Python at every call and
    return in the render thread (about 2,400 a frame at 256 px), and that
    cost a frame 8-18 % at biggan-deep-256, batch 1, on a render thread.
    """

    def __init__(self, should_stop: Callable[[], bool], root: str | Path) -> None:
        self.should_stop = should_stop
        self.root = os.path.join(os.path.realpath(root), "")
        # File name -> whether it is a compiled graph's wrapper (not code objects: two with the same
        # code compare equal whatever their files).
        self._ours: dict[str, bool] = {}
        self.found: dict[int, dict[str, Any]] = {}  # id -> globals of each wrapper module seen

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if event != "c_call":
            return
        name = frame.f_code.co_filename
        ours = self._ours.get(name)
        if ours is None:
            ours = self._ours[name] = os.path.realpath(name).startswith(self.root)
        if ours:
            self.found[id(frame.f_globals)] = frame.f_globals
            if self.should_stop():
                raise RenderInterrupted()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """This thread's calls are checked inside the block (another profiler in it is put back after)."""
        before = sys.getprofile()
        sys.setprofile(self)
        try:
            yield
        finally:
            sys.setprofile(before)


# The should_stop of the interruptible render this thread is running (None: not interruptible). The
# kernel wrappers below are shared by every caller of a compiled graph; only this thread's render
# asks, so the bench's raw renders or a prep on another thread never do.
_asking = threading.local()


def _checked(kernel: Callable) -> Callable:
    """``kernel`` behind a check of this thread's ``should_stop`` (a cue gives up before it starts)."""
    def run(*args: Any, **kwargs: Any) -> Any:
        stop = getattr(_asking, "stop", None)
        if stop is not None and stop():
            raise RenderInterrupted()
        return kernel(*args, **kwargs)

    run.__wrapped__ = kernel  # type: ignore[attr-defined]
    return run


class _CheckedKernels:
    """Inductor's ``extern_kernels`` namespace (convolutions, matrix products) with each call checked."""

    def __init__(self, kernels: Any) -> None:
        self.__wrapped__ = kernels

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.__wrapped__, name)
        if callable(value):
            value = _checked(value)
        setattr(self, name, value)  # looked up once
        return value


def install_kernel_checks(namespace: dict[str, Any]) -> int:
    """Check ``should_stop`` before each kernel a compiled graph's wrapper module calls; kernels wrapped.

    ``namespace`` is the module's globals (:attr:`KernelCheck.found`): its
    generated C++ kernels (``cpp_fused_*``) and its ``extern_kernels`` calls
    (convolutions, matrix products) are wrapped where they are looked up, so
    the check costs one Python call per kernel (about 200 a frame at 128 px)
    and nothing between. Nothing is wrapped twice; 0 where the module has no
    kernels by those names (another torch: the profile hook stays).
    """
    n = 0
    for name, value in list(namespace.items()):
        if name.startswith("cpp_fused") and callable(value) and not hasattr(value, "__wrapped__"):
            namespace[name] = _checked(value)
            n += 1
    kernels = namespace.get("extern_kernels")
    if n and kernels is not None and not isinstance(kernels, _CheckedKernels):
        namespace["extern_kernels"] = _CheckedKernels(kernels)
    return n


def has_kernel_checks(namespace: dict[str, Any]) -> bool:
    """Whether :func:`install_kernel_checks` wrapped this wrapper module's kernels."""
    return isinstance(namespace.get("extern_kernels"), _CheckedKernels) or any(
        name.startswith("cpp_fused") and hasattr(value, "__wrapped__") for name, value in namespace.items())


@contextlib.contextmanager
def asking(should_stop: Callable[[], bool] | None) -> Iterator[None]:
    """The kernel wrappers on this thread ask ``should_stop`` inside the block."""
    before = getattr(_asking, "stop", None)
    _asking.stop = should_stop
    try:
        yield
    finally:
        _asking.stop = before


class CompiledForward:
    """Stands in for ``Generator.forward``: the compiled graph for warmed-up shapes, eager otherwise."""

    def __init__(self, gen: Any, eager: Callable) -> None:
        self.gen = gen
        self.eager = eager
        self.compiled = torch.compile(eager, dynamic=False)
        self.ready: set[tuple] = set()   # shapes compiled at warm-up
        self.failed = False
        self.eager_calls = 0             # calls that ran eager (a shape not compiled, or after a failure)
        self.threads: int | None = None  # torch's thread count at warm-up
        self._check: KernelCheck | None = None  # for the generator's should_stop, while it has one
        self.checked: set[tuple] = set()  # shapes whose graph checks should_stop in its own kernels

    def _key(self, z: torch.Tensor) -> tuple:
        # torch's thread count is part of dynamo's global-state guard: a graph compiled at 2 threads
        # called at 1 is a recompile (seen in a show whose worker measured thread counts).
        return (tuple(z.shape), torch.is_autocast_enabled(z.device.type),
                torch.get_autocast_dtype(z.device.type) if torch.is_autocast_enabled(z.device.type) else None,
                torch.get_num_threads())

    def __call__(self, z: torch.Tensor, y: torch.Tensor, truncation: float | torch.Tensor) -> torch.Tensor:
        truncation = per_frame(truncation, z)
        key = self._key(z)
        if self.failed or key not in self.ready:
            self.eager_calls += 1
            return self.eager(z, y, truncation)
        try:
            with torch.compiler.set_stance("fail_on_recompile"), self._watch(key):
                return self.compiled(_plain(z), _plain(y), _plain(truncation))
        except RenderInterrupted:
            raise  # a cue: the worker starts the new path (the graph is fine)
        except Exception as e:  # noqa: BLE001 - a guard failed or the kernel broke: eager from now on
            self.failed = True
            log.warning("compiled generator failed (%s: %s); running eager from now on",
                        type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            return self.eager(z, y, truncation)

    def _watch(self, key: tuple) -> contextlib.AbstractContextManager:
        """Kernel checks while the generator is interruptible (its ``should_stop`` set by a show).

        The first interruptible call of a shape is watched by the profile
        hook, which finds the graph's wrapper module; its kernels are then
        wrapped (:func:`install_kernel_checks`) and later calls only tell
        them whom to ask.
        """
        stop = getattr(self.gen, "should_stop", None)
        if stop is None:
            return contextlib.nullcontext()
        if key in self.checked:
            return asking(stop)
        if self._check is None or self._check.should_stop is not stop:
            self._check = KernelCheck(stop, inductor_cache())
        return self._find_kernels(key, self._check)

    @contextlib.contextmanager
    def _find_kernels(self, key: tuple, check: KernelCheck) -> Iterator[None]:
        check.found.clear()
        try:
            with check.watching():
                yield
        finally:
            found = list(check.found.values())
            try:
                for ns in found:
                    install_kernel_checks(ns)
            except Exception as e:  # noqa: BLE001 - the profile hook goes on checking instead
                log.debug("kernel checks not installed: %s", e)
                found = []
        # Only a whole call has seen every module of the graph (a cue may have ended this one early).
        if found and all(map(has_kernel_checks, found)):
            self.checked.add(key)

    def warm_up(self, z: torch.Tensor, y: torch.Tensor, truncation: float) -> None:
        """Compile (or load from the cache) the graph for this shape: raises if that fails."""
        import torch._dynamo.config as dynamo_config

        dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, RECOMPILE_LIMIT)
        # Over the limit, an error (then eager with one line), never an eager "compiled" generator.
        with torch.no_grad(), torch.autocast(self.gen.device.type, dtype=self.gen.dtype,
                                             enabled=self.gen.dtype != torch.float32), \
                dynamo_config.patch(fail_on_recompile_limit_hit=True):
            self.compiled(z, y, per_frame(truncation, z))
            self.ready.add(self._key(z))
            self.threads = torch.get_num_threads()


def compile_generator(gen: Any, mode: str = "on", *, batches: Iterable[int] = (1,), truncation: float = 0.7,
                      warn: Callable[[str], None] = log.warning, threads: int | None = None) -> bool:
    """Compile ``gen``'s forward for these batch sizes now (warm-up); True if the show will use it.

    ``mode`` 'off': nothing; 'auto': only where ``livegan bench`` measured that
    it pays here; 'on': always try. A failure is one ``warn`` line and eager.
    ``threads``: torch's thread count to compile at (and run at: it is set).
    """
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile must be one of {', '.join(COMPILE_MODES)}, got {mode!r}")
    if mode == "off" or not hasattr(type(gen), "forward"):  # not a BigGAN Generator (a test fake)
        return False
    if mode == "auto":
        pays = compile_pays(gen)
        if not pays:
            log.info("not compiling the generator: %s", "livegan bench measured no gain here" if pays is False
                     else "not measured on this machine (livegan bench measures it)")
            return False
    # Ours, always: torch fills this variable in itself once it has looked (so a value
    # here may be its /tmp default), and the artefacts must outlive a reboot.
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(inductor_cache())
    release_gil_in_kernels()
    eager = type(gen).forward.__get__(gen)
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        fwd = CompiledForward(gen, eager)
        rng = np.random.default_rng(0)
        for b in batches:
            z = torch.from_numpy(rng.standard_normal((b, gen.num_latents, 128)).astype(np.float32)).to(gen.device)
            y = torch.full((b, 1000), 1e-3, device=gen.device)
            fwd.warm_up(z, y, truncation)
    except Exception as e:  # noqa: BLE001 - no compiler, unsupported op, ...: eager
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        warn(f"torch.compile of the generator failed ({type(e).__name__}: {msg[:200]}); running eager")
        gen.__dict__.pop("forward", None)
        return False
    gen.forward = fwd
    return True


def _in_use(gen: Any) -> CompiledForward | None:
    """``gen``'s compiled forward while it runs compiled (None: never compiled, or fallen back to eager)."""
    fwd = getattr(gen, "__dict__", {}).get("forward")
    return fwd if isinstance(fwd, CompiledForward) and not fwd.failed and fwd.ready else None


def compiled_batches(gen: Any) -> tuple[int, ...] | None:
    """The batch sizes ``gen`` runs compiled (None: not compiled, or fallen back to eager)."""
    fwd = _in_use(gen)
    return None if fwd is None else tuple(sorted({key[0][0] for key in fwd.ready}))


def compiled_threads(gen: Any) -> int | None:
    """The torch thread count ``gen``'s compiled graphs were built at (None: not compiled)."""
    fwd = _in_use(gen)
    return None if fwd is None else fwd.threads


def uncompile(gen: Any) -> None:
    """Back to eager (e.g. before a bench measures eager configurations)."""
    gen.__dict__.pop("forward", None)
