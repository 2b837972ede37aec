"""Spectrogram augmentations on (B, F, N) or (B, C, F, N): SpecAugment's :class:`FrequencyMasking`
and :class:`TimeMasking` (per-example mask counts, widths and positions, shared by an example's
channels), and :class:`TimeStretch` (a magnitude-domain stretch by interpolation along N)."""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

from ._base import Augmentation, Params, interp_last, scaled_positions, uniform
from .._checks import check_arg, check_range


class _Masking(Augmentation):
    ndims = (3, 4)
    axis = -1  # -2 for frequency, -1 for time

    def __init__(self, max_width: int, n_masks: "int | Tuple[int, int]" = 1, value: float = 0.0,
                 inplace: bool = False, p: float = 1.0):
        super().__init__(p)
        check_arg(isinstance(max_width, int) and not max_width < 0, "max_width", "an int >= 0", max_width)
        lo, hi = (n_masks, n_masks) if isinstance(n_masks, int) else tuple(n_masks)
        check_arg((isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi), "n_masks",
                  "an int >= 0 or a (min, max) pair of them", n_masks)
        self.max_width, self.n_masks, self.value = max_width, (lo, hi), float(value)
        self.inplace = bool(inplace)

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        b, size, m = shape[0], shape[self.axis], self.n_masks[1]
        count = torch.randint(self.n_masks[0], m + 1, (b,), generator=generator)
        width = torch.randint(0, min(self.max_width, size) + 1, (b, m), generator=generator)
        start = (torch.rand(b, m, generator=generator) * (size - width + 1)).long()
        width = width * (torch.arange(m)[None, :] < count[:, None])   # masks past the count: width 0
        return {"start": start, "width": width}

    def band(self, x: Tensor, params: Params) -> Tensor:
        """Bool mask of the cells to fill, broadcastable to x: (B, 1, .., size along the axis, ..)."""
        size = x.shape[self.axis]
        pos = torch.arange(size, device=x.device)[None, None, :]
        start, width = params["start"].to(x.device)[..., None], params["width"].to(x.device)[..., None]
        band = ((pos >= start) & (pos < start + width)).any(1)             # (B, size)
        band &= params["mask"].to(x.device)[:, None]                       # p, here too for inplace
        shape = [x.shape[0]] + [1] * (x.dim() - 1)
        shape[self.axis] = size
        return band.view(shape)

    def apply(self, x: Tensor, params: Params) -> Tensor:
        if self.inplace and x.device.type == "cpu":
            return fill_slices(x, params, self.axis, self.value)
        if self.inplace:
            return x.masked_fill_(self.band(x, params), self.value)
        return torch.where(self.band(x, params), self.value, x)   # where: faster than masked_fill on CPU


def fill_slices(x: Tensor, params: Params, axis: int, value: float) -> Tensor:
    """Fill the bands of ``params`` in place, one slice per band: touches only the masked cells
    (on CPU, 20x less work than a masked fill of the whole spectrogram; on an accelerator one
    vectorised masked fill beats B * M small kernels)."""
    bands = zip(params["mask"].tolist(), params["start"].tolist(), params["width"].tolist())
    for b, (on, starts, widths) in enumerate(bands):
        for s, w in zip(starts, widths):
            if on and w > 0:
                x[b].narrow(axis, s, w).fill_(value)
    return x


class FrequencyMasking(_Masking):
    """Set ``n_masks`` bands of frequency bins per example to ``value`` (SpecAugment).

    Args:
        max_width (int): widest band, in bins; each width is drawn uniformly in [0, max_width].
        n_masks (int | tuple[int, int]): bands per example, fixed or a (min, max) range. Default 1.
        value (float): fill value. Default 0.0.
        inplace (bool): fill x itself instead of a copy (saves a pass over the spectrogram; for
            when nothing else holds x, as in the collate; x must not need a float32 upcast, since
            half inputs are copied anyway). Default False.
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, F, N) or (B, C, F, N); output: the same, x's dtype. params: "start", "width" (B, M),
        M = max n_masks; band m covers bins [start, start + width).

    Example:
        >>> y = FrequencyMasking(max_width=3, n_masks=2)(torch.ones(4, 16, 10)).x
        >>> bool(((y == 0).all(-1).sum(-1) <= 6).all())
        True
    """

    axis = -2


class TimeMasking(_Masking):
    """Set ``n_masks`` spans of frames per example to ``value`` (SpecAugment).

    Args:
        max_width (int): longest span, in frames; each width is drawn uniformly in [0, max_width].
        n_masks (int | tuple[int, int]): spans per example, fixed or a (min, max) range. Default 1.
        value (float): fill value. Default 0.0.
        inplace (bool): fill x itself instead of a copy (saves a pass over the spectrogram; for
            when nothing else holds x, as in the collate; x must not need a float32 upcast, since
            half inputs are copied anyway). Default False.
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, F, N) or (B, C, F, N); output: the same, x's dtype. params: "start", "width" (B, M).

    Example:
        >>> y = TimeMasking(max_width=4)(torch.ones(2, 8, 20)).x
        >>> bool(((y == 0).all(-2).sum(-1) <= 4).all())
        True
    """

    axis = -1


class TimeStretch(Augmentation):
    """Stretch each example's spectrogram in time by a rate drawn per example, keeping N.

    A magnitude-domain stretch: frame n of the output is the linear interpolation of input frames
    at n * rate (rate > 1 speeds up: the end is zero-filled; rate < 1 slows down: the tail is cut).
    Frequencies are not changed and no phase is reconstructed; a phase vocoder is not needed for
    features that are magnitudes anyway.

    Args:
        rate (float | tuple[float, float]): rate or (min, max) range, > 0. Default (0.8, 1.25).
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, F, N) or (B, C, F, N); output: the same, x's dtype. params["rate"]: (B,)

    Example:
        >>> x = torch.arange(6.0).view(1, 1, 6)
        >>> TimeStretch(0.5)(x).x.tolist()
        [[[0.0, 0.5, 1.0, 1.5, 2.0, 2.5]]]
    """

    ndims = (3, 4)

    def __init__(self, rate: "float | tuple" = (0.8, 1.25), p: float = 1.0):
        super().__init__(p)
        self.rate = check_range("rate", rate, 1e-3, 1e3)

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        return {"rate": uniform(self.rate, shape[0], generator)}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        return interp_last(x, scaled_positions(x.shape[-1], params["rate"], x.device))
