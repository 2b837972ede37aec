"""Simple waveform augmentations on (B, C, T): :class:`Gain`, :class:`PolarityInversion`,
:class:`TimeShift`, :class:`RandomCrop`. One parameter per example, shared by its channels."""
from __future__ import annotations

from typing import List, TypeVar

import numpy as np
import torch
from torch import Tensor

from ._base import Augmentation, Params, per_example, uniform
from .._checks import check_arg, check_range

_Rows = TypeVar("_Rows", np.ndarray, Tensor)  # TimeShift copies through numpy views on CPU


class Gain(Augmentation):
    """Multiply each example by a gain drawn uniformly in decibels.

    Args:
        gain_db (float | tuple[float, float]): gain or (min, max) range in dB. Default (-12, 12).
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T); output: (B, C, T), x's dtype. params["gain_db"]: (B,)

    Example:
        >>> out = Gain(20.0)(torch.ones(2, 1, 3))
        >>> out.x[:, 0, 0].tolist()
        [10.0, 10.0]
    """

    def __init__(self, gain_db: "float | tuple" = (-12.0, 12.0), p: float = 1.0):
        super().__init__(p)
        self.gain_db = check_range("gain_db", gain_db)

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        return {"gain_db": uniform(self.gain_db, shape[0], generator)}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        return x * per_example(10.0 ** (params["gain_db"].double() / 20.0), x).to(x.dtype)


class PolarityInversion(Augmentation):
    """Flip the sign of each selected example.

    Args:
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T); output: (B, C, T), x's dtype.

    Example:
        >>> PolarityInversion()(torch.ones(1, 1, 2)).x.tolist()
        [[[-1.0, -1.0]]]
    """

    def apply(self, x: Tensor, params: Params) -> Tensor:
        return -x


class TimeShift(Augmentation):
    """Shift each example in time by a whole number of samples, circularly or with zero fill.

    Args:
        shift (float | int | tuple): maximal shift, or a (min, max) range; floats in [-1, 1] are
            fractions of T, ints are samples. A single value v means (-v, v). Default 0.5.
        rollover (bool): True wraps samples shifted past an end around to the other end; False
            fills the vacated samples with zeros. Default True.
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T); output: (B, C, T). params["shift"]: (B,) int64 samples (positive: later).

    Example:
        >>> aug = TimeShift((1, 1), rollover=False)
        >>> aug(torch.tensor([[[1.0, 2.0, 3.0]]])).x.tolist()
        [[[0.0, 1.0, 2.0]]]
    """

    def __init__(self, shift: "float | int | tuple" = 0.5, rollover: bool = True, p: float = 1.0):
        super().__init__(p)
        pair = (-shift, shift) if isinstance(shift, (int, float)) else shift
        self.in_samples = all(isinstance(v, int) for v in pair)
        bound = float("inf") if self.in_samples else 1.0
        self.shift = check_range("shift", pair, -bound, bound)
        if self.in_samples:
            self.shift = (int(self.shift[0]), int(self.shift[1]))
        self.rollover = bool(rollover)

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        t = shape[-1]
        if self.in_samples:  # ints already (__init__)
            lo, hi = int(self.shift[0]), int(self.shift[1])
        else:
            lo, hi = round(self.shift[0] * t), round(self.shift[1] * t)
        return {"shift": torch.randint(lo, hi + 1, (shape[0],), generator=generator)}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        # two slice copies per example: one pass over x, no (B, T) index (a gather is 10x slower
        # on CPU). On CPU the copies go through numpy views: through torch, each of the 2B small
        # copies waits for every thread of the pool, which stalls when other jobs hold the cores.
        out = torch.empty_like(x) if self.rollover else torch.zeros_like(x)
        shifts = params["shift"].tolist()
        if x.device.type == "cpu" and not x.requires_grad:
            _shift_rows(out.numpy(), x.numpy(), shifts, self.rollover)
        else:
            _shift_rows(out, x, shifts, self.rollover)
        return out


def _shift_rows(dst: _Rows, src: _Rows, shifts: List[int], rollover: bool) -> None:
    """``dst[b]`` = ``src[b]`` (C, T) shifted by ``shifts[b]`` samples (wrapped when ``rollover``)."""
    t = src.shape[-1]
    for b, s in enumerate(shifts):
        if rollover:
            s %= t
            dst[b, :, :s] = src[b, :, t - s:]
        s = max(-t, min(t, s))
        if s >= 0:
            dst[b, :, s:] = src[b, :, : t - s]
        else:
            dst[b, :, : t + s] = src[b, :, -s:]


class RandomCrop(Augmentation):
    """Crop each example to ``length`` samples at a random offset (a batch keeps one length, so
    every example is cropped: ``p`` is fixed at 1).

    Args:
        length (int): samples to keep, >= 1, at most T of the input.

    Shape:
        x: (B, C, T); output: (B, C, length). params["offset"]: (B,) int64.

    Example:
        >>> RandomCrop(2)(torch.arange(5.0).view(1, 1, 5)).x.shape
        torch.Size([1, 1, 2])
    """

    def __init__(self, length: int):
        super().__init__(1.0)
        check_arg(isinstance(length, int) and not length < 1, "length", "an int >= 1", length)
        self.length = length

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        if shape[-1] < self.length:
            raise ValueError(f"RandomCrop: input length T must be >= length ({self.length}), got {shape[-1]}")
        return {"offset": torch.randint(0, shape[-1] - self.length + 1, (shape[0],), generator=generator)}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        idx = params["offset"].to(x.device)[:, None] + torch.arange(self.length, device=x.device)
        return x.gather(-1, idx[:, None, :].expand(*x.shape[:-1], -1))
