"""Resample and mix down: scipy's polyphase resampler, with the ratio reduced once per rate pair."""
from __future__ import annotations

from functools import lru_cache
from math import gcd
from typing import Tuple

import numpy as np


@lru_cache(maxsize=64)
def _ratio(sr_in: int, sr_out: int) -> Tuple[int, int]:
    g = gcd(sr_in, sr_out)
    return sr_out // g, sr_in // g


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
    import scipy.signal  # here, not at import time: scipy.signal costs ~1 s to import

    return scipy.signal.resample_poly(x, up, down, axis=-1).astype(np.float32, copy=False)


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average channels. Shape: (C, T) -> (1, T).

    Example:
        >>> to_mono(np.array([[1.0, 3.0], [3.0, 5.0]], np.float32)).tolist()
        [[2.0, 4.0]]
    """
    return x if x.shape[0] == 1 else x.mean(axis=0, keepdims=True)
