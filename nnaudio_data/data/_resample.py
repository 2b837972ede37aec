"""Resample and mix down: a polyphase FIR resampler with ``scipy.signal.resample_poly``'s filter
and alignment, written on numpy and torch.

scipy's own resampler costs ``import scipy.signal``: 0.6-0.8 s in every spawned DataLoader worker
(``python -X importtime``), most of a worker's start after torch, before its first clip. The
filter is scipy's design (a Kaiser window of beta 5, cutoff at the lower Nyquist, 10 taps per
phase each side, unit DC gain), computed here once per rate pair; the output equals
``resample_poly(x, up, down, axis=-1)`` to float32 rounding (``tests/test_resample.py``).

How it is applied: with the ratio reduced to ``up / down``, output ``n = q * up + r`` is
``sum_j H[p_r, j] * x[q * down + B_r - j]`` (``p_r``, ``B_r``: the filter phase and input sample
of offset ``r``, the same for every ``q``). For the usual rate pairs the ``up`` outputs of a block
are one row of a matrix product: the block's input span (``down`` samples plus the filter's
reach, an overlapping strided view) times a banded ``(span, up)`` matrix, one ``torch.matmul``
per chunk of blocks. Where that matrix would be large (a ratio like 16000 / 44099, whose blocks are
long and sparse), each output gathers its ``J`` inputs instead. Either way an output's arithmetic
depends only on its own inputs, so a window of the signal resamples to the same values as the
whole (:func:`source_window`).
"""
from __future__ import annotations

from functools import lru_cache
from math import gcd
from typing import NamedTuple, Optional, Tuple

import numpy as np
import torch

DENSE_MAX = 1 << 20  # elements of the banded block matrix beyond which outputs gather instead
CHUNK = 1 << 15  # elements of a chunk's framed input (or gathered inputs): bounds the temporaries


@lru_cache(maxsize=64)
def _ratio(sr_in: int, sr_out: int) -> Tuple[int, int]:
    g = gcd(sr_in, sr_out)
    return sr_out // g, sr_in // g


@lru_cache(maxsize=64)
def polyphase_filter(up: int, down: int) -> np.ndarray:
    """The low-pass FIR that ``scipy.signal.resample_poly(x, up, down)`` designs (``firwin`` of
    ``20 * max(up, down) + 1`` taps, cutoff ``1 / max(up, down)`` of Nyquist, Kaiser window of
    beta 5, scaled to unit DC gain), float64; cached and read-only.

    Example:
        >>> h = polyphase_filter(2, 1)
        >>> h.shape, round(float(h.sum()), 12)
        ((41,), 1.0)
    """
    max_rate = max(up, down)
    half = 10 * max_rate
    m = np.arange(2 * half + 1, dtype=np.float64) - half
    h = np.sinc(m / max_rate) / max_rate * np.kaiser(2 * half + 1, 5.0)
    h /= h.sum()
    h.flags.writeable = False
    return h


class _Plan(NamedTuple):
    """How one reduced ratio is applied (see the module docstring)."""

    up: int
    down: int
    half: int
    phases: torch.Tensor  # (up, J) float32: phase p's taps, times up, j-th tap at input n - j
    block: Optional[torch.Tensor]  # (span, up) float32: the banded block matrix, or None (gather)
    lo: int  # the first input sample of block 0, relative to q * down (<= 0)
    rows: int  # blocks per product (a chunk's framed input is about CHUNK elements)


@lru_cache(maxsize=32)
def _plan(up: int, down: int) -> _Plan:
    h = polyphase_filter(up, down) * up
    half = (h.size - 1) // 2
    taps = -(-h.size // up)
    phases = np.zeros(taps * up)
    phases[:h.size] = h
    phases = phases.reshape(taps, up).T  # phases[p, j] = h[p + j * up]
    r = np.arange(up)
    p_r, b_r = (r * down + half) % up, (r * down + half) // up
    lo = int(b_r[0]) - taps + 1
    span = int(b_r[-1]) - lo + 1
    block = None
    if span * up <= DENSE_MAX:
        dense = np.zeros((span, up))
        rows = b_r[None, :] - np.arange(taps)[:, None] - lo  # (J, up): input row of tap j of output r
        dense[rows, r[None, :]] = phases[p_r].T
        block = torch.from_numpy(dense.astype(np.float32))
    return _Plan(up, down, half, torch.from_numpy(phases.astype(np.float32)), block, lo, max(1, CHUNK // span))


def resample(x: np.ndarray, sr_in: int, sr_out: int, first: int = 0) -> np.ndarray:
    """Resample ``x`` from ``sr_in`` to ``sr_out`` Hz along the last axis (polyphase FIR, float32
    out; ``scipy.signal.resample_poly``'s values to float32 rounding).

    ``first``: where ``x`` starts in a longer signal (``source_window``'s ``a``, a multiple of the
    ratio's ``down``), so that the window's values are the whole signal's bit for bit.

    Shape:
        x: (..., T) -> (..., ceil(T * sr_out / sr_in))

    Example:
        >>> y = resample(np.ones((1, 4410), np.float32), 44100, 16000)
        >>> y.shape, round(float(y[0, 800]), 4)
        ((1, 1600), 1.0)
    """
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be > 0, got sr_in={sr_in}, sr_out={sr_out}")
    if sr_in == sr_out:
        return x
    plan = _plan(*_ratio(int(sr_in), int(sr_out)))
    lead, frames = x.shape[:-1], x.shape[-1]
    n_out = resampled_length(frames, sr_in, sr_out)
    flat = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32).reshape(-1, frames))
    with torch.no_grad():
        y = _dense(plan, flat, n_out, first) if plan.block is not None else _gather(plan, flat, n_out)
    return y.numpy().reshape(*lead, n_out)


def resampled_length(frames: int, sr_in: int, sr_out: int) -> int:
    """Samples :func:`resample` makes of ``frames`` input samples: ``ceil(frames * up / down)``.

    Example:
        >>> resampled_length(441, 44100, 16000)
        160
    """
    up, down = _ratio(int(sr_in), int(sr_out))
    return -(-frames * up // down)


def source_window(start: int, n: int, frames: int, sr_in: int, sr_out: int) -> Tuple[int, int, int]:
    """The input samples ``[a, b)`` whose resampling gives output samples ``[start, start + n)``
    of the whole ``frames``-sample signal, and the output index ``o`` where the window's own
    output begins: ``resample(x[..., a:b])[..., start - o:start - o + n]`` equals
    ``resample(x)[..., start:start + n]``. ``a`` is a multiple of the ratio's ``down`` (so the
    window's output phase is the whole signal's) and the window reaches the filter's half
    length past each end, so a clip's cost follows its window, not its file.

    Example:
        >>> source_window(16000, 16000, 44100 * 3600, 44100, 16000)
        (43659, 88229, 15840)
    """
    up, down = _ratio(int(sr_in), int(sr_out))
    reach = 10 * max(up, down) // up + 2  # input samples the filter spans each side (see polyphase_filter)
    a = max(0, (start * down // up - reach) // down * down)
    b = min(frames, -(-(start + n) * down // up) + reach)
    return a, b, a * up // down


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average channels. Shape: (C, T) -> (1, T).

    Example:
        >>> to_mono(np.array([[1.0, 3.0], [3.0, 5.0]], np.float32)).tolist()
        [[2.0, 4.0]]
    """
    return x if x.shape[0] == 1 else x.mean(axis=0, keepdims=True)


def _dense(plan: _Plan, x: torch.Tensor, n_out: int, first: int) -> torch.Tensor:
    """Block q's outputs: its input span (a strided view of the padded input) times the block
    matrix, in chunks of ``plan.rows`` blocks. ``x``: (C, T) -> (C, n_out).

    Chunks are aligned to the whole signal's blocks (``first``) and all have one shape (padded
    with zeros at either end), so an output is computed by the same product, at the same row, for
    a window as for the whole signal: a BLAS's sums may take another order in a product of another
    shape or at another row."""
    assert plan.block is not None
    span, up, down, step = plan.block.shape[0], plan.up, plan.down, plan.rows
    skip = first // down % step  # blocks of the first chunk before x's first
    chunks = -(-(n_out + skip * up) // (up * step))
    left = skip * down - plan.lo
    right = max(0, (chunks * step - 1) * down + span - left - x.shape[1])
    xp = torch.nn.functional.pad(x, (left, right))
    out = torch.empty(x.shape[0], chunks * step * up)
    for k in range(chunks):
        frames = xp.as_strided((xp.shape[0], step, span), (xp.stride(0), down, 1), k * step * down)
        out[:, k * step * up:(k + 1) * step * up] = torch.matmul(frames, plan.block).reshape(x.shape[0], -1)
    return out[:, skip * up:skip * up + n_out]


def _gather(plan: _Plan, x: torch.Tensor, n_out: int) -> torch.Tensor:
    """Each output gathers its ``J`` inputs and its phase's taps. ``x``: (C, T) -> (C, n_out)."""
    up, down, taps = plan.up, plan.down, plan.phases.shape[1]
    last = ((n_out - 1) * down + plan.half) // up  # the last output's newest input sample
    xp = torch.nn.functional.pad(x, (taps - 1, max(0, last + 1 - x.shape[1])))
    out = torch.empty(x.shape[0], n_out)
    step = max(1, CHUNK // taps)
    back = taps - 1 - torch.arange(taps)  # tap j reads input b - j: padded index b + (J - 1 - j)
    for n0 in range(0, n_out, step):
        c = torch.arange(n0, min(n_out, n0 + step), dtype=torch.int64) * down + plan.half
        idx = (c // up)[:, None] + back[None, :]
        out[:, n0:n0 + c.shape[0]] = (xp[:, idx] * plan.phases[c % up]).sum(-1)
    return out
