"""keep_freed_memory: a big block freed on the render thread is reused, not faulted in again (counted, not timed)."""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import resource, sys, threading
    if sys.argv[1] == "keep":
        from livegan.heap import keep_freed_memory
        assert keep_freed_memory() is True and keep_freed_memory() is True
    import numpy as np
    np._core.multiarray._set_madvise_hugepage(False)  # 4 KiB pages, as torch's CPU allocator gets them
    out = []
    def render_thread():  # a frame's worth of activations, freed, then the next frame's
        a = np.ones(48 << 20, np.uint8); del a
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = np.ones(48 << 20, np.uint8); del a
        out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    t = threading.Thread(target=render_thread); t.start(); t.join()
    print(out[0])
""")


def _faults(mode: str) -> int:
    r = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_big_block_freed_on_a_thread_is_reused_not_faulted_in_again():
    pages = (48 << 20) // 4096
    assert _faults("default") > pages // 2  # glibc maps it afresh: every page faulted (and zeroed) again
    assert _faults("keep") < pages // 20    # kept in the heap: the same pages, already there
