"""Resampling augmentations on (B, C, T), batched by per-example linear interpolation (one gather
for the whole batch), keeping T: :class:`SpeedPerturb` (tempo and pitch by one factor) and
:class:`PitchShift` (pitch only: phase-vocoder stretch, then the same resampling).

Linear interpolation attenuates the top of the band slightly (a sinc^2 response); with
``antialias`` a speed-up first low-passes at the new Nyquist frequency (FFT Butterworth, order 8)
so content above it does not fold back.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ._base import Augmentation, Params, interp_last, scaled_positions, uniform
from .._checks import check_arg, check_range
from ._filters import butterworth, fft_filter


def antialias(x: Tensor, factor: Tensor) -> Tensor:
    """Low-pass each example at 0.5 / factor cycles per sample where factor > 1 (``factor`` on the
    CPU, as drawn: deciding whether to filter costs no device sync)."""
    if not bool((factor > 1).any()):
        return x
    cut = (0.5 / factor.clamp_min(1.0)).to(x.device, x.dtype)[:, None]
    return fft_filter(x, lambda f: torch.where(cut < 0.5, butterworth(f[None, :] / cut, 8), 1.0))


class SpeedPerturb(Augmentation):
    """Play each example faster or slower by a factor drawn per example (pitch moves with it).

    Output sample t reads the input at t * factor: factor > 1 shortens the content (the tail is
    zero-filled), factor < 1 lengthens it (the end is cut); T is kept. A tone at f comes out at
    f * factor.

    Args:
        factor (float | tuple[float, float]): speed factor or (min, max) range, in [0.25, 4].
            Default (0.9, 1.1).
        antialias (bool): low-pass before a speed-up. Default True.
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T); output: (B, C, T), x's dtype. params["factor"]: (B,)

    Example:
        >>> SpeedPerturb(2.0, antialias=False)(torch.arange(6.0).view(1, 1, 6)).x.tolist()
        [[[0.0, 2.0, 4.0, 0.0, 0.0, 0.0]]]
    """

    def __init__(self, factor: "float | tuple" = (0.9, 1.1), antialias: bool = True, p: float = 1.0):
        super().__init__(p)
        self.factor = check_range("factor", factor, 0.25, 4.0)
        self.antialias = bool(antialias)

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        return {"factor": uniform(self.factor, shape[0], generator)}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        factor = params["factor"]
        if self.antialias:
            x = antialias(x, factor)
        return interp_last(x, scaled_positions(x.shape[-1], factor, x.device))


def phase_vocoder(spec: Tensor, rate: Tensor, hop: int, frames: int) -> Tensor:
    """Time-stretch complex STFTs by a rate per example (output frame j reads input frame j * rate),
    accumulating phase so stationary partials keep their frequency (as torchaudio's
    ``phase_vocoder``, with per-example rates); frames past the input's end are silent.

    Shape:
        spec: (B, F, N) complex; rate: (B,); output: (B, F, frames) complex
    """
    b, f, n = spec.shape
    steps = torch.arange(frames, device=spec.device, dtype=torch.float64)[None, :] * rate[:, None]
    alpha = (steps % 1).to(spec.real.dtype)[:, None, :]
    padded = torch.nn.functional.pad(spec, (0, 2))
    i0 = steps.long().clamp_max(n + 1)
    s0 = padded.gather(-1, i0[:, None, :].expand(b, f, -1))
    s1 = padded.gather(-1, (i0 + 1).clamp_max(n + 1)[:, None, :].expand(b, f, -1))
    advance = torch.linspace(0, math.pi * hop, f, device=spec.device, dtype=spec.real.dtype)[None, :, None]
    dphi = s1.angle() - s0.angle() - advance
    dphi = dphi - 2 * math.pi * torch.round(dphi / (2 * math.pi)) + advance
    phase = torch.cat([spec[..., :1].angle(), dphi[..., :-1]], -1).cumsum(-1)
    mag = (1 - alpha) * s0.abs() + alpha * s1.abs()
    return torch.polar(mag, phase)


class PitchShift(Augmentation):
    """Shift each example's pitch by a number of semitones drawn per example, keeping its tempo.

    librosa's recipe, batched: a phase-vocoder time stretch by the factor ``2^(semitones / 12)``
    (STFT with a Hann window of ``n_fft``, hop ``n_fft / 4``), then a resampling by the same
    factor back to T samples (as :class:`SpeedPerturb`). A tone at f comes out at f * factor.

    Args:
        semitones (float | tuple[float, float]): shift or (min, max) range, in [-24, 24].
            Default (-4, 4).
        n_fft (int): phase-vocoder frame length, even, >= 16. Default 1024.
        antialias (bool): low-pass before an upward shift. Default True.
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T); output: (B, C, T), x's dtype. params["semitones"]: (B,)

    Example:
        >>> PitchShift(12.0)(torch.randn(2, 1, 4096)).x.shape
        torch.Size([2, 1, 4096])
    """

    def __init__(self, semitones: "float | tuple" = (-4.0, 4.0), n_fft: int = 1024,
                 antialias: bool = True, p: float = 1.0):
        super().__init__(p)
        self.semitones = check_range("semitones", semitones, -24.0, 24.0)
        check_arg(isinstance(n_fft, int) and not n_fft < 16 and not n_fft % 2, "n_fft",
                  "an even int >= 16", n_fft)
        self.n_fft, self.antialias = n_fft, bool(antialias)

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        if shape[-1] <= self.n_fft // 2:
            raise ValueError(f"PitchShift: input length T must be > n_fft / 2 ({self.n_fft // 2}), "
                             f"got {shape[-1]}")
        return {"semitones": uniform(self.semitones, shape[0], generator)}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        b, c, t = x.shape
        factor = 2.0 ** (params["semitones"].double() / 12.0)         # CPU, as drawn
        hop = self.n_fft // 4
        window = torch.hann_window(self.n_fft, device=x.device, dtype=x.dtype)
        spec = torch.stft(x.reshape(b * c, t), self.n_fft, hop, window=window, return_complex=True)
        # silent frames past every example's content, so the iSTFT's edge never reaches a read
        # position (and an example's output does not depend on the batch's largest factor)
        frames = math.ceil(spec.shape[-1] * float(factor.max())) + 2 + self.n_fft // hop
        stretched = phase_vocoder(spec, (1.0 / factor).repeat_interleave(c).to(x.device), hop, frames)
        y = torch.istft(stretched, self.n_fft, hop, window=window).view(b, c, -1)
        if self.antialias:
            y = antialias(y, factor)
        return interp_last(y, scaled_positions(t, factor, x.device))
