"""One overall bound for tests that could hang (worker processes, ranks): generous enough that only
a hang reaches it on a slow, busy machine, never a per-batch timeout. A correctness test must not
fail because the machine is slow."""
from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from typing import Iterator

HANG_S = 900.0  # far beyond any honest run of one test on two busy cores


@contextmanager
def hang_limit(what: str, seconds: float = HANG_S) -> Iterator[None]:
    """Raise ``TimeoutError`` in the main thread if the block runs past ``seconds`` (SIGALRM)."""

    def _alarm(signum, frame):
        raise TimeoutError(f"{what} still running after {seconds:.0f} s: a hang, not a slow machine")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def join_processes(context, what: str, seconds: float = HANG_S) -> None:
    """Join a ``torch.multiprocessing.spawn(..., join=False)`` context; kill its processes and
    raise ``TimeoutError`` if they run past ``seconds``. A failing process raises as ``join`` does."""
    deadline = time.monotonic() + seconds
    while not context.join(timeout=5):
        if time.monotonic() > deadline:
            for p in context.processes:
                if p.is_alive():
                    p.kill()
            raise TimeoutError(f"{what} still running after {seconds:.0f} s: a hang, not a slow machine")
