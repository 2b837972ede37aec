"""Large Gaussian fields from one seed, drawn row by row so that CPU threads can share the work.

torch draws normal numbers on the CPU in one thread (its generator is sequential), which makes a
(64, 1, 40001, 2) noise spectrum cost more than everything else an augmentation chain does. Here
row ``b`` (everything after the first axis) comes from its own generator, seeded from
``(seed, b)``: rows are then independent of each other, so threads draw them in any order, and
the field depends on the seed only, never on how many threads drew it. Threads take rows one at
a time from a shared counter, so a thread slowed by others (e.g. by torch's own pool, which
spins for a while after each parallel op) simply draws fewer rows.

On other devices the field is drawn at once by a generator on that device.
"""
from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from .._seed import row_seed

_pool: Optional[Tuple[int, ThreadPoolExecutor]] = None  # (pid, pool): a forked child makes its own
_lock = threading.Lock()


def gaussian_field(shape: Sequence[int], seed: int, device: "torch.device | str" = "cpu") -> Tensor:
    """Standard normal float32 field of ``shape`` drawn from ``seed``, the same for any number of
    CPU threads (``torch.get_num_threads()`` of them share the rows).

    Shape:
        output: shape, float32 on device

    Example:
        >>> a, threads = gaussian_field((4, 1, 100), seed=7), torch.get_num_threads()
        >>> torch.set_num_threads(1); b = gaussian_field((4, 1, 100), seed=7); torch.set_num_threads(threads)
        >>> torch.equal(a, b), a.shape
        (True, torch.Size([4, 1, 100]))
    """
    device = torch.device(device)
    shape = tuple(int(s) for s in shape)
    if device.type != "cpu":
        g = torch.Generator(device=device).manual_seed(seed)
        return torch.randn(shape, generator=g, device=device)
    out = torch.empty(shape, dtype=torch.float32)
    if out.numel() == 0:
        return out
    rows = itertools.count()
    helpers = min(torch.get_num_threads(), shape[0]) - 1
    done = [_executor().submit(_draw_rows, out, seed, rows) for _ in range(max(0, helpers))]
    _draw_rows(out, seed, rows)
    for f in done:
        f.result()
    return out


def _draw_rows(out: Tensor, seed: int, rows: "itertools.count[int]") -> None:
    """Draw rows of ``out`` until the shared counter passes the last one (``next`` on a count is
    atomic under the GIL; ``torch.randn`` releases it while it draws)."""
    g = torch.Generator()
    for b in rows:
        if b >= out.shape[0]:
            return
        g.manual_seed(row_seed(seed, b))
        torch.randn(out.shape[1:], generator=g, out=out[b])


def _executor() -> ThreadPoolExecutor:
    """This process's helper threads (a forked DataLoader worker starts its own: the parent's
    threads do not exist there)."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(max(1, (os.cpu_count() or 2) - 1),
                                                     thread_name_prefix="nnaudio-gaussian"))
        return _pool[1]
