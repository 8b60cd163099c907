"""Interruptible renders: a cue need not wait for the whole batch in flight.

The generator asks ``should_stop()`` (the render worker's) and raises
:class:`~livegan.errors.RenderInterrupted` when the frames being rendered
were made stale by a cue. The cue then waits for at most one convolution
before its own frame starts, instead of the rest of the batch: cue -> first
frame drops from up to two frame times to about one.

livegan's own Generator asks its ``should_stop`` before every block and
between a block's convolutions (its blocks run through ``gen_block``, so
module hooks would never fire there);
any other model gets forward pre-hooks on its generator's blocks. Under
``torch.compile`` neither check runs inside the graph; the compiled forward
(models/compiled.py, ``KernelCheck``) asks the same ``should_stop`` between
the graph's kernels instead.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..errors import RenderInterrupted


def make_interruptible(gen: Any, should_stop: Callable[[], bool]) -> Callable[[], None]:
    """Ask ``should_stop`` before each of ``gen``'s generator blocks; returns a function that undoes it."""
    if hasattr(gen, "should_stop"):  # livegan's Generator: checked in its own forward
        gen.should_stop = should_stop

        def unset() -> None:
            gen.should_stop = None
        return unset

    def check(module: torch.nn.Module, args: Any) -> None:
        if torch.compiler.is_compiling():
            return
        if should_stop():
            raise RenderInterrupted()

    handles = [layer.register_forward_pre_hook(check) for layer in gen.model.generator.layers]
    handles.append(gen.model.generator.conv_to_rgb.register_forward_pre_hook(check))

    def remove() -> None:
        for h in handles:
            h.remove()

    return remove


def interrupt_on_cue(gen: Any, worker: Any) -> Callable[[], None]:
    """Make ``gen`` give up a batch the render ``worker`` no longer needs, and tell the worker so.

    The worker then holds no batch to its latency budget (a cue waits for one
    block or kernel, not for the batch). Returns a function that undoes the hooks.
    """
    unhook = make_interruptible(gen, worker.should_stop)
    worker.interruptible = True

    def undo() -> None:
        unhook()
        worker.interruptible = False  # held to its latency budget again, as its batches now run whole

    return undo
