"""Fourier kernels for the conv1d STFT: cosine and sine rows, windowed, one row per frequency bin
(nnAudio's ``create_fourier_kernels``, built in float64)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

from ._windows import WindowSpec, get_window
from .._checks import check_arg

FREQ_SCALES = ("no", "linear", "log", "log2")


def pad_window(window: WindowSpec, win_length: int, n_fft: int,
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A ``win_length`` window zero-padded on both sides to ``n_fft`` (as ``librosa.util.pad_center``).

    Args:
        window (str | tuple | array): window spec, see :func:`get_window`.
        win_length (int): window length, <= ``n_fft``.
        n_fft (int): padded length.
        dtype (torch.dtype): dtype of the result. Default float64.

    Shape:
        output: (n_fft,)

    Example:
        >>> pad_window("ones", 2, 4, torch.float32)
        tensor([0., 1., 1., 0.])
    """
    check_arg(not win_length > n_fft, "win_length", f"<= n_fft ({n_fft})", win_length)
    w = get_window(window, win_length, dtype=torch.float64)
    left = (n_fft - win_length) // 2
    return torch.nn.functional.pad(w, (left, n_fft - win_length - left)).to(dtype)


def bin_frequencies(n_fft: int, freq_bins: int, freq_scale: str = "no", fmin: float = 50.0,
                    fmax: float = 6000.0, sr: float = 22050.0) -> np.ndarray:
    """Centre frequency in Hz of each kernel row, as nnAudio spaces them.

    Args:
        n_fft (int): FFT size.
        freq_bins (int): number of bins.
        freq_scale (str): "no" (k * sr / n_fft), "linear", "log" or "log2" (from fmin towards fmax).
        fmin (float): lowest frequency for the scaled layouts. Default 50.
        fmax (float): upper end for the scaled layouts. Default 6000.
        sr (float): sample rate. Default 22050.

    Shape:
        output: (F,)

    Example:
        >>> bin_frequencies(8, 5, sr=8000).tolist()
        [0.0, 1000.0, 2000.0, 3000.0, 4000.0]
    """
    k = np.arange(freq_bins, dtype=np.float64)
    if freq_scale == "no":
        return k * sr / n_fft
    if freq_scale == "linear":
        return fmin + k * (fmax - fmin) / freq_bins
    if freq_scale == "log":
        return fmin * np.exp(k * np.log(fmax / fmin) / freq_bins)
    if freq_scale == "log2":
        return fmin * 2.0 ** (k * np.log2(fmax / fmin) / freq_bins)
    raise ValueError(f"freq_scale must be one of {FREQ_SCALES}, got {freq_scale!r}")


def fourier_kernels(n_fft: int, win_length: Optional[int] = None, freq_bins: Optional[int] = None,
                    window: WindowSpec = "hann", freq_scale: str = "no", fmin: float = 50.0,
                    fmax: float = 6000.0, sr: float = 22050.0
                    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
    """Windowed DFT kernels: ``wcos[k] = w * cos(2 pi f_k n / sr)``, ``wsin[k] = w * sin(...)``.

    The spectrum of a frame x is ``sum(wcos * x) - 1j * sum(wsin * x)``.

    Args:
        n_fft (int): kernel length.
        win_length (int, optional): window length, zero-padded to ``n_fft``. Default ``n_fft``.
        freq_bins (int, optional): rows. Default ``n_fft // 2 + 1``.
        window (str | tuple | array): window spec. Default "hann".
        freq_scale, fmin, fmax, sr: bin layout, see :func:`bin_frequencies`.

    Shape:
        wcos, wsin: (F, n_fft) float64; window: (n_fft,) float64; freqs: (F,) in Hz

    Example:
        >>> wcos, wsin, window, freqs = fourier_kernels(8)
        >>> tuple(wcos.shape), float(wcos[0].sum())
        ((5, 8), 4.0)
    """
    win_length = n_fft if win_length is None else win_length
    freq_bins = n_fft // 2 + 1 if freq_bins is None else freq_bins
    window_full = pad_window(window, win_length, n_fft)
    freqs = bin_frequencies(n_fft, freq_bins, freq_scale, fmin, fmax, sr)
    if freq_scale == "no":  # exact integer bins: reduce k * n modulo n_fft before the cosine
        k = np.arange(freq_bins)[:, None] * np.arange(n_fft)[None, :] % n_fft
        phase = 2 * np.pi * k / n_fft
    else:
        phase = 2 * np.pi * (freqs[:, None] * n_fft / sr) * np.arange(n_fft)[None, :] / n_fft
    w = window_full.numpy()[None, :]
    return (torch.from_numpy(np.cos(phase) * w), torch.from_numpy(np.sin(phase) * w),
            window_full, freqs)
