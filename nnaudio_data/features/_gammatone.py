"""Gammatonegram: STFT power spectrogram through a gammatone filterbank (nnAudio 0.3's
``Gammatonegram``)."""
from __future__ import annotations

from typing import Any, Optional

from ..functional._gammatone import gammatone_filterbank
from .._checks import check_positive_int
from ._filterbank import FilterbankSpectrogram, check_band


class Gammatonegram(FilterbankSpectrogram):
    """Gammatone spectrogram, nnAudio 0.3 compatible: ``gammatone_basis @ |STFT(x)| ** power``.

    Args:
        sr (int): sample rate. Default 22050.
        n_fft (int): frame size. Default 2048.
        win_length (int, optional): window length. Default n_fft.
        n_bins (int): gammatone filters, highest centre frequency first. Default 64.
        hop_length (int): stride. Default 512.
        window (str): window spec. Default "hann".
        center (bool): centred frames. Default True.
        pad_mode (str): "reflect" or "constant". Default "reflect".
        power (float): magnitude exponent. Default 2.0.
        htk, norm: accepted for compatibility; unused (as in nnAudio).
        fmin (float): lowest centre-frequency anchor in Hz. Default 0.
        fmax (float, optional): highest anchor in Hz, <= sr / 2. Default sr / 2.
        trainable_bins (bool): ``gammatone_basis`` is an ``nn.Parameter``. Default False.
        trainable_STFT (bool): trainable Fourier kernels (conv1d backend). Default False.
        verbose (bool): accepted; logs at debug level only. Default True.
        **kwargs: more :class:`STFT` arguments, e.g. ``backend``.

    Shape:
        x: (T,), (B, T), (B, 1, T) or (B, C, T)
        output: (B, n_bins, N) ((1, n_bins, N) for (T,), (B, C, n_bins, N) for C > 1)

    Example:
        >>> import torch
        >>> gt = Gammatonegram(sr=16000, n_fft=512, hop_length=160, n_bins=32)
        >>> gt(torch.randn(2, 16000)).shape
        torch.Size([2, 32, 101])
    """

    def __init__(self, sr: float = 22050, n_fft: int = 2048, win_length: Optional[int] = None,
                 n_bins: int = 64, hop_length: int = 512, window="hann", center: bool = True,
                 pad_mode: str = "reflect", power: float = 2.0, htk: bool = False,
                 fmin: float = 0.0, fmax: Optional[float] = None, norm=1,
                 trainable_bins: bool = False, trainable_STFT: bool = False, verbose: bool = True,
                 **kwargs: Any):
        check_positive_int("n_bins", n_bins)
        check_positive_int("n_fft", n_fft)
        fmax = check_band(sr, fmin, fmax)
        basis = gammatone_filterbank(sr, n_fft, n_bins, fmin, fmax)
        super().__init__(basis, "gammatone_basis", trainable_bins, power, verbose, sr=sr,
                         n_fft=n_fft, win_length=win_length, hop_length=hop_length, window=window,
                         center=center, pad_mode=pad_mode, trainable=trainable_STFT, **kwargs)
        self.sr, self.n_bins, self.fmin, self.fmax = sr, n_bins, fmin, fmax
        self.trainable_bins, self.trainable_STFT = trainable_bins, trainable_STFT
