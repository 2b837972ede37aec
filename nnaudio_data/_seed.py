"""Seeds, once: every random stream of the library derives from (seed, epoch, rank, worker, stream).
A stream that draws a large field splits its seed into rows with :func:`row_seed` (see
``augment/_gaussian.py``).

One function, :func:`derive_seed`, on ``numpy.random.SeedSequence`` (well mixed, stable across
processes, platforms and runs, unlike Python's ``hash``). The streams:

==================  ==========================================  =================================
stream              what draws from it                          rank / worker it is derived with
==================  ==========================================  =================================
``shard_order``     the epoch's shard permutation               0 / 0: every rank computes the same
``shuffle``         the shuffle buffer of a rank's worker       its rank / its worker
``crop``            ``crop="random"`` windows, per sample       0 / 0, plus (shard, index): a
                                                                window never depends on the split
``augment``         waveform augmentation in the collate        its rank / worker id + 1 (0: main)
``spec_augment``    spectrogram augmentation in the collate     its rank / worker id + 1 (0: main)
``partition``       the shard writer's ``--split`` draw and     0 / 0, plus the draw's step and
                    ``--shuffle`` order                         group (one process writes)
``batches``         the order of a bucket's batches by          the rank whose batches / 0: every
                    duration (``data/_batches.py``)             rank computes every rank's plan
==================  ==========================================  =================================

Example:
    >>> derive_seed(0, 0, 0, 0, "augment") == derive_seed(0, 0, 0, 0, "augment")
    True
    >>> len({derive_seed(0, 0, r, 0, "augment") for r in range(8)})
    8
"""
from __future__ import annotations

import numpy as np
import torch

STREAMS = ("shard_order", "shuffle", "crop", "augment", "spec_augment", "partition", "batches")
_M64 = (1 << 64) - 1


def derive_seed(seed: int, epoch: int, rank: int, worker: int, stream: str, *more: int) -> int:
    """A 63-bit seed for one random stream.

    Args:
        seed (int): the user's root seed, >= 0.
        epoch (int): the epoch, >= 0.
        rank (int): the ``torch.distributed`` rank (0 for streams every rank shares).
        worker (int): the DataLoader worker (by the convention of the stream; see the table above).
        stream (str): one of :data:`STREAMS`.
        *more (int): further non-negative integers (e.g. a sample's shard and index).
    """
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {STREAMS}, got {stream!r}")
    parts = (seed, epoch, rank, worker, *more)
    for name, value in zip(("seed", "epoch", "rank", "worker") + ("more",) * len(more), parts):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    word = np.random.SeedSequence([STREAMS.index(stream), *map(int, parts)]).generate_state(1, np.uint64)
    return int(word[0]) >> 1


def generator(seed: int, epoch: int, rank: int, worker: int, stream: str, *more: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with :func:`derive_seed` of the same arguments.

    Example:
        >>> a = torch.rand(2, generator=generator(1, 0, 0, 0, "crop", 3, 7))
        >>> torch.equal(a, torch.rand(2, generator=generator(1, 0, 0, 0, "crop", 3, 7)))
        True
    """
    return torch.Generator().manual_seed(derive_seed(seed, epoch, rank, worker, stream, *more))


def row_seed(seed: int, row: int) -> int:
    """A 63-bit seed for row ``row`` of a field drawn from ``seed`` (splitmix64 of the pair).

    Example:
        >>> row_seed(0, 0) != row_seed(0, 1) != row_seed(1, 0)
        True
    """
    z = (seed + (row + 1) * 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return (z ^ (z >> 31)) >> 1
