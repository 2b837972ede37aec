"""A clean exit for spawned and forkserver DataLoader workers.

A worker sends its batches through a ``multiprocessing`` queue, whose daemon "QueueFeederThread"
pickles each batch (torch moves its tensors to shared memory there, in C++ with the GIL released)
and writes it to a pipe. When an iterator is shut down early, the worker returns while that thread
may still be busy. A forked worker then ends with ``os._exit``; a spawned or forkserver worker
finalizes the interpreter, and before Python 3.14 a daemon thread that takes the GIL back during
finalization is ended by ``pthread_exit``, whose unwinding through torch's C++ frames aborts the
process: "terminate called without an active exception", worker killed by signal: Aborted.

:func:`install` registers an ``atexit`` handler that gives the feeder threads a bounded time to
finish before finalization starts (atexit handlers run before it). A feeder blocked on a full pipe
is left to the runtime after the bound, as before; it is then in C code, which ``pthread_exit``
unwinds without an abort. It is called where workers start: ``nnaudio_data.data`` calls it when it
is imported, which a spawned or forkserver worker does when it unpickles the dataset or the collate
it was sent (any of ours imports it), before its first sample. It registers the handler only in a
child process of ``multiprocessing`` and only on the Python versions that need it (before 3.14).

Upstream reports: CPython, python/cpython#87135 ("pthread_exit & PyThread_exit_thread from
PyEval_RestoreThread etc. are harmful"; from 3.14 such a thread hangs instead, python/cpython#105805);
torch, pytorch/pytorch#38228 ("pybind11::gil_scoped_release: crash on exit with daemon threads").
https://github.com/python/cpython/issues/87135 https://github.com/pytorch/pytorch/issues/38228
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import threading
import time

FEEDER_WAIT_S = 2.0  # per worker, at exit: a batch's pickling takes milliseconds (and the
# DataLoader terminates a worker that has not exited 5 s after the shutdown signal)
_installed_in: "int | None" = None


NEEDED = sys.version_info < (3, 14)  # from 3.14 a late daemon thread hangs; it is not unwound


def install() -> bool:
    """Register the exit handler, once, in a child process of ``multiprocessing`` (a spawned or
    forkserver worker) on a Python that needs it; return whether it is registered here."""
    global _installed_in
    if _installed_in == os.getpid():
        return True
    # a started child: named by multiprocessing before it unpickles what it was sent (its
    # parent_process() is only set after that, too late for a worker unpickling our dataset)
    if not NEEDED or multiprocessing.current_process().name == "MainProcess":
        return False
    _installed_in = os.getpid()
    atexit.register(_wait_for_feeders, FEEDER_WAIT_S)
    return True


def _wait_for_feeders(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for t in threading.enumerate():
        if t is not threading.current_thread() and t.daemon and t.name == "QueueFeederThread":
            t.join(max(0.0, deadline - time.monotonic()))
