"""Resample and mix down: scipy's polyphase resampler, with the ratio reduced and its anti-aliasing
filter designed once per rate pair (scipy designs it again on every call, which cost more than
the mel kernel in a mixed-rate job's profile)."""
from __future__ import annotations

from functools import lru_cache
from math import gcd
from typing import Tuple

import numpy as np


@lru_cache(maxsize=64)
def _ratio(sr_in: int, sr_out: int) -> Tuple[int, int]:
    g = gcd(sr_in, sr_out)
    return sr_out // g, sr_in // g


@lru_cache(maxsize=64)
def polyphase_filter(up: int, down: int, dtype: str = "float32") -> np.ndarray:
    """The low-pass FIR that ``scipy.signal.resample_poly(x, up, down)`` designs for an ``x`` of
    ``dtype`` (Kaiser window, beta 5, cutoff at the lower Nyquist, 10 taps per phase each side);
    cached and read-only.

    Example:
        >>> polyphase_filter(2, 1).shape
        (41,)
    """
    import scipy.signal  # here, not at import time: scipy.signal costs ~1 s to import

    max_rate = max(up, down)
    half_len = 10 * max_rate
    h = scipy.signal.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(dtype)
    h.flags.writeable = False
    return h


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample ``x`` from ``sr_in`` to ``sr_out`` Hz along the last axis (polyphase FIR).

    Shape:
        x: (..., T) -> (..., ceil(T * sr_out / sr_in))

    Example:
        >>> resample(np.ones((1, 441), np.float32), 44100, 16000).shape
        (1, 160)
    """
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be > 0, got sr_in={sr_in}, sr_out={sr_out}")
    if sr_in == sr_out:
        return x
    up, down = _ratio(int(sr_in), int(sr_out))
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    h = polyphase_filter(up, down, dtype.name)
    import scipy.signal

    return scipy.signal.resample_poly(x, up, down, axis=-1, window=h).astype(np.float32, copy=False)


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
