"""Mel filterbank (``librosa.filters.mel``: Slaney or HTK mel scale, area or p-norm rows) and the
DCT-II matrix that turns log-mel spectra into MFCCs."""
from __future__ import annotations

import warnings
from typing import Optional, Union

import numpy as np
import torch
from numpy.typing import ArrayLike

from .._checks import check_arg


def hz_to_mel(freqs: ArrayLike, htk: bool = False) -> np.ndarray:
    """Hz to mels: HTK ``2595 log10(1 + f / 700)`` or Slaney (linear below 1 kHz, log above).

    Example:
        >>> round(float(hz_to_mel(1000.0)), 6), round(float(hz_to_mel(1000.0, htk=True)), 2)
        (15.0, 999.99)
    """
    f = np.asarray(freqs, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    min_log_mel, logstep = 1000.0 / (200.0 / 3), np.log(6.4) / 27.0
    lin = f / (200.0 / 3)
    return np.where(f >= 1000.0, min_log_mel + np.log(np.maximum(f, 1e-300) / 1000.0) / logstep, lin)


def mel_to_hz(mels: ArrayLike, htk: bool = False) -> np.ndarray:
    """Mels to Hz, the inverse of :func:`hz_to_mel`.

    Example:
        >>> round(float(mel_to_hz(15.0)), 6)
        1000.0
    """
    m = np.asarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    min_log_mel, logstep = 1000.0 / (200.0 / 3), np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, 1000.0 * np.exp(logstep * (m - min_log_mel)), m * 200.0 / 3)


def mel_filterbank(sr: float, n_fft: int, n_mels: int = 128, fmin: float = 0.0,
                   fmax: Optional[float] = None, htk: bool = False,
                   norm: Union[str, float, None] = "slaney") -> torch.Tensor:
    """Triangular mel filters over the ``n_fft // 2 + 1`` FFT bins, as ``librosa.filters.mel``.

    Args:
        sr (float): sample rate.
        n_fft (int): FFT size.
        n_mels (int): filters. Default 128.
        fmin (float): lowest edge in Hz. Default 0.
        fmax (float, optional): highest edge in Hz. Default sr / 2.
        htk (bool): HTK mel scale instead of Slaney's. Default False.
        norm ("slaney" | float | None): "slaney" divides each triangle by its width in Hz (area
            normalisation); a number p scales each row to unit p-norm; None leaves peaks at 1.

    Shape:
        output: (n_mels, n_fft // 2 + 1) float64

    Example:
        >>> fb = mel_filterbank(16000, 512, n_mels=40)
        >>> tuple(fb.shape), bool((fb >= 0).all())
        ((40, 257), True)
    """
    fmax = sr / 2 if fmax is None else fmax
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    empty = [int(i) for i in np.flatnonzero((mel_f[:-2] != 0) & (weights.max(axis=1) <= 0))]
    if empty:  # librosa's test: a filter of all zeros (but one starting at 0 Hz)
        warnings.warn(f"Empty filters detected in mel frequency basis: {len(empty)} of n_mels={n_mels} "
                      f"filters are all zeros (bands {empty[:8]}{' ...' if len(empty) > 8 else ''}) "
                      f"with sr={sr}, n_fft={n_fft}, fmin={fmin}, fmax={fmax}; those channels will be "
                      "empty. Try increasing n_fft or the sample rate (and fmax), or reducing n_mels.",
                      UserWarning, stacklevel=2)
    if norm == "slaney":
        weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    elif norm is not None:
        if isinstance(norm, str) or not norm > 0:  # raised here: the type checker narrows norm by it
            raise ValueError(f"norm must be 'slaney', a positive number or None, got {norm!r}")
        if np.isinf(norm):
            length = np.abs(weights).max(-1, keepdims=True)
        else:
            length = (np.abs(weights) ** norm).sum(-1, keepdims=True) ** (1.0 / norm)
        weights /= np.where(length < np.finfo(np.float64).tiny, 1.0, length)
    return torch.from_numpy(weights)


def dct_matrix(n_out: int, n_in: int, norm: Optional[str] = "ortho") -> torch.Tensor:
    """DCT-II as a matrix: ``D @ x`` equals ``scipy.fft.dct(x, type=2, norm=norm, axis=0)[:n_out]``.

    Args:
        n_out (int): coefficients kept (n_mfcc), <= n_in.
        n_in (int): input length (n_mels).
        norm ("ortho" | None): orthonormal scaling, or scipy's unnormalised ``2 * sum``.

    Shape:
        output: (n_out, n_in) float64

    Example:
        >>> y = dct_matrix(2, 4) @ torch.ones(4, dtype=torch.float64)   # DC only: [2, 0]
        >>> torch.allclose(y, torch.tensor([2.0, 0.0], dtype=torch.float64), atol=1e-12)
        True
    """
    check_arg(norm in ("ortho", None), "norm", "'ortho' or None", norm)
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    d = 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    if norm == "ortho":
        d[0] *= np.sqrt(1.0 / (4 * n_in))
        d[1:] *= np.sqrt(1.0 / (2 * n_in))
    return torch.from_numpy(d)


def power_to_db(S: torch.Tensor, ref: float = 1.0, amin: float = 1e-10,
                top_db: Optional[float] = 80.0) -> torch.Tensor:
    """``10 log10(max(S, amin) / max(amin, |ref|))``, floored at ``top_db`` below each spectrogram's
    peak (the peak of each (F, N) slice: clip by clip, as ``librosa.power_to_db`` on one clip).

    Shape:
        S: (..., F, N); output: same

    Example:
        >>> power_to_db(torch.tensor([[1.0, 10.0, 1e-12]]), top_db=None).tolist()
        [[0.0, 10.0, -100.0]]
    """
    db = 10.0 * torch.log10(torch.clamp(S, min=amin)) - 10.0 * np.log10(max(amin, abs(ref)))
    if top_db is not None:
        peak = db.amax(dim=(-2, -1), keepdim=True)
        db = torch.maximum(db, peak - top_db)
    return db
