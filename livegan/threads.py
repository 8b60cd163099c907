"""How many threads torch gets: the cores left after the display and the machine's other load.

torch's default is one OpenMP thread per core. On a machine where other work
shares the cores (a second app, four prep jobs, the show's own display loop),
OpenMP's spin-waiting threads fight over them and a forward pass can take
many times longer than on fewer threads: one demo section of prep took
145-175 s with torch's default 2 threads and 12-19 s with 1 on a busy 2-core
machine. So the thread count is chosen, once, from the cores this process may
run on (``os.sched_getaffinity``), the cores the caller keeps for itself (the
show's display loop keeps one) and the machine's load (``os.getloadavg``).

:func:`choose_threads` is the pure policy (tested without a machine);
:func:`apply_thread_policy` reads the machine and sets torch. An explicit
``OMP_NUM_THREADS`` or ``--threads`` always wins.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Cores each role keeps for itself (not for torch): the show's display loop
# blends, scales and presents 60 times a second on the main thread.
RESERVED_CORES: dict[str, int] = {"show": 1, "render": 0, "prep": 0, "bench": 0}


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    cores: int          # cores this process may use
    load: float         # 1-minute load average of the machine when chosen
    reserved: int       # cores kept for the caller's own loop
    reason: str         # one line for the log and `livegan bench`
    asked: bool = False  # --threads or OMP_NUM_THREADS: the user's count, never changed


def choose_threads(cores: int, load: float, reserved: int = 0, own_busy: float = 0.0) -> ThreadChoice:
    """The torch thread count for ``cores`` usable cores under a machine ``load``.

    ``load`` is the 1-minute load average (runnable threads, whole machine);
    ``own_busy`` is how much of it is this process itself (e.g. a display loop
    already running), so it is not counted twice. Threads = cores that are
    neither reserved nor busy with other work, rounded to the nearest core,
    never fewer than 1 and never more than ``cores - reserved`` (or 1).
    """
    cores = max(1, int(cores))
    reserved = max(0, min(int(reserved), cores - 1))
    others = max(0.0, float(load) - max(0.0, own_busy))
    most = cores - reserved
    idle = math.floor(cores - others + 0.5) - reserved  # cores the others leave free
    threads = max(1, min(most, idle))
    if threads == most:
        why = f"{threads} of {cores} cores" + (f" ({reserved} kept for the display)" if reserved else "")
    else:
        why = f"{threads} of {cores} cores: the machine is busy (load {others:.1f})"
    return ThreadChoice(threads, cores, float(load), reserved, why)


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. under taskset or a container)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_ticks(path: str = "/proc/stat") -> tuple[int, int] | None:
    """(stolen, total) CPU ticks of the whole machine since boot (Linux ``/proc/stat``); None elsewhere.

    Stolen ticks are those a virtual machine's CPUs were ready to run but the
    host ran something else: on a shared cloud machine they come and go within
    seconds, and OpenMP's threads wait at every barrier for the one whose CPU
    was taken. biggan-deep-128 on a 2-core VM: 12.6 fps with 0.6 % of the time
    stolen, 5.3 fps with 32 % (3 s pieces, one process, a /tmp script).
    """
    ticks = cpu_times(path)
    return None if ticks is None else (ticks[7], sum(ticks))


def cpu_times(path: str = "/proc/stat") -> list[int] | None:
    """The whole machine's CPU ticks since boot: user nice system idle iowait irq softirq steal; None elsewhere."""
    try:
        with open(path) as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    return [int(x) for x in fields[1:9]]  # (guest time is counted in user already)


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Share of the machine's CPU time stolen by the host between two :func:`cpu_ticks`; None if unknown."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 3)


def machine_load() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def apply_thread_policy(role: str, threads: int | None = None) -> ThreadChoice:
    """Set torch's intra-op threads for ``role`` ('show', 'prep', 'render', 'bench'); return the choice.

    ``threads`` (a --threads option) or an ``OMP_NUM_THREADS`` the user set win
    over the policy. Inter-op threads are set to 1 when that is still
    possible: the generator runs one op at a time.
    """
    import torch

    cores = usable_cores()
    if threads is not None or os.environ.get("OMP_NUM_THREADS"):
        n = int(threads if threads is not None else os.environ["OMP_NUM_THREADS"])
        choice = ThreadChoice(max(1, n), cores, machine_load(), 0,
                              f"{max(1, n)} threads, as asked" + ("" if threads is not None else " (OMP_NUM_THREADS)"),
                              asked=True)
    else:
        choice = choose_threads(cores, machine_load(), RESERVED_CORES.get(role, 0))
    torch.set_num_threads(choice.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only allowed before the first parallel work; harmless to skip
        pass
    log.info("torch threads for %s: %s", role, choice.reason)
    return choice


def live_thread_options(choice: ThreadChoice) -> tuple[int, ...]:
    """Thread counts the live render worker measures in place, the policy's choice first.

    The policy keeps a core for the display loop, but a display that costs a
    few percent of a core (the renderer path, or a small window) leaves most
    of it idle: on 2 cores that halves the generator. So the worker also
    tries every core left after the reservation, and all of them, with the
    show running beside it, and keeps what renders fastest (engine/worker.py).
    A count the user asked for is the only option.
    """
    if choice.asked:
        return (choice.threads,)
    return tuple(dict.fromkeys((choice.threads, max(1, choice.cores - choice.reserved), choice.cores)))


def live_worker_options(gen: object, choice: ThreadChoice, max_batch: int) -> dict:
    """RenderWorker keyword arguments for a torch generator: thread counts to measure, usable batches.

    On a CPU the worker sets torch's thread count on its own thread; on a GPU
    threads do not matter. A compiled generator only uses the batch sizes and
    the thread count it was compiled at (anything else would run eager, or
    recompile on stage: the thread count is part of dynamo's guards).
    """
    import torch

    from .models.compiled import compiled_batches, compiled_threads

    device = getattr(getattr(gen, "device", None), "type", "cpu")
    out: dict = {"batches": compiled_batches(gen) or tuple(range(1, max_batch + 1))}
    if device == "cpu":
        fixed = compiled_threads(gen)
        out.update(threads=(fixed,) if fixed else live_thread_options(choice), set_threads=torch.set_num_threads)
    return out


# omp_pause_resource_all's "soft" kind (OpenMP 5.0 omp.h): give back threads, keep the runtime.
OMP_PAUSE_SOFT = 1


def release_openmp_workers() -> bool:
    """Give back the OpenMP worker threads that the *calling* thread's parallel work started; True if done.

    GNU libgomp (torch's OpenMP on Linux) keeps a pool of worker threads for
    every thread that ever ran parallel work, for as long as that thread
    lives. Once it manages more threads than there are cores, every barrier
    spins 100 times instead of about 300,000 before it sleeps. A show loads
    and compiles the generator on the main thread (one pool) and renders on
    the render thread (a second): every render then slept at each of its
    OpenMP barriers, and on a virtual machine an idle vCPU is one the host
    may hand to a neighbour. biggan-deep-128 compiled bf16 on a 2-core Xeon
    VM (AVX512-BF16), the real render worker beside a 60 Hz loop, pieces
    alternating (``benchmarks/bench_pools.py``): with the main thread's pool
    kept, the render thread slept 238-292 times a batch, given back 0-2; a
    quiet host gave 8.6-11.6 fps against 11.9-17.8 (7.3 in 1 of 6 rounds;
    raw batch 4 on the main thread 11.0-13.7), and in an earlier alternation the host
    took 13-37 % of the CPU in the kept pieces, 1 % in the others (3.9-8.5
    fps against 9.6-12.2). At 256 px, quiet, the two were level.

    So a thread that hands torch work to another one (the show, as it starts
    its render thread) calls this first. Parallel work on it later starts a
    new pool. Only libgomp, already loaded by torch, is touched; elsewhere
    (LLVM's libomp shares one pool among threads; no torch) it does nothing.
    """
    import ctypes

    if not hasattr(os, "RTLD_NOLOAD"):  # Windows: no libgomp, and nothing must be loaded here
        return False
    try:
        gomp = ctypes.CDLL("libgomp.so.1", mode=os.RTLD_NOLOAD | ctypes.RTLD_LOCAL)
        pause = gomp.omp_pause_resource_all
    except (OSError, AttributeError):
        return False
    pause.argtypes = [ctypes.c_int]
    pause.restype = ctypes.c_int
    return pause(OMP_PAUSE_SOFT) == 0


# How much lower the live render thread runs than the show's own thread when a window is on a real
# screen. The display loop and the X server (or compositor) then get a core the moment they wake,
# and the generator everything they leave. Beside a 3840x2160 software window under Xvfb, 2 cores,
# biggan-deep-128 compiled: the window kept 59.4-59.9 fps with the render thread at nice 5 or 10
# and 58.3-59.5 at 0 (5 of 6 pairs better), the generator's fps no lower (alternating runs).
RENDER_NICE = 5


def lower_thread_priority(step: int) -> int | None:
    """Raise the calling thread's nice value by ``step`` (at most 19); the new value, or None.

    Linux only, where nice is per thread and the threads this one starts
    (torch's OpenMP team for it) inherit it; elsewhere ``setpriority`` would
    lower the whole process, so nothing is done. Lowering one's own priority
    needs no privilege; it cannot be undone, which is why only the render
    thread (a new one each start) does it.
    """
    if step <= 0 or not sys.platform.startswith("linux"):
        return None
    try:
        nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + step)
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError as e:
        log.info("render thread priority unchanged: %s", e)
        return None
    return nice
