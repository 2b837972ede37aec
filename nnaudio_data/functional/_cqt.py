"""Constant-Q / variable-Q kernel builders (pure functions, numpy in, numpy out).

Two families of kernels, one per reference:

- nnAudio 0.3 (:func:`nnaudio_kernels`): ``Q = filter_scale / (2 ** (1 / bpo) - 1)``, integer lengths
  ``ceil(Q sr / (f + gamma / alpha))``, a window times a complex exponential, L1-normalised, centred in
  a power-of-two width.
- librosa 0.10+ (:func:`librosa_octave_kernel`): ``Q = filter_scale / alpha`` with librosa's relative
  bandwidth ``alpha``, fractional lengths, the frequency-domain basis sparsified as ``librosa.cqt``
  does, returned as the exactly equivalent time-domain kernel for frames of ``n_fft`` samples.

Kernels are complex, shape (F, W): output bin ``f`` of a frame ``x`` (W samples) is
``sum_n x[n] * kernel[f, n]``.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np
import torch

from ._windows import get_window

# librosa.filters.WINDOW_BANDWIDTHS for the common windows; others are computed as librosa does.
_WINDOW_BANDWIDTHS = {"hann": 1.50018310546875, "hamming": 1.3629455320350348,
                      "blackman": 1.7269681554262326, "boxcar": 1.0, "ones": 1.0}


def _window(window, n: int) -> np.ndarray:
    return get_window(window, n, dtype=torch.float64).numpy()


def cqt_frequencies(fmin: float, n_bins: int, bins_per_octave: int) -> np.ndarray:
    """Centre frequencies ``fmin * 2 ** (k / bins_per_octave)`` in Hz.

    Example:
        >>> cqt_frequencies(110.0, 3, 12).round(2).tolist()
        [110.0, 116.54, 123.47]
    """
    return fmin * 2.0 ** (np.arange(n_bins) / float(bins_per_octave))


def window_bandwidth(window) -> float:
    """Equivalent noise bandwidth of ``window`` in bins (librosa's definition).

    Example:
        >>> window_bandwidth("hann"), round(window_bandwidth("triang"), 3)
        (1.50018310546875, 1.331)
    """
    if isinstance(window, str) and window in _WINDOW_BANDWIDTHS:
        return _WINDOW_BANDWIDTHS[window]
    w = _window(window, 1000)
    return float(1000 * np.sum(w ** 2) / np.sum(w) ** 2)


def relative_bandwidth(bins_per_octave: int) -> float:
    """librosa's relative bandwidth ``alpha`` for geometrically spaced bins.

    Example:
        >>> round(relative_bandwidth(12), 6)
        0.057698
    """
    r = 2.0 ** (2.0 / bins_per_octave)
    return (r - 1.0) / (r + 1.0)


def librosa_lengths(freqs: np.ndarray, sr: float, window, filter_scale: float, gamma: float,
                    bins_per_octave: int) -> Tuple[np.ndarray, float]:
    """Fractional filter lengths and the highest frequency the filters reach (librosa rules).

    Returns:
        (lengths (F,), cutoff in Hz)

    Example:
        >>> lengths, cutoff = librosa_lengths(np.array([100.0, 200.0]), 8000, "hann", 1, 0.0, 12)
        >>> lengths.round(1).tolist(), round(cutoff, 1)
        ([1386.5, 693.3], 208.7)
    """
    alpha = relative_bandwidth(bins_per_octave)
    q = filter_scale / alpha
    cutoff = float(np.max(freqs * (1 + 0.5 * window_bandwidth(window) / q) + 0.5 * gamma))
    return q * sr / (freqs + gamma / alpha), cutoff


def two_factors(n: int) -> int:
    """How many times ``n`` divides by 2 (0 for n <= 0).

    Example:
        >>> two_factors(512), two_factors(96), two_factors(0)
        (9, 5, 0)
    """
    return (n & -n).bit_length() - 1 if n > 0 else 0


def early_downsample_count(nyquist: float, cutoff: float, hop_twos: int, n_octaves: int,
                           margin: float = 1.0) -> int:
    """Halvings of the sample rate allowed before the top octave: the filters must stay below half
    the new Nyquist frequency, and the hop must keep one factor of two (``hop_twos`` of them) per
    remaining octave. librosa uses ``margin=1`` and counts the hop's factors of two; nnAudio uses
    ``margin=0.85`` and ``ceil(log2(hop))``.

    Example:
        >>> early_downsample_count(22050, 4122.0, two_factors(512), 7)
        1
    """
    count1 = max(0, int(np.ceil(np.log2(margin * nyquist / cutoff)) - 1) - 1)
    return min(count1, max(0, hop_twos - n_octaves + 1))


def _pad_center(x: np.ndarray, size: int, left: Optional[int] = None) -> np.ndarray:
    out = np.zeros(size, dtype=x.dtype)
    start = (size - len(x)) // 2 if left is None else left
    out[start:start + len(x)] = x
    return out


def nnaudio_kernels(q: float, sr: float, freqs: np.ndarray, norm: Optional[float] = 1,
                    window="hann", gamma: float = 0.0, bins_per_octave: int = 12,
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """nnAudio 0.3's ``create_cqt_kernels``: time-domain kernels, complex128.

    The kernel for bin ``f`` is ``window(l) * exp(2j pi f n / sr) / l`` for ``n`` in
    ``[-l // 2, l // 2)``, ``l = ceil(q sr / (f + gamma / alpha))``, L``norm``-normalised, placed as
    nnAudio places it in a width of the next power of two of the longest ``l``. As in nnAudio, the
    kernel is applied conjugated: the output is ``sum_n x[n] * conj(kernel[n])``.

    Returns:
        (kernels (F, W), lengths (F,) as float)

    Example:
        >>> k, l = nnaudio_kernels(17.0, 8000.0, np.array([500.0, 1000.0]))
        >>> k.shape, l.tolist()
        ((2, 512), [272.0, 136.0])
    """
    alpha = 2.0 ** (1.0 / bins_per_octave) - 1.0
    lengths = np.ceil(q * sr / (freqs + gamma / alpha))
    width = int(2 ** np.ceil(np.log2(lengths.max())))
    kernels = np.zeros((len(freqs), width), dtype=np.complex128)
    for k, (f, l) in enumerate(zip(freqs, lengths)):
        n = int(l)
        start = int(np.ceil(width / 2.0 - l / 2.0)) - (n % 2)
        w = _window(_nnaudio_window(window, n), n)
        sig = w * np.exp(np.r_[-l // 2: l // 2] * 1j * 2 * np.pi * f / sr) / l
        if norm:
            sig = sig / np.linalg.norm(sig, norm)
        kernels[k, start:start + n] = sig
    return kernels, lengths


def _nnaudio_window(window, n: int):
    """nnAudio reads ``("gaussian", att)`` as an attenuation of ``att`` dB at the window's ends."""
    if isinstance(window, tuple) and len(window) == 2 and window[0] == "gaussian":
        return ("gaussian", np.floor(-n / 2 / np.sqrt(-2 * np.log(10 ** (-window[1] / 20)))))
    return window


def _sparsify(basis: np.ndarray, quantile: float) -> np.ndarray:
    """Zero the smallest coefficients of each row holding ``quantile`` of its L1 mass (librosa)."""
    if quantile <= 0:
        return basis
    mags = np.abs(basis)
    mag_sort = np.sort(mags, axis=1)
    cum = np.cumsum(mag_sort / mags.sum(axis=1, keepdims=True), axis=1)
    idx = np.argmin(cum < quantile, axis=1)
    keep = mags >= mag_sort[np.arange(len(idx)), idx][:, None]
    return np.where(keep, basis, 0)


def librosa_octave_kernel(sr: float, freqs: np.ndarray, lengths: np.ndarray, norm: Optional[float] = 1,
                          window="hann", sparsity: float = 0.01) -> Tuple[np.ndarray, int]:
    """One octave of ``librosa.vqt``'s filter basis as a time-domain kernel for frames of ``n_fft``.

    librosa builds wavelets at ``sr``, scales them by ``lengths / n_fft``, takes the one-sided FFT,
    sparsifies it, and applies it to the one-sided FFT of each frame (``n_fft`` samples, rectangular
    window). The returned kernel gives the same numbers as that product: ``kernel = fft(basis, n_fft)``
    evaluated over the kept one-sided bins.

    Returns:
        (kernel (F, n_fft) complex128, n_fft)

    Example:
        >>> k, n = librosa_octave_kernel(8000.0, np.array([500.0]), np.array([270.5]))
        >>> k.shape, n
        ((1, 512), 512)
    """
    n_fft = int(2.0 ** np.ceil(np.log2(lengths.max())))
    basis = np.zeros((len(freqs), n_fft), dtype=np.complex128)
    for k, (f, ilen) in enumerate(zip(freqs, lengths)):
        sig = np.exp(1j * np.arange(-ilen // 2, ilen // 2, dtype=float) * 2 * np.pi * f / sr)
        sig = sig * _window(window, len(sig))
        if norm:
            sig = sig / np.linalg.norm(sig, norm)
        basis[k] = _pad_center(sig, n_fft)
    basis *= lengths[:, None] / float(n_fft)
    half = np.fft.fft(basis, n=n_fft, axis=1)[:, : n_fft // 2 + 1]
    half = _sparsify(half, sparsity)
    # response = sum_k half[k] * rfft(frame)[k] = sum_n frame[n] * sum_k half[k] e^{-2 pi i k n / N}
    full = np.zeros((len(freqs), n_fft), dtype=np.complex128)
    full[:, : n_fft // 2 + 1] = half
    return np.fft.fft(full, axis=1), n_fft


def nnaudio_lowpass(band_center: float = 0.5, kernel_length: int = 256,
                    transition_bandwidth: float = 0.03) -> np.ndarray:
    """nnAudio's ``create_lowpass_filter``: a ``firwin2`` low-pass, float32, as its CQT2010v2 uses.

    Example:
        >>> h = nnaudio_lowpass()
        >>> h.shape, h.dtype, round(float(h.sum()), 3)
        ((256,), dtype('float32'), 1.0)
    """
    keys = [0.0, band_center / (1 + transition_bandwidth), band_center * (1 + transition_bandwidth), 1.0]
    import scipy.signal  # here, not at import time: scipy.signal costs ~1 s to import

    return scipy.signal.firwin2(kernel_length, keys, [1.0, 1.0, 0.0, 0.0]).astype(np.float32)


def halfband_taper(n_bins: int, passband: float = 0.9) -> np.ndarray:
    """Frequency response on ``n_bins`` one-sided bins (DC to the new Nyquist) of the decimation
    filter: 1 up to ``passband`` of the band, a raised cosine down to 0 at its top.

    Example:
        >>> halfband_taper(5, 0.5).round(3).tolist()
        [1.0, 1.0, 1.0, 0.5, 0.0]
    """
    f = np.linspace(0.0, 1.0, n_bins)
    t = np.clip((f - passband) / (1.0 - passband), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(math.pi * t))
