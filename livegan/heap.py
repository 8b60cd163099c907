"""Keep freed memory for the next frame instead of handing it back to the OS and faulting it in again.

glibc's malloc serves a big request (over its mmap threshold, at most 32 MiB
by default) with a fresh ``mmap`` and gives it back with ``munmap`` when it is
freed; a thread other than the main one allocates from an arena whose heaps
are at most 64 MiB, so anything bigger is mapped afresh too. A generator
frees and allocates the same big activations every frame, so every frame
faulted them in again, page by page, each page zeroed by the kernel: a
compiled biggan-deep-128 batch of 4 took 20,000-29,000 minor page faults a
render (up to about 115 MB) on a render thread, biggan-deep-256 127,793, and
under 1,700 after this (2-core Xeon, /tmp scripts counting ``ru_minflt``).

So, once at start-up, before the render thread exists: one arena for every
thread (the main one, which grows with ``brk`` and has no 64 MiB limit), big
blocks from it rather than from ``mmap``, and freed memory at its top kept
rather than trimmed. The process then keeps its peak: the memory one render
needs, which it needs again for the next.

Only glibc has ``mallopt``; elsewhere (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
KEEP_BYTES = 1 << 30  # blocks up to this size come from the heap; this much free memory at its top is kept

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep and reuse big freed blocks (see the module docstring); True if it took.

    Idempotent. Call it before starting threads that allocate: a thread keeps
    the arena it first allocated from.
    """
    global _done
    if _done is not None:
        return _done
    _done = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl has no mallopt knobs)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = all(mallopt(param, value) == 1 for param, value in
             ((M_ARENA_MAX, 1), (M_MMAP_THRESHOLD, KEEP_BYTES), (M_TRIM_THRESHOLD, KEEP_BYTES)))
    if not ok:
        log.debug("glibc refused a mallopt setting; big frames' memory may be faulted in each render")
    _done = ok
    return ok
