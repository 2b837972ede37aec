"""Reverberation: convolve each example with a room impulse response (RIR) from a clip source."""
from __future__ import annotations

from typing import Any, Iterable, List

import torch
from torch import Tensor

from ._base import Augmentation, Params
from ._clips import ClipSource


def pad_stack(clips: List[Tensor]) -> Tensor:
    """Mono clips (1, L_i) -> (B, max L_i), zero-padded."""
    out = torch.zeros(len(clips), max(c.shape[-1] for c in clips))
    for i, c in enumerate(clips):
        out[i, : c.shape[-1]] = c.mean(0)
    return out


def fft_convolve(x: Tensor, h: Tensor, offset: Tensor) -> Tensor:
    """Full linear convolution of x with h per example, by FFT, keeping T samples from ``offset``.

    Shape:
        x: (B, C, T); h: (B, L); offset: (B,) int64 in [0, L - 1]; output: (B, C, T)
    """
    t, n = x.shape[-1], x.shape[-1] + h.shape[-1] - 1
    full = torch.fft.irfft(torch.fft.rfft(x, n=n) * torch.fft.rfft(h, n=n)[:, None, :], n=n)
    idx = offset.to(x.device)[:, None] + torch.arange(t, device=x.device)
    return full.gather(-1, idx[:, None, :].expand(*x.shape[:-1], t))


class ApplyImpulseResponse(Augmentation):
    """Convolve each example with the next impulse response of a source (FFT convolution).

    The output keeps T samples: the first T of the full convolution, or, with
    ``compensate_delay``, T samples from the direct path (the RIR's largest-magnitude sample), so
    the reverberant clip stays aligned with the dry one. Multichannel RIRs are averaged to mono and
    applied to every channel; RIRs are used as recorded (no normalisation). The RIRs drawn are
    parameters (``params["rir"]``), so a replay needs no source.

    Args:
        source (Iterable): RIRs: tensors (L,) / (C, L), dicts with "waveform", tuples (see
            ``augment.ClipSource``).
        compensate_delay (bool): align on the direct path. Default False.
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T); output: (B, C, T), x's dtype. params: "rir" (B, L) zero-padded to the
        longest, "delay" (B,) int64 (0 without compensation).

    Example:
        >>> rir = torch.tensor([0.0, 1.0, 0.0, 0.5])           # direct path at 1, echo at 3
        >>> aug = ApplyImpulseResponse([rir], compensate_delay=True)
        >>> y = aug(torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])).x
        >>> torch.allclose(y, torch.tensor([[[1.0, 0.0, 0.5, 0.0]]]), atol=1e-6)
        True
    """

    def __init__(self, source: Iterable[Any], compensate_delay: bool = False, p: float = 1.0):
        super().__init__(p)
        self.source = ClipSource(source, "source")
        self.compensate_delay = bool(compensate_delay)

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        rir = pad_stack(self.source.take(shape[0]))
        delay = rir.abs().argmax(-1) if self.compensate_delay else torch.zeros(shape[0], dtype=torch.long)
        return {"rir": rir, "delay": delay}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        return fft_convolve(x, params["rir"].to(x.device, x.dtype), params["delay"])
