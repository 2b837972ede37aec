"""How DataLoader workers start when the spectrogram kernel is trainable: :func:`worker_context`.

A trainable kernel runs in the main process, so the workers only read, decode and stack, and never
touch CUDA. What remains to choose is how they start:

- ``fork`` copies a process that may hold a process group's communication threads, OpenMP pools
  or CUDA: a fork after threads can deadlock (the multi-rank tests saw it under load).
- ``spawn`` starts each worker as a fresh interpreter that imports torch and this package again:
  seconds per worker, every epoch unless the workers are persistent.
- ``forkserver`` starts one clean server process per rank (no threads, no CUDA), which imports
  the modules a worker needs once; each worker is then forked from it, ready.

So: forkserver, its server preloading what a worker imports, and ``persistent_workers=True``, so
that a job starts its workers once. ``multiprocessing.set_forkserver_preload`` is global and is
read when the server starts (at the first forkserver worker of the process); call this before.
"""
from __future__ import annotations

import multiprocessing
from typing import Sequence

# what a worker imports to unpickle a dataset and a collate of this package
PRELOAD = ("__main__", "torch", "nnaudio_data.data", "nnaudio_data.features", "nnaudio_data.augment")


def worker_context(preload: Sequence[str] = ()) -> multiprocessing.context.BaseContext:
    """The ``multiprocessing_context`` for DataLoader workers next to a trainable kernel: a
    forkserver whose server imports torch, this package, the main script and ``preload`` once.

    Args:
        preload (sequence of str): further modules the workers need (your dataset's). Default ().

    Example:
        >>> ctx = worker_context()
        >>> ctx.get_start_method()
        'forkserver'
    """
    if isinstance(preload, str) or not all(isinstance(m, str) for m in preload):
        raise TypeError(f"preload must be a sequence of module names, got {preload!r}")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(dict.fromkeys([*PRELOAD, *preload])))
    return ctx
