"""Gammatone filterbank over FFT bins (Ellis' ``fft2gammatonemx``, as nnAudio's ``get_gammatone``):
4th-order gammatone magnitude responses on an ERB-spaced centre-frequency grid."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

_EAR_Q, _MIN_BW = 9.26449, 24.7  # Glasberg and Moore ERB parameters


def gammatone_filterbank(sr: float, n_fft: int, n_bins: int = 64, fmin: float = 0.0,
                         fmax: Optional[float] = None, width: float = 1.0) -> torch.Tensor:
    """Gammatone weights over the ``n_fft // 2 + 1`` FFT bins, divided by n_fft (as nnAudio).

    Args:
        sr (float): sample rate.
        n_fft (int): FFT size.
        n_bins (int): filters, highest centre frequency first. Default 64.
        fmin (float): lowest centre-frequency anchor in Hz. Default 0.
        fmax (float, optional): highest anchor in Hz. Default sr / 2.
        width (float): bandwidth in ERBs. Default 1.

    Shape:
        output: (n_bins, n_fft // 2 + 1) float64

    Example:
        >>> fb = gammatone_filterbank(16000, 512, n_bins=32)
        >>> tuple(fb.shape), bool((fb >= 0).all())
        ((32, 257), True)
    """
    fmax = sr / 2 if fmax is None else fmax
    em = _EAR_Q * _MIN_BW
    nfr = np.arange(1, n_bins + 1)
    cf = ((fmax + em) * np.exp(nfr * (np.log(fmin + em) - np.log(fmax + em)) / n_bins) - em)[::-1]
    T = 1.0 / sr
    B = 1.019 * 2 * np.pi * width * (cf / _EAR_Q + _MIN_BW)
    pole = np.exp(-B * T) * np.exp(2j * np.pi * cf * T)
    cos_, sin_ = np.cos(2 * np.pi * cf * T), np.sin(2 * np.pi * cf * T)
    roots = [s * np.sqrt(3 + t * 2 ** 1.5) for t in (-1, 1) for s in (-1, 1)]
    # zeros of the four cascaded 2nd-order sections, and the gain that makes each peak unity
    zeros = [(2 * T * cos_ + r * 2 * T * sin_) / (2 * np.exp(B * T) * T) for r in roots]
    e4, e2 = np.exp(4j * np.pi * cf * T), np.exp(-B * T + 2j * np.pi * cf * T)
    num = np.prod([-2 * e4 * T + 2 * e2 * T * (cos_ + r * sin_) for r in roots], axis=0)
    den = (-2 / np.exp(2 * B * T) - 2 * e4 + 2 * (1 + e4) / np.exp(B * T)) ** 4
    gain = np.abs(num / den)
    z = np.exp(2j * np.pi * np.arange(n_fft // 2 + 1) / n_fft)[None, :]
    wts = T ** 4 / gain[:, None] * np.abs((pole[:, None] - z) * (np.conj(pole)[:, None] - z)) ** -4
    for zr in zeros:
        wts = wts * np.abs(z - zr[:, None])
    return torch.from_numpy(wts / n_fft)
