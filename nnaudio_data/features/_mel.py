"""MelSpectrogram: STFT power spectrogram through a mel filterbank (nnAudio 0.3's
``MelSpectrogram``), with trainable filterbank and / or Fourier kernels."""
from __future__ import annotations

from typing import Any, Optional, Union

from ..functional._mel import mel_filterbank
from .._checks import check_positive_int
from ._filterbank import FilterbankSpectrogram, check_band


def librosa_norm(norm: Union[str, float, None]) -> Union[str, float, None]:
    """nnAudio's mel ``norm`` -> librosa's: 1 means Slaney area normalisation, as in nnAudio."""
    if norm == 1 or norm == "slaney":
        return "slaney"
    if norm is None or (not isinstance(norm, str) and norm > 0):
        return norm
    raise ValueError(f"norm must be 1 or 'slaney' (area), None, or a positive p-norm, got {norm!r}")


class MelSpectrogram(FilterbankSpectrogram):
    """Mel spectrogram, nnAudio 0.3 compatible: ``mel_basis @ |STFT(x)| ** power``.

    Args:
        sr (int): sample rate. Default 22050.
        n_fft (int): frame size. Default 2048.
        win_length (int, optional): window length. Default n_fft.
        n_mels (int): mel bands. Default 128.
        hop_length (int): stride. Default 512.
        window (str): window spec. Default "hann".
        center (bool): centred frames. Default True.
        pad_mode (str): "reflect" or "constant". Default "reflect".
        power (float): magnitude exponent (2 = power). Default 2.0.
        htk (bool): HTK mel scale instead of Slaney's. Default False.
        fmin (float): lowest edge in Hz. Default 0.
        fmax (float, optional): highest edge in Hz, <= sr / 2. Default sr / 2.
        norm (1 | "slaney" | float | None): 1 / "slaney" area-normalised triangles (nnAudio's 1),
            None peak 1, other numbers librosa's p-norm. Default 1.
        trainable_mel (bool): ``mel_basis`` is an ``nn.Parameter``. Default False.
        trainable_STFT (bool): the Fourier kernels are trainable (conv1d backend). Default False.
        verbose (bool): accepted; logs at debug level only. Default True.
        **kwargs: more :class:`STFT` arguments, e.g. ``backend`` ("auto", "conv1d", "fft").

    Shape:
        x: (T,), (B, T), (B, 1, T) or (B, C, T)
        output: (B, n_mels, N) ((1, n_mels, N) for (T,), (B, C, n_mels, N) for C > 1); float32
        for float16 / bfloat16 / float32 input

    Example:
        >>> import torch
        >>> mel = MelSpectrogram(sr=16000, n_fft=512, hop_length=128, n_mels=40)
        >>> mel(torch.randn(3, 16000)).shape
        torch.Size([3, 40, 126])
    """

    def __init__(self, sr: float = 22050, n_fft: int = 2048, win_length: Optional[int] = None,
                 n_mels: int = 128, hop_length: int = 512, window="hann", center: bool = True,
                 pad_mode: str = "reflect", power: float = 2.0, htk: bool = False,
                 fmin: float = 0.0, fmax: Optional[float] = None, norm=1,
                 trainable_mel: bool = False, trainable_STFT: bool = False, verbose: bool = True,
                 **kwargs: Any):
        check_positive_int("n_mels", n_mels)
        check_positive_int("n_fft", n_fft)
        fmax = check_band(sr, fmin, fmax)
        basis = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, librosa_norm(norm))
        super().__init__(basis, "mel_basis", trainable_mel, power, verbose, sr=sr, n_fft=n_fft,
                         win_length=win_length, hop_length=hop_length, window=window,
                         center=center, pad_mode=pad_mode, trainable=trainable_STFT, **kwargs)
        self.sr, self.n_mels, self.fmin, self.fmax, self.htk = sr, n_mels, fmin, fmax, htk
        self.trainable_mel, self.trainable_STFT = trainable_mel, trainable_STFT
