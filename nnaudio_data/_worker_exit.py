"""A clean exit for spawned and forkserver DataLoader workers.

A worker sends its batches through a ``multiprocessing`` queue, whose daemon "QueueFeederThread"
pickles each batch (torch moves its tensors to shared memory there, in C++ with the GIL released)
and writes it to a pipe. When an iterator is shut down early, the worker returns while that thread
may still be busy. A forked worker then ends with ``os._exit``; a spawned or forkserver worker
finalizes the interpreter, and before Python 3.14 a daemon thread that takes the GIL back during
finalization is ended by ``pthread_exit``, whose unwinding through torch's C++ frames aborts the
process: "terminate called without an active exception", worker killed by signal: Aborted.

:func:`install` (called by :func:`nnaudio_data.collate_audio`, once per worker process) registers an ``atexit`` handler
that gives the feeder threads a bounded time to finish before finalization starts (atexit
handlers run before it). A feeder blocked on a full pipe is left to the runtime after the bound,
as before; it is then in C code, which ``pthread_exit`` unwinds without an abort.
"""
from __future__ import annotations

import atexit
import os
import threading
import time

from torch.utils.data import get_worker_info

FEEDER_WAIT_S = 2.0  # per worker, at exit: a batch's pickling takes milliseconds (and the
# DataLoader terminates a worker that has not exited 5 s after the shutdown signal)
_installed_in: "int | None" = None


def install() -> None:
    """Register the exit handler in this DataLoader worker (a no-op elsewhere, or if done)."""
    global _installed_in
    if _installed_in == os.getpid() or get_worker_info() is None:
        return
    _installed_in = os.getpid()
    atexit.register(_wait_for_feeders, FEEDER_WAIT_S)


def _wait_for_feeders(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for t in threading.enumerate():
        if t is not threading.current_thread() and t.daemon and t.name == "QueueFeederThread":
            t.join(max(0.0, deadline - time.monotonic()))
