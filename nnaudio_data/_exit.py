"""A clean exit: before the interpreter finalizes, wait (bounded) for the threads that would take
the GIL during finalization.

Before Python 3.14, a thread that takes the GIL back while the interpreter finalizes is ended by
``pthread_exit``; its unwinding through torch's C++ frames aborts the process ("terminate called
without an active exception", exit code -6, or a worker killed by signal: Aborted), after all its
work was done. Two threads of ours can be that late:

- a spawned or forkserver DataLoader worker's ``multiprocessing`` "QueueFeederThread": it pickles
  each batch (torch moves its tensors to shared memory there, in C++ with the GIL released) and
  writes it to a pipe; when an iterator is shut down early the worker returns while it may still
  be busy. (A forked worker ends with ``os._exit``: no finalization.) :func:`install` makes the
  worker wait for it;
- the backend's thread (gloo's ``runLoop``) releasing the tensors of a gather
  (:mod:`._gather`), which registers its own wait.

:func:`wait_at_exit` is the one mechanism: a condition and a bound, waited for by one ``atexit``
handler per process (atexit handlers run before finalization). A thread still busy after its
bound is left to the runtime, as before; a feeder blocked on a full pipe is then in C code, which
``pthread_exit`` unwinds without an abort.

:func:`install` is called where workers start: ``nnaudio_data.data`` calls it when it is imported,
which a spawned or forkserver worker does when it unpickles the dataset or the collate it was sent
(any of ours imports it), before its first sample. It registers the feeders' wait only in a child
process of ``multiprocessing`` and only on the Python versions that need it (before 3.14).

Upstream reports: CPython, python/cpython#87135 ("pthread_exit & PyThread_exit_thread from
PyEval_RestoreThread etc. are harmful"; from 3.14 such a thread hangs instead, python/cpython#105805);
torch, pytorch/pytorch#38228 ("pybind11::gil_scoped_release: crash on exit with daemon threads")
and, for the gather, pytorch/pytorch#190489.
https://github.com/python/cpython/issues/87135 https://github.com/pytorch/pytorch/issues/38228
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import threading
import time
from typing import Callable, List, Optional, Tuple

Condition = Tuple[Callable[[], bool], float]  # (done, the most seconds to wait for it)

FEEDER_WAIT_S = 2.0  # per worker, at exit: a batch's pickling takes milliseconds (and the
# DataLoader terminates a worker that has not exited 5 s after the shutdown signal)
NEEDED = sys.version_info < (3, 14)  # from 3.14 a late daemon thread hangs; it is not unwound

_conditions: List[Condition] = []
_lock = threading.Lock()
_registered_in: Optional[int] = None
_installed_in: Optional[int] = None


def wait_at_exit(done: Callable[[], bool], timeout: float) -> None:
    """Before this process finalizes, wait until ``done()`` is true, at most ``timeout`` seconds
    (counted from the start of the wait at exit). Registering the same pair again changes nothing."""
    global _registered_in
    with _lock:
        if _registered_in != os.getpid():  # once per process (a forked child starts its own)
            _registered_in = os.getpid()
            atexit.register(wait_all, _conditions)
        if (done, timeout) not in _conditions:
            _conditions.append((done, timeout))


def wait_all(conditions: List[Condition]) -> bool:
    """Wait until every condition is true, each at most its own bound (all waited for at once);
    True when all became true.

    Example:
        >>> wait_all([(lambda: True, 1.0)]), wait_all([(lambda: True, 1.0), (lambda: False, 0.01)])
        (True, False)
    """
    start, waiting = time.monotonic(), list(conditions)
    while True:
        waiting = [(done, timeout) for done, timeout in waiting if not done()]
        if not waiting or all(time.monotonic() - start >= timeout for _, timeout in waiting):
            return not waiting
        time.sleep(0.001)


def install() -> bool:
    """Make this process wait at exit for its queue feeder threads, once, in a child process of
    ``multiprocessing`` (a spawned or forkserver worker) on a Python that needs it; return whether
    it waits here."""
    global _installed_in
    if _installed_in == os.getpid():
        return True
    # a started child: named by multiprocessing before it unpickles what it was sent (its
    # parent_process() is only set after that, too late for a worker unpickling our dataset)
    if not NEEDED or multiprocessing.current_process().name == "MainProcess":
        return False
    _installed_in = os.getpid()
    wait_at_exit(_feeders_done, FEEDER_WAIT_S)
    return True


def _feeders_done() -> bool:
    me = threading.current_thread()
    return not any(t is not me and t.daemon and t.name == "QueueFeederThread" for t in threading.enumerate())
