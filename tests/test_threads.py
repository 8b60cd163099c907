"""The torch thread policy: a pure function of cores, load and the cores a role keeps for itself."""

import sys

import pytest

from livegan import threads
from livegan.threads import choose_threads


def test_an_idle_machine_gives_torch_every_core_but_the_reserved():
    assert choose_threads(2, 0.0).threads == 2
    assert choose_threads(2, 0.0, reserved=1).threads == 1
    assert choose_threads(16, 0.3, reserved=1).threads == 15
    assert "kept for the display" in choose_threads(8, 0.0, reserved=1).reason


def test_a_busy_machine_gives_torch_only_the_idle_cores():
    assert choose_threads(2, 4.0).threads == 1                  # four other jobs on two cores: one thread
    assert choose_threads(8, 3.0).threads == 5
    assert choose_threads(8, 3.0, reserved=1).threads == 4
    assert choose_threads(8, 7.6, reserved=1).threads == 1
    assert "busy" in choose_threads(8, 6.0).reason
    assert choose_threads(8, 3.4).threads == 5 and choose_threads(8, 3.6).threads == 4  # rounded


def test_own_work_is_not_counted_as_someone_elses():
    assert choose_threads(4, 2.0, own_busy=2.0).threads == 4
    assert choose_threads(4, 2.0, own_busy=1.0).threads == 3


def test_never_fewer_than_one_thread_and_never_a_negative_reserve():
    assert choose_threads(1, 0.0, reserved=1).threads == 1
    assert choose_threads(1, 50.0).threads == 1
    assert choose_threads(0, 0.0).threads == 1
    assert choose_threads(4, -1.0, reserved=-2).threads == 4


def test_apply_reads_the_machine_and_an_explicit_count_wins(monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "machine_load", lambda: 2.2)
    try:
        c = threads.apply_thread_policy("show")
        assert c.threads == 1 and torch.get_num_threads() == 1   # 4 cores - 2 busy - 1 for the display
        c = threads.apply_thread_policy("prep")
        assert c.threads == 2 and torch.get_num_threads() == 2
        assert threads.apply_thread_policy("prep", threads=3).threads == 3
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        c = threads.apply_thread_policy("prep")
        assert c.threads == 1 and "OMP_NUM_THREADS" in c.reason
    finally:
        torch.set_num_threads(before)


def test_the_live_worker_measures_the_policy_count_first_then_more_cores():
    from livegan.threads import ThreadChoice, live_thread_options

    assert live_thread_options(choose_threads(2, 0.0, reserved=1)) == (1, 2)
    assert live_thread_options(choose_threads(8, 5.0, reserved=1)) == (2, 7, 8)  # busy: the policy's 2 first
    assert live_thread_options(choose_threads(1, 0.0, reserved=1)) == (1,)
    asked = ThreadChoice(3, 8, 0.0, 0, "3 threads, as asked", asked=True)
    assert live_thread_options(asked) == (3,), "--threads / OMP_NUM_THREADS is never second-guessed"


def test_live_worker_options_for_a_cpu_generator_and_a_compiled_one(monkeypatch):
    torch = pytest.importorskip("torch")
    from livegan.models import compiled
    from livegan.threads import live_worker_options

    class Gen:
        device = torch.device("cpu")

    opts = live_worker_options(Gen(), choose_threads(2, 0.0, reserved=1), 4)
    assert opts["batches"] == (1, 2, 3, 4) and opts["threads"] == (1, 2)
    assert opts["set_threads"] is torch.set_num_threads
    monkeypatch.setattr(compiled, "compiled_batches", lambda gen: (1,))
    assert live_worker_options(Gen(), choose_threads(2, 0.0, reserved=1), 4)["batches"] == (1,)
    Gen.device = torch.device("cuda")  # never touched: threads do not matter to a GPU's render
    assert "threads" not in live_worker_options(Gen(), choose_threads(2, 0.0, reserved=1), 4)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is per thread on Linux only")
def test_lowering_a_threads_priority_stays_on_that_thread_and_stops_at_19():
    import os
    import threading

    got = {}

    def lower(step):
        got[step] = threads.lower_thread_priority(step)
        got[f"{step} now"] = os.getpriority(os.PRIO_PROCESS, 0)

    base = os.getpriority(os.PRIO_PROCESS, 0)
    for step in (5, 40, 0):
        t = threading.Thread(target=lower, args=(step,))
        t.start()
        t.join()
    assert got[5] == got["5 now"] == min(19, base + 5)
    assert got[40] == got["40 now"] == 19
    assert got[0] is None and got["0 now"] == base
    assert os.getpriority(os.PRIO_PROCESS, 0) == base


def test_lowering_priority_is_left_alone_off_linux(monkeypatch):
    monkeypatch.setattr(threads.sys, "platform", "darwin")  # there setpriority would lower the whole process
    assert threads.lower_thread_priority(5) is None


def test_stolen_time_is_read_from_proc_stat_and_shared_out(tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 50 0 25 400 5 0 2 18 0 0\n")
    before = threads.cpu_ticks(str(stat))
    assert before == (35, 1000)
    stat.write_text("cpu  150 0 60 900 10 0 5 75 0 0\n")
    after = threads.cpu_ticks(str(stat))
    assert threads.steal_share(before, after) == 0.2  # 40 of 200 ticks
    assert threads.steal_share(after, after) is None  # no time passed
    assert threads.steal_share(None, after) is None
    assert threads.cpu_ticks(str(tmp_path / "missing")) is None
    stat.write_text("intr 1 2 3\n")
    assert threads.cpu_ticks(str(stat)) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_this_machines_stolen_time_is_a_share():
    a = threads.cpu_ticks()
    assert a is not None and 0 <= a[0] <= a[1]


# Run in a process of its own: which threads exist, and which OpenMP pools, is then only this script's doing.
_POOLS = r'''
import json, os, threading, time
import numpy as np, torch
from livegan.clock import ManualClock
from livegan.engine.director import Director
from livegan.engine.path import Keyframe
from livegan.engine.state import SongPlan, Transition
from livegan.engine.worker import RenderWorker
from livegan.threads import release_openmp_workers

def tasks():
    return set(os.listdir("/proc/self/task"))

def gone(tids, seconds=10.0):  # a joined thread leaves /proc a moment after it ends
    end = time.monotonic() + seconds
    while tids & tasks() and time.monotonic() < end:
        time.sleep(0.01)
    return not tids & tasks()

def parallel_work():  # big enough that torch runs it on its OpenMP threads
    return float((torch.ones(4_000_000) * 2).sum())

torch.set_num_threads(2)
out = {}
before = tasks(); parallel_work(); pool = tasks() - before
out["pool"] = len(pool)
out["released"] = release_openmp_workers()
out["pool_gone"] = gone(pool)
before = tasks(); parallel_work(); again = tasks() - before
out["new_pool"] = len(again)
out["released_again"] = release_openmp_workers() and gone(again)

class Grey:  # no torch: the render thread starts no pool of its own
    def render(self, z, y, truncation):
        return np.zeros((len(z), 8, 8, 3), np.uint8)

def show_start(box):  # a show's main thread: load (parallel work), then start the render thread
    torch.set_num_threads(2)
    before = tasks(); parallel_work(); box["pool"] = tasks() - before
    y = np.zeros(1000, np.float32); y[1] = 1.0
    director = Director([SongPlan("s", 1, [1], [Transition(1.0)])], lambda s, sec, v: Keyframe(np.zeros((2, 128), np.float32), y))
    box["worker"] = RenderWorker(director, Grey(), ManualClock(), fps=30.0, max_batch=2)
    box["worker"].start()
    box["gone"] = gone(box["pool"])  # while this thread lives on, as a show's main thread does
box = {}
th = threading.Thread(target=show_start, args=(box,)); th.start(); th.join(); box["worker"].stop()
out["show_pool"], out["show_pool_gone"] = len(box["pool"]), box["gone"]
print(json.dumps(out))
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libgomp and /proc/self/task are Linux's")
def test_a_thread_gives_back_its_openmp_workers_and_so_does_one_that_starts_the_render_thread():
    """libgomp keeps a pool of worker threads per thread that ran parallel work; two pools on a machine's
    cores make every barrier sleep (threads.release_openmp_workers). Counted by thread ids, not timed."""
    import json
    import subprocess

    pytest.importorskip("torch")
    done = subprocess.run([sys.executable, "-c", _POOLS], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if not out["released"]:
        pytest.skip("this torch does not use GNU libgomp")
    assert out["pool"] == 1 and out["pool_gone"]            # one worker for 2 threads, and it ended
    assert out["new_pool"] == 1 and out["released_again"]   # parallel work later starts a new pool
    assert out["show_pool"] == 1 and out["show_pool_gone"]  # RenderWorker.start gave the starter's pool back


def test_without_libgomp_nothing_is_released(monkeypatch):
    import ctypes

    def missing(*a, **k):
        raise OSError("libgomp.so.1: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", missing)
    assert threads.release_openmp_workers() is False
