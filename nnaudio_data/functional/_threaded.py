"""The power (or magnitude) spectrum on the CPU without autograd: frames in cache-sized chunks,
each chunk windowed, transformed (``torch.fft.rfft``) and squared while it is in cache, chunks
shared by ``torch.get_num_threads()`` threads.

Why not ``torch.stft`` there: ``torch.stft`` on a (B, T) batch runs each step (pad, frame x
window, FFT, real**2 + imag**2) over the whole batch, as one parallel region per step with a
barrier at its end, and each step reads and writes arrays of tens of MB (16 clips of 80,000
samples at n_fft 2048: 20 MB per step) that no cache holds, allocated afresh for every call. On a
busy machine a thread of a region that is descheduled holds up the other at every barrier, and
the fresh allocations turn into page faults for some calls and not others (the allocator returns
large blocks to the system and maps them again), which made the rounds of a Mel bimodal. Here a
chunk is one clip's frames (up to ``CHUNK_SAMPLES``), taken from the window to the square (and
the filterbank) in one go, each thread takes the next chunk as it finishes one (no barrier but
the last), and the only large allocation is the output. Chunks are large because each costs
some Python work under the GIL, which the threads take in turn: chunks of 256 KiB (32 frames
at n_fft 2048) made that overhead half a batch's time on two threads, and a second thread
gained 1.2x; whole clips (157 frames) take 16 batches of 16 x 80,000 samples in 0.24-0.28 s
against 0.43-0.58 s (fresh processes, quiet 2-core machine). The values are the same FFT's to
float rounding (the tests' tables).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ._filterbank import Block
from ._spectral import pad_signal
from .._checks import check_arg

CHUNK_SAMPLES = 1 << 20  # frames x n_fft per chunk (4 MiB of float32): a clip's frames, for most clips

_pool_lock = threading.Lock()
_pool: Optional[Tuple[int, int, ThreadPoolExecutor]] = None  # (pid, helpers, executor)


def _helpers(n: int) -> ThreadPoolExecutor:
    """A pool of ``n`` helper threads of this process (a pool inherited by a fork has no threads)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid() or _pool[1] != n:
            _pool = (os.getpid(), n, ThreadPoolExecutor(n, thread_name_prefix="nnaudio-fft"))
        return _pool[2]


def run_shared(fn: Callable[[Tuple[int, int, int]], None], items: Sequence[Tuple[int, int, int]],
               workers: int) -> None:
    """Call ``fn`` on every item, on ``workers`` threads (the caller's and ``workers - 1`` helpers),
    each taking the next item as it finishes one; the first exception is raised after all stop.

    Example:
        >>> seen = []
        >>> run_shared(lambda it: seen.append(it[0]), [(i, 0, 0) for i in range(5)], 2)
        >>> sorted(seen)
        [0, 1, 2, 3, 4]
    """
    if workers <= 1 or len(items) <= 1:
        for item in items:
            fn(item)
        return
    todo, lock = iter(items), threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                item = next(todo, None)
            if item is None:
                return
            fn(item)

    futures = [_helpers(workers - 1).submit(drain) for _ in range(min(workers, len(items)) - 1)]
    try:
        drain()
    finally:
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e


def chunks(batch: int, n_frames: int, n_fft: int) -> List[Tuple[int, int, int]]:
    """Work items ``(clip, first frame, end frame)``, about ``CHUNK_SAMPLES`` samples of frames each.

    Example:
        >>> chunks(2, 5, 524288)
        [(0, 0, 2), (0, 2, 4), (0, 4, 5), (1, 0, 2), (1, 2, 4), (1, 4, 5)]
    """
    step = max(1, CHUNK_SAMPLES // n_fft)
    return [(b, n0, min(n0 + step, n_frames)) for b in range(batch) for n0 in range(0, n_frames, step)]


def power_threaded(x: Tensor, window: Tensor, hop_length: int, freq_bins: int, center: bool = True,
                   pad_mode: str = "reflect", exponent: float = 1.0,
                   filterbank: Optional[Tuple[Tensor, List[Block]]] = None,
                   workers: Optional[int] = None) -> Tensor:
    """``(real**2 + imag**2) ** exponent`` of the spectrum of (B, T) CPU signals (0.5: the
    magnitude), then through a banded filterbank when given, all per chunk: the values of
    :func:`~nnaudio_data.functional._spectral.spectrum_fft` and
    :func:`~nnaudio_data.functional._filterbank.apply_filterbank`. No autograd: for signals that
    need no gradient.

    Args:
        x (Tensor): float32 or float64 signals on the CPU.
        window (Tensor): (n_fft,) window, zero-padded to n_fft.
        hop_length (int): stride between frames.
        freq_bins (int): bins kept, counted from 0 Hz, at most ``n_fft // 2 + 1``.
        center, pad_mode: as :func:`~nnaudio_data.functional._spectral.spectrum_fft`.
        exponent (float): power of ``real**2 + imag**2``, > 0. Default 1.
        filterbank (tuple, optional): ``(basis, blocks)``, a fixed (M, F) filterbank and its
            :func:`~nnaudio_data.functional._filterbank.band_blocks`.
        workers (int, optional): threads. Default ``torch.get_num_threads()``.

    Shape:
        x: (B, T); output: (B, F, N) (a transposed view of a contiguous (B, N, F)), or (B, M, N)
        contiguous through a filterbank; x's dtype

    Example:
        >>> p = power_threaded(torch.ones(1, 8), torch.ones(4), 4, 3, center=False)
        >>> torch.allclose(p[0, :, 0], torch.tensor([16.0, 0.0, 0.0]))
        True
    """
    n_fft = window.shape[-1]
    check_arg(0 < freq_bins <= n_fft // 2 + 1, "freq_bins",
              f"in 1..n_fft // 2 + 1 ({n_fft // 2 + 1})", freq_bins)
    xp = pad_signal(x.detach(), n_fft, center, pad_mode).contiguous().numpy()
    n_frames = 1 + (xp.shape[-1] - n_fft) // hop_length
    wn = window.detach().to(x.dtype).cpu().numpy()
    if filterbank is None:
        out = torch.empty(xp.shape[0], n_frames, freq_bins, dtype=x.dtype)
    else:
        basis, blocks = filterbank
        bn = basis.detach().to(x.dtype).cpu().numpy()
        parts = [(r0, r1, c0, c1, np.ascontiguousarray(bn[r0:r1, c0:c1].T)) for r0, r1, c0, c1 in blocks]
        out = torch.zeros(xp.shape[0], bn.shape[0], n_frames, dtype=x.dtype)
    on = out.numpy()

    def one(item: Tuple[int, int, int]) -> None:
        b, n0, n1 = item
        start = n0 * hop_length
        frames = np.lib.stride_tricks.sliding_window_view(
            xp[b, start: start + (n1 - n0 - 1) * hop_length + n_fft], n_fft)[::hop_length]
        spec = torch.fft.rfft(torch.from_numpy(frames * wn), dim=-1).numpy()[:, :freq_bins]
        p = on[b, n0:n1] if filterbank is None else np.empty(spec.shape, on.dtype)
        np.multiply(spec.real, spec.real, out=p)
        p += np.square(spec.imag)
        if exponent == 0.5:
            np.sqrt(p, out=p)
        elif exponent != 1.0:
            np.power(p, exponent, out=p)
        if filterbank is not None:  # blocks of a few frames: single-threaded BLAS calls
            for r0, r1, c0, c1, part in parts:
                on[b, r0:r1, n0:n1] = (p[:, c0:c1] @ part).T

    run_shared(one, chunks(xp.shape[0], n_frames, n_fft), workers or torch.get_num_threads())
    return out if filterbank is not None else out.transpose(1, 2)
