"""Trim / pad / crop a clip to a fixed length: skip ``offset`` samples, then cut or zero-pad."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

from .._checks import check_arg

CROPS = ("start", "random", "center")


def crop_start(total: int, offset: int, length: Optional[int], crop: str = "start",
               generator: Optional[torch.Generator] = None) -> int:
    """Index of the first kept sample of a clip of ``total`` samples.

    "start" keeps from ``offset``; "center" centres the window in what follows ``offset``;
    "random" draws uniformly from ``generator`` among the windows that fit after ``offset``.
    """
    check_arg(crop in CROPS, "crop", f"one of {CROPS}", crop)
    room = max(0, total - offset - (length or 0)) if length is not None else 0
    if crop == "start" or room == 0:
        return offset
    if crop == "center":
        return offset + room // 2
    return offset + int(torch.randint(room + 1, (1,), generator=generator))


def trim_window(total: int, offset: int = 0, length: Optional[int] = None, crop: str = "start",
                generator: Optional[torch.Generator] = None) -> Tuple[int, int]:
    """Where :func:`trim_pad` cuts a clip of ``total`` samples: ``(start, valid)``, the first kept
    sample and how many real samples the kept window holds (the rest of ``length`` is padding).

    Lets a decoder read just the kept window (arguments as in :func:`trim_pad`).

    Example:
        >>> trim_window(10, offset=2, length=5), trim_window(4, offset=2, length=5), trim_window(3, offset=5)
        ((2, 5), (2, 2), (5, 0))
    """
    check_arg(not offset < 0, "offset", ">= 0", offset)
    check_arg(not (length is not None and length <= 0), "length", "> 0 or None", length)
    start = crop_start(total, offset, length, crop, generator)
    rest = max(0, total - start)
    return start, rest if length is None else min(length, rest)


def trim_pad(x: np.ndarray, offset: int = 0, length: Optional[int] = None, crop: str = "start",
             generator: Optional[torch.Generator] = None) -> Tuple[np.ndarray, int]:
    """Skip ``offset`` samples, then keep ``length`` (zero-padding a short clip at the end).

    Args:
        x (ndarray): (C, T) waveform.
        offset (int): samples to skip at the start, >= 0. Default 0.
        length (int, optional): samples to keep, > 0; None keeps everything after ``offset``.
        crop (str): "start" (default), "center" or "random" placement of the kept window.
        generator (torch.Generator, optional): randomness for ``crop="random"``.

    Returns:
        (clip, valid): the (C, length) clip and how many of its samples are real (not padding).

    Shape:
        x: (C, T) -> (C, length)

    Example:
        >>> y, valid = trim_pad(np.arange(10, dtype=np.float32)[None], offset=2, length=5)
        >>> y.tolist(), valid
        ([[2.0, 3.0, 4.0, 5.0, 6.0]], 5)
        >>> trim_pad(np.ones((1, 4), np.float32), offset=2, length=5)[0].tolist()
        [[1.0, 1.0, 0.0, 0.0, 0.0]]
    """
    start, valid = trim_window(x.shape[-1], offset, length, crop, generator)
    kept = x[:, start:start + valid]
    if length is not None and valid < length:
        padded = np.empty((x.shape[0], length), dtype=x.dtype)  # each sample written once
        padded[:, :valid] = kept
        padded[:, valid:] = 0
        return padded, valid
    return np.ascontiguousarray(kept), valid
