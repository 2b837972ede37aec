"""Additive noise at a signal-to-noise ratio: :class:`AddColoredNoise` (white, pink, brown ...,
shaped by FFT) and :class:`AddBackgroundNoise` (recordings from a clip source).

SNR is per example over all channels and samples: ``10 log10(mean(x^2) / mean(noise^2))``, with
the noise scaled to hit the drawn SNR exactly (to float32 rounding). A silent example stays silent
(no noise is added to it: there is no signal power to be relative to), and silent noise adds
nothing; neither makes NaN or inf. Powers include zero padding past a clip's valid length.
"""
from __future__ import annotations

import functools
from typing import Any, Iterable, Optional

import torch
from torch import Tensor

from ._base import Augmentation, Params, draw_seed, per_example, uniform
from .._checks import check_arg, check_range
from ._gaussian import gaussian_field
from ._clips import ClipSource, crop_or_tile

COLORS = {"violet": -2.0, "blue": -1.0, "white": 0.0, "pink": 1.0, "brown": 2.0}


def add_at_snr(x: Tensor, noise: Tensor, snr_db: Tensor, out: Optional[Tensor] = None) -> Tensor:
    """``x + a * noise`` with ``a`` per example so that the SNR is ``snr_db`` (B,); written into
    ``out`` when given (which may be ``noise`` itself, when the caller owns it).

    Shape:
        x, noise: (B, ...); snr_db: (B,); output: like x
    """
    dims = tuple(range(1, x.dim()))
    ps = torch.linalg.vector_norm(x, dim=dims).double() ** 2   # no (B, C, T) temporaries
    pn = torch.linalg.vector_norm(noise, dim=dims).double() ** 2
    target = 10.0 ** (snr_db.to(x.device, torch.float64) / 10.0)
    scale = (ps / (pn.clamp_min(1e-30) * target)).sqrt()
    return torch.addcmul(x, noise, per_example(scale.to(x.dtype), x), out=out)


def spectral_shaping_of(bins: int, f_decay: Tensor) -> Tensor:
    """(B, bins) amplitude shaping k^(-decay / 2) (PSD ~ 1/f^decay), zero at DC."""
    k = torch.arange(bins, device=f_decay.device, dtype=torch.float32).clamp_min(1.0)
    shaping = k[None, :] ** (-f_decay[:, None].float() / 2.0)
    shaping[:, 0] = 0.0                                                 # no DC offset
    return shaping


@functools.lru_cache(maxsize=16)
def spectral_shaping(bins: int, f_decay: float, device: str) -> Tensor:
    """(1, bins) shaping of one color, built once per (length, color, device)."""
    return spectral_shaping_of(bins, torch.tensor([f_decay], device=device))


def colored_noise(shape: torch.Size, f_decay: Tensor, seed: int, device: torch.device) -> Tensor:
    """Gaussian noise with power spectral density ~ 1 / f^f_decay per example, from ``seed``.

    White noise is drawn as is; colored noise is drawn directly as a complex Gaussian spectrum
    (what the rfft of white Gaussian noise is), shaped and inverted: one irfft, no forward FFT.
    The Gaussian field is drawn by :func:`~nnaudio_data.augment._gaussian.gaussian_field` (row by
    row on the CPU threads; at once on other devices).

    Shape:
        shape: (B, ..., T); f_decay: (B,); output: shape, float32 on device
    """
    if not bool((f_decay != 0).any()):
        return gaussian_field(shape, seed, device)
    t, bins = shape[-1], shape[-1] // 2 + 1
    if bool((f_decay == f_decay[0]).all()):                             # one color: (1, F), cached
        shaping = spectral_shaping(bins, float(f_decay[0]), str(device))
    else:
        shaping = spectral_shaping_of(bins, f_decay.to(device))         # (B, F)
    spec = torch.view_as_complex(gaussian_field((*shape[:-1], bins, 2), seed, device))
    spec.mul_(shaping.view(shaping.shape[0], *([1] * (len(shape) - 2)), -1))
    return torch.fft.irfft(spec, n=t, dim=-1)


class AddColoredNoise(Augmentation):
    """Add Gaussian noise of a given color at an SNR drawn per example.

    Args:
        snr_db (float | tuple[float, float]): SNR or (min, max) range in dB. Default (3, 30).
        color (str | float | tuple): "white", "pink", "brown", "blue", "violet", or the spectral
            decay exponent (PSD ~ 1/f^decay; 0 white, 1 pink, 2 brown), or a (min, max) range of
            it drawn per example. Default "white".
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T); output: (B, C, T), x's dtype. params: "snr_db" (B,), "f_decay" (B,),
        "seed" (the noise is drawn from it on x's device: same seed, same noise on one device).

    Example:
        >>> x = torch.sin(torch.arange(1000.0)).view(1, 1, -1)
        >>> y = AddColoredNoise(snr_db=10.0, color="pink")(x).x
        >>> round(float(10 * torch.log10(x.pow(2).mean() / (y - x).pow(2).mean())), 3)
        10.0
    """

    def __init__(self, snr_db: "float | tuple" = (3.0, 30.0), color: "str | float | tuple" = "white",
                 p: float = 1.0):
        super().__init__(p)
        self.snr_db = check_range("snr_db", snr_db)
        if isinstance(color, str):
            check_arg(color in COLORS, "color", f"one of {sorted(COLORS)} or a decay exponent", color)
            self.f_decay = (COLORS[color], COLORS[color])
        else:
            self.f_decay = check_range("color", color, -6.0, 6.0)
        self.color = color

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        return {"snr_db": uniform(self.snr_db, shape[0], generator),
                "f_decay": uniform(self.f_decay, shape[0], generator),
                "seed": draw_seed(generator)}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        noise = colored_noise(x.shape, params["f_decay"], params["seed"], x.device).to(x.dtype)
        # the noise is ours: the sum goes into it (no new tensor), unless autograd tracks x
        return add_at_snr(x, noise, params["snr_db"], out=None if x.requires_grad else noise)


class AddBackgroundNoise(Augmentation):
    """Add a recording from a noise source at an SNR drawn per example.

    Each example gets the next clip of the source, mixed to its channel count, randomly cropped
    (or tiled, if shorter) to T. The clips drawn are parameters (``params["noise"]``), so a replay
    needs no source.

    Args:
        source (Iterable): noise clips: tensors (T,) / (C, T), dicts with "waveform" (e.g. a
            second ``ShardedAudioDataset``), ``(waveform, ...)`` tuples; see ``augment.ClipSource``.
        snr_db (float | tuple[float, float]): SNR or (min, max) range in dB. Default (3, 30).
        p (float): probability per example. Default 1.0.

    Shape:
        x: (B, C, T); output: (B, C, T), x's dtype. params: "snr_db" (B,), "noise" (B, C, T).

    Example:
        >>> aug = AddBackgroundNoise([torch.randn(300) for _ in range(4)], snr_db=20.0)
        >>> aug(torch.randn(2, 1, 1000)).params["noise"].shape
        torch.Size([2, 1, 1000])
    """

    def __init__(self, source: Iterable[Any], snr_db: "float | tuple" = (3.0, 30.0), p: float = 1.0):
        super().__init__(p)
        self.source = ClipSource(source, "source")
        self.snr_db = check_range("snr_db", snr_db)

    def sample_params(self, shape: torch.Size, generator: torch.Generator) -> Params:
        noise = crop_or_tile(self.source.take(shape[0]), shape[-1], shape[1], generator)
        return {"snr_db": uniform(self.snr_db, shape[0], generator), "noise": noise}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        return add_at_snr(x, params["noise"].to(x.device, x.dtype), params["snr_db"])
