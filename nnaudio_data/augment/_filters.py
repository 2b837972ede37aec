"""Frequency filters on (B, C, T) with a cutoff drawn per example: :class:`LowPass`,
:class:`HighPass`, :class:`BandPass`.

FFT-domain, zero-phase Butterworth magnitude responses: ``|H| = 1 / sqrt(1 + (f / fc)^(2 order))``
for a low-pass (the high-pass swaps f and fc; the band-pass multiplies a high-pass and a low-pass).
No phase shift, no per-example recursion, one rfft / irfft pair for the whole batch. The signal is
zero-padded to 2T so the filter's (non-causal) response does not wrap around the clip. An
out-of-band tone k octaves past the cutoff is attenuated by ``10 log10(1 + 4^(k order))`` dB:
about 6 dB per octave per order (order 4: 24.1 dB at one octave).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from ._base import Augmentation, Params, uniform
from .._checks import check_arg, check_range


def butterworth(ratio: Tensor, order: int) -> Tensor:
    """|H| of a Butterworth low-pass at ``ratio`` = f / fc (a high-pass: pass fc / f)."""
    return (1.0 + ratio.clamp_max(1e6) ** (2 * order)).rsqrt()


def fft_filter(x: Tensor, gain: Callable[[Tensor], Tensor]) -> Tensor:
    """Filter ``x`` along T by the real gain ``gain(freqs)`` -> (B, F), freqs in cycles per sample.

    Shape:
        x: (B, ..., T); output: (B, ..., T)
    """
    t = x.shape[-1]
    n = 2 * t
    freqs = torch.fft.rfftfreq(n, device=x.device)
    g = gain(freqs).to(x.dtype)
    spec = torch.fft.rfft(x, n=n, dim=-1) * g.view(x.shape[0], *([1] * (x.dim() - 2)), -1)
    return torch.fft.irfft(spec, n=n, dim=-1)[..., :t]


def log_uniform(bounds, n: int, generator: torch.Generator) -> Tensor:
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    return torch.exp(lo + (hi - lo) * torch.rand(n, generator=generator, dtype=torch.float64)).float()


class _Filter(Augmentation):
    def __init__(self, sr: int, cutoff: "float | tuple", order: int, p: float, name: str = "cutoff"):
        super().__init__(p)
        check_arg(isinstance(sr, int) and not sr <= 0, "sr", "an int > 0", sr)
        check_arg(isinstance(order, int) and 1 <= order <= 16, "order", "an int in [1, 16]", order)
        self.sr, self.order = sr, order
        setattr(self, name, check_range(name, cutoff, 1e-3, sr / 2))
        self._bounds = getattr(self, name)

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        return {"cutoff_hz": log_uniform(self._bounds, shape[0], generator)}

    def response(self, freqs: Tensor, params: Params) -> Tensor:
        raise NotImplementedError

    def apply(self, x: Tensor, params: Params) -> Tensor:
        return fft_filter(x, lambda f: self.response(f * self.sr, params))


def _ratio(freqs: Tensor, hz: Tensor) -> Tensor:
    return freqs[None, :] / hz.to(freqs.device, freqs.dtype)[:, None]


class LowPass(_Filter):
    """Low-pass filter with a cutoff drawn per example, uniformly in log frequency.

    Args:
        sr (int): sample rate in Hz.
        cutoff (float | tuple[float, float]): cutoff or (min, max) range in Hz, <= sr / 2.
            Default (150, 7500).
        order (int): Butterworth order, 6 dB per octave each. Default 4.
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T); output: (B, C, T), x's dtype. params["cutoff_hz"]: (B,)

    Example:
        >>> t = torch.arange(16000.0) / 16000
        >>> y = LowPass(16000, 500.0)(torch.sin(2 * math.pi * 4000 * t).view(1, 1, -1)).x
        >>> bool(y[..., 4000:12000].abs().max() < 1e-3)
        True
    """

    def __init__(self, sr: int, cutoff: "float | tuple" = (150.0, 7500.0), order: int = 4, p: float = 1.0):
        super().__init__(sr, cutoff, order, p)

    def response(self, freqs: Tensor, params: Params) -> Tensor:
        return butterworth(_ratio(freqs, params["cutoff_hz"]), self.order)


class HighPass(_Filter):
    """High-pass filter with a cutoff drawn per example, uniformly in log frequency.

    Args:
        sr (int): sample rate in Hz.
        cutoff (float | tuple[float, float]): cutoff or (min, max) range in Hz. Default (20, 2400).
        order (int): Butterworth order, 6 dB per octave each. Default 4.
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T); output: (B, C, T), x's dtype. params["cutoff_hz"]: (B,)

    Example:
        >>> y = HighPass(16000, 100.0)(torch.ones(1, 1, 4000)).x  # DC is removed
        >>> bool(y[..., 1000:3000].abs().max() < 1e-3)
        True
    """

    def __init__(self, sr: int, cutoff: "float | tuple" = (20.0, 2400.0), order: int = 4, p: float = 1.0):
        super().__init__(sr, cutoff, order, p)

    def response(self, freqs: Tensor, params: Params) -> Tensor:
        return butterworth(1.0 / _ratio(freqs, params["cutoff_hz"]).clamp_min(1e-6), self.order)


class BandPass(_Filter):
    """Band-pass filter: a centre frequency drawn per example (log-uniform) and a bandwidth drawn
    as a fraction of it; edges at ``centre * (1 -/+ bandwidth / 2)``.

    Args:
        sr (int): sample rate in Hz.
        center (float | tuple[float, float]): centre or (min, max) range in Hz. Default (200, 4000).
        bandwidth (float | tuple[float, float]): bandwidth / centre, in (0, 2). Default (0.5, 1.5).
        order (int): Butterworth order of each edge. Default 4.
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T); output: (B, C, T), x's dtype. params: "cutoff_hz" (centre), "bandwidth" (B,)

    Example:
        >>> BandPass(16000, 1000.0, 1.0)(torch.randn(2, 1, 800)).x.shape
        torch.Size([2, 1, 800])
    """

    def __init__(self, sr: int, center: "float | tuple" = (200.0, 4000.0),
                 bandwidth: "float | tuple" = (0.5, 1.5), order: int = 4, p: float = 1.0):
        super().__init__(sr, center, order, p, name="center")
        self.bandwidth = check_range("bandwidth", bandwidth, 1e-3, 1.999)

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        params = super().sample_params(shape, generator)
        return {**params, "bandwidth": uniform(self.bandwidth, shape[0], generator)}

    def response(self, freqs: Tensor, params: Params) -> Tensor:
        centre, bw = params["cutoff_hz"], params["bandwidth"]
        low = butterworth(1.0 / _ratio(freqs, centre * (1 - bw / 2)).clamp_min(1e-6), self.order)
        return low * butterworth(_ratio(freqs, centre * (1 + bw / 2)), self.order)
