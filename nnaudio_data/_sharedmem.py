"""Batch buffers for DataLoader workers: zero-padded (B, C, T) float32 batches in shared memory.

Inside a worker, a batch is allocated in shared memory, as ``default_collate`` does, so that sending
it to the main process passes a file descriptor instead of pickling the samples. Under the default
"file_descriptor" sharing strategy the clips are then written through that descriptor
(``os.pwrite``): the kernel copies them straight into the shared pages, where writing through the
fresh mapping would first take one page fault per 4 KiB page (about a third of the cost of
collating a batch of one-second clips). Clips it cannot write that way (another dtype, device or
layout) are assigned through the mapping, as in the main process. The private torch calls behind
both live in :mod:`nnaudio_data._compat`, with public fallbacks (a plain tensor; assignment).

Three allocators (:data:`ALLOCATORS`), the best one here chosen by :func:`best_allocator`: "memfd"
(an anonymous memory file, under the "file_descriptor" strategy), "new_shared" (torch's own
shared allocation, as ``default_collate``'s), "plain" (``torch.zeros``, copied into shared memory
by the DataLoader when it sends the batch). ``nnaudio-data bench --only loader`` measures the
three on the same batches (the ``batch[...]`` rows), which is what keeps "memfd" the default.
Why a memory file: ``_new_shared`` creates a file in /dev/shm whose pages the system allocates and
zeroes up front, and the clips written next touch each page a second time. A memory file starts as
a hole: the clips' pages are allocated as they are written (:func:`fill_holes` then allocates the
padding's, zeroed, so the consumer finds every page present, as before). It does not live in
/dev/shm, so it is not bound by that mount's size: Docker's default 64 MB /dev/shm makes DataLoader
workers die with a "bus error" once batches outgrow it; a memory file is bound by the process's
memory limit, and running out is an ``OSError`` in the worker (from ``pwrite`` or
:func:`fill_holes`), named, not a ``SIGBUS``.

Small tensors (a batch's lengths and labels) go the other way (:func:`inline_small`): sent from a
worker, each tensor torch shares costs one shared-memory file and one socket round trip to pass its
descriptor (``multiprocessing.resource_sharer``, with its authentication handshake), in the worker
and in the main process; up to :data:`INLINE_BYTES` they travel inside the pickle instead.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import torch
from torch import Tensor
from torch.utils.data import get_worker_info

from . import _compat
from ._compat import shared_fd

_FLOAT_BYTES = 4
INLINE_BYTES = 1 << 16  # a tensor up to this size is sent from a worker inside the pickle


def uses_memfd() -> bool:
    """Whether :func:`new_shared_zeros` allocates memory files here and now (the probe passed and
    the sharing strategy is "file_descriptor", the one that sends descriptors)."""
    return torch.multiprocessing.get_sharing_strategy() == "file_descriptor" and _compat.has_memfd()


ALLOCATORS = ("memfd", "new_shared", "plain")


def best_allocator() -> str:
    """The allocator :func:`new_shared_zeros` uses here and now: "memfd" where :func:`uses_memfd`,
    else "new_shared" where this torch has it, else "plain"."""
    return "memfd" if uses_memfd() else "new_shared" if _compat.has_new_shared() else "plain"


def new_shared_zeros(n: int, alloc: Optional[str] = None) -> Tensor:
    """``n`` float32 zeros, in shared memory where this torch allocates there directly: a memory
    file under the "file_descriptor" strategy (holes read as zeros; :func:`fill_holes` allocates
    them), else zero-filled by the system; without either, a plain tensor, which the DataLoader
    moves there when it sends it. ``alloc`` (one of :data:`ALLOCATORS`) forces one of the three, for
    the bench that compares them; default :func:`best_allocator`.

    Shape:
        output: (n,)

    Example:
        >>> new_shared_zeros(3).tolist()
        [0.0, 0.0, 0.0]
    """
    alloc = best_allocator() if alloc is None else alloc
    if alloc == "memfd" and n > 0:
        return _compat._memfd_shared(n)
    if alloc == "plain":
        return torch.zeros(n, dtype=torch.float32)
    return _compat._new_shared(n)


def fill_holes(fd: int, offset: int, nbytes: int) -> None:
    """Allocate the pages of a memory file's ``nbytes`` from ``offset`` that nothing was written
    to, zeroed (pages present are left as they are), so that a batch's consumer never takes a page
    fault to allocate its padding; raises ``OSError`` when memory runs out."""
    os.posix_fallocate(fd, offset, nbytes)


def shared_zeros(*shape: int, alloc: Optional[str] = None) -> Tensor:
    """A float32 zero tensor; inside a DataLoader worker, allocated in shared memory (zero-filled
    by the system), which spares a copy when the batch is sent.

    Example:
        >>> shared_zeros(2, 1, 3).shape
        torch.Size([2, 1, 3])
    """
    if get_worker_info() is None:
        return torch.zeros(*shape, dtype=torch.float32)
    n = 1
    for d in shape:
        n *= d
    return new_shared_zeros(n, alloc).view(*shape)


def stack_padded(waves: Sequence[Tensor], channels: int, length: int, alloc: Optional[str] = None) -> Tensor:
    """Stack (C, T_i) clips into a zero-padded float32 batch (in shared memory inside a worker).

    Args:
        waves (sequence of Tensor): B clips of ``channels`` channels, each at most ``length`` long.
        channels (int): C. length (int): T, the batch length.
        alloc (str, optional): the shared-memory allocator inside a worker (see
            :func:`new_shared_zeros`); default the best one here.

    Shape:
        waves: B x (C, T_i) -> (B, C, T)

    Example:
        >>> stack_padded([torch.ones(1, 2), torch.full((1, 3), 2.0)], 1, 3).tolist()
        [[[1.0, 1.0, 0.0]], [[2.0, 2.0, 2.0]]]
    """
    alloc = best_allocator() if alloc is None else alloc
    out = shared_zeros(len(waves), channels, length, alloc=alloc)
    fd = _descriptor(out)
    for i, w in enumerate(waves):
        if fd is None or not _write_clip(fd, w, i, channels, length):
            out[i, :, : w.shape[-1]] = w
    if fd is not None and alloc == "memfd":  # the padding: allocated here, not in the consumer
        _fill_padding(fd, waves, channels, length)
    return out


def _fill_padding(fd: int, waves: Sequence[Tensor], channels: int, length: int) -> None:
    """Allocate the padding of the clips shorter than ``length`` in a memory file (its holes);
    full-length clips cost nothing (a call over the whole batch would walk every page)."""
    row = length * _FLOAT_BYTES
    for i, w in enumerate(waves):
        pad = row - w.shape[-1] * _FLOAT_BYTES
        if pad == row:  # an empty clip: its rows are one run
            fill_holes(fd, i * channels * row, channels * row)
        elif pad > 0:
            for c in range(channels):
                fill_holes(fd, (i * channels + c + 1) * row - pad, pad)


def _descriptor(out: Tensor) -> Optional[int]:
    """The file descriptor behind a worker's shared batch, or None (main process, another sharing
    strategy, or a platform or torch build without one)."""
    if get_worker_info() is None or out.numel() == 0 or not hasattr(os, "pwrite"):
        return None
    if torch.multiprocessing.get_sharing_strategy() != "file_descriptor":
        return None
    return shared_fd(out)


def _write_clip(fd: int, w: Tensor, i: int, channels: int, length: int) -> bool:
    """Write clip ``i`` (C, T_i) into the batch behind ``fd``; False where it is not a contiguous
    float32 CPU tensor (the caller assigns it instead)."""
    if w.dtype != torch.float32 or w.device.type != "cpu" or w.requires_grad or not w.is_contiguous():
        return False
    a = w.numpy()
    if not a.flags.c_contiguous:
        return False
    row = length * _FLOAT_BYTES
    if channels == 1 or w.shape[-1] == length:  # one contiguous run in the batch
        _pwrite_all(fd, a, i * channels * row)
    else:
        for c in range(channels):
            _pwrite_all(fd, a[c], (i * channels + c) * row)
    return True


def _pwrite_all(fd: int, a, offset: int) -> None:
    view = memoryview(a).cast("B")
    while len(view):
        n = os.pwrite(fd, view, offset)
        if n <= 0:
            raise OSError(f"pwrite to the shared batch wrote nothing at offset {offset}")
        view, offset = view[n:], offset + n


class _Inline:
    """A small CPU tensor as it travels from a worker inside the pickle: unpickles as the tensor."""

    __slots__ = ("array",)

    def __init__(self, array: Any):
        self.array = array

    def __reduce__(self):
        return torch.from_numpy, (self.array,)


def inline_small(t: Tensor) -> Any:
    """For a pickle between processes: a plain CPU tensor of at most :data:`INLINE_BYTES` that
    numpy can hold (int64 lengths, int or multi-hot labels) as an object that unpickles as an equal
    tensor (same dtype, shape and values, its own memory); anything else unchanged, to be shared
    as torch's reductions share it. :class:`nnaudio_data.AudioBatch` uses it for the queue of a
    DataLoader worker (``multiprocessing``'s ``ForkingPickler``).

    Example:
        >>> import pickle
        >>> x = torch.arange(3)
        >>> y = pickle.loads(pickle.dumps(inline_small(x)))
        >>> big = torch.zeros(INLINE_BYTES)  # 4 x INLINE_BYTES bytes
        >>> y.dtype, y.tolist(), inline_small(big) is big
        (torch.int64, [0, 1, 2], True)
    """
    if (type(t) is not Tensor or t.device.type != "cpu" or t.requires_grad
            or t.layout != torch.strided or t.numel() * t.element_size() > INLINE_BYTES):
        return t
    try:
        return _Inline(t.resolve_conj().resolve_neg().numpy())
    except (TypeError, RuntimeError):  # a dtype numpy has no match for (bfloat16, ...)
        return t
